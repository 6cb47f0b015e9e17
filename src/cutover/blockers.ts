import type { Client, Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { componentLog } from '../log.js';
import { isRetryable } from '../db/retry.js';
import { RuntimeError, describeError } from '../errors.js';

const log = componentLog('cutover');

export interface Blocker {
  pid: number;
  state: string;
  xactStart: string;
  queryStart: string;
  action: 'cancelled' | 'terminated' | 'cancelled, but idle in transaction: its locks stay until it ends';
}

/**
 * Sessions whose transaction, older than the grace period, holds a lock on a table the
 * cutover must lock: cancelled or terminated, each one logged. Younger transactions are the
 * application's ordinary traffic and are left alone. Cancelling stops a running statement but
 * releases nothing held by a session idle in a transaction; only terminating does.
 */
export async function removeBlockers(pool: Pool, relationOids: string[], mode: 'cancel' | 'terminate', graceMs: number, shareUpdateOids: string[] = []): Promise<Blocker[]> {
  return withClient(pool, async (c) => {
    // A relation the cutover takes only SHARE UPDATE EXCLUSIVE (`shareUpdateOids`) is blocked by
    // no reader or writer: only a lock of that mode or stronger counts there.
    const r = await c.query(
      `SELECT DISTINCT a.pid, a.state, a.xact_start::text AS xact_start, a.query_start::text AS query_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.granted AND a.pid <> pg_backend_pid()
          AND (l.relation = ANY ($1::oid[])
               OR (l.relation = ANY ($3::oid[]) AND l.mode NOT IN ('AccessShareLock', 'RowShareLock', 'RowExclusiveLock')))
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND a.application_name NOT LIKE 'pgshift%'
          AND a.xact_start < now() - make_interval(secs => $2 / 1000.0)`,
      [relationOids, graceMs, shareUpdateOids],
    );
    const out: Blocker[] = [];
    for (const b of r.rows) {
      await c.query(mode === 'terminate' ? 'SELECT pg_terminate_backend($1)' : 'SELECT pg_cancel_backend($1)', [b.pid]);
      const idle = b.state === 'idle in transaction' || b.state === 'idle in transaction (aborted)';
      const action: Blocker['action'] = mode === 'terminate' ? 'terminated' : idle ? 'cancelled, but idle in transaction: its locks stay until it ends' : 'cancelled';
      const blocker = { pid: b.pid, state: b.state, xactStart: b.xact_start, queryStart: b.query_start, action };
      log.warn(blocker, 'session blocking the cutover');
      out.push(blocker);
    }
    return out;
  });
}

/**
 * Autovacuum holding a lock on a table the cutover needs yields only after deadlock_timeout of
 * someone waiting, which our short lock timeouts never reach: cancel it (it restarts later) and
 * log it. Without the privilege to signal it, the attempts simply go on.
 */
export async function cancelAutovacuum(pool: Pool, relationOids: string[]): Promise<number> {
  return withClient(pool, async (c) => {
    const r = await c.query(
      `SELECT DISTINCT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE a.backend_type = 'autovacuum worker' AND l.relation = ANY ($1::oid[])
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [relationOids],
    );
    let n = 0;
    for (const row of r.rows) {
      const ok = await c.query('SELECT pg_cancel_backend($1) AS ok', [row.pid]).then((x) => x.rows[0].ok === true, () => false);
      if (ok) {
        log.warn({ pid: row.pid }, 'cancelled autovacuum holding a lock pgshift needs on its own or the swapped tables');
        n++;
      }
    }
    return n;
  }).catch(() => 0);
}

export interface PreparedBlocker {
  gid: string;
  prepared: string;
  owner: string;
}

/**
 * Prepared transactions (two-phase commit) holding locks on these relations. They have no
 * session to cancel or terminate and hold their locks until someone commits or rolls them back
 * by name, so every lock a migration takes on the table would wait for them forever.
 */
export async function preparedBlockers(c: Client, relationOids: string[]): Promise<PreparedBlocker[]> {
  const r = await c.query<PreparedBlocker>(
    `SELECT DISTINCT p.gid, p.prepared::text AS prepared, p.owner
       FROM pg_locks l
       JOIN pg_locks x ON x.virtualtransaction = l.virtualtransaction AND x.locktype = 'transactionid'
       JOIN pg_prepared_xacts p ON p.transaction = x.transactionid
      WHERE l.pid IS NULL AND l.locktype = 'relation' AND l.relation = ANY ($1::oid[])
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY 1`,
    [relationOids],
  );
  return r.rows;
}

export function describePrepared(p: PreparedBlocker): string {
  return `prepared transaction '${p.gid}' (prepared ${p.prepared} by ${p.owner}; end it with COMMIT PREPARED '${p.gid}' or ROLLBACK PREPARED '${p.gid}')`;
}

/**
 * Who holds (or waits for) locks on these relations, in words for a log line or an error
 * message: sessions with their pid, application, state and transaction age, and prepared
 * transactions with the statement that ends them.
 */
export async function describeBlockers(pool: Pool, relationOids: string[]): Promise<string[]> {
  return withClient(pool, async (c) => {
    const sessions = await c.query(
      `SELECT DISTINCT a.pid, a.application_name AS app, a.state, a.backend_type,
              round(extract(epoch FROM now() - a.xact_start)::numeric, 1)::text AS age
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.granted AND l.locktype = 'relation' AND l.relation = ANY ($1::oid[]) AND a.pid <> pg_backend_pid()
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND a.application_name NOT LIKE 'pgshift%'
        ORDER BY 1 LIMIT 10`,
      [relationOids],
    );
    const lines = sessions.rows.map((s) =>
      s.backend_type === 'autovacuum worker' ? `autovacuum (pid ${s.pid})` : `pid ${s.pid} (${s.app || 'no application_name'}, ${s.state}, transaction open ${s.age ?? '?'}s)`,
    );
    return [...lines, ...(await preparedBlockers(c, relationOids)).map(describePrepared)];
  }).catch(() => []);
}

/**
 * What a lock wait that ran out of attempts becomes: a lock timeout or deadlock turns into one
 * line naming who held the relations (every other error passes through unchanged).
 */
export async function lockGaveUp(pool: Pool, relationOids: string[], what: string, err: unknown): Promise<never> {
  if (!isRetryable(err)) throw err;
  const holders = await describeBlockers(pool, relationOids);
  throw new RuntimeError(`${what} (${describeError(err)})` + (holders.length ? `; held by ${holders.join('; ')}` : ''), { cause: err });
}
