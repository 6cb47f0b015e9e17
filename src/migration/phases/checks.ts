import type { Client } from '../../db/session.js';
import { RuntimeError, StoppedError } from '../../errors.js';
import type { Tables } from '../../copy/sql.js';
import { isTruncated } from '../../state/store.js';
import type { Run } from '../run.js';

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
  await c.query(`UPDATE pgshift.migrations SET backlog = $2 WHERE id = $1`, [run.id, n]);
  return n;
}
