import type { Client } from '../db/session.js';
import { inTransaction } from '../db/session.js';
import { qualified } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { RuntimeError } from '../errors.js';
import { tableFingerprint } from '../catalog/table.js';
import { isTruncated } from '../state/store.js';
import type { Replayer } from '../capture/replayer.js';
import { swapTables, type SwapInput, type SwapResult } from './swap.js';
import { checkInLock, ValidationFailed, type InLockReport } from '../verify/validate.js';
import type { Side } from '../verify/side.js';
import { drain } from '../capture/drain.js';

export interface CutoverInput extends SwapInput {
  migrationId: number;
  fingerprint: string;
  replayer: Replayer;
  /** relations locked ACCESS EXCLUSIVE with the origin: the shadow, views, tables with FKs into it */
  exclusiveLocks: string[];
  /** referenced tables of foreign keys added at the swap: SHARE ROW EXCLUSIVE */
  shareLocks: string[];
  retry: RetryPolicy;
  /** the whole transaction's deadline: a stuck step must not hold the locks */
  deadlineMs: number;
  onRetry?: (attempt: number, err: unknown, pauseMs: number) => void | Promise<void>;
  /** runs inside the cutover transaction right after the swap (to record it atomically) */
  onSwapped?: (c: Client, result: SwapResult) => Promise<void>;
  /** the bounded comparison after the final replay; with keepOnFailure a failure is only reported */
  inLockCheck: { origin: Side; shadow: Side; estimatedRows: number; budgetMs: number; keepOnFailure: boolean };
}

export interface CutoverResult extends SwapResult {
  check: InLockReport;
  attempts: number;
  lockWaitMs: number;
  holdMs: number;
  finalEntries: number;
}

/**
 * One transaction: take every lock in one go in a fixed order (OID order, origin included)
 * with a short lock_timeout, replay the rest of the changelog, check nobody changed or
 * truncated the origin meanwhile, swap, rewire, commit. A lock that does not come rolls the
 * attempt back; the retry policy backs off with jitter and gives up after its budget.
 */
export async function cutover(c: Client, input: CutoverInput): Promise<CutoverResult> {
  let attempts = 0;
  return withRetry(
    input.retry,
    async (_attempt, lockTimeoutMs) => {
      attempts++;
      return inTransaction(c, async () => {
        await c.query(`SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)`, [
          `${lockTimeoutMs}ms`,
          `${input.deadlineMs}ms`,
        ]);
        const t0 = performance.now();
        // The application's own table first, as its transactions take it before what they cascade
        // into (tables with foreign keys into it); then the rest in OID order. The other order
        // meets every cascading write head-on and times out attempt after attempt.
        const others = await sortByOid(c, input.exclusiveLocks.filter((o) => o !== input.origin.oid));
        await c.query(`LOCK TABLE ${[qualified(input.origin.schema, input.origin.name), ...others].join(', ')} IN ACCESS EXCLUSIVE MODE`);
        if (input.shareLocks.length) {
          const shared = await sortByOid(c, input.shareLocks);
          await c.query(`LOCK TABLE ${shared.join(', ')} IN SHARE ROW EXCLUSIVE MODE`);
        }
        const t1 = performance.now();
        if (await isTruncated(c, input.migrationId)) {
          throw new RuntimeError('the table was truncated during the migration; nothing was swapped');
        }
        if ((await tableFingerprint(c, input.origin.oid)) !== input.fingerprint) {
          throw new RuntimeError('the table was altered by someone else during the migration; nothing was swapped');
        }
        // Writes are held: the changelog is complete, replay all of it.
        const finalEntries = (await drain((n) => input.replayer.replayInTransaction(c, null, n), { below: 1, batch: 50_000 })).entries;
        const k = input.inLockCheck;
        const check = await checkInLock(c, k.origin, k.shadow, k.estimatedRows, k.budgetMs, input.deadlineMs);
        if (!check.passed && !k.keepOnFailure) {
          throw new ValidationFailed(
            `the check inside the cutover found differences (counts ${JSON.stringify(check.counts)}, ${check.sampleMismatches} of ${check.sampledRows} sampled rows differ); nothing was swapped`,
            'in cutover',
          );
        }
        const swapped = await swapTables(c, input);
        await input.onSwapped?.(c, swapped);
        return { ...swapped, check, attempts, lockWaitMs: t1 - t0, holdMs: performance.now() - t1, finalEntries };
      });
    },
    input.onRetry,
  );
}

/** Relation names (quoted, qualified) in OID order: every attempt locks in the same order. */
async function sortByOid(c: Client, oids: string[]): Promise<string[]> {
  const r = await c.query<{ nspname: string; relname: string }>(
    `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY ($1::oid[]) ORDER BY c.oid`,
    [[...new Set(oids)]],
  );
  return r.rows.map((row) => qualified(row.nspname, row.relname));
}
