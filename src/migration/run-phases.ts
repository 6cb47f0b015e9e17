import { withClient } from '../db/session.js';
import { failpoint } from '../failpoints.js';
import { progress } from '../progress.js';
import { isBefore, type Phase } from '../state/phases.js';
import { throttlerFor } from '../throttle/from-options.js';
import type { CutoverResult } from '../cutover/cutover.js';
import type { BeforeCutoverReport } from '../verify/validate.js';
import { hookState, phaseHelpers, type Run } from './run.js';
import { buildShadowAndChangelog, captureContext, installCapture, type Captured } from './phases/capture.js';
import { copyAll, lookForLanes } from './phases/copy.js';
import { buildIndexes } from './phases/index-build.js';
import { waitForCutover } from './phases/ready.js';
import { catchUp } from './phases/catch-up.js';
import { proveConstraints, validateShadow } from './phases/validate.js';
import { swap } from './phases/cutover.js';
import { prebuildForCutover } from './phases/prebuild.js';
import { validateConstraints } from './phases/finish.js';
import { autovacuumBackSql } from '../shadow/reloptions.js';

export interface ExecutionReport {
  rowsCopied: number;
  chunks: number;
  durationsMs: { build: number; copy: number; index: number; catchUp: number; checksum: number; cutover: number };
  validation: BeforeCutoverReport;
  cutover: CutoverResult;
  validated: string[];
}

/** A new migration: the shadow and its changelog, the capture, then every later phase. */
export async function execute(run: Run): Promise<ExecutionReport> {
  const { enter, timed } = phaseHelpers(run);
  lookForLanes(run);
  const [shadow, buildMs] = await timed(() => buildShadowAndChangelog(run));
  await failpoint('after-build');
  await enter('capture', 'installing capture triggers');
  const { fingerprint, since } = await installCapture(run);
  await failpoint('after-capture');
  return continueFrom(run, { ...(await captureContext(run, shadow)), shadow, fingerprint, since, buildMs, enter, timed }, { phase: 'copy', low: null });
}

/** The phases from `start` on (a new migration starts at the copy; a take-over where it stopped), throttled. */
export async function continueFrom(run: Run, k: Captured, start: { phase: Phase; low: string[] | null }): Promise<ExecutionReport> {
  run.throttler = throttlerFor(run.pool, run.id, run.opts.throttle, k.tables);
  try {
    return await runPhases(run, k, start);
  } finally {
    await run.throttler.close();
  }
}

/** Copy, index build, ready, catch-up, validation, cutover, finish: in the order they run. */
async function runPhases(run: Run, k: Captured, start: { phase: Phase; low: string[] | null }): Promise<ExecutionReport> {
  const { opts } = run;
  const { tables, replayer, enter, timed } = k;

  let copied = { rows: run.rowsCopied, chunks: 0 };
  let copyMs = 0;
  if (isBefore(start.phase, 'index')) {
    await enter('copy', start.low ? 'copying rows (resumed)' : 'copying rows');
    [copied, copyMs] = await timed(() => copyAll(run, tables, start.low));
    run.rowsCopied = copied.rows;
    await failpoint('after-copy');
    await run.hooks.run('copy-done', hookState(run, 'copy'));
  }

  await enter('index', 'building indexes');
  const [, indexMs] = await timed(() => buildIndexes(run, k.shadow, tables, replayer));
  // ANALYZE (SHARE UPDATE EXCLUSIVE on the shadow) runs beside the catch-up and the validation,
  // which replay into the shadow and read it, both compatible with it; the cutover, which needs the
  // shadow alone, waits for it (ANALYZE of 1,000,000 rows took 0.27 s, now beside the validation).
  const analyzed = withClient(run.pool, async (c) => {
    await c.query(`ANALYZE ${tables.shadow}`);
    // A tree's other relations' shadows (shadow/tree.ts): ANALYZE of a parent gathers its own and its tree's, not each child's.
    for (const t of run.relations?.slice(1) ?? []) await c.query(`ANALYZE ${t.shadow}`);
    // A shadow that waits for a postponed cutover takes replayed writes for as long as it waits
    // and gets its own autovacuum settings back now; otherwise the cutover gives them back under
    // its lock (cutover/swap.ts), so that no vacuum of the fresh heap holds a lock it needs.
    if (waitsForCutover(run)) for (const heap of k.shadow.heaps) await c.query(autovacuumBackSql(heap));
  }, 'index');
  const [{ validation, sides, catchUpMs, checksumMs }] = await settledTogether(beforeCutover(run, k), analyzed);
  // After ANALYZE: a proof may put a trigger on the shadow (a new foreign key to the table itself).
  const proofs = await proveConstraints(run, k);

  await run.hooks.run('before-cutover', hookState(run, 'cutover'));
  await enter('cutover', 'swapping tables');
  // Materialized views are filled before the cutover, not under its locks (cutover/matviews.ts).
  await prebuildForCutover(run, k);
  const [{ result, userValidate }, cutoverMs] = await timed(() => swap(run, k, sides, copied.rows, proofs));
  progress.emit({ type: 'cutover', id: run.id, attempts: result.attempts, lockWaitMs: result.lockWaitMs, holdMs: result.holdMs });
  await run.hooks.run('after-cutover', hookState(run, 'cutover'));
  await failpoint('after-cutover');

  await enter('validate', 'validating constraints');
  const validated = await validateConstraints(run.pool, opts.retry, [...result.validate, ...userValidate]);
  await failpoint('after-validate');
  return {
    rowsCopied: copied.rows,
    chunks: copied.chunks,
    durationsMs: { build: k.buildMs, copy: copyMs, index: indexMs, catchUp: catchUpMs, checksum: checksumMs, cutover: cutoverMs },
    cutover: result,
    validation,
    validated,
  };
}

/** From the index builds' end to the validation: the failpoint, the ready wait, the catch-up, the validation. */
async function beforeCutover(run: Run, k: Captured) {
  const { opts } = run;
  const { tables, replayer, enter, timed } = k;
  await failpoint('after-index');
  if (waitsForCutover(run)) {
    await enter('ready', opts.cutoverAt ? `ready; cutover at ${opts.cutoverAt}` : 'ready; waiting for pgshift cutover');
    await waitForCutover(run, replayer, tables);
  }

  await enter('catch-up', 'replaying the changelog');
  const [, catchUpMs] = await timed(() => catchUp(run, replayer, tables));
  await failpoint('catch-up');

  await enter('checksum', `validating (${opts.validation})`);
  const [{ report: validation, sides }, checksumMs] = await timed(() => validateShadow(run, k));
  await failpoint('checksum');
  const { level, passed, rowsOrigin, rowsShadow, chunks, mismatchedChunks, writesHeldMs, ms } = validation;
  progress.emit({ type: 'validation', id: run.id, level, passed, rowsOrigin, rowsShadow, chunks, mismatchedChunks, writesHeldMs, ms });
  return { validation, sides, catchUpMs, checksumMs };
}

/** The run stops at `ready` until the operator's cutover or its time. */
function waitsForCutover(run: Run): boolean {
  return Boolean(run.opts.postponeCutover || run.opts.cutoverAt);
}

/**
 * Both results once both have ended: the first failure is thrown only after the other has ended
 * too, so that nothing of this run is still working on its tables when the failure is handled.
 */
async function settledTogether<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}
