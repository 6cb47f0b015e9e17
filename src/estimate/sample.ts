import type { Client } from '../db/session.js';
import { qualified } from '../db/quote.js';

/**
 * What every rehearsal shares: how big a sample is, where its scratch tables live, how a
 * statement is timed, and how a time measured on the sample becomes one for the whole table.
 * Only `plan` and dry runs rehearse; a run never does (README: Estimated duration).
 */
export const SAMPLE_ROWS = 20_000;
/** The copy's first chunk (migration/phases/copy.ts starts its chunker at this size). */
export const SAMPLE_CHUNK_ROWS = 5_000;

let scratchCount = 0;

/** A schema name of this process's own, created and rolled back inside one rehearsal. */
export function scratchSchema(): string {
  return `pgshift_estimate_${process.pid}_${++scratchCount}`;
}

export async function timed(c: Client, sql: string, values: unknown[] = []): Promise<number> {
  const t0 = performance.now();
  await c.query(sql, values);
  return performance.now() - t0;
}

/** The planner's row count for the table as it is now (reltuples scaled by the current size; works unanalyzed). */
export async function rowsNow(c: Client, table: { schema: string; name: string }): Promise<number> {
  const plan = (await c.query(`EXPLAIN (FORMAT JSON) SELECT FROM ${qualified(table.schema, table.name)}`)).rows[0]['QUERY PLAN'];
  return Math.max(0, Math.round(Number(plan[0]?.Plan?.['Plan Rows'] ?? 0)));
}

/**
 * How a sample's time grows to the table's: in rows, for copies, scans and index builds alike. A
 * sort is n log n in theory; measured here (bench/estimate.ts) an index build of the whole table
 * grew no faster than its rows (a build's fixed start weighs on the sample; the run's builds get
 * parallel workers and 256MB of maintenance_work_mem), and a log factor overshot 1,000,000 rows
 * almost 3x. A sample that is the whole table is not scaled.
 */
export interface Scale {
  sampleRows: number;
  tableRows: number;
  linear: number;
}

export function scaleOf(sampleRows: number, tableRows: number, whole: boolean): Scale {
  if (whole || sampleRows === 0 || tableRows <= sampleRows) return { sampleRows, tableRows: Math.max(tableRows, sampleRows), linear: 1 };
  return { sampleRows, tableRows, linear: tableRows / sampleRows };
}

/** One measured part of an estimate. */
export interface EstimatePart {
  what: string;
  seconds: number;
  /** how it was measured, for people */
  measured: string;
}

export interface Estimate {
  seconds: number;
  /** how it was reached, for people */
  basis: string;
  parts: EstimatePart[];
}

export function part(what: string, ms: number, measured: string): EstimatePart {
  return { what, seconds: ms / 1000, measured };
}

export function sumOf(parts: EstimatePart[], basis: string): Estimate {
  return { seconds: parts.reduce((t, p) => t + p.seconds, 0), basis, parts };
}

export function ms(n: number): string {
  return `${n.toFixed(0)} ms`;
}

export function sampleBasis(s: Scale): string {
  return s.linear === 1
    ? `rehearsed on the whole table (${s.sampleRows} rows) in a transaction rolled back`
    : `rehearsed on a sample of ${s.sampleRows} rows of ~${s.tableRows} in a transaction rolled back, scaled x${s.linear.toFixed(1)} by rows`;
}
