import pg from 'pg';
import type { Client } from '../db/session.js';

/**
 * A probe looks at one kind of stress and says whether the copy and the replay should wait.
 * Probes only observe; the Throttler decides. `critical` aborts the migration safely; `warn`
 * is reported without slowing anything down.
 */
export interface ProbeResult {
  verdict: 'throttle' | 'critical' | 'warn';
  reason: string;
}

export interface Probe {
  readonly name: string;
  check(c: Client): Promise<ProbeResult | null>;
  /** the replication lag this probe last saw, for status */
  lastLagMs?(): number | null;
  close?(): Promise<void>;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)}MB`;

/**
 * Replay lag of every standby connected to this primary. replay_lag stops growing while a
 * standby's replay is paused (it is only measured when replay advances), so a standby whose
 * replay position has not moved while it is behind counts as lagging by how long it stood still.
 */
export function standbyLagProbe(maxLagMs: number): Probe {
  const stuckSince = new Map<string, { lsn: string; at: number }>();
  let seen: number | null = null;
  return {
    name: 'replication lag',
    lastLagMs: () => seen,
    async check(c) {
      const r = await c.query(
        `SELECT coalesce(application_name, '') || '@' || coalesce(client_addr::text, 'local') || ':' || pid AS standby,
                replay_lsn::text AS lsn, coalesce(extract(epoch FROM replay_lag) * 1000, 0)::float8 AS lag_ms,
                coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8 AS lag_bytes
           FROM pg_stat_replication`,
      );
      let worst: { standby: string; ms: number; bytes: number } | null = null;
      const now = Date.now();
      for (const s of r.rows) {
        const prev = stuckSince.get(s.standby);
        if (!prev || prev.lsn !== s.lsn || s.lag_bytes === 0) stuckSince.set(s.standby, { lsn: s.lsn, at: now });
        const stuckMs = s.lag_bytes > 0 ? now - (stuckSince.get(s.standby)?.at ?? now) : 0;
        const ms = Math.max(s.lag_ms, stuckMs);
        if (!worst || ms > worst.ms) worst = { standby: s.standby, ms, bytes: s.lag_bytes };
      }
      seen = worst?.ms ?? null;
      if (worst && worst.ms > maxLagMs) {
        return { verdict: 'throttle', reason: `replication lag: standby ${worst.standby} is ${seconds(worst.ms)} (${mb(worst.bytes)}) behind, over --max-lag ${seconds(maxLagMs)}` };
      }
      return null;
    },
  };
}

/**
 * Lag measured on a replica itself: time since the last replayed transaction, zero when it has
 * replayed everything it received (an idle primary sends nothing, which is not lag).
 */
export function replicaLagProbe(url: string, maxLagMs: number): Probe {
  let client: pg.Client | null = null;
  const shown = (() => {
    try {
      const u = new URL(url);
      return `${u.hostname}:${u.port || 5432}`;
    } catch {
      return 'replica';
    }
  })();
  let seen: number | null = null;
  return {
    name: 'replica lag',
    lastLagMs: () => seen,
    async check() {
      if (!client) {
        client = new pg.Client({ connectionString: url, application_name: 'pgshift:probe' });
        client.on('error', () => undefined);
        await client.connect();
      }
      const r = await client.query(
        `SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
                     ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000, 0) END::float8 AS lag_ms`,
      );
      const ms = r.rows[0].lag_ms as number;
      seen = ms;
      return ms > maxLagMs ? { verdict: 'throttle', reason: `replication lag: replica ${shown} is ${seconds(ms)} behind, over --max-lag ${seconds(maxLagMs)}` } : null;
    },
    async close() {
      await client?.end().catch(() => undefined);
    },
  };
}

/** WAL retained by replication slots: a stuck subscriber must not make the copy fill the disk. */
export function slotLagProbe(maxBytes: number): Probe {
  return {
    name: 'slot lag',
    async check(c) {
      const r = await c.query(
        `SELECT slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 AS bytes
           FROM pg_replication_slots WHERE restart_lsn IS NOT NULL ORDER BY 2 DESC LIMIT 1`,
      );
      const s = r.rows[0];
      return s && s.bytes > maxBytes ? { verdict: 'throttle', reason: `replication slot ${s.slot_name} retains ${mb(s.bytes)} of WAL, over --max-slot-lag ${mb(maxBytes)}` } : null;
    },
  };
}

/** WAL generated per second, measured between checks at least a second apart. */
export function walRateProbe(maxBytesPerSecond: number): Probe {
  let last: { lsn: string; at: number } | null = null;
  let rate = 0;
  return {
    name: 'wal rate',
    async check(c) {
      const lsn = (await c.query(`SELECT pg_current_wal_lsn()::text AS l`)).rows[0].l as string;
      const now = Date.now();
      if (!last) last = { lsn, at: now };
      else if (now - last.at >= 1000) {
        const bytes = Number((await c.query(`SELECT pg_wal_lsn_diff($1, $2)::float8 AS b`, [lsn, last.lsn])).rows[0].b);
        rate = bytes / ((now - last.at) / 1000);
        last = { lsn, at: now };
      }
      return rate > maxBytesPerSecond ? { verdict: 'throttle', reason: `WAL rate ${mb(rate)}/s, over --max-wal-rate ${mb(maxBytesPerSecond)}` } : null;
    },
  };
}

/** Other sessions waiting for locks on the tables the migration touches. */
export function lockWaitProbe(relations: () => string[]): Probe {
  return {
    name: 'lock waits',
    async check(c) {
      const r = await c.query(
        `SELECT count(DISTINCT l.pid)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE NOT l.granted AND l.relation = ANY ($1::regclass[]) AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND a.application_name NOT LIKE 'pgshift%'`,
        [relations()],
      );
      const n = r.rows[0].n as number;
      return n > 0 ? { verdict: 'throttle', reason: `lock waits: ${n} session(s) waiting for locks on the migrated tables` } : null;
    },
  };
}

/**
 * Transactions older than --max-xact-age that hold a lock on the origin: they would block the
 * cutover's lock. Reported, not throttled (slowing the copy would not make them finish).
 */
export function longTransactionProbe(maxAgeMs: number, origin: () => string): Probe {
  return {
    name: 'long transactions',
    async check(c) {
      const r = await c.query(
        `SELECT a.pid, extract(epoch FROM now() - a.xact_start)::float8 * 1000 AS age_ms, a.query_start::text AS query_start, a.state
           FROM pg_stat_activity a
          WHERE a.xact_start < now() - make_interval(secs => $1 / 1000.0) AND a.pid <> pg_backend_pid()
            AND EXISTS (SELECT FROM pg_locks l WHERE l.pid = a.pid AND l.granted AND l.relation = $2::regclass
                          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
          ORDER BY a.xact_start LIMIT 5`,
        [maxAgeMs, origin()],
      );
      if (r.rows.length === 0) return null;
      const list = r.rows.map((x) => `pid ${x.pid} (${x.state}, transaction age ${seconds(x.age_ms)}, query started ${x.query_start})`).join('; ');
      return { verdict: 'warn', reason: `long transactions holding locks on the table will block the cutover: ${list}` };
    },
  };
}

/** More active backends than --max-active. */
export function activeBackendsProbe(maxActive: number): Probe {
  return {
    name: 'load',
    async check(c) {
      const r = await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name NOT LIKE 'pgshift%'`);
      const n = r.rows[0].n as number;
      return n > maxActive ? { verdict: 'throttle', reason: `load: ${n} active sessions, over --max-active ${maxActive}` } : null;
    },
  };
}

/** An operator's query: a result > 0 throttles (or, for the critical query, aborts safely). */
export function userQueryProbe(sql: string, verdict: 'throttle' | 'critical'): Probe {
  const option = verdict === 'throttle' ? '--throttle-query' : '--critical-query';
  return {
    name: option,
    async check(c) {
      const r = await c.query({ text: sql, rowMode: 'array' });
      const value = Number((r.rows[0] as unknown[] | undefined)?.[0] ?? 0);
      return value > 0 ? { verdict, reason: `${option} returned ${value}` } : null;
    },
  };
}

/** pause / unpause / throttle --for, delivered through the state table from any host. */
export function manualProbe(migrationId: number): Probe {
  return {
    name: 'manual',
    async check(c) {
      const r = await c.query(`SELECT paused, throttled_until > now() AS throttled, throttled_until::text AS until FROM pgshift.migrations WHERE id = $1`, [migrationId]);
      const m = r.rows[0];
      if (m?.paused) return { verdict: 'throttle', reason: `paused by the operator (pgshift unpause ${migrationId} resumes)` };
      if (m?.throttled) return { verdict: 'throttle', reason: `throttled by the operator until ${m.until}` };
      return null;
    },
  };
}
