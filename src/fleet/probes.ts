import { withClient } from '../db/session.js';
import { UserError } from '../errors.js';
import type { AlterOptions } from '../config.js';
import { classifyOptions } from '../migration/start.js';
import { migratePlan, type MigrateOptions } from '../migrate/runner.js';
import { plan } from '../strategy/preview.js';
import type { Probe, ProbeFn } from './preflight.js';
import { onTarget } from './record.js';

/**
 * Each command's preflight of one target, through the command's own planner, and whether the
 * target's run is heavy: a copy, an index build, a validation or a backfill (anything but
 * catalog-only changes and plain statements) takes its server's one heavy slot.
 */
export function alterProbe(opts: AlterOptions): ProbeFn {
  return async (t): Promise<Probe> => {
    const p = await plan({ url: t.conn, statements: opts.statements, ...classifyOptions(opts) });
    return { heavy: p.overall.strategy !== 'instant', summary: `${p.table}: ${p.overall.strategy} (~${p.estimatedRows} rows)`, tables: [p.table] };
  };
}

/** Strategies of migrate's plan that touch the data (copy, concurrent build, NOT VALID + VALIDATE, direct rewrite, backfill). */
const LIGHT_STEPS = ['statement', 'instant'];

export function migrateProbe(opts: MigrateOptions): ProbeFn {
  return async (t): Promise<Probe> => {
    const planned = await migratePlan({ ...opts, url: t.conn });
    if (planned.length === 0) return { heavy: false, summary: 'nothing pending', tables: [] };
    const files = new Set(planned.map((s) => s.version));
    const counts = new Map<string, number>();
    for (const s of planned) counts.set(s.strategy, (counts.get(s.strategy) ?? 0) + 1);
    return {
      heavy: planned.some((s) => !LIGHT_STEPS.includes(s.strategy)),
      summary: `${files.size} file(s) pending, ${planned.length} statement(s): ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}`,
      tables: [],
    };
  };
}

export function backfillProbe(table: string): ProbeFn {
  return (t) =>
    onTarget(
      t.conn,
      (pool) =>
        withClient(pool, async (c) => {
          const r = await c.query(`SELECT to_regclass($1)::text AS t, (SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass($1)) AS rows`, [table]);
          if (r.rows[0].t === null) throw new UserError(`refused: relation "${table}" does not exist`);
          return { heavy: true, summary: `backfill of ${r.rows[0].t} (~${Math.max(0, Math.round(r.rows[0].rows))} rows)`, tables: [r.rows[0].t] };
        }),
      true,
    );
}

/** cleanup drops what migrations left (old tables, interrupted artifacts): no copy, no scan. */
export const cleanupProbe: ProbeFn = async () => ({ heavy: false, summary: 'cleanup --all', tables: [] });
