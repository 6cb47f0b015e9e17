import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { componentLog } from '../log.js';

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
export async function removeBlockers(pool: Pool, relationOids: string[], mode: 'cancel' | 'terminate', graceMs: number): Promise<Blocker[]> {
  return withClient(pool, async (c) => {
    const r = await c.query(
      `SELECT DISTINCT a.pid, a.state, a.xact_start::text AS xact_start, a.query_start::text AS query_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.granted AND l.relation = ANY ($1::oid[]) AND a.pid <> pg_backend_pid()
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND a.application_name NOT LIKE 'pgshift%'
          AND a.xact_start < now() - make_interval(secs => $2 / 1000.0)`,
      [relationOids, graceMs],
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
