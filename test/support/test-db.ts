// Each test file works in its own database on the one server from global-setup.ts, so files can
// run in parallel without seeing each other's tables, and a failed test leaves nothing behind
// that another file could trip on.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  /** Ends the pool and drops the database, kicking out any other session. Idempotent. */
  drop(): Promise<void>;
}

// PostgreSQL identifiers are at most 63 bytes; the suffix must survive truncation.
const MAX_IDENT = 63;
const SUFFIX_LEN = 10;

// 55006 object_in_use: CREATE DATABASE ... TEMPLATE refuses while the template has sessions.
const OBJECT_IN_USE = '55006';
const CLONE_ATTEMPTS = 10;

export function adminUrl(): string {
  return inject('pgAdminUrl');
}

/** The admin URL with its database replaced by dbName (user, password, host, options kept). */
export function urlFor(dbName: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${encodeURIComponent(dbName)}`;
  return url.toString();
}

export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  await withAdmin((c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  return open(name);
}

/**
 * A copy of `source` made with CREATE DATABASE ... TEMPLATE, which is much faster than replaying
 * DDL. PostgreSQL refuses to copy a database that has other sessions, so this terminates every
 * session on the source, including idle clients of `source.pool` (the pool discards them and
 * opens new ones on next use). The caller must not hold a checked-out client of the source, or
 * run anything on it, while cloning: such work would be cut off.
 */
export async function cloneDatabase(source: TestDatabase, prefix: string): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  await withAdmin(async (c) => {
    for (let attempt = 1; ; attempt++) {
      await c.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [source.name],
      );
      try {
        await c.query(
          `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(source.name)}`,
        );
        return;
      } catch (err) {
        // A terminated backend leaves pg_stat_activity a moment after the signal, and a pool may
        // reconnect in between: retry a few times, then give up with the real error.
        if (sqlState(err) !== OBJECT_IN_USE || attempt >= CLONE_ATTEMPTS) throw err;
        await sleep(50 * attempt);
      }
    }
  });
  return open(name);
}

function open(name: string): TestDatabase {
  const pool = new pg.Pool({ connectionString: urlFor(name), max: 10 });
  // Idle clients die when a test (or cloneDatabase) terminates backends; without a listener the
  // pool's 'error' event would crash the worker instead of just discarding the client.
  pool.on('error', () => {});
  let dropped = false;
  return {
    name,
    url: urlFor(name),
    pool,
    query: (sql, params) => pool.query(sql, params),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await pool.end();
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
    },
  };
}

/** Runs `fn` on a fresh connection to the server's admin database (roles, databases, settings). */
export async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function uniqueName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_') || 'db';
  const suffix = randomBytes(8).toString('hex').slice(0, SUFFIX_LEN);
  return `${clean.slice(0, MAX_IDENT - SUFFIX_LEN - 1)}_${suffix}`;
}

function sqlState(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until the migration of `table` is recorded (in `phase`, when given) and returns its id;
 * fails after `timeoutMs` instead of letting a test hang or go on before the moment it tests.
 */
export async function untilMigration(db: TestDatabase, table: string, phase?: string, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const r = await db.query(`SELECT id::int, phase FROM pgshift.migrations WHERE table_name = $1`, [table]).catch(() => ({ rows: [] }));
    const m = r.rows[0] as { id: number; phase: string } | undefined;
    if (m && (phase === undefined || m.phase === phase)) return m.id;
    if (performance.now() > deadline) throw new Error(`the migration of ${table} never reached ${phase ?? 'the state table'}`);
    await new Promise((res) => setTimeout(res, 5));
  }
}
