import type { Client } from '../db/session.js';
import { inTransaction } from '../db/session.js';
import { qualified } from '../db/quote.js';
import { withRetry, sleep, type RetryPolicy } from '../db/retry.js';
import { componentLog } from '../log.js';
import { progress } from '../progress.js';
import { advisoryLocks } from '../db/advisory-locks.js';
import { createChunker } from '../copy/chunker.js';
import type { Throttler } from '../throttle/throttler.js';
import { backfillBatchSql, backfillBoundSql, backfillPendingSql, type BackfillNames, type BackfillTarget } from './sql.js';

const log = componentLog('backfill');

export interface WalkOptions {
  batchTimeMs: number;
  retry: RetryPolicy;
  /** throws StoppedError at --max-runtime or outside the --window */
  stopIfOutside: (c: Client) => Promise<void>;
  onBatch?: (done: { rows: number; batches: number }) => void;
  /** the table's row estimate (0: none), against which the walk's progress is shown */
  rowsEstimated: number;
}

export interface WalkCounts {
  rowsUpdated: number;
  batches: number;
  retriedKeys: number;
}

/**
 * Every batch and retry is one transaction that takes the job's advisory lock first and reads
 * the job's phase and checkpoint under it, never from memory: a batch a killed process left
 * running commits first, and a run after the walk's end never walks again. The key-move
 * trigger takes the same lock in share mode (see sql/backfill-move-function.sql).
 */
async function step<T>(c: Client, id: number, retry: RetryPolicy, pinFormats: boolean, body: (m: { phase: string; watermark: string[] | null }) => Promise<T>): Promise<T> {
  return withRetry(retry, (_a, lockTimeoutMs) =>
    inTransaction(c, async () => {
      await c.query(`SELECT set_config('lock_timeout', $1, true)${pinFormats ? PIN : ''}`, [`${lockTimeoutMs}ms`]);
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', advisoryLocks.work(id));
      const m = (await c.query(`SELECT phase, watermark FROM pgshift.migrations WHERE id = $1`, [id])).rows[0];
      return body(m);
    }),
  );
}

/**
 * What every batch and retry records last ($1 job id, $2 rows updated, $3 checkpoint, $4 phase).
 * It rewrites the progress row too: a REPEATABLE READ transaction that moves a key locks that
 * row, and so learns that its snapshot predates this batch.
 */
function recordSql(n: BackfillNames): string {
  return (
    `WITH progress AS (UPDATE ${qualified(n.schema, n.progress)} SET batches = batches + 1 RETURNING 1)` +
    ` UPDATE pgshift.migrations SET rows_copied = rows_copied + $2, watermark = $3, phase = $4,` +
    ` phase_started_at = CASE WHEN $4 = phase THEN phase_started_at ELSE now() END, updated_at = now()` +
    ` WHERE id = $1 AND EXISTS (SELECT FROM progress)`
  );
}

/**
 * The checkpoint is written as text in formats every reader parses the same (the trigger pins
 * them too); the --set and --where expressions run with the session's own formats, as offline.
 */
const PIN = `, set_config('DateStyle', 'ISO, MDY', true), set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '3', true)`;
async function sessionTextFormats(c: Client): Promise<string[]> {
  return (await c.query({ text: `SELECT current_setting('DateStyle'), current_setting('IntervalStyle'), current_setting('extra_float_digits')`, rowMode: 'array' })).rows[0];
}
async function restoreTextFormats(c: Client, session: string[]): Promise<void> {
  await c.query(`SELECT set_config('DateStyle', $1, true), set_config('IntervalStyle', $2, true), set_config('extra_float_digits', $3, true)`, session);
}

/**
 * The walk: batches over the whole key in order, each recording its upper bound as the
 * checkpoint; the last one (no upper bound) moves the phase from 'copy' to 'catch-up' in the
 * same transaction.
 */
export async function walkKey(c: Client, t: BackfillTarget, id: number, n: BackfillNames, o: WalkOptions, throttler: Throttler, counts: WalkCounts): Promise<void> {
  const chunker = createChunker({ targetMs: o.batchTimeMs, initial: 1000, min: 100, max: 50_000, maxStep: 2 });
  const formats = await sessionTextFormats(c);
  // Keys walked by this run; against the estimate only when this run walks from the first key.
  let walked = 0;
  let fromFirstKey: boolean | undefined;
  for (;;) {
    await o.stopIfOutside(c);
    await throttler.wait();
    const size = chunker.size();
    const started = performance.now();
    const r = await step(c, id, o.retry, true, async (m) => {
      if (m.phase !== 'copy') return null;
      const low = m.watermark;
      const bound = await c.query({ text: backfillBoundSql(t, low !== null), values: [...(low ?? []), size], rowMode: 'array' });
      const high = (bound.rows[0] as string[] | undefined) ?? null;
      await restoreTextFormats(c, formats);
      const b = (await c.query(backfillBatchSql(t, n, low !== null, high !== null), [...(low ?? []), ...(high ?? [])])).rows[0];
      await c.query(recordSql(n), [id, b.updated, high ?? low, high ? 'copy' : 'catch-up']);
      return { updated: b.updated as number, last: high === null, fromFirstKey: low === null };
    });
    if (r === null) return;
    fromFirstKey ??= r.fromFirstKey;
    walked += size;
    progress.emit({ type: 'rows', id, done: walked, total: fromFirstKey && o.rowsEstimated > 0 ? o.rowsEstimated : null });
    counts.rowsUpdated += r.updated;
    counts.batches++;
    if (!r.last) chunker.feedback(size, performance.now() - started, size);
    o.onBatch?.({ rows: counts.rowsUpdated, batches: counts.batches });
    if (counts.batches % 50 === 0) log.info({ backfill: id, rows: counts.rowsUpdated, batch: size }, 'backfilling');
    if (r.last) return;
  }
}

/**
 * After the walk: the pending keys (rows the application held during their batch, or moved
 * behind the walk before they were updated), retried until none is left. Returns when a round
 * finds none.
 */
export async function retryPending(c: Client, t: BackfillTarget, id: number, n: BackfillNames, o: WalkOptions, throttler: Throttler, counts: WalkCounts): Promise<void> {
  for (let round = 0; ; round++) {
    await o.stopIfOutside(c);
    await throttler.wait();
    const r = await step(c, id, o.retry, false, async (m) => {
      const x = (await c.query(backfillPendingSql(t, n), [1000])).rows[0];
      await c.query(recordSql(n), [id, x.updated, m.watermark, m.phase]);
      return x as { taken: number; updated: number; again: number };
    });
    counts.retriedKeys += r.taken - r.again;
    counts.rowsUpdated += r.updated;
    if (r.taken === 0) return;
    if (r.again > 0) await sleep(Math.min(1000, 20 * 2 ** Math.min(round, 6)));
  }
}
