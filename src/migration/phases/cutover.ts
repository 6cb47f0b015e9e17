import { withClient } from '../../db/session.js';
import { ident, qualified } from '../../db/quote.js';
import { swapStatements, type ShadowTable } from '../../shadow/build.js';
import { autovacuumBackSql } from '../../shadow/reloptions.js';
import { renamesApplyInOrder } from '../../plan/preflight.js';
import type { Replayer } from '../../capture/replayer.js';
import { cutover, type CutoverInput, type CutoverResult } from '../../cutover/cutover.js';
import type { Side } from '../../verify/side.js';
import type { Run } from '../run.js';
import { leafLocks, lockSetFor } from '../../cutover/lock-set.js';
import { componentLog } from '../../log.js';
import { failpoint } from '../../failpoints.js';
import { openRevertWindow } from '../revert-window.js';
import { catchUp } from './catch-up.js';
import type { Captured } from './capture.js';
import { treeLocks, treeSwaps, type TreeRelation } from '../tree-relations.js';
import { narrowingMayMerge } from '../../plan/mapping.js';
import { newColumnName } from '../../plan/columns.js';
import { leafKeyChangeSql, splitLeafKeyChanges } from '../../plan/leaf-key-changes.js';
import { oldParentDrops } from '../../shadow/parent.js';

const log = componentLog('cutover');

/** Everything the cutover transaction needs, and the constraints to validate after it. */
export async function cutoverInput(
  run: Run,
  ctx: { shadow: ShadowTable; replayer: Replayer; fingerprint: string; sides: { origin: Side; shadow: Side }; copiedRows: number; tree?: TreeRelation[] | undefined },
): Promise<{ input: CutoverInput; validate: string[] }> {
  const { plan, opts, names, id } = run;
  const origin = plan.origin;
  // Replaying the renames on the origin inside the cutover lets PostgreSQL rewrite the
  // dependents' definitions; preflight refused the cases where that cannot be done.
  const renameable = renamesApplyInOrder(origin.columns.map((c) => c.name), plan.flow);
  const rename = (from: string, to: string): string => renameColumnSql(origin.schema, origin.name, from, to);
  const { swap, validate } = swapStatements(plan.parsed.statements, origin.schema, origin.name);
  const constraints = ctx.shadow.constraints;
  const leaf = origin.partitionOf;
  const tree = ctx.tree ?? [];
  const locks = await withClient(run.pool, async (c) =>
    lockSetFor(c, {
      outgoing: origin.oid,
      incoming: ctx.shadow.oid,
      // A kept old table must not hold its parents: its foreign keys come off inside the cutover.
      dropsOutgoingForeignKeys: !opts.dropOld,
      addedForeignKeyParents: constraints.flatMap((con) => (con.referenced ? [con.referenced] : [])),
      ...(leaf ? { leaf: await leafLocks(c, origin.oid, leaf.parentOid, leaf.defaultPartition?.oid ?? null) } : {}),
      // A tree: every relation, its shadow, and its parents outside the tree (migration/tree-relations.ts).
      ...(tree.length ? treeLocks(tree, origin.oid) : {}),
    }),
  );
  const input: CutoverInput = {
    migrationId: id,
    fingerprint: ctx.fingerprint,
    replayer: ctx.replayer,
    origin,
    names,
    shadowOid: ctx.shadow.oid,
    newColumnName: newColumnName(plan.flow),
    renameOrigin: renameable ? plan.flow.renames.map((r) => rename(r.from, r.to)) : [],
    unrenameOrigin: renameable ? plan.flow.renames.slice().reverse().map((r) => rename(r.to, r.from)) : [],
    constraints,
    swapStatements: swap,
    leafKeyChanges: leafKeyChangeSql(splitLeafKeyChanges(plan.parsed.statements, leaf?.ownKeysIntoTree ?? []).onLeaf, origin.schema, origin.name),
    retainOld: !opts.dropOld,
    // Filled and indexed, the shadow was kept from autovacuum until now (a vacuum of the fresh heap
    // would hold a lock the cutover needs; seen: one attempt lost to its lock_timeout).
    autovacuumBack: ctx.shadow.heaps.map(autovacuumBackSql),
    ...(tree.length ? { tree: treeSwaps(tree, names) } : { parentDrops: origin.hasInheritanceChildren ? oldParentDrops(plan.parsed.statements, names.schema) : [] }),
    pool: run.pool,
    locks,
    blockers: { mode: opts.throttle.blockers, graceMs: opts.throttle.blockerGraceMs },
    retry: opts.retry,
    deadlineMs: opts.cutoverDeadlineMs,
    inLockCheck: {
      origin: ctx.sides.origin,
      shadow: ctx.sides.shadow,
      estimatedRows: Math.max(origin.estimatedRows, ctx.copiedRows),
      budgetMs: 20,
      keepOnFailure: opts.rollback === 'none',
      // Linear in the table, under the lock: only where a narrowing can merge keys without an error.
      exactCounts: plan.mapping.narrowedKey.some(narrowingMayMerge),
      // A tree's relations, as the validation compared them (shadow/tree.ts).
      ...(tree.length ? { relations: tree.map((r) => ({ ...r.sides!, estimatedRows: r.table.estimatedRows })) } : {}),
    },
  };
  return { input, validate };
}

export function renameColumnSql(schema: string, table: string, from: string, to: string): string {
  return `ALTER TABLE ${qualified(schema, table)} RENAME COLUMN ${ident(from)} TO ${ident(to)}`;
}

/**
 * The swap: what the application wrote during the validation is replayed before the lock, not
 * under it; then the one locked-swap transaction, which also records the swap (and opens the
 * revert window) so that a take-over knows which side of it the migration is on.
 */
export async function swap(run: Run, k: Captured, sides: { origin: Side; shadow: Side }, copiedRows: number, proofs: CutoverInput['proofs']): Promise<{ result: CutoverResult; userValidate: [string, string][] }> {
  const { pool, opts, id } = run;
  const { input, validate } = await cutoverInput(run, { shadow: k.shadow, replayer: k.replayer, fingerprint: k.fingerprint, sides, copiedRows, tree: k.tree?.relations });
  input.proofs = proofs;
  input.assertOwned = async () => run.ownership?.assertHeld();
  const userValidate = validate.map((v) => [k.tables.origin, v] as [string, string]);
  input.onSwapped = async (c, swapped) => {
    await c.query(`UPDATE pgshift.migrations SET phase = 'validate', validate_list = $2 WHERE id = $1`, [id, JSON.stringify([...swapped.validate, ...userValidate])]);
    if (opts.revertWindowMs) await openRevertWindow(c, run, k.tables, swapped, k.tree?.relations);
    await failpoint('in-cutover', c);
  };
  await catchUp(run, k.replayer, k.tables);
  const result = await withClient(pool, (c) => cutover(c, input), 'cutover');
  run.swapped = true;
  log.info({ migration: id, attempts: result.attempts, holdMs: Math.round(result.holdMs), lockWaitMs: Math.round(result.lockWaitMs) }, 'swapped');
  return { result, userValidate };
}
