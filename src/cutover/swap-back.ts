import type { Client } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import type { ArtifactNames } from '../plan/names.js';
import { dropTriggersSql, nthCapture, reverseCapture } from '../capture/install.js';
import { addToPublicationSql, declaredInTree, dropFromPublicationSql, foreignKeysIntoParent, readDependentDefs, type DependentDef } from './dependents.js';
import { addForeignKeysIn, claimSequences, dropForeignKeysIn, exchangeTables, exchangeTreeParents, notWithinTree, releaseSequences, type SequenceState, foreignKeysCheckedInLock, moveRules, ownForeignKeys, repointForeignKeysIn, swapInheritance, swapParents, type KeptTrigger, type OldForeignKey, type TreeExchange } from './swap.js';
import { carryBound, readBoundDefs } from './bound-swap.js';
import { attachLeaf, detachLeaf } from '../shadow/leaf.js';
import type { TableInfo } from '../catalog/table.js';
import type { PartitionHomes } from '../plan/partition-homes.js';

export interface SwapBackInput {
  names: ArtifactNames;
  userSchema: string;
  name: string;
  /** the new table (in the user's schema) and the kept old one (in the migration's) */
  newOid: string;
  oldOid: string;
  /** RENAME COLUMN statements that give the new table the old names, and their inverses */
  renameNew: string[];
  unrenameNew: string[];
  /** new column name -> old column name (absent for columns the ALTER added) */
  oldColumnName: (newName: string) => string | undefined;
  oldForeignKeys: OldForeignKey[];
  /** the new table's partitions, in the order of TableInfo.partitions (their reverse truncate triggers) */
  partitions: { schema: string; name: string }[];
  /** the migration schemas the partitions went through (plan/partition-homes.ts) */
  homes: PartitionHomes;
  oldTriggers: KeptTrigger[];
  /** the new table as described when it is a partition (a leaf changed alone), else null */
  leaf: TableInfo | null;
  /**
   * A leaf's foreign keys into its tree (its own and its partitions') as the old leaf had them
   * before the change (cutover/swap.ts); absent for a swap made before they were kept: then the new
   * leaf's go back as they are (no change could name them then).
   */
  leafKeys?: DependentDef[];
  /**
   * A tree copied with its parent (shadow/tree.ts): its relations in the order of their reverse
   * captures, each the new one (`oid`, in the user's schema) and its kept old one (`shadowOid`),
   * exchanged back with the parent; `homes` then the tree's (shadow/tree.ts treeHomes).
   */
  tree?: (TreeExchange & { oldColumnName: (newName: string) => string | undefined })[];
}

/**
 * The revert's swap, inside its transaction with every lock held and the reverse changelog
 * replayed: the kept old table takes its place and name back, and everything the forward swap
 * re-pointed at the new table is re-pointed at it (materialized views rebuilt on it beforehand). What the old table kept of its own (indexes,
 * grants, policies, comments, triggers, options) is simply there again. Returns the constraints
 * to VALIDATE after commit.
 */
export async function swapBack(c: Client, x: SwapBackInput): Promise<[string, string][]> {
  const exec = async (sql: string): Promise<void> => {
    await c.query(sql);
  };
  const table = qualified(x.userSchema, x.name);
  await exec('SET LOCAL search_path = pg_catalog');
  for (const sql of x.renameNew) await exec(sql);
  const rc = reverseCapture(x.names);
  // A tree's foreign keys among its relations went with their relations (oldForeignKeys), not as others' into them.
  const notTree = notWithinTree([{ schema: x.userSchema, name: x.name }, ...(x.tree ?? [])]);
  const defs = (await readDependentDefs(c, x.newOid, [rc.captureTrigger, rc.truncateTrigger])).filter(notTree);
  // A tree's relations' owned sequences and other tables' foreign keys into them, back as the table's.
  const treeDefs: DependentDef[][] = [];
  for (const t of x.tree ?? []) treeDefs.push((await readDependentDefs(c, t.oid, [])).filter((d) => notTree(d) && (d.kind === 'fk-in' || d.kind === 'serial' || d.kind === 'identity')));
  // A tree's: what is bound to its relations too, carried back once after every relation is exchanged (as the swap carried it).
  const bound = await readBoundDefs(c, x.newOid, (x.tree ?? []).map((t) => t.oid));
  // A partition's own statistics objects, publication membership and rules go back the same way
  // (its replica identity and clustered mark never left the old partition).
  // The old partition of a new one: of its name, in the migration schema of its schema.
  const parts = (await c.query<{ name: string; schema: string; new_oid: string; old_oid: string | null }>(
    `SELECT n.relname AS name, nn.nspname AS schema, n.oid::int8::text AS new_oid,
            (SELECT o.oid::int8::text FROM pg_partition_tree($2::oid::regclass) ot JOIN pg_class o ON o.oid = ot.relid JOIN pg_namespace os ON os.oid = o.relnamespace
              WHERE ot.level > 0 AND o.relname = n.relname AND os.nspname = (SELECT m.s FROM unnest($3::text[], $4::text[]) m(s, u) WHERE m.u = nn.nspname)) AS old_oid
       FROM pg_partition_tree($1::oid::regclass) t JOIN pg_class n ON n.oid = t.relid JOIN pg_namespace nn ON nn.oid = n.relnamespace
      WHERE t.level > 0 AND (EXISTS (SELECT FROM pg_statistic_ext s WHERE s.stxrelid = n.oid) OR EXISTS (SELECT FROM pg_publication_rel pr WHERE pr.prrelid = n.oid)
         OR EXISTS (SELECT FROM pg_rewrite rw WHERE rw.ev_class = n.oid))`,
    [x.newOid, x.oldOid, x.homes.pairs.side, x.homes.pairs.user],
  )).rows;
  const partDefs: { schema: string; name: string; oldOid: string | null; defs: DependentDef[] }[] = [];
  const extras = async (oid: string): Promise<DependentDef[]> => (await readDependentDefs(c, oid, [])).filter((d) => d.kind === 'statistics' || d.kind === 'publication' || d.kind === 'rule');
  for (const p of parts) partDefs.push({ schema: p.schema, name: p.name, oldOid: p.old_oid, defs: await extras(p.new_oid) });
  // A tree's relations the same way (the rest of their own, triggers and policies, never left the old ones).
  for (const t of x.tree ?? []) partDefs.push({ schema: t.schema, name: t.name, oldOid: t.shadowOid, defs: await extras(t.oid) });
  const intoParent = x.leaf ? await foreignKeysIntoParent(c, x.newOid) : [];
  for (const sql of x.unrenameNew) await exec(sql);
  const of = (kind: DependentDef['kind']): DependentDef[] => defs.filter((d) => d.kind === kind);

  for (const sql of dropTriggersSql(x.userSchema, x.name, rc, x.partitions)) await exec(sql);
  for (const [i, t] of (x.tree ?? []).entries()) for (const sql of dropTriggersSql(t.schema, t.name, nthCapture(rc, i + 1))) await exec(sql);
  // A leaf: the new one leaves its parent as the old one did at the swap (cutover/swap.ts), before
  // its foreign keys are read, so that those cloned from the parent's are its own and go too.
  await dropForeignKeysIn(c, intoParent);
  const partitionBound = x.leaf ? await detachLeaf(c, x.leaf) : null;
  // The new table becomes the kept one: its foreign keys (its partitions' own too) must not hold the parents either.
  for (const fk of await ownForeignKeys(c, x.newOid)) {
    await exec(`ALTER TABLE ${fk.partition !== null ? qualified(fk.schema, fk.partition) : table} DROP CONSTRAINT ${ident(fk.conname)}`);
  }
  for (const t of x.tree ?? []) for (const fk of await ownForeignKeys(c, t.oid)) await exec(`ALTER TABLE ${qualified(t.schema, t.name)} DROP CONSTRAINT ${ident(fk.conname)}`);
  const identityState = await releaseSequences(c, defs, x.oldColumnName);
  const treeIdentityState: SequenceState[] = [];
  for (const [i, t] of (x.tree ?? []).entries()) treeIdentityState.push(await releaseSequences(c, treeDefs[i]!, t.oldColumnName));
  // The new table's statistics objects step aside under temporary names: the old one's, of the
  // same names, are in the migration's schema until they go home below.
  const newStats = [...of('statistics'), ...partDefs.flatMap((p) => p.defs.filter((d) => d.kind === 'statistics'))];
  for (const [i, st] of newStats.entries()) {
    await exec(`ALTER STATISTICS ${qualified(st.schema!, st.name)} RENAME TO ${ident(`pgshift_stmp_${i}`)}`);
    await exec(`ALTER STATISTICS ${qualified(st.schema!, `pgshift_stmp_${i}`)} SET SCHEMA ${ident(x.names.schema)}`);
  }

  await exchangeTables(c, { userSchema: x.userSchema, name: x.name, names: x.names, homes: x.homes, incomingOid: x.oldOid, tree: x.tree });
  const inheritance = { table, oldTable: qualified(x.names.schema, x.name), schema: x.names.schema, incomingOid: x.oldOid, outgoingOid: x.newOid };
  if (x.tree) {
    // The old tree is whole: its relations take back their parents outside it (and their order), the new tree keeps its own.
    await swapParents(c, inheritance);
    await exchangeTreeParents(c, x.tree, { outgoing: x.newOid, incoming: x.oldOid, homes: x.homes, schema: x.names.schema });
  } else {
    await swapInheritance(c, inheritance);
  }

  await claimSequences(c, defs, identityState, { table, newColumnName: x.oldColumnName });
  for (const [i, t] of (x.tree ?? []).entries()) await claimSequences(c, treeDefs[i]!, treeIdentityState[i]!, { table: qualified(t.schema, t.name), newColumnName: t.oldColumnName });
  const validate = await repointForeignKeysIn(c, [...of('fk-in'), ...treeDefs.flat().filter((d) => d.kind === 'fk-in')]);
  const checkedNow = await foreignKeysCheckedInLock(c, table);
  for (const fk of x.oldForeignKeys) {
    const on = fk.partition ? x.homes.live({ schema: fk.partitionSchema, name: fk.partition }) : table;
    // A leaf's go back valid: ATTACH attaches only a valid one (PostgreSQL's check reads the old
    // leaf under the lock, as the forward swap's does the new one).
    const later = !/ NOT VALID$/.test(fk.def) && !x.leaf && !(fk.partition ? await foreignKeysCheckedInLock(c, on) : checkedNow);
    await exec(`ALTER TABLE ${on} ADD CONSTRAINT ${ident(fk.name)} ${fk.def}${later ? ' NOT VALID' : ''}`);
    if (later) validate.push([on, fk.name]);
  }
  if (partitionBound !== null) await attachLeaf(c, x.leaf!, x.names, partitionBound);
  // The new leaf's own keys into the tree stay off it (it is the kept table now); the old leaf's, as they were, go back.
  const mine = x.leaf && x.leafKeys ? declaredInTree(intoParent, x.leaf) : [];
  validate.push(...(await addForeignKeysIn(c, [...intoParent.filter((fk) => !mine.includes(fk)), ...(x.leaf ? (x.leafKeys ?? []) : [])])));
  await carryBound(c, bound, x.names.schema);
  await moveRules(c, of('rule'), { to: table, from: qualified(x.names.schema, x.name) });
  for (const t of x.oldTriggers) {
    const mode = { O: 'ENABLE', D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' }[t.enabled] ?? 'ENABLE';
    await exec(`ALTER TABLE ${t.partition ? x.homes.live({ schema: t.partitionSchema, name: t.partition }) : table} ${mode} TRIGGER ${ident(t.name)}`);
  }
  for (const pub of of('publication')) {
    await exec(dropFromPublicationSql(pub, qualified(x.names.schema, x.name)));
    await exec(addToPublicationSql(pub, table));
  }
  await statisticsBackHome(c, x.oldOid, of('statistics'));
  for (const p of partDefs) {
    for (const pub of p.defs.filter((d) => d.kind === 'publication')) {
      await exec(dropFromPublicationSql(pub, x.homes.inMigration(p)));
      await exec(addToPublicationSql(pub, x.homes.live(p)));
    }
    if (p.oldOid !== null) await statisticsBackHome(c, p.oldOid, p.defs.filter((d) => d.kind === 'statistics'));
    await moveRules(c, p.defs.filter((d) => d.kind === 'rule'), { to: x.homes.live(p), from: x.homes.inMigration(p) });
  }
  for (const [i, st] of newStats.entries()) await exec(`ALTER STATISTICS ${qualified(x.names.schema, `pgshift_stmp_${i}`)} RENAME TO ${ident(st.name)}`);
  return validate;
}

/** The old relation's statistics objects, moved aside by the forward swap, back in the schema the new one's had. */
async function statisticsBackHome(c: Client, oldOid: string, newStats: DependentDef[]): Promise<void> {
  const oldStats = await c.query(
    `SELECT s.stxname AS name, n.nspname AS schema FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE s.stxrelid = $1::oid`,
    [oldOid],
  );
  for (const st of oldStats.rows) {
    const home = newStats.find((d) => d.name === st.name)?.schema;
    if (home && home !== st.schema) await c.query(`ALTER STATISTICS ${qualified(st.schema, st.name)} SET SCHEMA ${ident(home)}`);
  }
}
