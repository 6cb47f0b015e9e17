import type { Client } from '../../db/session.js';
import { RuntimeError, StoppedError } from '../../errors.js';
import type { Tables } from '../../copy/sql.js';
import { isTruncated, writeState } from '../../state/store.js';
import type { Run } from '../run.js';
import { progress } from '../../progress.js';

/** What every long phase checks between its steps. */
/** --max-runtime: stop cleanly, everything kept for `pgshift resume` (exit 4). */
export function stopIfOverRuntime(run: Run): void {
  if (run.opts.maxRuntimeMs !== undefined && performance.now() - run.startedAt >= run.opts.maxRuntimeMs) {
    throw new StoppedError(`stopped at --max-runtime; pgshift resume ${run.id} continues from here`);
  }
}

export async function stopIfTruncated(c: Client, id: number): Promise<void> {
  if (await isTruncated(c, id)) throw new RuntimeError('the table was truncated during the migration; stopping without a swap');
}

/** The changelog's size, kept in the state table for status. */
export async function recordBacklog(c: Client, run: Run, tables: Tables): Promise<number> {
  const n = Number((await c.query(`SELECT count(*) AS n FROM ${tables.changelog}`)).rows[0].n);
  await writeState(c, `UPDATE pgshift.migrations SET backlog = $2 WHERE id = $1`, [run.id, n]);
  progress.emit({ type: 'backlog', id: run.id, entries: n, atLeast: false });
  run.backlogSampledAt = performance.now();
  return n;
}

/** A backlog beyond this is shown as "at least": counting further would cost the copy, and tell nothing more. */
export const BACKLOG_SAMPLE_CAP = 100_000;

/**
 * The changelog's backlog for a live status line (src/progress.ts): only while someone listens, at
 * most once a second, and counted up to BACKLOG_SAMPLE_CAP, so that a long backlog costs the phase
 * that samples it no more than a short one (a few milliseconds a second at most).
 */
export async function sampleBacklog(c: Client, run: Run, tables: Tables): Promise<void> {
  if (!progress.listening() || performance.now() - run.backlogSampledAt < 1000) return;
  run.backlogSampledAt = performance.now();
  const r = await c.query(`SELECT count(*)::int AS n FROM (SELECT FROM ${tables.changelog} LIMIT $1) e`, [BACKLOG_SAMPLE_CAP]);
  const n = r.rows[0].n as number;
  progress.emit({ type: 'backlog', id: run.id, entries: n, atLeast: n >= BACKLOG_SAMPLE_CAP });
}
