import type { Client } from '../db/session.js';
import { qualified } from '../db/quote.js';
import type { Decision } from './classify.js';

/**
 * An estimated duration, from a short sample measured on this server now, never from a constant
 * rate: the table's first rows (up to SAMPLE_ROWS) copied into a scratch table, its indexes built
 * there as the table has them, and the scratch table scanned, all in a transaction rolled back.
 * The times are scaled by the table's heap size over the sample's. Only `plan` and dry runs
 * measure; a run never does.
 */
export const SAMPLE_ROWS = 20_000;

export interface Sample {
  rows: number;
  /** the table's heap over the sample's heap (1 when the sample is the whole table) */
  scale: number;
  copyMs: number;
  /** building every index the table has, on the sample */
  indexMs: number;
  indexes: number;
  scanMs: number;
  /** the UPDATE asked for, run on the sample after the rest */
  updateMs: number | null;
}

export interface Estimate {
  seconds: number;
  /** how it was reached, for people */
  basis: string;
}

const SCRATCH = 'pgshift_estimate_sample';
/** The scratch table, for an UPDATE measured on it. */
export const SCRATCH_TABLE = `pg_temp.${SCRATCH}`;

/**
 * Measures the sample on `c` (outside any transaction of the caller's: it opens and rolls back
 * its own); `update`, an UPDATE of SCRATCH_TABLE, is timed last.
 */
export async function measureSample(c: Client, table: { oid: string; schema: string; name: string }, update?: string): Promise<Sample> {
  await c.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    const source = qualified(table.schema, table.name);
    const scratch = SCRATCH_TABLE;
    await c.query(`CREATE TEMP TABLE ${SCRATCH} (LIKE ${source})`);
    const copyMs = await timed(c, `INSERT INTO ${scratch} SELECT * FROM ${source} LIMIT ${SAMPLE_ROWS}`);
    const sized = (await c.query(
      `SELECT (SELECT count(*)::int FROM ${scratch}) AS rows, pg_relation_size($1::regclass)::float8 AS table_heap,
              pg_relation_size('${scratch}'::regclass)::float8 AS sample_heap`,
      [table.oid],
    )).rows[0];
    // Each index as the table has it, moved onto the scratch table: with only pg_catalog on the
    // search path, pg_get_indexdef names the table as quote_ident(schema).quote_ident(name).
    const path = (await c.query(`SELECT current_setting('search_path') AS p`)).rows[0].p as string;
    await c.query(`SET LOCAL search_path = pg_catalog`);
    const defs = (await c.query(
      `SELECT pg_get_indexdef(i.indexrelid) AS def, quote_ident(n.nspname) || '.' || quote_ident(t.relname) AS rel
         FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace WHERE i.indrelid = $1::oid`,
      [table.oid],
    )).rows as { def: string; rel: string }[];
    let indexMs = 0;
    for (const { def, rel } of defs) {
      const on = ` ON ${rel} USING `;
      const at = def.indexOf(on);
      if (at < 0) continue;
      indexMs += await timed(c, `${/^CREATE (UNIQUE )?INDEX/.exec(def)![0]} ON ${scratch} USING ${def.slice(at + on.length)}`);
    }
    const scanMs = await timed(c, `SELECT count(*) FROM ${scratch}`);
    // The UPDATE's own expressions may name objects of the user's schemas: back to the session's path.
    await c.query(`SELECT set_config('search_path', $1, true)`, [path]);
    // An UPDATE of columns an earlier pending statement adds or renames cannot run yet: unmeasured.
    let updateMs: number | null = null;
    if (update) {
      await c.query('SAVEPOINT pgshift_estimate_update');
      updateMs = await timed(c, update).catch(() => null);
      await c.query('ROLLBACK TO SAVEPOINT pgshift_estimate_update');
    }
    const whole = sized.rows < SAMPLE_ROWS;
    const scale = whole || sized.sample_heap === 0 ? 1 : Math.max(1, sized.table_heap / sized.sample_heap);
    return { rows: sized.rows, scale, copyMs, indexMs, indexes: defs.length, scanMs, updateMs };
  } finally {
    await c.query('ROLLBACK');
  }
}

async function timed(c: Client, sql: string): Promise<number> {
  const t0 = performance.now();
  await c.query(sql);
  return performance.now() - t0;
}

/**
 * A change's duration from the sample, by its strategy: a rewrite (copy or direct) copies the rows
 * and builds every index (a copy then validates: both tables read once more); a concurrent build
 * scans twice and builds one index; a validation scans once; an instant change is catalog work.
 * A lock that does not come at once adds its wait to any of them. Null: a backfill whose UPDATE
 * could not run on the sample (it needs what an earlier pending statement makes).
 */
export function estimate(decisions: Decision[], strategy: string, s: Sample): Estimate | null {
  const sec = (ms: number): number => (ms * s.scale) / 1000;
  const of = `measured on a sample of ${s.rows} rows (x${s.scale.toFixed(1)} for the whole table)`;
  const perIndex = s.indexes ? s.indexMs / s.indexes : s.scanMs;
  if (strategy === 'backfill') {
    return s.updateMs === null ? null : { seconds: sec(s.updateMs), basis: `the UPDATE took ${s.updateMs.toFixed(0)} ms ${of}; in batches, throttled, it takes longer` };
  }
  if (strategy === 'copy' || strategy === 'direct') {
    const validation = strategy === 'copy' ? 2 * s.scanMs : 0;
    return { seconds: sec(s.copyMs + s.indexMs + validation), basis: `copy ${s.copyMs.toFixed(0)} ms, ${s.indexes} index build(s) ${s.indexMs.toFixed(0)} ms${validation ? `, validation scans ${validation.toFixed(0)} ms` : ''} ${of}` };
  }
  let ms = 0;
  for (const d of decisions) {
    if (d.strategy === 'concurrent') ms += 2 * s.scanMs + perIndex;
    else if (d.strategy === 'not-valid-validate') ms += s.scanMs;
  }
  if (ms === 0) return { seconds: 0, basis: 'catalog only: milliseconds, plus any wait for the lock' };
  return { seconds: sec(ms), basis: `scans ${s.scanMs.toFixed(0)} ms each, an index build ${perIndex.toFixed(0)} ms, ${of}` };
}
