import type { Client, Pool } from '../db/session.js';
import { partitionHomes } from '../plan/partition-homes.js';
import { withClient } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import type { RetryPolicy } from '../db/retry.js';
import { dropArtifacts, migrationNames } from './artifacts.js';
import { createChangelog, installTriggers, nthCapture, reverseCapture } from '../capture/install.js';
import type { TableInfo } from '../catalog/table.js';
import { treeHomes } from '../shadow/tree.js';
import type { TreeRelation } from './tree-relations.js';
import type { Tables } from '../copy/sql.js';
import type { Run } from './run.js';
import type { KeptTrigger, OldForeignKey } from '../cutover/swap.js';
import type { DependentDef } from '../cutover/dependents.js';

/**
 * Opens the revert window inside the cutover transaction, right after the swap: the new table
 * gets pgshift_ reverse-capture triggers (keys only, like the forward ones; a truncate trigger
 * on each partition too) feeding a reverse changelog, and everything on the kept old table that would fire on the revert's writes (its
 * user triggers, its partitions' own too; its foreign keys were already taken off) is disabled,
 * its states recorded. A tree copied with its parent (shadow/tree.ts): each relation of the new
 * tree gets a reverse capture of its own (a row trigger on a parent does not fire for its
 * children's rows), and each kept old relation's own triggers are disabled as a partition's.
 */
export async function openRevertWindow(
  c: Client,
  run: Run,
  tables: Tables,
  swapped: { oldForeignKeys: OldForeignKey[]; leafKeys: DependentDef[] },
  tree: readonly TreeRelation[] = [],
): Promise<void> {
  const { plan, names, id } = run;
  const origin = plan.origin;
  const newTable = {
    schema: origin.schema,
    name: origin.name,
    key: newKey(tables, origin),
    // the new tree's partitions have the origin's names: each gets its reverse truncate trigger
    // (a partition can be truncated alone, and a statement trigger on the root does not see it)
    partitions: origin.partitions,
  };
  const capture = reverseCapture(names);
  await createChangelog(c, newTable, capture, id);
  await installTriggers(c, newTable, capture, id);
  // The n-th relation of the new tree (its name is the old one's): reverse_changelog_<n>, as its forward capture's.
  for (const [i, r] of tree.entries()) {
    const relation = { schema: r.table.schema, name: r.table.name, key: newKey(r.tables, r.table) };
    await createChangelog(c, relation, nthCapture(capture, i + 1), id);
    await installTriggers(c, relation, nthCapture(capture, i + 1), id);
  }
  const old = qualified(names.schema, origin.name);
  const homes = tree.length ? treeHomes(names.schema, origin, plan.tree) : partitionHomes(names.schema, origin);
  // DISABLE TRIGGER USER on a partitioned table reaches the clones of its triggers on the
  // partitions, not the triggers a partition has of its own: those are disabled one by one; so
  // are a kept old tree's relations' (legacy inheritance has no clones).
  const triggers = (await c.query<{ name: string; enabled: string; partition: string | null; schema: string }>(
    `SELECT t.tgname AS name, t.tgenabled::text AS enabled, CASE WHEN p.level > 0 THEN r.relname END AS partition, n.nspname AS schema
       FROM (SELECT $1::regclass::oid AS relid, 0 AS level UNION ALL SELECT relid, level FROM pg_partition_tree($1::regclass) WHERE level > 0
             UNION ALL SELECT o::regclass::oid, 1 FROM unnest($2::text[]) o) p
       JOIN pg_class r ON r.oid = p.relid JOIN pg_namespace n ON n.oid = r.relnamespace JOIN pg_trigger t ON t.tgrelid = r.oid
      WHERE NOT t.tgisinternal AND (p.level = 0 OR t.tgparentid = 0) ORDER BY p.level, n.nspname, r.relname, t.tgname`,
    [old, tree.map((r) => homes.inMigration(r.table))],
  )).rows.map((t): KeptTrigger => (t.partition === null ? { name: t.name, enabled: t.enabled } : { name: t.name, enabled: t.enabled, partition: t.partition, partitionSchema: homes.user(t.schema) }));
  if (triggers.some((t) => !t.partition)) await c.query(`ALTER TABLE ${old} DISABLE TRIGGER USER`);
  for (const t of triggers) if (t.partition) await c.query(`ALTER TABLE ${homes.inMigration({ schema: t.partitionSchema, name: t.partition })} DISABLE TRIGGER ${ident(t.name)}`);
  // A tree's relations in the order of their captures, with their parents as they had them (the swap back puts that order back).
  const treeState: RevertTreeRelation[] = tree.map((r) => ({ schema: r.table.schema, name: r.table.name, parents: r.table.inheritsFrom.map((p) => ({ schema: p.schema, name: p.name })) }));
  await c.query(
    `UPDATE pgshift.migrations SET revert_state = $2, revert_until = now() + make_interval(secs => $3 / 1000.0) WHERE id = $1`,
    [id, JSON.stringify({ oldForeignKeys: swapped.oldForeignKeys, leafKeys: swapped.leafKeys, triggers, ...(tree.length ? { tree: treeState } : {}) }), run.opts.revertWindowMs],
  );
}

/** A relation of a tree in a revert window (revert_state.tree), in the order of its reverse capture (nthCapture). */
export interface RevertTreeRelation {
  schema: string;
  name: string;
  /** its parents in their order, as it had them before the change */
  parents: { schema: string; name: string }[];
}

/** The new table's key as the reverse capture logs it: the shadow's key columns (a rename followed) in the origin's collations. */
function newKey(tables: Tables, table: TableInfo): TableInfo['key'] {
  return tables.mapping.shadowKey.map((name, i) => ({ name, type: tables.shadowKeyTypes[i]!, collation: table.key[i]!.collation }));
}

/**
 * Closes a revert window before its time (`migrate up` once a copy's file is done, or after the
 * copy was reverted): the reverse triggers, changelog and functions go, and the kept table too
 * unless `keepOld`. Idempotent.
 */
export async function closeRevertWindow(pool: Pool, id: number, retry: RetryPolicy, keepOld: boolean): Promise<string[]> {
  const table = (await withClient(pool, (c) => c.query(`SELECT table_name FROM pgshift.migrations WHERE id = $1`, [id]))).rows[0]?.table_name as string | undefined;
  const dropped = await dropArtifacts(pool, await migrationNames(pool, id), retry, { triggers: true, keepOld: keepOld ? table : undefined });
  await withClient(pool, (c) => c.query(`UPDATE pgshift.migrations SET revert_until = NULL WHERE id = $1`, [id]));
  return dropped;
}
