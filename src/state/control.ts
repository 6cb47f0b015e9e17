import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { UserError } from '../errors.js';
import { writeState } from './store.js';

/**
 * Operator controls delivered through the state table, so they work from any host: the
 * running engine's throttler reads them before every chunk and replay batch.
 */
export type Control = { kind: 'pause' } | { kind: 'unpause' } | { kind: 'throttle'; forMs: number } | { kind: 'cutover' };

export async function applyControl(pool: Pool, idText: string, control: Control): Promise<string> {
  if (!/^\d+$/.test(idText)) throw new UserError(`"${idText}" is not a migration id`);
  return withClient(pool, async (c) => {
    const exists = await c.query(`SELECT to_regclass('pgshift.migrations') AS t`);
    if (exists.rows[0].t === null) throw new UserError(`no migration ${idText}: this database has no pgshift state`);
    const set =
      control.kind === 'cutover' ? 'cutover_requested = true'
      : control.kind === 'pause' ? 'paused = true'
      : control.kind === 'unpause' ? 'paused = false, throttled_until = NULL'
      : `throttled_until = now() + make_interval(secs => $2 / 1000.0)`;
    const params: unknown[] = control.kind === 'throttle' ? [idText, control.forMs] : [idText];
    const r = await writeState(c, `UPDATE pgshift.migrations SET ${set}, updated_at = now() WHERE id = $1 AND outcome IS NULL RETURNING table_schema || '.' || table_name AS t, throttled_until::text AS until`, params);
    if (r.rowCount === 0) throw new UserError(`no unfinished migration ${idText}`);
    const t = r.rows[0].t;
    return control.kind === 'cutover' ? `migration ${idText} on ${t}: cutover requested`
      : control.kind === 'pause' ? `migration ${idText} on ${t} paused`
      : control.kind === 'unpause' ? `migration ${idText} on ${t} unpaused`
      : `migration ${idText} on ${t} throttled until ${r.rows[0].until}`;
  });
}

export interface StatusRow {
  id: number;
  /** 'alter' or 'backfill' (a backfill also has the name its checkpoint is kept under) */
  kind: string;
  name: string | null;
  table: string;
  /** an ALTER's strategy: copy, instant, online or direct (null for a backfill) */
  strategy: string | null;
  state: string;
  rowsCopied: number;
  rowsEstimated: number | null;
  progressPct: number | null;
  rowsPerSecond: number | null;
  eta: string | null;
  backlog: number | null;
  lagMs: number | null;
  throttleReason: string | null;
  error: string | null;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** Every migration and backfill, from the pgshift.status view (readable with plain SQL too). */
export async function readStatus(pool: Pool, id?: string): Promise<StatusRow[]> {
  return withClient(pool, async (c) => {
    const exists = await c.query(`SELECT to_regclass('pgshift.status') AS t`);
    if (exists.rows[0].t === null) return [];
    const r = await c.query(
      `SELECT id::int, kind, name, "table", state, rows_copied::float8, rows_estimated::float8, progress_pct::float8,
              rows_per_s::float8, eta::text, backlog::float8, lag_ms, throttle_reason, error,
              started_at::text, updated_at::text, finished_at::text,
              to_jsonb(s)->>'strategy' AS strategy -- a column since state version 6; a status reader never upgrades the schema
         FROM pgshift.status s WHERE ($1::bigint IS NULL OR id = $1::bigint) ORDER BY id`,
      [id ?? null],
    );
    return r.rows.map((m) => ({
      id: m.id,
      kind: m.kind,
      name: m.name,
      table: m.table,
      strategy: m.strategy,
      state: m.state,
      rowsCopied: m.rows_copied,
      rowsEstimated: m.rows_estimated,
      progressPct: m.progress_pct,
      rowsPerSecond: m.rows_per_s,
      eta: m.eta,
      backlog: m.backlog,
      lagMs: m.lag_ms,
      throttleReason: m.throttle_reason,
      error: m.error,
      startedAt: m.started_at,
      updatedAt: m.updated_at,
      finishedAt: m.finished_at,
    }));
  });
}
