import pg from 'pg';
import { RuntimeError, UserError, describeError, sqlState } from '../errors.js';
import { connectionConfig } from './connection.js';
import { applySessionSettings, setApplicationName } from './session-settings.js';

/** pg returns int8/numeric as strings already; keep every value as PostgreSQL's text. */
export type Pool = pg.Pool;
export type Client = pg.PoolClient;

export interface SessionOptions {
  url?: string;
  /** what the sessions do (`alter`, `revert`, `backfill`, ...): application_name `pgshift:<id>:<role>` */
  role?: string;
  lockTimeoutMs: number;
  maxClients?: number;
  /** read-only commands (status, checksum) may run on a standby; everything else refuses one */
  readOnly?: boolean;
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

interface PoolMeta {
  role: string;
  lockTimeoutMs: number;
  writes: boolean;
  migrationId: number | null;
  /** each client's set-up (settings applied and verified), awaited before it is handed out */
  ready: WeakMap<pg.PoolClient, Promise<number>>;
  names: WeakMap<pg.PoolClient, string>;
  pids: Set<number>;
}
const META = new WeakMap<pg.Pool, PoolMeta>();

function meta(pool: Pool): PoolMeta {
  const m = META.get(pool);
  if (!m) throw new Error('pgshift: a pool not made by createPool');
  return m;
}

function nameFor(m: PoolMeta, role?: string): string {
  return `pgshift:${m.migrationId ?? '-'}:${role ?? m.role}`;
}

/**
 * Every engine session's settings are set and verified once it is connected (session-settings.ts),
 * not passed as startup options, which a URL's own `options` would replace.
 */
export function createPool(opts: SessionOptions): Pool {
  const pool = new pg.Pool({
    ...connectionConfig(opts.url),
    max: opts.maxClients ?? 4,
    idleTimeoutMillis: 10_000,
  });
  const m: PoolMeta = {
    role: opts.role ?? 'engine',
    lockTimeoutMs: opts.lockTimeoutMs,
    writes: !opts.readOnly,
    migrationId: null,
    ready: new WeakMap(),
    names: new WeakMap(),
    pids: new Set(),
  };
  META.set(pool, m);
  // A client that loses its server (terminated, network) must not crash the process with an
  // 'error' event nobody listens to: idle ones are dropped by the pool, and a checked-out one's
  // failure reaches its caller through the query that was running.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    const name = nameFor(m);
    m.names.set(client, name);
    const setUp = applySessionSettings(client, { applicationName: name, lockTimeoutMs: m.lockTimeoutMs, writes: m.writes }).then(async ({ pid }) => {
      m.pids.add(pid);
      if (m.migrationId !== null) await recordPids(client, m.migrationId, [pid]);
      return pid;
    });
    setUp.catch(() => undefined);
    m.ready.set(client, setUp);
  });
  pool.on('remove', (client) => {
    const pid = (client as unknown as { processID?: number }).processID;
    if (pid) m.pids.delete(pid);
  });
  return pool;
}

/**
 * From now on the pool's sessions work for migration `id`: their application_name says so, and
 * their backend pids are recorded in the state table, so a process taking the migration over
 * after a crash terminates exactly these sessions (a killed client's backend may still commit).
 */
export async function bindMigration(pool: Pool, id: number): Promise<void> {
  const m = meta(pool);
  m.migrationId = id;
  await withClient(pool, (c) => recordPids(c, id, [...m.pids]));
}

/** The backend pids of this pool's own sessions (a take-over must not terminate them). */
export function ownPids(pool: Pool): number[] {
  return [...meta(pool).pids];
}

async function recordPids(c: pg.ClientBase, id: number, pids: number[]): Promise<void> {
  await c.query(
    `UPDATE pgshift.migrations SET backend_pids = ARRAY(SELECT DISTINCT unnest(backend_pids || $2::int[])) WHERE id = $1`,
    [id, pids],
  );
}

/** Checks a client out with its settings verified and its application_name naming `role`. */
export async function checkout(pool: Pool, role?: string): Promise<Client> {
  const client = await connect(pool);
  try {
    const m = meta(pool);
    await m.ready.get(client);
    const name = nameFor(m, role);
    if (m.names.get(client) !== name) {
      await setApplicationName(client, name);
      m.names.set(client, name);
    }
    return client;
  } catch (err) {
    client.release(err as Error);
    if (err instanceof UserError || err instanceof RuntimeError) throw err;
    throw connectFailure(err);
  }
}

export async function withClient<T>(pool: Pool, fn: (c: Client) => Promise<T>, role?: string): Promise<T> {
  const client = await checkout(pool, role);
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

export type Isolation = 'read committed' | 'repeatable read';

export async function withTransaction<T>(pool: Pool, fn: (c: Client) => Promise<T>, opts: { isolation?: Isolation; role?: string } = {}): Promise<T> {
  return withClient(pool, (c) => inTransaction(c, fn, opts), opts.role);
}

/** Every transaction names its isolation level: a role's default must never change what it means. */
export async function inTransaction<T>(c: Client, fn: (c: Client) => Promise<T>, opts: { isolation?: Isolation } = {}): Promise<T> {
  await c.query(opts.isolation === 'repeatable read' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ' : 'BEGIN ISOLATION LEVEL READ COMMITTED');
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
    throw connectFailure(err);
  }
}

function connectFailure(err: unknown): Error {
  const state = sqlState(err);
  // Authentication, unknown database and unreachable host are the user's input, not a run-time failure.
  if (state === '28P01' || state === '28000' || state === '3D000' || isConnectionError(err)) {
    return new UserError(`cannot connect to the database: ${describeError(err)}`, { cause: err });
  }
  return new RuntimeError(`cannot connect to the database: ${describeError(err)}`, { cause: err });
}

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const state = sqlState(err);
  return (
    (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) ||
    state?.startsWith('08') === true ||
    state === '57P01' ||
    // pg raises these without a code when the socket is gone (terminated session, restarted server)
    (err instanceof Error && /Connection terminated|connection error and is not queryable/.test(err.message))
  );
}

/**
 * A statement that cannot run in a transaction block (CONCURRENTLY) under its own lock_timeout,
 * the session's own value put back after it (RESET would fall back to the server's default, not
 * to what session-settings.ts set).
 */
export async function withSessionLockTimeout<T>(c: Client, lockTimeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const before = (await c.query(`SELECT current_setting('lock_timeout') AS v`)).rows[0].v as string;
  await c.query(`SELECT set_config('lock_timeout', $1, false)`, [`${lockTimeoutMs}ms`]);
  try {
    return await fn();
  } finally {
    await c.query(`SELECT set_config('lock_timeout', $1, false)`, [before]);
  }
}
