import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { describeError } from '../errors.js';
import { componentLog } from '../log.js';
import { swapStatements, type ShadowTable } from '../shadow/build.js';
import { renamesApplyInOrder } from '../plan/preflight.js';
import type { Replayer } from '../capture/replayer.js';
import type { CutoverInput } from '../cutover/cutover.js';
import type { Side } from '../verify/side.js';
import type { Run } from './run.js';
import { cancelAutovacuum, removeBlockers } from '../cutover/blockers.js';

const log = componentLog('cutover');

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
  const locks = await lockTargets(run.pool, origin.oid, ctx.shadow);
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
    // Dropping the kept old table's foreign keys takes its parents ACCESS EXCLUSIVE.
    exclusiveLocks: [ctx.shadow.oid, ...locks.exclusive, ...(opts.dropOld ? [] : [...locks.share, ...locks.oldParents])],
    shareLocks: opts.dropOld ? locks.share : [],
    retry: opts.retry,
    deadlineMs: opts.cutoverDeadlineMs,
    inLockCheck: {
      origin: ctx.sides.origin,
      shadow: ctx.sides.shadow,
      estimatedRows: Math.max(origin.estimatedRows, ctx.copiedRows),
      budgetMs: 20,
      keepOnFailure: opts.rollback === 'none',
    },
    onRetry: async (attempt, err, pauseMs) => {
      log.warn({ migration: id, attempt, pauseMs, reason: describeError(err) }, 'cutover attempt failed; retrying');
      await cancelAutovacuum(run.pool, [origin.oid, ctx.shadow.oid, ...locks.exclusive, ...locks.share]);
      const t = opts.throttle;
      if (t.blockers !== 'wait') {
        await removeBlockers(run.pool, [origin.oid, ctx.shadow.oid, ...locks.exclusive, ...locks.share], t.blockers, t.blockerGraceMs);
      }
    },
  };
  return { input, validate };
}

export function renameColumnSql(schema: string, table: string, from: string, to: string): string {
  return `ALTER TABLE ${qualified(schema, table)} RENAME COLUMN ${ident(from)} TO ${ident(to)}`;
}

/** Tables with foreign keys into the origin and views on it (exclusive), referenced tables (share). */
export async function lockTargets(pool: Pool, originOid: string, shadow: ShadowTable): Promise<{ exclusive: string[]; share: string[]; oldParents: string[] }> {
  return withClient(pool, async (c) => {
    const ex = await c.query<{ oid: string }>(
      `SELECT DISTINCT conrelid::int8::text AS oid FROM pg_constraint WHERE contype = 'f' AND confrelid = $1::oid AND conrelid <> $1::oid
       UNION SELECT DISTINCT r.ev_class::int8::text FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1::oid AND r.ev_class <> $1::oid`,
      [originOid],
    );
    const share = shadow.constraints.flatMap((con) => (con.referenced && con.referenced !== originOid ? [con.referenced] : []));
    const parents = await c.query<{ oid: string }>(
      `SELECT DISTINCT confrelid::int8::text AS oid FROM pg_constraint WHERE conrelid = $1::oid AND contype = 'f' AND confrelid <> $1::oid`,
      [originOid],
    );
    return { exclusive: ex.rows.map((r) => r.oid), share, oldParents: parents.rows.map((r) => r.oid) };
  });
}
