import pg from 'pg';
import { RuntimeError, UserError, describeError, sqlState } from '../errors.js';

/** pg returns int8/numeric as strings already; keep every value as PostgreSQL's text. */
export type Pool = pg.Pool;
export type Client = pg.PoolClient;

export interface SessionOptions {
  url?: string;
  applicationName: string;
  lockTimeoutMs: number;
  maxClients?: number;
}

/** The connection string from --url, else DATABASE_URL, else libpq variables (pg reads those). */
export function resolveUrl(url: string | undefined): string | undefined {
  return url ?? process.env.DATABASE_URL ?? undefined;
}

/** A URL safe for logs and reports: the password never leaves this function. */
export function redactUrl(url: string | undefined): string {
  if (!url) return '(libpq environment)';
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    // libpq and pg also take the password as a query parameter.
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}

/**
 * Every engine session: row_security off (RLS must never hide rows from the copy or replay),
 * a short lock_timeout (no DDL waits unbounded behind the application), and an
 * application_name that names the migration so a DBA can see it in pg_stat_activity.
 */
export function createPool(opts: SessionOptions): Pool {
  const pool = new pg.Pool({
    connectionString: resolveUrl(opts.url),
    application_name: opts.applicationName.slice(0, 63),
    max: opts.maxClients ?? 4,
    idleTimeoutMillis: 10_000,
    options: `-c row_security=off -c lock_timeout=${opts.lockTimeoutMs} -c idle_in_transaction_session_timeout=600000`,
  });
  // A client that loses its server (terminated, network) must not crash the process with an
  // 'error' event nobody listens to: idle ones are dropped by the pool, and a checked-out one's
  // failure reaches its caller through the query that was running.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

export async function withClient<T>(pool: Pool, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await connect(pool);
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    if (isConnectionError(err)) broken = err as Error;
    throw err;
  } finally {
    client.release(broken);
  }
}

export async function withTransaction<T>(
  pool: Pool,
  fn: (c: Client) => Promise<T>,
  opts: { isolation?: 'read committed' | 'repeatable read' } = {},
): Promise<T> {
  return withClient(pool, (c) => inTransaction(c, fn, opts));
}

export async function inTransaction<T>(
  c: Client,
  fn: (c: Client) => Promise<T>,
  opts: { isolation?: 'read committed' | 'repeatable read' } = {},
): Promise<T> {
  await c.query(opts.isolation === 'repeatable read' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ' : 'BEGIN');
  try {
    const result = await fn(c);
    await c.query('COMMIT');
    return result;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function connect(pool: Pool): Promise<Client> {
  try {
    return await pool.connect();
  } catch (err) {
    const state = sqlState(err);
    // Authentication, unknown database and unreachable host are the user's input, not a run-time failure.
    if (state === '28P01' || state === '28000' || state === '3D000' || isConnectionError(err)) {
      throw new UserError(`cannot connect to the database: ${describeError(err)}`, { cause: err });
    }
    throw new RuntimeError(`cannot connect to the database: ${describeError(err)}`, { cause: err });
  }
}

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const state = sqlState(err);
  return (
    (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) ||
    state?.startsWith('08') === true ||
    state === '57P01' ||
    (err instanceof Error && /Connection terminated/.test(err.message))
  );
}
