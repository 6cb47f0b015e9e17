import type { Client } from '../db/session.js';
import { preparedBlockers } from '../cutover/blockers.js';
import type { Blockers } from './model.js';

/** Transactions open at least this long are listed: they hold back vacuum, and a concurrent index build waits for them. */
export const LONG_TRANSACTION_SECONDS = 1;

/**
 * What would hold up the change right now: sessions holding (or queued for) a lock on the
 * tables, transactions of this database open for a while (a CREATE INDEX CONCURRENTLY waits
 * for every one older than itself, whatever it touched; any of them may take a lock on the
 * table next), and prepared transactions, which keep their locks until someone ends them by name.
 * Read from pg_locks, pg_stat_activity and pg_prepared_xacts; the plan's own session is left out.
 */
export async function blockersNow(c: Client, tableOids: string[]): Promise<Blockers> {
  const unreadable: string[] = [];
  const privileged = (await c.query(`SELECT rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS ok FROM pg_roles WHERE rolname = current_user`)).rows[0]?.ok;
  if (!privileged) unreadable.push("other roles' sessions show no state or query: that needs pg_read_all_stats (or superuser)");

  const holders = await c.query(
    `SELECT a.pid, coalesce(a.application_name, '') AS application, coalesce(a.state, a.backend_type, '') AS state, l.mode, l.granted,
            format('%I.%I', n.nspname, r.relname) AS "table", extract(epoch FROM now() - a.xact_start)::float8 AS seconds
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       JOIN pg_class r ON r.oid = l.relation JOIN pg_namespace n ON n.oid = r.relnamespace
      WHERE l.locktype = 'relation' AND l.relation = ANY ($1::oid[]) AND l.pid <> pg_backend_pid()
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY a.xact_start NULLS LAST, a.pid`,
    [tableOids],
  );
  const long = await c.query(
    `SELECT pid, coalesce(application_name, '') AS application, coalesce(state, '') AS state, extract(epoch FROM now() - xact_start)::float8 AS seconds,
            left(coalesce(query, ''), 200) AS query
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start < now() - make_interval(secs => $1)
      ORDER BY xact_start LIMIT 20`,
    [LONG_TRANSACTION_SECONDS],
  );
  const locking = new Set((await preparedBlockers(c, tableOids)).map((p) => p.gid));
  const prepared = await c.query(`SELECT gid, prepared::text AS prepared, owner FROM pg_prepared_xacts WHERE database = current_database() ORDER BY prepared`);
  return {
    longTransactions: long.rows.map((r) => ({ pid: r.pid, application: r.application, state: r.state, seconds: Number(r.seconds), query: r.query })),
    prepared: prepared.rows.map((p) => ({
      gid: p.gid, prepared: p.prepared, owner: p.owner, locksTables: locking.has(p.gid),
      end: `COMMIT PREPARED '${p.gid.replace(/'/g, "''")}' or ROLLBACK PREPARED '${p.gid.replace(/'/g, "''")}'`,
    })),
    lockHolders: holders.rows.map((r) => ({ pid: r.pid, application: r.application, state: r.state, mode: r.mode, granted: r.granted, table: r.table, seconds: r.seconds === null ? null : Number(r.seconds) })),
    olderThanSeconds: LONG_TRANSACTION_SECONDS,
    unreadable,
  };
}
