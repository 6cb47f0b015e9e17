import type { Client } from '../db/session.js';
import { rolledBack } from '../db/rolled-back.js';
import { qualified } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { UserError, describeError, sqlState } from '../errors.js';
import { describeTable, readDependents, type TableInfo } from '../catalog/table.js';
import { identityName } from '../catalog/row-identity.js';
import { resolveTarget } from '../plan/target.js';
import { parseAlter, deparseStatement, type ParsedAlter } from '../plan/parse.js';
import { followColumns, type ColumnFlow } from '../plan/columns.js';
import { refuseUndoneChecks } from '../plan/undone-checks.js';
import { deriveMapping, type RowMapping } from '../plan/mapping.js';
import { preflight, preflightTree, type PreflightFindings } from '../plan/preflight.js';
import { buildShadow, swapStatements, type ShadowTable } from '../shadow/build.js';
import { ReachesChildren, parentRefusal } from '../shadow/parent.js';
import { describeTree, refuseTree } from '../shadow/tree.js';
import { leafKeyChangeSql, splitLeafKeyChanges } from '../plan/leaf-key-changes.js';
import { ident } from '../db/quote.js';
import { parseTransforms, type Transform } from '../plan/transforms.js';
import { checkDiskSpace, describeDisk, type DiskCheck } from '../plan/disk-space.js';

/** What a dry run prints and an execution follows. */
export interface Plan {
  parsed: ParsedAlter;
  origin: TableInfo;
  /** a parent's descendants when the change reaches them: the tree copied with it (shadow/tree.ts); empty otherwise */
  tree: TableInfo[];
  flow: ColumnFlow;
  findings: PreflightFindings;
  trial: ShadowTable;
  mapping: RowMapping;
  transforms: Transform[];
  statements: string[];
  /** what the copy needs on disk against what is free (refused before anything is created when it will not fit) */
  disk: DiskCheck;
}

/**
 * Parses, resolves the table, runs preflight, and builds the shadow once inside a transaction
 * that is rolled back: PostgreSQL itself checks the statements (unknown columns, impossible
 * casts, bad constraints) and tells the resulting columns, and nothing is left behind.
 */
export async function makePlan(c: Client, sql: string, retry: RetryPolicy, transformTexts: string[] = [], diskFreeBytes?: number): Promise<Plan> {
  const transforms = await parseTransforms(transformTexts);
  const parsed = await parseAlter(sql);
  const oid = await resolveTarget(c, parsed);
  const origin = await describeTable(c, oid);
  const dependents = await readDependents(c, oid);
  refuseUndoneChecks(parsed.statements);
  const flow = followColumns(parsed.statements, origin.columns, origin.identity);
  const findings = await preflight(c, origin, dependents, flow, parsed.statements);
  swapStatements(parsed.statements, origin.schema, origin.name); // refuses unsupported subcommands
  const schema = `pgshift_plan_${process.pid}_${Date.now() % 100000}`;
  const trialOf = (tree: TableInfo[]): Promise<ShadowTable> =>
    withRetry(retry, () =>
      rolledBack(c, async () => {
        try {
          return await buildShadow(c, { origin, flow, statements: parsed.statements, schema, tree });
        } catch (err) {
          if (err instanceof UserError || sqlState(err) === '55P03' || sqlState(err) === '40P01') throw err;
          throw new UserError(`refused: PostgreSQL rejects the change: ${describeError(err)}`, { cause: err });
        }
      }),
    );
  // A parent is copied alone when the change does not reach its children (shadow/parent.ts), with
  // its whole tree when it does (shadow/tree.ts).
  let tree: TableInfo[] = [];
  const trial = await trialOf([]).catch(async (err: unknown) => {
    if (!(err instanceof ReachesChildren)) throw err;
    tree = await describeTree(c, origin);
    await refuseTree(c, origin, tree);
    await preflightTree(c, origin, tree, flow, parsed.statements, findings);
    return trialOf(tree);
  }).catch((err) => {
    if (err instanceof UserError) throw err;
    throw new UserError(`refused: could not check the change against a trial shadow: ${describeError(err)}`, { cause: err });
  });
  if (origin.hasInheritanceChildren && tree.length === 0) {
    const why = await parentRefusal(c, origin, parsed.statements);
    if (why) throw new UserError(`refused: ${origin.schema}.${origin.name} ${why}`);
  }
  const mapping = deriveMapping(flow, trial.columns, trial.onceDefaults, origin.key, ident, transforms, origin.identity);
  // Every ALTER through the engine copies the table: a copy that will not fit is refused here.
  // (Its size functions take the table's ACCESS SHARE lock, which waits behind a queued DDL.)
  const disk = await withRetry(retry, () => checkDiskSpace(c, { origin, flow, trial, tree }, diskFreeBytes));
  return { parsed, origin, tree, flow, findings, trial, mapping, transforms, statements: parsed.statements.map(deparseStatement), disk };
}

export function describePlan(plan: Plan): string[] {
  const o = plan.origin;
  const by = o.identity && !o.identity.primary ? ` by ${identityName(o.identity)}: the table has no primary key` : '';
  const lines = [`table ${qualified(o.schema, o.name)} (~${o.estimatedRows} rows, key ${o.key.map((k) => k.name).join(', ')}${by})`];
  lines.push(...plan.statements.map((s) => `  statement: ${s}`));
  for (const [name, src] of plan.flow.sources) {
    const col = plan.trial.columns.find((c) => c.name === name);
    if (!col) continue;
    const transformed = plan.mapping.targets.indexOf(name);
    if (plan.transforms.some((t) => t.column === name)) {
      lines.push(`  column ${name} ${col.type}: transformed: ${plan.mapping.expressions[transformed]}`);
      continue;
    }
    const from =
      src.kind === 'added'
        ? plan.trial.onceDefaults.has(name) ? 'added: default evaluated once for all rows' : 'added: default per row'
        : src.using ? `from ${src.origin} USING ${src.using}` : src.origin === name ? (src.typeChanged ? `cast to ${col.type}` : 'copied') : `renamed from ${src.origin}`;
    lines.push(`  column ${name} ${col.type}: ${from}`);
  }
  for (const d of plan.flow.dropped) lines.push(`  column ${d}: dropped`);
  for (const k of plan.mapping.narrowedKey) {
    lines.push(`  key column ${k.column}: ${k.from} to ${k.to} narrows: one-to-one only if every key fits and no two merge (a key that does not fit fails the copy; merged keys fail the copy, the validation or the cutover's row counts, before the swap)`);
  }
  if (plan.trial.indexes.length) lines.push(`  indexes built after the copy: ${plan.trial.indexes.map((i) => i.name).join(', ')}`);
  if (plan.trial.constraints.length) lines.push(`  constraints attached at the swap: ${plan.trial.constraints.map((i) => i.name).join(', ')}`);
  for (const r of plan.findings.rewired) lines.push(`  re-pointed at the swap: ${r}`);
  lines.push(...describeLeafCutover(plan));
  lines.push(...describeInheritCutover(plan));
  lines.push(...describeParentCutover(plan));
  lines.push(describeDisk(plan.disk));
  return lines;
}

/** An inheritance child's cutover holds its parents: the plan says so (shadow/inherit.ts, cutover/lock-set.ts). */
function describeInheritCutover(plan: Plan): string[] {
  const parents = plan.origin.inheritsFrom.map((p) => qualified(p.schema, p.name));
  if (parents.length === 0) return [];
  return [
    `  shadow: inherits an empty stand-in of ${parents.join(', ')} during the copy (never the real parent${parents.length > 1 ? 's' : ''}: ${parents.length > 1 ? 'their' : 'its'} queries never see the shadow's rows)`,
    `  cutover: holds ACCESS EXCLUSIVE on parent${parents.length > 1 ? 's' : ''} ${parents.join(', ')} (every query through ${parents.length > 1 ? 'them' : 'it'} waits for the cutover's milliseconds): the new table INHERITs ${parents.length > 1 ? 'them' : 'it'}, the old one leaves`,
  ];
}

/** A parent copied alone reads ONLY itself, and its cutover holds and moves its children: the plan says so (shadow/parent.ts). */
function describeParentCutover(plan: Plan): string[] {
  const children = plan.origin.inheritanceChildren.map((p) => qualified(p.schema, p.name));
  if (plan.tree.length) {
    const all = plan.tree.map((t) => qualified(t.schema, t.name));
    const inTree = new Set([plan.origin.oid, ...plan.tree.map((t) => t.oid)]);
    const outside = [...new Set(plan.tree.flatMap((t) => t.inheritsFrom.filter((p) => !inTree.has(p.oid)).map((p) => qualified(p.schema, p.name))))];
    return [
      `  tree: the change reaches the inheritance children: copied with ${plan.tree.map((t, i) => `${all[i]} (key ${t.key.map((k) => k.name).join(', ')})`).join(', ')}, each read ONLY, with its own capture trigger, changelog, copy lane, replay and validation`,
      `  cutover: holds ACCESS EXCLUSIVE on ${qualified(plan.origin.schema, plan.origin.name)}, then ${all.join(', ')}${outside.length ? ` and their parents outside the tree ${outside.join(', ')}` : ''}, and exchanges every relation of the tree for its shadow (the old tree steps aside whole)`,
    ];
  }
  if (children.length === 0) return [];
  const them = children.length > 1 ? 'them' : 'it';
  return [
    `  copy: reads ONLY ${qualified(plan.origin.schema, plan.origin.name)}: the rows of its inheritance child${children.length > 1 ? 'ren' : ''} ${children.join(', ')} stay where they are (the change does not reach ${them})`,
    `  cutover: holds ACCESS EXCLUSIVE on ${children.join(', ')} after the table and moves ${them} to the new table (INHERIT the new, NO INHERIT the old)`,
  ];
}

/** A leaf's cutover holds its partitioned table: the plan says so (shadow/leaf.ts). */
function describeLeafCutover(plan: Plan): string[] {
  const o = plan.origin;
  const leaf = o.partitionOf;
  if (!leaf) return [];
  const parent = qualified(leaf.parentSchema, leaf.parentName);
  const lines = [
    `  cutover: holds ACCESS EXCLUSIVE on partitioned table ${parent} (every query on the whole partitioned table waits for the cutover's milliseconds): DETACH PARTITION ${qualified(o.schema, o.name)}, ATTACH PARTITION of the new table ${leaf.bound}`,
    '  cutover: ATTACH finds the bound proven by a CHECK built with the new table and its indexes built: it reads no row of the new partition and builds no index under the lock',
  ];
  const inherited = plan.trial.constraints.filter((k) => k.inherited).map((k) => k.name);
  if (inherited.length) {
    lines.push(`  cutover: foreign keys of the partitioned table ${inherited.join(', ')}: added valid to the new partition under the lock (PostgreSQL's check reads every row of it, ~${o.estimatedRows} rows; ATTACH attaches only a valid one, and one validated before the cutover would fail the application's deletes of referenced rows on rows the replay has not caught up)`);
  }
  if (leaf.foreignKeysIn.length) {
    lines.push(`  cutover: foreign keys into the partitioned table ${leaf.foreignKeysIn.join(', ')}: dropped before DETACH (which would read every referencing row under the lock), added again NOT VALID after ATTACH, validated after the commit (a read that blocks no write)`);
  }
  const keyChanges = leafKeyChangeSql(splitLeafKeyChanges(plan.parsed.statements, leaf.ownKeysIntoTree).onLeaf, o.schema, o.name);
  if (keyChanges.length) {
    lines.push(`  cutover: runs ${keyChanges.join('; ')} on the new leaf's key in its transaction, right after the key is added back as it was (the change commits with the swap or not at all)`);
  }
  if (leaf.defaultPartition) {
    const d = leaf.defaultPartition;
    lines.push(`  default partition ${qualified(d.schema, d.name)} (~${d.estimatedRows} rows): gets CHECK (NOT (the bound)) NOT VALID and VALIDATE just before the cutover, so ATTACH does not read it under the lock; the cutover drops it`);
  }
  return lines;
}

/** The rows the copy reads, as estimated: the table's, and a tree's relations' besides (shadow/tree.ts). */
export function rowsToCopy(plan: Pick<Plan, 'origin' | 'tree'>): number {
  return plan.tree.reduce((n, t) => n + t.estimatedRows, plan.origin.estimatedRows);
}
