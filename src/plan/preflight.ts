import type { Client } from '../db/session.js';
import { sqlFile } from '../db/sql-files.js';
import { inTransaction } from '../db/session.js';
import { UserError } from '../errors.js';
import { qualified } from '../db/quote.js';
import type { Dependent, TableInfo } from '../catalog/table.js';
import { noRowIdentity } from '../catalog/row-identity.js';
import type { ColumnFlow } from './columns.js';
import { describePrepared, preparedBlockers } from '../cutover/blockers.js';
import { readBoundObjects, type BoundAction, type BoundObject, type BoundObjects } from '../catalog/bound-objects.js';
import { readMatviewDefs } from '../cutover/matviews.js';
import { retargetSchemas, schemaMoves } from '../cutover/retarget.js';
import type { AlterStatement } from './parse.js';
import { fillsEveryRow } from './subcommands.js';

export interface PreflightFindings {
  /** the publications the new table must join */
  publications: string[];
  /** dependents re-pointed at the swap, described for the plan */
  rewired: string[];
}

/**
 * Everything DESIGN.md section 3 refuses, and what offline PostgreSQL itself would refuse, is
 * refused here, before anything is created, with the reason in one line.
 */
export async function preflight(c: Client, table: TableInfo, dependents: Dependent[], flow: ColumnFlow, statements: AlterStatement[]): Promise<PreflightFindings> {
  const name = `${table.schema}.${table.name}`;
  const refuse = (why: string): never => {
    throw new UserError(`refused: ${name} ${why}`);
  };
  await preflightEveryStrategy(c, table);
  // What only the copy needs (under --strategy auto a change that needs no copy runs without these).
  // A partitioned table is copied as a tree (shadow/partitions.ts), a leaf alone as a plain table
  // that the cutover swaps in by DETACH and ATTACH PARTITION (shadow/leaf.ts).
  const leaf = refuseLeaf(table);
  if (leaf) refuse(leaf);
  // A child alone is copied with stand-ins for its parents (shadow/inherit.ts); a parent alone
  // when the change does not reach its children (shadow/parent.ts), with its tree when it does
  // (shadow/tree.ts): which, the plan's trial shadow tells (migration/plan.ts).
  if (table.identity === null) {
    const { reason, fix } = noRowIdentity(table.schema, table.name, table.uniqueIndexes, table.partitions.find((p) => p.relkind === 'f'));
    refuse(`${reason}; the copy and the replay address rows by one; ${fix}`);
  }
  const partitions = refusePartitionTree(table);
  if (partitions) refuse(partitions);
  if (table.rowSecurity && table.forceRowSecurity && !table.isSuperuser && !table.bypassRls) {
    // The engine reads with row_security off; a role subject to the policies would get errors
    // there (rather than silently missing the rows the policies hide).
    throw new UserError(`refused: missing privilege: ${name} has FORCE ROW LEVEL SECURITY: the engine's role needs BYPASSRLS (or superuser) so that no policy hides rows from the copy`);
  }
  // In a transaction: names in the definitions it reads are qualified for it alone.
  const bound = await inTransaction(c, () => preflightBound(c, table, statements));

  for (const d of dependents) {
    if (d.kind === 'other') refuse(`has a dependent object that cannot be carried over: ${d.description}`);
  }

  const prepared = await preparedBlockers(c, dependents.flatMap((d) => (d.kind === 'fk-in' && d.relOid ? [d.relOid] : [])));
  if (prepared.length) {
    refuse(`is locked by ${prepared.map(describePrepared).join('; ')}: the migration's locks would wait for it forever`);
  }

  await refuseColumnBlockers(c, table, flow.dropped, flow.typeChanged);
  if (!renamesApplyInOrder(table.columns.map((col) => col.name), flow)) {
    if (bound.objects.length || dependents.some((d) => d.kind === 'fk-in')) {
      refuse('has views, materialized views, routines or foreign keys that a rename reusing a dropped column\'s name would leave ambiguous');
    }
  }

  const pubs = (await c.query(sqlFile('publications.sql'), [table.oid])).rows;
  const allTables = pubs.filter((p) => p.all_tables).map((p) => p.name);
  if (allTables.length) {
    refuse(`is published by FOR ALL TABLES publication ${allTables.join(', ')}, which would also publish pgshift's own tables`);
  }
  return {
    publications: pubs.map((p) => p.name),
    rewired: [
      ...new Set(dependents.filter((d) => d.kind === 'fk-in').map((d) => `${d.kind} ${d.description}`)),
      ...bound.objects.map(describeBound),
    ],
  };
}

/**
 * A parent copied with its tree (shadow/tree.ts), once the plan knows the tree: what is bound to
 * its descendants is refused, checked and listed as what is bound to the table (shadow/tree.ts
 * treeRefusal names the descendant of a refusal first), added to `findings`.
 */
export async function preflightTree(c: Client, table: TableInfo, tree: TableInfo[], flow: ColumnFlow, statements: AlterStatement[], findings: PreflightFindings): Promise<void> {
  const dropped = await treeColumnChanges(c, table, tree, flow);
  for (const t of tree) await refuseColumnBlockers(c, t, dropped.get(t.oid)!, flow.typeChanged);
  const bound = await inTransaction(c, () => preflightBound(c, table, statements, tree));
  if (!renamesApplyInOrder(table.columns.map((col) => col.name), flow) && bound.objects.length) {
    throw new UserError(`refused: ${table.schema}.${table.name} has views, materialized views, routines or foreign keys that a rename reusing a dropped column's name would leave ambiguous`);
  }
  findings.rewired = [...new Set([...findings.rewired, ...bound.objects.map(describeBound)])];
}

/**
 * What offline PostgreSQL refuses to drop or retype a column of `table` under (a view, a rule, a
 * policy, a trigger, a BEGIN ATOMIC body, a publication's list or filter): refused, naming it.
 */
async function refuseColumnBlockers(c: Client, table: TableInfo, dropped: string[], typeChanged: string[]): Promise<void> {
  const name = `${table.schema}.${table.name}`;
  const attnums = (names: string[]): number[] =>
    table.columns.filter((col) => names.includes(col.name)).map((col) => col.attnum);
  const blockers = async (cols: string[]): Promise<{ kind: string; description: string; column_name: string }[]> =>
    cols.length ? (await c.query(sqlFile('column-dependents.sql'), [table.oid, attnums(cols)])).rows : [];
  for (const b of await blockers(dropped)) {
    throw new UserError(`refused: cannot drop column ${b.column_name} of ${name} because ${b.description} depends on it (offline ALTER would need CASCADE)`);
  }
  for (const b of await blockers(typeChanged)) {
    if (b.kind === 'foreign key') continue; // offline PostgreSQL re-checks it; so does the swap
    throw new UserError(`refused: cannot alter the type of column ${b.column_name} of ${name} because ${b.description} uses it`);
  }
}

/**
 * The columns of each descendant that the parent's change drops or retypes, as PostgreSQL
 * recurses it: a type change reaches the column of the name in every descendant; a drop takes a
 * descendant's column only when it is not its own and every parent it has it from dropped it
 * (attislocal, attinhcount), then goes on to its children, as offline.
 */
async function treeColumnChanges(c: Client, table: TableInfo, tree: TableInfo[], flow: ColumnFlow): Promise<Map<string, string[]>> {
  const dropped = new Map<string, string[]>([[table.oid, flow.dropped]]);
  for (const t of tree) {
    const cols = (await c.query<{ name: string; local: boolean; inherited: number }>(
      `SELECT attname AS name, attislocal AS local, attinhcount AS inherited FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped`,
      [t.oid],
    )).rows;
    const from = (col: string): number => t.inheritsFrom.filter((p) => dropped.get(p.oid)?.includes(col)).length;
    dropped.set(t.oid, cols.filter((col) => !col.local && col.inherited > 0 && from(col.name) === col.inherited).map((col) => col.name));
  }
  return dropped;
}

function describeBound(o: BoundObject): string {
  return `${o.description}: ${BOUND_IN_PLAN[o.action]}`;
}

const BOUND_IN_PLAN: Record<BoundAction, string> = {
  'rebind-view': 're-bound (CREATE OR REPLACE VIEW)',
  'recreate-view': 'created anew on the new row type (a column holds whole rows)',
  'rebuild-matview': 'rebuilt and filled just before the cutover, swapped in with the table',
  'rebind-routine': 're-bound (CREATE OR REPLACE, same body)',
  'recreate-routine': 'created anew on the new row type',
  'rebind-rule': 're-bound (CREATE OR REPLACE RULE, same text; its relation locked ACCESS EXCLUSIVE in the cutover)',
  'rebind-policy': 're-bound (ALTER POLICY, same expressions; its table locked ACCESS EXCLUSIVE in the cutover)',
  'recreate-trigger': 'dropped and created again FROM the new table (its table locked ACCESS EXCLUSIVE in the cutover)',
};

/**
 * Views, materialized views and routines bound to the table (catalog/bound-objects.ts): what
 * the swap cannot carry is refused with its reason; a materialized view whose column stores the
 * table's rows makes offline PostgreSQL refuse what fills every row, so the copy does too; and
 * every rebuilt materialized view's definitions must be readable by pgshift's parser. Their
 * names meet nothing: each is rebuilt in a migration schema of its own schema's
 * (plan/matview-homes.ts).
 */
async function preflightBound(c: Client, table: TableInfo, statements: AlterStatement[], tree: TableInfo[] = []): Promise<BoundObjects> {
  const name = `${table.schema}.${table.name}`;
  const bound = await readBoundObjects(c, table.oid, tree.map((t) => t.oid));
  for (const why of bound.refusals) {
    throw new UserError(why.startsWith('missing privilege') ? `refused: ${why}` : `refused: ${name} cannot be copied online: ${why}`);
  }
  const typed = bound.objects.find((o) => o.action === 'rebuild-matview' && o.typed);
  if (typed && statements.some((s) => s.kind === 'alter' && s.cmds.some(fillsEveryRow))) {
    throw new UserError(`refused: cannot alter table ${name} because a column of ${typed.description} uses its row type (offline PostgreSQL refuses it too)`);
  }
  const matviews = await readMatviewDefs(c, bound.objects.filter((o) => o.action === 'rebuild-matview').map((o) => o.oid));
  const moves = schemaMoves([table, ...tree, ...matviews].map((r) => ({ schema: r.schema, name: r.name, to: 'pgshift' })));
  for (const m of matviews) {
    for (const sql of [m.def, ...m.indexes.map((i) => i.def)]) {
      await retargetSchemas(sql, moves).catch((err: unknown) => {
        throw new UserError(`refused: the definition of materialized view ${m.schema}.${m.name} cannot be read by pgshift's parser (PostgreSQL 17's): ${(err as Error).message.split('\n')[0]}`);
      });
    }
  }
  return bound;
}

/**
 * The refusals that hold whatever the strategy: PostgreSQL's and pgshift's own tables, what is
 * not a table (a partitioned table or a partition is one: changes without a copy run on them as
 * PostgreSQL allows), a role that does not own it, and a prepared transaction holding a lock on
 * it (every lock wait would time out).
 */
export async function preflightEveryStrategy(c: Client, table: TableInfo): Promise<void> {
  const name = `${table.schema}.${table.name}`;
  const refuse = (why: string): never => {
    throw new UserError(`refused: ${name} ${why}`);
  };
  const owner = schemaOwner(table.schema);
  if (owner === 'system') refuse(`is in the system schema ${table.schema}: system catalogs are changed by PostgreSQL itself, never by pgshift`);
  if (owner === 'pgshift') refuse(`is in ${table.schema}, a schema pgshift owns (its state or a migration's artifacts); pgshift does not migrate its own tables`);
  if (table.relkind !== 'r' && table.relkind !== 'p') refuse('is not a table');
  if (!table.isOwner && !table.isSuperuser) {
    throw new UserError(`refused: missing privilege: the engine must run as the owner of ${name} (${table.owner}) or a superuser`);
  }
  const prepared = await preparedBlockers(c, [table.oid]);
  if (prepared.length) refuse(`is locked by ${prepared.map(describePrepared).join('; ')}: the migration's locks would wait for it forever`);
}

/**
 * What the shadow tree cannot repeat, for a partitioned table (null when nothing). The partitions
 * of the table's schema go through the migration's schema, those of other schemas through schemas
 * of their own (plan/partition-homes.ts); pgshift's own tables are in none of them (plan/names.ts
 * logSchema), so no partition's name is taken there.
 */
function refusePartitionTree(table: TableInfo): string | null {
  for (const p of table.partitions) {
    if (p.rowSecurity && p.forceRowSecurity && !table.isSuperuser && !table.bypassRls) {
      return `missing privilege: partition ${p.name} has FORCE ROW LEVEL SECURITY: the engine's role needs BYPASSRLS (or superuser) so that no policy hides rows from the validation, which reads each partition`;
    }
  }
  return null;
}

/**
 * What the leaf route cannot do (null when nothing, or not a partition). A foreign key into the
 * partitioned table must be off the tree for DETACH (which otherwise checks every row referencing
 * the leaf, and fails when one does): the cutover drops it and adds it again NOT VALID after
 * ATTACH (cutover/swap.ts), other tables' and the tree's own alike. Before PostgreSQL 18 one
 * declared on a partitioned table (a self-referencing tree) can only be added back valid, and
 * PostgreSQL's check then reads every row of the tree under ACCESS EXCLUSIVE (a partition's NOT
 * VALID copy is not adopted: another is added and checked): refused there. One declared on the
 * leaf itself, or on a partition below a sub-partitioned leaf, is a plain table's, carried the
 * same way on every major (a change that names the leaf's own: plan/leaf-key-changes.ts). A
 * partition partitioned itself is copied as a tree and swapped as a leaf.
 */
function refuseLeaf(table: TableInfo): string | null {
  const leaf = table.partitionOf;
  if (!table.isPartition || !leaf) return null;
  const parent = qualified(leaf.parentSchema, leaf.parentName);
  if (leaf.treeKeysCheckedInLock) {
    return `is a partition of ${parent}, which its own tree's foreign key ${leaf.treeKeysCheckedInLock} references: DETACH PARTITION fails on rows referencing the partition's unless that key is off the tree, and before PostgreSQL 18 a foreign key on a partitioned table goes back only valid, so PostgreSQL would check every row of the partitioned table that declares it (the whole tree for the tree's own; a level below the leaf, part of the leaf) while the cutover holds it ACCESS EXCLUSIVE (measured for the tree's own: 1.9-5.1 s for 1,000,000 rows on 14, 16 and 17); PostgreSQL 18 adds it back NOT VALID and the leaf route takes it there; run the ALTER offline or upgrade`;
  }
  return null;
}

/** The renames can be replayed on the origin alone (no name taken by a column still there). */
export function renamesApplyInOrder(originNames: string[], flow: ColumnFlow): boolean {
  const names = new Set(originNames);
  for (const r of flow.renames) {
    if (!names.has(r.from) || names.has(r.to)) return false;
    names.delete(r.from);
    names.add(r.to);
  }
  return true;
}

/**
 * Whose schema this is: PostgreSQL's (pg_catalog, information_schema, pg_toast and the
 * per-session temporary-toast schemas), pgshift's (its state schema `pgshift`, each migration's
 * `pgshift_<id>`, its own tables' `pgshift_<id>_log`, its partitions' `pgshift_<id>_<n>`, its
 * rebuilt materialized views' `pgshift_<id>_m<oid>`, a plan's trial `pgshift_plan_<pid>_<n>`), or
 * the user's.
 */
export function schemaOwner(schema: string): 'system' | 'pgshift' | 'user' {
  if (schema === 'pg_catalog' || schema === 'information_schema' || schema === 'pg_toast' || /^pg_toast_temp_\d+$/.test(schema)) return 'system';
  if (schema === 'pgshift' || /^pgshift_\d+(_\d+|_m\d+|_log)?$/.test(schema) || /^pgshift_plan_\d+_\d+$/.test(schema)) return 'pgshift';
  return 'user';
}
