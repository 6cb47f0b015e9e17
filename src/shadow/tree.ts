import type { Client } from '../db/session.js';
import { ident, literal, qualified, type SqlText } from '../db/quote.js';
import { UserError } from '../errors.js';
import { describeTable, readDependents, type TableInfo } from '../catalog/table.js';
import { noRowIdentity } from '../catalog/row-identity.js';
import { readBoundObjects } from '../catalog/bound-objects.js';
import { inTransaction } from '../db/session.js';
import { withQualifiedNames } from '../db/search-path.js';
import { partitionHomes, type PartitionHomes } from '../plan/partition-homes.js';
import { copyAclStatements } from './acl.js';
import { relOptionsList } from './reloptions.js';
import { createInheritingShadow, createStandIn, notValidChecksOn, standInName } from './inherit.js';
import { addForeignKeysOut, relationOid, restoreWhatLikeMisses } from './build.js';

/**
 * A parent whose change reaches its legacy inheritance children (a type change, a column added
 * with a volatile default: what PostgreSQL recurses and the classifier sends to the copy) is
 * copied with its whole tree: R0 = the parent, read ONLY, and R1..Rn = its descendants at every
 * level, in any schema, each read ONLY. A row trigger on a parent does not fire for its
 * children's rows, and the parent's key does not reach them, so each relation has its own
 * capture trigger and changelog, its own row identity, its own copy lane, replayer, validation
 * and counts (migration/tree-relations.ts); the cutover exchanges every relation by name
 * (cutover/swap.ts), the shadow tree taking the tree's place and the old tree, still whole,
 * stepping aside into the migration's schemas (plan/partition-homes.ts, as a partitioned table's
 * partitions do).
 *
 * The shadow tree: the parent's shadow built as any table's; each descendant's as an inheritance
 * child's (shadow/inherit.ts: CREATE TABLE ... INHERITS stand-ins, so its columns' order,
 * attislocal/attinhcount and its CHECKs' conislocal/coninhcount are the descendant's), then its
 * stand-ins of parents inside the tree exchanged for those parents' shadows (INHERIT the shadow,
 * NO INHERIT the stand-in: counts 2, then back to 1). The user's ALTER then runs on the parent's
 * shadow and PostgreSQL recurses it into the shadow tree exactly as offline, refusing what it
 * refuses there in its own words. Stand-ins of parents outside the tree stay until the cutover,
 * which exchanges them for the real parents (shadow/inherit.ts exchangeParents). INHERIT appends
 * to pg_inherits: a descendant whose parent outside the tree comes before one inside it then has
 * them in another order, which the cutover puts back (orderParents).
 *
 * A descendant's foreign keys (legacy inheritance inherits none) and its NOT VALID checks are the
 * parent's mechanism (shadow/build.ts DeferredConstraint, named by the relation as a partition's
 * are): on its shadow while the user's statements run, off it while it is filled, added in the
 * cutover once every relation is exchanged (so their names mean the new relations), a foreign key
 * NOT VALID and validated after the commit unless it was NOT VALID. A parent's NOT VALID check
 * reaches a descendant's shadow through its stand-in (notValidChecksOn), so it is inherited there
 * as offline; the cutover adds the descendants' own deepest first, then the parent's, which merge
 * into them. Other tables' foreign keys into a descendant are re-pointed and its owned sequences
 * moved as the parent's (cutover/swap.ts); a kept old tree's foreign keys are dropped and recorded
 * for a revert, each named by its relation.
 */

/** The descendants of a legacy inheritance parent (no partitions), each after all its parents in the tree. */
export async function describeTree(c: Client, origin: TableInfo): Promise<TableInfo[]> {
  const r = await c.query<{ oid: string }>(
    `WITH RECURSIVE d(oid, depth) AS (
       SELECT i.inhrelid, 1 FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid WHERE i.inhparent = $1::oid AND NOT ch.relispartition
       UNION ALL
       SELECT i.inhrelid, d.depth + 1 FROM d JOIN pg_inherits i ON i.inhparent = d.oid JOIN pg_class ch ON ch.oid = i.inhrelid WHERE NOT ch.relispartition)
     SELECT oid::int8::text AS oid FROM d GROUP BY oid ORDER BY max(depth), oid`,
    [origin.oid],
  );
  const out: TableInfo[] = [];
  for (const row of r.rows) out.push(await describeTable(c, row.oid));
  return out;
}

/**
 * Where the tree's relations live during the migration: a descendant's shadow under its own name
 * in the migration schema of its schema, where the old one steps aside at the swap.
 */
export function treeHomes(schema: string, origin: TableInfo, tree: readonly TableInfo[]): PartitionHomes {
  return partitionHomes(schema, { schema: origin.schema, partitions: tree });
}

/** Why the tree cannot be copied (a reason for `refused: <table> ...`), or null when it can. */
export async function treeRefusal(c: Client, origin: TableInfo, tree: TableInfo[]): Promise<string | null> {
  const named = (t: { schema: string; name: string }): string => `${t.schema}.${t.name}`;
  const copied = 'has inheritance children the change reaches, copied with it as one tree';
  for (const t of tree) {
    if (t.identity === null) {
      const { reason, fix } = noRowIdentity(t.schema, t.name, t.uniqueIndexes);
      return `${copied}, each relation replayed by a row identity of its own: ${named(t)} ${reason}; ${fix}`;
    }
    if (!t.isOwner && !origin.isSuperuser) return `${copied}: missing privilege: ownership of ${named(t)} (the cutover renames and re-parents it)`;
    if (t.forceRowSecurity && !t.isSuperuser && !t.bypassRls) {
      return `${copied}: missing privilege: ${named(t)} has FORCE ROW LEVEL SECURITY: the engine's role needs BYPASSRLS (or superuser) so that no policy hides rows from the copy`;
    }
    // What no swap carries, a plain table's either (plan/preflight.ts): refused alike.
    const other = (await readDependents(c, t.oid)).filter((d) => d.kind === 'other');
    if (other.length) return `${copied}: ${named(t)} has a dependent object that cannot be carried over: ${[...new Set(other.map((d) => d.description))].join(', ')}`;
    // What is bound to it is carried as what is bound to the parent (catalog/bound-objects.ts), refused alike.
    const bound = (await inTransaction(c, () => readBoundObjects(c, t.oid))).refusals[0];
    if (bound) return `${copied}: ${bound.startsWith('missing privilege') ? bound : `${named(t)} cannot be copied online: ${bound}`}`;
  }
  return null;
}

/**
 * Builds the descendants' shadows inside the shadow's build transaction, once the parent's shadow
 * exists and before the user's statements run on it: each as an inheritance child's, its
 * stand-ins of parents inside the tree exchanged for their shadows, then its options, owner,
 * grants and comment.
 */
export async function buildTreeShadows(c: Client, origin: TableInfo, tree: TableInfo[], schema: string, foreignKeys: boolean): Promise<void> {
  const homes = treeHomes(schema, origin, tree);
  for (const s of homes.extra) await c.query(`CREATE SCHEMA ${ident(s)}`);
  const shadowOf = new Map<string, SqlText>([[origin.oid, qualified(schema, origin.name)], ...tree.map((t): [string, SqlText] => [t.oid, homes.inMigration(t)])]);
  for (const [n, t] of tree.entries()) {
    const side = homes.side(t.schema);
    const shadow = shadowOf.get(t.oid)!;
    // Stand-ins of its own, by name: the n-th descendant's are pgshift_parent_<n>_<k>.
    await createInheritingShadow(c, t, side, shadow, `${n + 1}_`);
    for (const [k, p] of t.inheritsFrom.entries()) {
      const parentShadow = shadowOf.get(p.oid);
      if (parentShadow === undefined) continue;
      const standIn = qualified(side, standInName(k + 1, `${n + 1}_`));
      // The parent's NOT VALID checks (INHERIT wants them on the child): through the stand-in, so
      // that the shadow has them inherited, not its own, as the descendant has them.
      await notValidChecksOn(c, parentShadow, standIn);
      await c.query(`ALTER TABLE ${shadow} INHERIT ${parentShadow}`);
      await c.query(`ALTER TABLE ${shadow} NO INHERIT ${standIn}`);
      await c.query(`DROP TABLE ${standIn}`);
    }
    // Its foreign keys (legacy inheritance inherits none) as the parent's: the user's statements
    // reach them on the shadow, which is rid of them before the copy (shadow/build.ts).
    if (foreignKeys) await withQualifiedNames(c, () => addForeignKeysOut(c, t.oid, shadow));
    await restoreWhatLikeMisses(c, t.oid, await relationOid(c, shadow), shadow);
    const options = relOptionsList(t.reloptions).concat(relOptionsList(t.toastReloptions, 'toast'));
    if (options.length) await c.query(`ALTER TABLE ${shadow} SET (${options.join(', ')})`);
    for (const col of t.columns) {
      if (col.statTarget !== null && col.statTarget >= 0) await c.query(`ALTER TABLE ${shadow} ALTER COLUMN ${ident(col.name)} SET STATISTICS ${Number(col.statTarget)}`);
      const colOptions = relOptionsList(col.options);
      if (colOptions.length) await c.query(`ALTER TABLE ${shadow} ALTER COLUMN ${ident(col.name)} SET (${colOptions.join(', ')})`);
    }
    await c.query(`ALTER TABLE ${shadow} OWNER TO ${ident(t.owner)}`);
    for (const stmt of await copyAclStatements(c, t.oid, shadow)) await c.query(stmt);
    if (t.comment !== null) await c.query(`COMMENT ON TABLE ${shadow} IS ${literal(t.comment)}`);
  }
}

/** A tree that cannot be copied: refused with the reason. */
export async function refuseTree(c: Client, origin: TableInfo, tree: TableInfo[]): Promise<void> {
  const why = await treeRefusal(c, origin, tree);
  if (why) throw new UserError(`refused: ${origin.schema}.${origin.name} ${why}`);
}

/** A relation's parents ($1, by name) in their order, qualified: what orderParents reads (a runbook answers it as the exchange will leave them: runbook/copy.ts). */
// (quoted as db/quote.ts qualified quotes, as `order` names them: quote_ident leaves most names bare)
export const PARENTS_IN_ORDER = `SELECT '"' || replace(n.nspname, '"', '""') || '"."' || replace(p.relname, '"', '""') || '"' AS p FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = p.relnamespace WHERE i.inhrelid = $1::regclass ORDER BY i.inhseqno`;

/**
 * Inside the cutover, once a tree's relations changed places: a relation's parents put back in
 * `order` (qualified names, as the relation had them), from the first one out of place on, each
 * taken off and appended again (INHERIT appends) through a stand-in LIKE it that the relation
 * inherits meanwhile, so that what it has from that parent never drops to no parent (NO INHERIT
 * would make it local). Nothing when the order is already right.
 */
export async function orderParents(c: Client, relation: SqlText, order: SqlText[], schema: string): Promise<void> {
  const now = (await c.query<{ p: string }>(PARENTS_IN_ORDER, [relation])).rows.map((r) => r.p);
  const from = order.findIndex((p, i) => now[i] !== p);
  if (from < 0) return;
  const standIn = qualified(schema, 'pgshift_order_parent');
  for (const parent of order.slice(from)) {
    // The parent's NOT VALID checks on the stand-in NOT VALID, as the relation has them.
    await createStandIn(c, standIn, parent);
    await notValidChecksOn(c, parent, standIn);
    await c.query(`ALTER TABLE ${relation} INHERIT ${standIn}`);
    await c.query(`ALTER TABLE ${relation} NO INHERIT ${parent}`);
    await c.query(`ALTER TABLE ${relation} INHERIT ${parent}`);
    await c.query(`ALTER TABLE ${relation} NO INHERIT ${standIn}`);
    await c.query(`DROP TABLE ${standIn}`);
  }
}
