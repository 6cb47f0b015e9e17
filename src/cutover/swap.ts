import type { Client } from '../db/session.js';
import { ident, literal, qualified, type SqlText } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import type { TableInfo } from '../catalog/table.js';
import type { ArtifactNames } from '../plan/names.js';
import type { DeferredConstraint } from '../shadow/build.js';
import { dropTriggersSql, partitionTruncateTrigger, type CaptureNames } from '../capture/install.js';
import { addToPublicationSql, declaredInTree, dropFromPublicationSql, foreignKeysIntoParent, readDependentDefs, type DependentDef } from './dependents.js';
import { carryBound, readBoundDefs } from './bound-swap.js';
import { enabledStateSql } from './enabled-state.js';
import { withQualifiedNames } from '../db/search-path.js';
import { readPartitionTriggers, type PartitionTrigger } from '../shadow/partitions.js';
import { attachLeaf, detachLeaf } from '../shadow/leaf.js';
import { exchangeParents, parentsOf } from '../shadow/inherit.js';
import { orderParents } from '../shadow/tree.js';
import { childrenOf, moveChildren } from '../shadow/parent.js';
import { partitionHomes, type PartitionHomes } from '../plan/partition-homes.js';

export interface SwapInput {
  origin: TableInfo;
  names: ArtifactNames;
  shadowOid: string;
  /** origin column name -> new column name (absent when dropped) */
  newColumnName: (origin: string) => string | undefined;
  /** RENAME COLUMN statements retargeted at the origin, and their inverses (in undo order) */
  renameOrigin: string[];
  unrenameOrigin: string[];
  constraints: DeferredConstraint[];
  /** the user's subcommands that take effect on the new table, already targeted at it */
  swapStatements: string[];
  /** a leaf's: the user's statements that name its own foreign key into its tree, targeted at the leaf's name (plan/leaf-key-changes.ts) */
  leafKeyChanges: string[];
  /** the old table stays (in the migration's schema): take its foreign keys off */
  retainOld: boolean;
  /** the shadow's heaps' own autovacuum settings again (shadow/reloptions.ts), by their names before the exchange */
  autovacuumBack: string[];
  /** a tree's relations besides the table, each with its shadow (shadow/tree.ts): exchanged with it */
  tree?: TreeSwap[];
  /** a parent copied alone: the user's ONLY drops, on the old table's stand-in its children inherit meanwhile (shadow/parent.ts oldParentDrops) */
  parentDrops?: string[];
}

/** A relation of a tree copied with its parent (shadow/tree.ts) and its shadow. */
export interface TreeSwap {
  oid: string;
  schema: string;
  name: string;
  shadowOid: string;
  /** its parents in their order (qualified), as the relation has them and the new one must */
  parents: SqlText[];
  /** its capture's triggers (migration/tree-relations.ts treeCapture) */
  capture: Pick<CaptureNames, 'captureTrigger' | 'truncateTrigger'>;
  /** its column name -> the new relation's column name (absent when dropped), as SwapInput's */
  newColumnName: (origin: string) => string | undefined;
}

export interface SwapResult {
  /** constraints to VALIDATE after commit: [table, constraint] */
  validate: [string, string][];
  /** the kept old table's foreign keys, taken off it (a revert puts them back) */
  oldForeignKeys: OldForeignKey[];
  /** a leaf's foreign keys into its tree, its own and its partitions', as they were before the change (a revert puts them back) */
  leafKeys: DependentDef[];
}

/**
 * A user trigger of the kept old table (or of one of its partitions, named with its user schema:
 * absent in what earlier versions stored), disabled during a revert window.
 */
export interface KeptTrigger {
  name: string;
  enabled: string;
  partition?: string;
  partitionSchema?: string;
}

/** A foreign key of the kept old table (or of one of its partitions, named as a KeptTrigger's), taken off at the swap. */
export interface OldForeignKey {
  name: string;
  def: string;
  partition?: string;
  partitionSchema?: string;
}

/**
 * Its own foreign keys of a table and of each partition under it (cloned ones come and go with
 * their parent's). pg_partition_tree lists nothing for a table that is not partitioned.
 */
export async function ownForeignKeys(c: Client, oid: string): Promise<{ conname: string; def: string; partition: string | null; schema: string }[]> {
  return (await c.query(
    `SELECT con.conname, pg_get_constraintdef(con.oid) AS def, CASE WHEN t.level > 0 THEN r.relname END AS partition, n.nspname AS schema
       FROM (SELECT $1::oid AS relid, 0 AS level UNION ALL SELECT relid, level FROM pg_partition_tree($1::oid::regclass) WHERE level > 0) t
       JOIN pg_class r ON r.oid = t.relid JOIN pg_namespace n ON n.oid = r.relnamespace JOIN pg_constraint con ON con.conrelid = r.oid
      WHERE con.contype = 'f' AND con.conparentid = 0 AND (t.level = 0 OR con.conislocal) ORDER BY t.level, r.relname, con.oid`,
    [oid],
  )).rows;
}

/** What the swap reads about everything bound to the table (search_path = pg_catalog). */
async function readSwapDefs(c: Client, input: SwapInput) {
  const { origin, names } = input;
  // A tree's foreign keys among its relations are their own constraints (shadow/build.ts), not others' into them.
  const notTree = notWithinTree([origin, ...(input.tree ?? [])]);
  const defs = (await readDependentDefs(c, origin.oid, [names.captureTrigger, names.truncateTrigger])).filter(notTree);
  // A tree's: what is bound to its descendants too, carried once after every relation is exchanged.
  const bound = await readBoundDefs(c, origin.oid, (input.tree ?? []).map((t) => t.oid));
  const partitionTriggers = await withQualifiedNames(c, () =>
    readPartitionTriggers(c, origin.oid, origin.partitions.map((_, i) => partitionTruncateTrigger(names, i))));
  // What each partition has of its own that moves with the table, not with the relation:
  // statistics objects, replica identity, the clustered mark, publication membership, rules.
  // One look first: the cutover's lock is held while this runs, and most partitions have none.
  const partitionExtras: { schema: string; name: string; replicaIdentity: string; defs: DependentDef[] }[] = [];
  const having = origin.partitions.length === 0 ? [] : (await c.query<{ oid: string }>(
    `SELECT r.oid::int8::text AS oid FROM pg_partition_tree($1::oid::regclass) t JOIN pg_class r ON r.oid = t.relid
      WHERE t.level > 0 AND (r.relreplident <> 'd' OR EXISTS (SELECT FROM pg_statistic_ext s WHERE s.stxrelid = r.oid)
         OR EXISTS (SELECT FROM pg_publication_rel pr WHERE pr.prrelid = r.oid) OR EXISTS (SELECT FROM pg_index i WHERE i.indrelid = r.oid AND i.indisclustered)
         OR EXISTS (SELECT FROM pg_rewrite rw WHERE rw.ev_class = r.oid))`,
    [origin.oid],
  )).rows.map((r) => r.oid);
  for (const [i, p] of origin.partitions.entries()) {
    if (!having.includes(p.oid)) continue;
    const own = (await readDependentDefs(c, p.oid, [partitionTruncateTrigger(names, i)])).filter((d) => EXTRAS.includes(d.kind));
    partitionExtras.push({ schema: p.schema, name: p.name, replicaIdentity: p.replicaIdentity, defs: own });
  }
  const intoParent = origin.partitionOf ? await foreignKeysIntoParent(c, origin.oid) : [];
  // What a tree's relations have of their own (shadow/tree.ts: what else is refused), again on
  // the relation of their name: triggers, policies and row security, the extras, owned sequences,
  // other tables' foreign keys into them.
  const treeOwn: { schema: string; name: string; defs: DependentDef[]; security: boolean; force: boolean; replicaIdentity: string }[] = [];
  for (const t of input.tree ?? []) {
    const defs = (await readDependentDefs(c, t.oid, [t.capture.captureTrigger, t.capture.truncateTrigger])).filter(notTree);
    const r = (await c.query<{ security: boolean; force: boolean; replica_identity: string }>(
      `SELECT relrowsecurity AS security, relforcerowsecurity AS force, relreplident::text AS replica_identity FROM pg_class WHERE oid = $1::oid`,
      [t.oid],
    )).rows[0]!;
    treeOwn.push({ schema: t.schema, name: t.name, defs, security: r.security, force: r.force, replicaIdentity: r.replica_identity });
  }
  return { defs, bound, partitionTriggers, partitionExtras, intoParent, treeOwn };
}

const EXTRAS: DependentDef['kind'][] = ['statistics', 'replica-index', 'cluster', 'publication', 'rule'];


/**
 * A table's (or a partition's) statistics objects, replica identity, clustered mark, publication
 * membership and rules, again on the relation of its name now in the user's schema: the old
 * one's statistics objects step aside into the migration's schema, the publications drop it, its
 * rules move (moveRules).
 */
async function carryExtras(c: Client, defs: DependentDef[], x: { table: string; oldTable: string; replicaIdentity: string; migrationSchema: string }): Promise<void> {
  const exec = async (sql: string): Promise<void> => {
    await c.query(sql);
  };
  const of = (kind: DependentDef['kind']): DependentDef[] => defs.filter((d) => d.kind === kind);
  for (const s of of('statistics')) {
    await exec(`ALTER STATISTICS ${qualified(s.schema!, s.name)} SET SCHEMA ${ident(x.migrationSchema)}`);
    await exec(s.def!);
    if (s.extra !== null && Number(s.extra) >= 0) await exec(`ALTER STATISTICS ${qualified(s.schema!, s.name)} SET STATISTICS ${Number(s.extra)}`);
    if (s.comment !== null) await exec(`COMMENT ON STATISTICS ${qualified(s.schema!, s.name)} IS ${literal(s.comment)}`);
  }
  for (const idx of of('replica-index')) await exec(`ALTER TABLE ${x.table} REPLICA IDENTITY USING INDEX ${ident(idx.name)}`);
  if (x.replicaIdentity === 'f') await exec(`ALTER TABLE ${x.table} REPLICA IDENTITY FULL`);
  if (x.replicaIdentity === 'n') await exec(`ALTER TABLE ${x.table} REPLICA IDENTITY NOTHING`);
  for (const idx of of('cluster')) await exec(`ALTER TABLE ${x.table} CLUSTER ON ${ident(idx.name)}`);
  for (const pub of of('publication')) {
    await exec(dropFromPublicationSql(pub, x.oldTable));
    await exec(addToPublicationSql(pub, x.table));
  }
  await moveRules(c, of('rule'), { to: x.table, from: x.oldTable });
}

/**
 * The swap's reads once, in a transaction of their own before the cutover's (read-only: no lock
 * but the catalogs'), so that a session preparing its statements (db/prepared.ts) has parsed and
 * planned them by the time it holds the locks.
 */
export async function rehearseSwapReads(c: Client, input: SwapInput): Promise<void> {
  await c.query(`SET LOCAL search_path = pg_catalog`);
  await readSwapDefs(c, input);
}

/**
 * The swap, inside the cutover transaction with every lock already held: the origin moves into
 * the migration's schema, the shadow takes its place and name, and everything that pointed at
 * the origin is re-pointed at it. Runs with search_path = pg_catalog so that the definitions
 * read at the start resolve to the same objects.
 */
export async function swapTables(c: Client, input: SwapInput): Promise<SwapResult> {
  const { origin, names } = input;
  const exec = async (sql: string): Promise<void> => {
    await c.query(sql);
  };
  await exec(`SET LOCAL search_path = pg_catalog`);

  // Dependents are read with the user's renames applied to the origin, so PostgreSQL itself
  // rewrites view, policy and trigger definitions for the new column names, as offline.
  for (const sql of input.renameOrigin) await exec(sql);
  const { defs, bound, partitionTriggers, partitionExtras, intoParent, treeOwn } = await readSwapDefs(c, input);
  for (const sql of input.unrenameOrigin) await exec(sql);
  // The leaf's keys into its tree as they are, before the change: a revert puts them back so.
  const leafKeys = origin.partitionOf ? declaredInTree(intoParent, origin) : [];
  const of = (kind: DependentDef['kind']): DependentDef[] => defs.filter((d) => d.kind === kind);

  const table = qualified(origin.schema, origin.name);
  // A tree's relations go through the migration schemas of theirs, as partitions do (shadow/tree.ts).
  const homes = input.tree ? partitionHomes(names.schema, { schema: origin.schema, partitions: input.tree }) : partitionHomes(names.schema, origin);

  for (const sql of dropTriggersSql(origin.schema, origin.name, names, origin.partitions)) await exec(sql);
  for (const t of input.tree ?? []) for (const sql of dropTriggersSql(t.schema, t.name, t.capture)) await exec(sql);
  const identityState = await releaseSequences(c, defs, input.newColumnName);
  const treeIdentityState: SequenceState[] = [];
  for (const [i, t] of treeOwn.entries()) treeIdentityState.push(await releaseSequences(c, t.defs, input.tree![i]!.newColumnName));

  // A leaf leaves its parent first (DETACH); the new table takes its place (ATTACH) once it has
  // its name and its foreign keys (shadow/leaf.ts). Foreign keys into the parent, other tables'
  // and the tree's own (a self-referencing tree), are off meanwhile: DETACH would read their
  // rows for ones referencing the leaf's (and fail on one); the tree's own, added back on the
  // tree after ATTACH, is cloned onto the new partition then.
  await dropForeignKeysIn(c, intoParent);
  const partitionBound = origin.partitionOf ? await detachLeaf(c, origin) : null;
  for (const sql of input.autovacuumBack) await exec(sql);
  // A kept old table's foreign keys (its partitions', a tree's relations'), read while their
  // names still mean the tables they reference: a revert adds them back so.
  const keptKeys = input.retainOld ? await keptForeignKeys(c, origin.oid, input.tree ?? []) : [];
  await exchangeTables(c, { userSchema: origin.schema, name: origin.name, names, homes, incomingOid: input.shadowOid, tree: input.tree });
  const oldTable = qualified(names.schema, origin.name);
  const inheritance = { table, oldTable, schema: names.schema, incomingOid: input.shadowOid, outgoingOid: origin.oid };
  // An inheritance child: the new table takes the real parents, the old one the stand-ins (shadow/inherit.ts).
  await swapParents(c, inheritance);
  // A parent copied alone: its NOT VALID checks go on the new table before its children move to it (shadow/parent.ts),
  // so that their copies merge into them and stay inherited (INHERIT), as offline; added after,
  // they would meet copies NO INHERIT of the old table made the children's own.
  const beforeChildren = (con: DeferredConstraint): boolean => !input.tree && origin.hasInheritanceChildren && con.type === 'c' && !con.partition;
  // A tree's NOT VALID checks (the parent's, the descendants' own: shadow/build.ts lists them
  // deepest first), before the descendants take their parents outside the tree: one of those
  // merges into a descendant's own of its name, which ADD CONSTRAINT on it would refuse after.
  const beforeParents = (con: DeferredConstraint): boolean => input.tree !== undefined && con.type === 'c';
  // A partition's own constraint goes on the partition of its name, a tree's descendant's on the descendant.
  const on = (con: DeferredConstraint): SqlText => (con.partition ? homes.live({ schema: con.partitionSchema, name: con.partition }) : table);
  if (input.tree) {
    for (const con of input.constraints.filter(beforeParents)) await addDeferred(c, on(con), con, false);
    await exchangeTreeParents(c, input.tree, { outgoing: origin.oid, incoming: input.shadowOid, homes, schema: names.schema });
  } else {
    for (const con of input.constraints.filter(beforeChildren)) await addDeferred(c, table, con, false);
    await swapChildren(c, inheritance, input.parentDrops);
  }
  // A kept old table must not hold its parents: their deletes would check it (and fail or
  // cascade into it). Its foreign keys go, its partitions' own and a tree's relations' too (each
  // named as a partition is); the definitions are the revert's to restore.
  for (const fk of keptKeys) await exec(`ALTER TABLE ${fk.partition !== undefined ? homes.inMigration({ schema: fk.partitionSchema, name: fk.partition }) : oldTable} DROP CONSTRAINT ${ident(fk.name)}`);
  const oldForeignKeys: OldForeignKey[] = keptKeys;

  await claimSequences(c, defs, identityState, { table, newColumnName: input.newColumnName });
  for (const [i, t] of (input.tree ?? []).entries()) {
    await claimSequences(c, treeOwn[i]!.defs, treeIdentityState[i]!, { table: qualified(t.schema, t.name), newColumnName: t.newColumnName });
  }

  const validate = await repointForeignKeysIn(c, [...of('fk-in'), ...treeOwn.flatMap((t) => t.defs.filter((d) => d.kind === 'fk-in'))]);
  const checkedNow = await foreignKeysCheckedInLock(c, table);
  for (const con of input.constraints.filter((k) => !beforeChildren(k) && !beforeParents(k))) {
    // A partition's own goes on the partition of its name (a leaf: NOT VALID on every version);
    // a leaf's foreign key cloned from its parent's valid: ATTACH attaches it only so (shadow/leaf.ts).
    const now = con.type === 'f' && con.validate && (con.inherited === true || (con.partition ? await foreignKeysCheckedInLock(c, on(con)) : checkedNow));
    await addDeferred(c, on(con), con, now);
    if (con.validate && !now) validate.push([on(con), con.name]);
  }
  if (partitionBound !== null) await attachLeaf(c, origin, names, partitionBound);
  validate.push(...(await applyLeafKeyChanges(c, await addForeignKeysIn(c, intoParent), input.leafKeyChanges)));
  // Views, materialized views and routines bound to the table, before its triggers and policies
  // are created again (their text may call a routine created anew).
  await carryBound(c, bound, names.schema);
  await createTriggers(c, table, of('trigger'));
  for (const t of treeOwn) {
    const on = qualified(t.schema, t.name);
    await createTriggers(c, on, t.defs.filter((d) => d.kind === 'trigger'));
    await createPolicies(c, on, t.defs.filter((d) => d.kind === 'policy'), t);
    await carryExtras(c, t.defs, { table: on, oldTable: homes.inMigration(t), replicaIdentity: t.replicaIdentity, migrationSchema: homes.side(t.schema) });
  }
  await createPartitionTriggers(c, partitionTriggers);
  await createPolicies(c, table, of('policy'), { security: origin.rowSecurity, force: origin.forceRowSecurity });
  await carryExtras(c, defs, { table, oldTable, replicaIdentity: origin.replicaIdentity, migrationSchema: names.schema });
  for (const p of partitionExtras) {
    await carryExtras(c, p.defs, { table: homes.live(p), oldTable: homes.inMigration(p), replicaIdentity: p.replicaIdentity, migrationSchema: homes.side(p.schema) });
  }
  for (const sql of input.swapStatements) await exec(sql);
  return { validate, oldForeignKeys, leafKeys };
}

/**
 * A change that names the leaf's own key into its tree (plan/leaf-key-changes.ts), run on the new
 * leaf right after the key is added back there as it was: PostgreSQL applies it to the same key
 * as offline (a renamed key keeps the names of the constraints PostgreSQL keeps under it, as
 * offline's does), in the swap's transaction. The keys to validate after the commit are followed
 * by OID through it: renamed, or gone.
 */
async function applyLeafKeyChanges(c: Client, added: [string, string][], statements: string[]): Promise<[string, string][]> {
  if (statements.length === 0) return added;
  const oids: (string | undefined)[] = [];
  for (const [t, name] of added) {
    oids.push((await c.query<{ oid: string }>(`SELECT oid::int8::text AS oid FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2 AND conparentid = 0`, [t, name])).rows[0]?.oid);
  }
  for (const sql of statements) await c.query(sql);
  const out: [string, string][] = [];
  for (const [i, [t]] of added.entries()) {
    const now = oids[i] === undefined ? undefined : (await c.query<{ name: string }>(`SELECT conname AS name FROM pg_constraint WHERE oid = $1::oid`, [oids[i]])).rows[0]?.name;
    if (now !== undefined) out.push([t, now]);
  }
  return out;
}

/**
 * Legacy inheritance in a swap (and a swap back), once the tables changed places (`table` is the
 * user's name, now the incoming table's; `oldTable` the outgoing one's in the migration's
 * schema, `schema`): an inheritance child's parents are exchanged, the new table taking the real
 * ones and the old one the stand-ins (swapParents, shadow/inherit.ts); a parent's children move
 * to the new table (swapChildren, shadow/parent.ts). Who has which parents and children is read
 * by OID, the statements name the tables: a runbook records its swap and its swap back before
 * either has happened, the same call (runbook/copy.ts).
 */
export interface InheritanceSwap {
  table: SqlText;
  oldTable: SqlText;
  schema: string;
  incomingOid: string;
  outgoingOid: string;
}

export async function swapInheritance(c: Client, x: InheritanceSwap): Promise<void> {
  await swapParents(c, x);
  await swapChildren(c, x);
}

export async function swapParents(c: Client, x: InheritanceSwap): Promise<void> {
  await exchangeParents(c, { name: x.table, parents: await parentsOf(c, x.incomingOid) }, { name: x.oldTable, parents: await parentsOf(c, x.outgoingOid) });
}

/** `drops`: a parent's ONLY drops, run as its children move (shadow/parent.ts moveChildren). */
export async function swapChildren(c: Client, x: InheritanceSwap, drops: string[] = []): Promise<void> {
  await moveChildren(c, await childrenOf(c, x.outgoingOid), { from: x.oldTable, to: x.table, schema: x.schema, drops });
}

/**
 * A tree's relations once they changed places (a swap, and a swap back: `shadowOid` the incoming
 * relation, `oid` the outgoing one; `outgoing`/`incoming` the tree's parents): each incoming
 * relation takes its parents outside the tree from the outgoing one, which takes the stand-ins it
 * had; those inside are each tree's own, and the outgoing tree keeps its own (shadow/tree.ts).
 */
export async function exchangeTreeParents(
  c: Client,
  tree: readonly TreeExchange[],
  x: { outgoing: string; incoming: string; homes: PartitionHomes; schema: string },
): Promise<void> {
  const inTree = new Set([x.outgoing, x.incoming, ...tree.flatMap((t) => [t.oid, t.shadowOid])]);
  for (const t of tree) {
    await exchangeParents(
      c,
      { name: qualified(t.schema, t.name), parents: await parentsOf(c, t.shadowOid, inTree) },
      { name: qualified(x.homes.side(t.schema), t.name), parents: await parentsOf(c, t.oid, inTree) },
    );
    // A parent outside the tree before one in it: appended after by INHERIT, put back in order.
    await orderParents(c, qualified(t.schema, t.name), t.parents, x.schema);
  }
}

/** A tree's relation as a swap and a swap back exchange it: `oid` outgoing, `shadowOid` incoming (the kept old relation at a swap back). */
export type TreeExchange = Pick<TreeSwap, 'oid' | 'schema' | 'name' | 'shadowOid' | 'parents'>;

/**
 * The table in the migration's schema (incoming) and the one in the user's schema, both named
 * `name`, change places. The incoming table's relations (itself, its indexes, its owned
 * sequences) step aside under temporary names so the outgoing ones can move in beside them,
 * then take their own names back in the user's schema. A partitioned table's partitions are
 * relations of their own (SET SCHEMA moves the root alone): each changes places with the
 * outgoing partition of its name and user schema the same way, through the migration schema of
 * that user schema (plan/partition-homes.ts), all in the caller's transaction, so the whole tree
 * swaps at once; so do a legacy inheritance tree's relations (`tree`, shadow/tree.ts). Used by the
 * swap and by the revert.
 */
export async function exchangeTables(
  c: Client,
  x: { userSchema: string; name: string; names: ArtifactNames; homes: PartitionHomes; incomingOid: string; tree?: readonly TreeExchange[] | undefined },
): Promise<void> {
  // Read before anything moves: afterwards the names mean other relations.
  const partitions = (await c.query<{ oid: string; name: string; schema: string }>(
    `SELECT c.oid::int8::text AS oid, c.relname AS name, n.nspname AS schema
       FROM pg_partition_tree($1::oid::regclass) t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.level > 0 ORDER BY t.level, n.nspname, c.relname`,
    [x.incomingOid],
  )).rows;
  await exchangeRelation(c, { ...x, sideSchema: x.names.schema });
  for (const p of partitions) {
    const userSchema = x.homes.user(p.schema);
    await exchangeRelation(c, { names: x.names, userSchema, sideSchema: x.homes.side(userSchema), name: p.name, incomingOid: p.oid });
  }
  // A tree's relations (shadow/tree.ts) the same way: relations of their own, each under its name.
  for (const t of x.tree ?? []) {
    await exchangeRelation(c, { names: x.names, userSchema: t.schema, sideSchema: x.homes.side(t.schema), name: t.name, incomingOid: t.shadowOid });
  }
}

async function exchangeRelation(
  c: Client,
  x: { userSchema: string; sideSchema: string; name: string; names: ArtifactNames; incomingOid: string },
): Promise<void> {
  const { names, sideSchema } = x;
  const exec = async (sql: string): Promise<void> => {
    await c.query(sql);
  };
  const owned = (await c.query(sqlFile('owned-relations.sql'), [x.incomingOid])).rows as { name: string; kind: string }[];
  const kind = (r: { kind: string }): string => (r.kind === 'S' ? 'SEQUENCE' : 'INDEX');
  await exec(`ALTER TABLE ${qualified(sideSchema, x.name)} RENAME TO ${ident(names.swapTable)}`);
  for (const [i, r] of owned.entries()) await exec(`ALTER ${kind(r)} ${qualified(sideSchema, r.name)} RENAME TO ${ident(names.swapRelation(i))}`);
  await exec(`ALTER TABLE ${qualified(x.userSchema, x.name)} SET SCHEMA ${ident(sideSchema)}`);
  await exec(`ALTER TABLE ${qualified(sideSchema, names.swapTable)} SET SCHEMA ${ident(x.userSchema)}`);
  await exec(`ALTER TABLE ${qualified(x.userSchema, names.swapTable)} RENAME TO ${ident(x.name)}`);
  for (const [i, r] of owned.entries()) await exec(`ALTER ${kind(r)} ${qualified(x.userSchema, names.swapRelation(i))} RENAME TO ${ident(r.name)}`);
}

/**
 * The foreign keys a kept old table has of its own, its partitions' (cloned ones come and go with
 * their parent's) and a tree's relations' (`tree`, each named as a partition is), before the swap moves them.
 */
async function keptForeignKeys(c: Client, oid: string, tree: TreeSwap[]): Promise<OldForeignKey[]> {
  const out: OldForeignKey[] = [];
  for (const t of [null, ...tree]) {
    for (const fk of await ownForeignKeys(c, t?.oid ?? oid)) {
      const partition = t !== null ? { partition: t.name, partitionSchema: t.schema } : fk.partition !== null ? { partition: fk.partition, partitionSchema: fk.schema } : {};
      out.push({ name: fk.conname, def: fk.def, ...partition });
    }
  }
  return out;
}

/** Not a foreign key into the table from one of `tree`'s relations (by name): those are the relations' own. */
export function notWithinTree(tree: { schema: string; name: string }[]): (d: DependentDef) => boolean {
  return (d) => d.kind !== 'fk-in' || !tree.some((t) => t.schema === d.schema && t.name === d.target);
}

/** An identity sequence's state by its column. */
export type SequenceState = Map<string, { last_value: string; is_called: boolean }>;

/**
 * Sequences a relation owns stay with the relation that keeps using them (SET SCHEMA would move
 * them with it): a serial's detached before the move, unless the change drops its column (it
 * then steps aside with the old relation, and goes with it, as offline drops it with the column);
 * an identity's state read, for the new relation's own sequence. Returns that state by column.
 */
export async function releaseSequences(c: Client, defs: DependentDef[], newColumnName: (origin: string) => string | undefined): Promise<SequenceState> {
  for (const s of defs.filter((d) => d.kind === 'serial' && newColumnName(d.target!) !== undefined)) await c.query(`ALTER SEQUENCE ${qualified(s.schema!, s.name)} OWNED BY NONE`);
  const state: SequenceState = new Map();
  for (const s of defs.filter((d) => d.kind === 'identity')) {
    state.set(s.target!, (await c.query(`SELECT last_value::text, is_called FROM ${qualified(s.schema!, s.name)}`)).rows[0]);
  }
  return state;
}

/**
 * Once the relations changed places: a serial sequence released by releaseSequences owned by the
 * new relation's column, an identity's state on the new column's sequence.
 */
export async function claimSequences(
  c: Client,
  defs: DependentDef[],
  identityState: SequenceState,
  x: { table: SqlText; newColumnName: (origin: string) => string | undefined },
): Promise<void> {
  for (const s of defs.filter((d) => d.kind === 'serial')) {
    const col = x.newColumnName(s.target!);
    if (col) await c.query(`ALTER SEQUENCE ${qualified(s.schema!, s.name)} OWNED BY ${x.table}.${ident(col)}`);
  }
  for (const [originCol, state] of identityState) {
    const col = x.newColumnName(originCol);
    if (col) await c.query(`SELECT setval(pg_get_serial_sequence($1, $2), $3::bigint, $4)`, [x.table, col, state.last_value, state.is_called]);
  }
}

/** A constraint the shadow was built without, on `on` (valid already when `now`), with its comment. */
async function addDeferred(c: Client, on: string, con: DeferredConstraint, now: boolean): Promise<void> {
  await c.query(`ALTER TABLE ${on} ADD CONSTRAINT ${ident(con.name)} ${now ? con.def.replace(/ NOT VALID$/, '') : con.def}`);
  if (con.comment !== null) await c.query(`COMMENT ON CONSTRAINT ${ident(con.name)} ON ${on} IS ${literal(con.comment)}`);
}

/**
 * PostgreSQL before 18 refuses a NOT VALID foreign key on a partitioned table: there a foreign
 * key the swap adds is added valid, and PostgreSQL's check of it scans the table inside the
 * cutover (bounded by its deadline like every step there). Elsewhere: NOT VALID, VALIDATE after.
 */
export async function foreignKeysCheckedInLock(c: Client, table: string): Promise<boolean> {
  const r = await c.query<{ now: boolean }>(
    `SELECT relkind = 'p' AND current_setting('server_version_num')::int < 180000 AS now FROM pg_class WHERE oid = $1::regclass`,
    [table],
  );
  return r.rows[0]?.now ?? false;
}

/**
 * The table's rules, read from the outgoing table, created on the incoming one (now of the
 * table's name: the text names it so) with their firing state and comment, and dropped from the
 * outgoing one. Not on the shadow while it is filled: a rule would rewrite the copy's and the
 * replay's writes. Not left on a kept table: a revert window's reverse replay writes into it, and
 * a rule would rewrite those writes (the swap back moves them back the same way).
 */
export async function moveRules(c: Client, rules: DependentDef[], x: { to: string; from: string }): Promise<void> {
  for (const r of rules) {
    await c.query(r.def!);
    const state = enabledStateSql('RULE', x.to, r.name, r.flag);
    if (state) await c.query(state);
    if (r.comment !== null) await c.query(`COMMENT ON RULE ${ident(r.name)} ON ${x.to} IS ${literal(r.comment)}`);
    await c.query(`DROP RULE ${ident(r.name)} ON ${x.from}`);
  }
}

/** A table's policies (read from the outgoing one), on the incoming one, with their comments, and its row security flags. */
async function createPolicies(c: Client, table: SqlText, policies: DependentDef[], rls: { security: boolean; force: boolean }): Promise<void> {
  for (const p of policies) {
    await c.query(`CREATE POLICY ${ident(p.name)} ON ${table} ${p.def}`);
    if (p.comment !== null) await c.query(`COMMENT ON POLICY ${ident(p.name)} ON ${table} IS ${literal(p.comment)}`);
  }
  if (rls.security) await c.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
  if (rls.force) await c.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
}

/** A table's triggers (read from the outgoing one: the text names the table), again on the incoming one of its name, with their state and comment. */
async function createTriggers(c: Client, table: SqlText, triggers: DependentDef[]): Promise<void> {
  for (const t of triggers) {
    await c.query(t.def!);
    const state = enabledStateSql('TRIGGER', table, t.name, t.flag);
    if (state) await c.query(state);
    if (t.comment !== null) await c.query(`COMMENT ON TRIGGER ${ident(t.name)} ON ${table} IS ${literal(t.comment)}`);
  }
}

/** A partition's own triggers, again on the partition of its name now in the user's schema. */
export async function createPartitionTriggers(c: Client, triggers: PartitionTrigger[]): Promise<void> {
  for (const t of triggers) {
    const on = qualified(t.schema, t.partition);
    await c.query(t.def);
    const state = enabledStateSql('TRIGGER', on, t.name, t.enabled);
    if (state) await c.query(state);
    if (t.comment !== null) await c.query(`COMMENT ON TRIGGER ${ident(t.name)} ON ${on} IS ${literal(t.comment)}`);
  }
}

/**
 * Foreign keys of other tables, read while they pointed at the table now moved away: dropped and
 * added again by the same definition, whose table name now means the other table; NOT VALID
 * inside the lock, returned to be validated after it.
 */
export async function repointForeignKeysIn(c: Client, fks: DependentDef[]): Promise<[string, string][]> {
  await dropForeignKeysIn(c, fks);
  return addForeignKeysIn(c, fks);
}

export async function dropForeignKeysIn(c: Client, fks: DependentDef[]): Promise<void> {
  for (const fk of fks) await c.query(`ALTER TABLE ${qualified(fk.schema!, fk.target!)} DROP CONSTRAINT ${ident(fk.name)}`);
}

/** Foreign keys of other tables dropped by dropForeignKeysIn, added again (the second half of repointForeignKeysIn). */
export async function addForeignKeysIn(c: Client, fks: DependentDef[]): Promise<[string, string][]> {
  const validate: [string, string][] = [];
  for (const fk of fks) {
    const child = qualified(fk.schema!, fk.target!);
    const valid = fk.flag === 'true';
    const later = valid && !(await foreignKeysCheckedInLock(c, child));
    await c.query(`ALTER TABLE ${child} ADD CONSTRAINT ${ident(fk.name)} ${fk.def}${later ? ' NOT VALID' : ''}`);
    if (fk.comment !== null) await c.query(`COMMENT ON CONSTRAINT ${ident(fk.name)} ON ${child} IS ${literal(fk.comment)}`);
    if (later) validate.push([child, fk.name]);
  }
  return validate;
}
