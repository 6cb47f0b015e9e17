import type { Client } from '../db/session.js';
import { sqlFile } from '../db/sql-files.js';
import { RuntimeError } from '../errors.js';

/** One partition of a partitioned table (at any level), as the shadow tree must repeat it. */
export interface Partition {
  oid: string;
  schema: string;
  name: string;
  /** the name of its direct parent (the root's own name for the first level), and its schema */
  parent: string;
  parentSchema: string;
  level: number;
  /** FOR VALUES ... or DEFAULT */
  bound: string;
  /** the key of a partition that is itself partitioned (RANGE (at)), else null */
  partitionKey: string | null;
  persistence: string;
  tablespace: string | null;
  reloptions: string[] | null;
  toastReloptions: string[] | null;
  owner: string;
  comment: string | null;
  isLeaf: boolean;
  /** 'r' (a table), 'p' (partitioned itself) or 'f' (a foreign table: refused) */
  relkind: string;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  /** policies of its own (a partition has no other: they are not inherited) */
  hasPolicies: boolean;
  /** relreplident: 'd' default, 'f' full, 'n' nothing, 'i' an index */
  replicaIdentity: string;
}

/**
 * A partition changed alone (DESIGN: "a leaf, as a plain table"): where it hangs, and what the
 * cutover's DETACH and ATTACH PARTITION meet there.
 */
export interface LeafPartition {
  parentOid: string;
  parentSchema: string;
  parentName: string;
  /** FOR VALUES ... or DEFAULT */
  bound: string;
  /** the parent's default partition (when it is not this one): ATTACH would read it under the lock */
  defaultPartition: { oid: string; schema: string; name: string; estimatedRows: number } | null;
  /**
   * Foreign keys declared below the leaf (a sub-partitioned level's partitions) referencing its
   * partitioned table or an ancestor, as "name on table" (null when none): carried around DETACH
   * and ATTACH as the leaf's own are.
   */
  keysBelow: string | null;
  /** the leaf's own foreign keys referencing its partitioned table (or an ancestor), by name */
  ownKeysIntoTree: string[];
  /**
   * Before PostgreSQL 18: the tree's own foreign keys declared on a partitioned table of it that
   * reference the leaf's partitioned table (a self-referencing tree), as "name on table" (null
   * when none or on 18): PostgreSQL puts one back only valid, checking every row of the tree.
   */
  treeKeysCheckedInLock: string | null;
  /** foreign keys into the partitioned table or an ancestor, other tables' and the tree's own (those below the leaf too), as "name on table" */
  foreignKeysIn: string[];
}

/**
 * The partition's parent, bound and neighbours, or null for a table that is not a partition.
 * Expressions name their objects fully when read under search_path = pg_catalog.
 */
export async function readLeafPartition(c: Client, oid: string): Promise<LeafPartition | null> {
  const r = (await c.query(sqlFile('partition-leaf.sql'), [oid])).rows[0];
  if (!r) return null;
  return {
    parentOid: r.parent_oid,
    parentSchema: r.parent_schema,
    parentName: r.parent_name,
    bound: r.bound,
    defaultPartition: r.default_oid ? { oid: r.default_oid, schema: r.default_schema, name: r.default_name, estimatedRows: Number(r.default_rows) } : null,
    keysBelow: r.keys_below,
    treeKeysCheckedInLock: r.tree_keys_checked_in_lock,
    ownKeysIntoTree: r.own_keys_into_tree ?? [],
    foreignKeysIn: r.foreign_keys_in,
  };
}

/** The partitioned table's own key (pg_get_partkeydef), or null for a table that is not partitioned. */
export async function readPartitionKey(c: Client, oid: string): Promise<string | null> {
  const r = await c.query<{ k: string | null }>(`SELECT CASE WHEN relkind = 'p' THEN pg_get_partkeydef(oid) END AS k FROM pg_class WHERE oid = $1::oid`, [oid]);
  return r.rows[0]?.k ?? null;
}

/** Every partition under the table, parents before their partitions (empty when it has none). */
export async function readPartitions(c: Client, oid: string): Promise<Partition[]> {
  const r = await c.query(sqlFile('partition-tree.sql'), [oid]);
  return r.rows.map((p) => ({
    oid: p.oid,
    schema: p.schema,
    name: p.name,
    parent: p.parent,
    parentSchema: p.parent_schema,
    level: p.level,
    bound: p.bound,
    partitionKey: p.partition_key,
    persistence: p.persistence,
    tablespace: p.tablespace,
    reloptions: p.reloptions,
    toastReloptions: p.toast_reloptions,
    owner: p.owner,
    comment: p.comment,
    isLeaf: p.is_leaf,
    relkind: p.relkind,
    rowSecurity: p.row_security,
    forceRowSecurity: p.force_row_security,
    hasPolicies: p.has_policies,
    replicaIdentity: p.replica_identity,
  }));
}

/**
 * `what` changed on the table since the capture began (catalog/table.ts changedSince): a
 * partition attached, detached or renamed leaves the shadow tree stale, so the run stops before
 * any swap. Checked before the validation (whose comparison would otherwise only report
 * differences) and again under the cutover's locks, where ATTACH and DETACH cannot run.
 */
export function stopIfPartitionsChanged(what: string | null): void {
  if (what?.split(', ').includes('partitions')) {
    throw new RuntimeError(`partitions of the table, or the table as a partition, were attached, detached or renamed during the migration (its ${what} changed); the shadow no longer matches where it would go and nothing was swapped`);
  }
}
