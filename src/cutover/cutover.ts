import type { Client, Pool } from '../db/session.js';
import type { RetryPolicy } from '../db/retry.js';
import { RuntimeError } from '../errors.js';
import { changedSince } from '../catalog/table.js';
import { stopIfPartitionsChanged } from '../catalog/partitions.js';
import { isTruncated } from '../state/store.js';
import type { Replayer } from '../capture/replayer.js';
import { drain } from '../capture/drain.js';
import { rehearseSwapReads, swapTables, type SwapInput, type SwapResult } from './swap.js';
import { GENERIC_PLANS_SQL, preparingStatements } from '../db/prepared.js';
import { inTransaction } from '../db/session.js';
import { checkInLock, ValidationFailed, type InLockReport } from '../verify/validate.js';
import type { Side } from '../verify/side.js';
import { lockedSwap } from './locked-swap.js';
import type { LockSet } from './lock-set.js';
import { proveInCutover, type ForeignKeyProof } from '../verify/foreign-keys.js';

export interface CutoverInput extends SwapInput {
  pool: Pool;
  migrationId: number;
  fingerprint: string;
  replayer: Replayer;
  locks: LockSet;
  retry: RetryPolicy;
  /** the whole transaction's deadline: a stuck step must not hold the locks */
  deadlineMs: number;
  blockers: { mode: 'wait' | 'cancel' | 'terminate'; graceMs: number };
  /** throws when this process no longer owns the migration (checked right before the swap) */
  assertOwned?: () => Promise<void>;
  /** runs inside the cutover transaction right after the swap (to record it atomically) */
  onSwapped?: (c: Client, result: SwapResult) => Promise<void>;
  /** the bounded comparison after the final replay; with keepOnFailure a failure is only reported */
  inLockCheck: { origin: Side; shadow: Side; estimatedRows: number; budgetMs: number; keepOnFailure: boolean; exactCounts: boolean; relations?: { origin: Side; shadow: Side; estimatedRows: number }[] };
  /** constraints the new table gets that the old rows did not prove: checked again on what changed */
  proofs?: { proofs: ForeignKeyProof[]; shadow: { relation: string; key: string[]; recheck: string } };
}

export interface CutoverResult extends SwapResult {
  check: InLockReport;
  attempts: number;
  lockWaitMs: number;
  holdMs: number;
  finalEntries: number;
}

/**
 * The forward swap in the one locked-swap transaction: with every lock held, check nobody
 * truncated or changed the origin meanwhile, replay the rest of the changelog, compare a
 * sample, swap and rewire.
 */
export async function cutover(session: Client, input: CutoverInput): Promise<CutoverResult> {
  // The checks' and the swap's catalog reads, parsed and planned before the locks (db/prepared.ts).
  const c = preparingStatements(session);
  await inTransaction(c, async () => {
    await c.query(GENERIC_PLANS_SQL);
    await isTruncated(c, input.migrationId);
    await changedSince(c, input.origin.oid, input.fingerprint);
    await rehearseSwapReads(c, input);
  });
  const r = await lockedSwap(c, {
    pool: input.pool,
    migrationId: input.migrationId,
    label: 'cutover',
    locks: input.locks,
    retry: input.retry,
    deadlineMs: input.deadlineMs,
    blockers: input.blockers,
    body: async (lc) => {
      if (await isTruncated(lc, input.migrationId)) {
        throw new RuntimeError('the table was truncated during the migration; nothing was swapped');
      }
      const what = await changedSince(lc, input.origin.oid, input.fingerprint);
      stopIfPartitionsChanged(what);
      if (what !== null) {
        throw new RuntimeError(`the table was altered by someone else during the migration (its ${what} changed: DDL, grants, row security, options, owner or comments); nothing was swapped`);
      }
      // Writes are held: the changelog is complete, replay all of it.
      const finalEntries = (await drain((n) => input.replayer.replayInTransaction(lc, null, n), { below: 1, batch: 50_000 })).entries;
      if (input.proofs) await proveInCutover(lc, input.proofs.proofs, input.proofs.shadow);
      const k = input.inLockCheck;
      let check = await checkInLock(lc, k.origin, k.shadow, { ...k, deadlineMs: input.deadlineMs });
      // A tree's relations, each as the table (shadow/tree.ts).
      for (const r of k.relations ?? []) {
        if (!check.passed) break;
        check = await checkInLock(lc, r.origin, r.shadow, { ...k, estimatedRows: r.estimatedRows, exactCounts: false, deadlineMs: input.deadlineMs });
      }
      if (check.keysMerged) {
        // Offline the same ALTER fails on the duplicate key; never swapped, whatever --rollback says.
        throw new RuntimeError(`the narrowing key change maps two keys to one: the new table has fewer rows than the old one (${JSON.stringify(check.counts)}); nothing was swapped`);
      }
      if (!check.passed && !k.keepOnFailure) {
        throw new ValidationFailed(
          `the check inside the cutover found differences (counts ${JSON.stringify(check.counts)}, ${check.sampleMismatches} of ${check.sampledRows} sampled rows differ); nothing was swapped`,
          'in cutover',
        );
      }
      // Last moment to find that another process may own the migration by now.
      await input.assertOwned?.();
      const swapped = await swapTables(lc, input);
      await input.onSwapped?.(lc, swapped);
      return { ...swapped, check, finalEntries };
    },
  });
  return { ...r.result, attempts: r.attempts, lockWaitMs: r.lockWaitMs, holdMs: r.holdMs };
}
