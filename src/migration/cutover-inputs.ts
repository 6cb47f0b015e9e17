import { withClient } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { swapStatements, type ShadowTable } from '../shadow/build.js';
import { renamesApplyInOrder } from '../plan/preflight.js';
import type { Replayer } from '../capture/replayer.js';
import type { CutoverInput } from '../cutover/cutover.js';
import type { Side } from '../verify/side.js';
import type { Run } from './run.js';
import { lockSetFor } from '../cutover/lock-set.js';

/** Everything the cutover transaction needs, and the constraints to validate after it. */
export async function cutoverInput(
  run: Run,
  ctx: { shadow: ShadowTable; replayer: Replayer; fingerprint: string; sides: { origin: Side; shadow: Side }; copiedRows: number },
): Promise<{ input: CutoverInput; validate: string[] }> {
  const { plan, opts, names, id } = run;
  const origin = plan.origin;
  // Replaying the renames on the origin inside the cutover lets PostgreSQL rewrite the
  // dependents' definitions; preflight refused the cases where that cannot be done.
  const renameable = renamesApplyInOrder(origin.columns.map((c) => c.name), plan.flow);
  const rename = (from: string, to: string): string => renameColumnSql(origin.schema, origin.name, from, to);
  const { swap, validate } = swapStatements(plan.parsed.statements, origin.schema, origin.name);
  const locks = await withClient(run.pool, (c) =>
    lockSetFor(c, {
      outgoing: origin.oid,
      incoming: ctx.shadow.oid,
      // A kept old table must not hold its parents: its foreign keys come off inside the cutover.
      dropsOutgoingForeignKeys: !opts.dropOld,
      addedForeignKeyParents: ctx.shadow.constraints.flatMap((con) => (con.referenced ? [con.referenced] : [])),
    }),
  );
  const input: CutoverInput = {
    migrationId: id,
    fingerprint: ctx.fingerprint,
    replayer: ctx.replayer,
    origin,
    names,
    shadowOid: ctx.shadow.oid,
    newColumnName: (o) => [...plan.flow.sources.entries()].find(([, s]) => s.kind === 'origin' && s.origin === o)?.[0],
    renameOrigin: renameable ? plan.flow.renames.map((r) => rename(r.from, r.to)) : [],
    unrenameOrigin: renameable ? plan.flow.renames.slice().reverse().map((r) => rename(r.to, r.from)) : [],
    constraints: ctx.shadow.constraints,
    swapStatements: swap,
    retainOld: !opts.dropOld,
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
    },
  };
  return { input, validate };
}

export function renameColumnSql(schema: string, table: string, from: string, to: string): string {
  return `ALTER TABLE ${qualified(schema, table)} RENAME COLUMN ${ident(from)} TO ${ident(to)}`;
}
