import { withClient } from '../../db/session.js';
import { partitionHomes } from '../../plan/partition-homes.js';
import { componentLog } from '../../log.js';
import { swapStatements } from '../../shadow/build.js';
import { alterSides, hashableTypes } from '../../verify/alter-sides.js';
import { ValidationFailed, validateBeforeCutover, type BeforeCutoverReport } from '../../verify/validate.js';
import { foreignKeysToProve, proveBeforeCutover } from '../../verify/foreign-keys.js';
import type { CutoverInput } from '../../cutover/cutover.js';
import type { Side } from '../../verify/side.js';
import type { Run } from '../run.js';
import type { Captured } from './capture.js';
import { stopIfTruncated } from './checks.js';
import { changedSince } from '../../catalog/table.js';
import { stopIfPartitionsChanged } from '../../catalog/partitions.js';
import { retypedColumns } from '../../plan/columns.js';
import { leafKeysValidated } from '../../shadow/leaf.js';
import { validateChildrenFirst } from '../../shadow/parent.js';
import { treeHomes } from '../../shadow/tree.js';
import type { Tables } from '../../copy/sql.js';
import type { Column } from '../../catalog/table.js';
import type { Replayer } from '../../capture/replayer.js';
import type { DeferredConstraint } from '../../shadow/build.js';

const log = componentLog('validate');

/** The shadow proven equal to the origin at one consistent point, at the chosen level; a difference stops the run. */
export async function validateShadow(run: Run, k: Captured): Promise<{ report: BeforeCutoverReport; sides: { origin: Side; shadow: Side } }> {
  const { pool, opts, id, names, plan } = run;
  if (plan.origin.partitionKey || plan.origin.partitionOf) await withClient(pool, async (c) => stopIfPartitionsChanged(await changedSince(c, plan.origin.oid, k.fingerprint)));
  const one = async (x: { tables: Tables; columns: Column[]; replayer: Replayer; schema: string; table: string; shadowOid: string; deferred: DeferredConstraint[]; originOid: string }) => {
    const hashable = await withClient(pool, (c) => hashableTypes(c, x.columns.map((col) => col.type)));
    const sides = alterSides(x.tables, x.columns, hashable);
    const report = await validateBeforeCutover({
      pool,
      level: opts.validation,
      origin: sides.origin,
      shadow: sides.shadow,
      columns: sides.columns,
      replayer: x.replayer,
      retry: opts.retry,
      parallel: opts.checksumParallel,
      // A tree's descendants' own constraints are the parent's deferred ones, named by their relation (shadow/build.ts).
      constraintTarget: { schema: x.schema, table: x.table, oid: x.shadowOid, key: x.tables.mapping.shadowKey, homes: plan.tree.length ? treeHomes(names.schema, plan.origin, plan.tree) : partitionHomes(names.schema, plan.origin) },
      deferred: x.deferred,
      backlog: opts.cutoverBacklog,
      originOid: x.originOid,
      changedSince: k.since,
      copyXacts: x.tables.copyXacts,
    });
    return { report, sides };
  };
  const { report: parentReport, sides } = await one({
    tables: k.tables, columns: k.shadow.columns, replayer: k.tree?.parent ?? k.replayer, schema: names.schema, table: plan.origin.name,
    shadowOid: k.shadow.oid, deferred: k.shadow.constraints, originOid: plan.origin.oid,
  });
  // A tree's relations one by one, each at its own consistent point, holding its own writes
  // while its own changelog drains (shadow/tree.ts); the cutover checks them again under its locks.
  let report = parentReport;
  const homes = treeHomes(names.schema, plan.origin, plan.tree);
  for (const r of k.tree?.relations ?? []) {
    const v = await one({
      tables: r.tables, columns: r.columns, replayer: r.replayer, schema: homes.side(r.table.schema), table: r.table.name, shadowOid: r.shadowOid, deferred: [], originOid: r.table.oid,
    });
    r.sides = v.sides;
    report = addReport(report, v.report);
  }
  run.validation = report;
  log.info({ migration: id, level: report.level, passed: report.passed, writesHeldMs: Math.round(report.writesHeldMs), ms: Math.round(report.ms) }, 'validated');
  if (!report.passed) {
    // A table emptied meanwhile differs from its shadow: say what happened, not only that they differ.
    await withClient(pool, (c) => stopIfTruncated(c, id));
    throw new ValidationFailed(describeFailure(report), 'before cutover');
  }
  return { report, sides };
}

/**
 * Constraints the new table gets that the old rows did not prove (added foreign keys, ones on
 * retyped columns, NOT VALID ones the statements VALIDATE): proven before the swap, never after
 * (verify/foreign-keys.ts); a parent's children's copies of a CHECK it VALIDATEs validated
 * (shadow/parent.ts). Returns what the cutover checks again under its locks.
 */
export async function proveConstraints(run: Run, k: Captured): Promise<CutoverInput['proofs']> {
  const { pool, plan, opts, id, names } = run;
  const origin = plan.origin;
  const validatedByUser = swapStatements(plan.parsed.statements, origin.schema, origin.name).validate;
  // A parent copied alone: its children's copies of a CHECK it VALIDATEs first, as offline reaches them.
  await validateChildrenFirst(pool, opts.retry, origin, plan.parsed.statements);
  const retyped = retypedColumns(plan.flow);
  const proofs = await withClient(pool, async (c) => {
    // A leaf's own key into its tree is not the shadow's (shadow/leaf.ts): one the statements VALIDATE is proven too.
    const leafKeys = await leafKeysValidated(c, origin, plan.parsed.statements, validatedByUser);
    const constraints = [...k.shadow.constraints, ...leafKeys];
    // A tree's descendants' keys bind their own rows (shadow/tree.ts), each relation's shadow read ONLY.
    const relations = (k.tree?.relations ?? []).map((r) => ({
      oid: r.table.oid, schema: r.table.schema, name: r.table.name, shadow: r.tables.shadow, key: r.tables.mapping.shadowKey, keyTypes: r.tables.shadowKeyTypes,
    }));
    const homes = plan.tree.length ? treeHomes(names.schema, origin, plan.tree) : partitionHomes(names.schema, origin);
    return foreignKeysToProve(c, { originOid: origin.oid, shadowSchema: names.schema, homes, table: origin.name, constraints, retyped, validated: validatedByUser, relations });
  });
  if (proofs.length === 0) return undefined;
  const shadow = await proveBeforeCutover(pool, {
    migrationId: id, shadowSchema: names.schema, shadow: k.tables.shadow, key: k.mapping.shadowKey, keyTypes: k.tables.shadowKeyTypes, proofs, retry: opts.retry,
    // The table's own replayer (a tree's parent's), or the n-th relation's of its tree.
    record: (recheck, n) => (n === 0 ? k.tree?.parent ?? k.replayer : k.tree!.relations[n - 1]!.replayer).recordKeysIn(recheck),
  });
  return { proofs, shadow };
}

/** Two relations' reports as one (a tree's: its relations' counts added up). */
function addReport(a: BeforeCutoverReport, b: BeforeCutoverReport): BeforeCutoverReport {
  return {
    ...a,
    writesHeldMs: a.writesHeldMs + b.writesHeldMs,
    rowsOrigin: a.rowsOrigin + b.rowsOrigin,
    rowsShadow: a.rowsShadow + b.rowsShadow,
    chunks: a.chunks + b.chunks,
    mismatchedChunks: a.mismatchedChunks + b.mismatchedChunks,
    differences: [...a.differences, ...b.differences],
    differenceCount: a.differenceCount + b.differenceCount,
    constraintChecks: [...a.constraintChecks, ...b.constraintChecks],
    ms: a.ms + b.ms,
    passed: a.passed && b.passed,
    ...(a.rowsLookedUp || b.rowsLookedUp
      ? { rowsLookedUp: { origin: (a.rowsLookedUp?.origin ?? 0) + (b.rowsLookedUp?.origin ?? 0), shadow: (a.rowsLookedUp?.shadow ?? 0) + (b.rowsLookedUp?.shadow ?? 0) } }
      : {}),
  };
}

function describeFailure(v: BeforeCutoverReport): string {
  const violations = v.constraintChecks.filter((c) => c.violations > 0);
  return (
    `validation (${v.level}) found differences before the cutover: origin ${v.rowsOrigin} rows, shadow ${v.rowsShadow}, ` +
    `${v.mismatchedChunks} of ${v.chunks} chunks differ` +
    (v.differences.length ? ` (first keys: ${v.differences.slice(0, 5).map((d) => `${d.key.join(',')} ${d.kind}`).join('; ')})` : '') +
    (violations.length ? `; constraint violations: ${violations.map((c) => `${c.check} (${c.violations})`).join(', ')}` : '')
  );
}
