import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { UserError } from '../errors.js';

/**
 * Operator controls delivered through the state table, so they work from any host: the
 * running engine's throttler reads them before every chunk and replay batch.
 */
export type Control = { kind: 'pause' } | { kind: 'unpause' } | { kind: 'throttle'; forMs: number };

export async function applyControl(pool: Pool, idText: string, control: Control): Promise<string> {
  if (!/^\d+$/.test(idText)) throw new UserError(`"${idText}" is not a migration id`);
  return withClient(pool, async (c) => {
    const exists = await c.query(`SELECT to_regclass('pgshift.migrations') AS t`);
    if (exists.rows[0].t === null) throw new UserError(`no migration ${idText}: this database has no pgshift state`);
    const set =
      control.kind === 'pause' ? 'paused = true'
      : control.kind === 'unpause' ? 'paused = false, throttled_until = NULL'
      : `throttled_until = now() + make_interval(secs => $2 / 1000.0)`;
    const params: unknown[] = control.kind === 'throttle' ? [idText, control.forMs] : [idText];
    const r = await c.query(`UPDATE pgshift.migrations SET ${set}, updated_at = now() WHERE id = $1 AND outcome IS NULL RETURNING table_schema || '.' || table_name AS t, throttled_until::text AS until`, params);
    if (r.rowCount === 0) throw new UserError(`no unfinished migration ${idText}`);
    const t = r.rows[0].t;
    return control.kind === 'pause' ? `migration ${idText} on ${t} paused`
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
  phase: string;
  outcome: string | null;
  rowsCopied: number;
  rowsEstimated: number | null;
  progressPct: number | null;
  throttleReason: string | null;
  paused: boolean;
  error: string | null;
  startedAt: string;
  updatedAt: string;
}

export async function readStatus(pool: Pool, id?: string): Promise<StatusRow[]> {
  return withClient(pool, async (c) => {
    const exists = await c.query(`SELECT to_regclass('pgshift.migrations') AS t`);
    if (exists.rows[0].t === null) return [];
    const r = await c.query(
      `SELECT id::int, kind, name, table_schema || '.' || table_name AS table, phase, outcome, rows_copied::float8 AS rows_copied,
              rows_estimated::float8 AS rows_estimated, throttle_reason, paused, error,
              started_at::text AS started_at, updated_at::text AS updated_at
         FROM pgshift.migrations WHERE ($1::bigint IS NULL OR id = $1::bigint) ORDER BY id`,
      [id ?? null],
    );
    return r.rows.map((m) => ({
      id: m.id,
      kind: m.kind,
      name: m.name,
      table: m.table,
      phase: m.phase,
      outcome: m.outcome,
      rowsCopied: m.rows_copied,
      rowsEstimated: m.rows_estimated,
      progressPct: m.rows_estimated ? Math.min(100, (100 * m.rows_copied) / m.rows_estimated) : null,
      throttleReason: m.throttle_reason,
      paused: m.paused,
      error: m.error,
      startedAt: m.started_at,
      updatedAt: m.updated_at,
    }));
  });
}
