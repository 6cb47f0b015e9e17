import type { Client } from '../db/session.js';
import { ident, literal, qualified, trusted, type SqlText } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import type { TableInfo } from '../catalog/table.js';
import { copyAclStatements } from './acl.js';
import { relOptionsList } from './reloptions.js';
import { partitionHomes, type PartitionHomes } from '../plan/partition-homes.js';

/**
 * The shadow of a partitioned table is a partition tree of its own, in the migration's schema
 * (a partition of another schema than the table's in a migration schema of its schema's,
 * plan/partition-homes.ts): every partition of the origin again, under its own name, with the same bound (and, for a
 * sub-partitioned one, the same key), persistence, options, tablespace, owner, grants and
 * comment. The parent's indexes, constraints and row triggers reach the partitions the way
 * PostgreSQL always gives them (cloned); what a partition has of its own comes after
 * (shadow/partition-own.ts). Runs inside the shadow's build transaction, after the shadow's root exists.
 */
export async function buildPartitions(c: Client, origin: TableInfo, schema: string): Promise<void> {
  // Other tables' foreign keys into a partition itself are re-pointed at the new partition of its
  // name by the cutover with those into the table (sql/dependents-defs.sql, 'fk-in'); a
  // partition's own into a sibling is one of its own (partition-own.ts), added at the swap, where
  // the sibling's name means the new one.
  const homes = partitionHomes(schema, origin);
  for (const s of homes.extra) await c.query(`CREATE SCHEMA ${ident(s)}`);
  for (const p of origin.partitions) {
    const table = homes.inMigration(p);
    await c.query(
      `CREATE ${p.persistence === 'u' ? 'UNLOGGED ' : ''}TABLE ${table} PARTITION OF ${homes.inMigration({ schema: p.parentSchema, name: p.parent })} ${trusted(p.bound)}` +
        (p.partitionKey ? ` PARTITION BY ${trusted(p.partitionKey)}` : '') +
        (p.tablespace ? ` TABLESPACE ${ident(p.tablespace)}` : ''),
    );
    const options = relOptionsList(p.reloptions).concat(relOptionsList(p.toastReloptions, 'toast'));
    if (options.length) await c.query(`ALTER TABLE ${table} SET (${options.join(', ')})`);
    await c.query(`ALTER TABLE ${table} OWNER TO ${ident(p.owner)}`);
    for (const stmt of await copyAclStatements(c, p.oid, table)) await c.query(stmt);
    if (p.comment !== null) await c.query(`COMMENT ON TABLE ${table} IS ${literal(p.comment)}`);
  }
}

/**
 * PostgreSQL names the index it creates on each partition for a partitioned index itself; the
 * shadow's partitions take the origin's names back (by partition and root index) once built.
 */
export async function restorePartitionIndexNames(c: Client, originOid: string, shadowOid: string, homes: PartitionHomes): Promise<void> {
  await renamePairs(c, (await c.query(sqlFile('partition-index-names.sql'), [originOid, shadowOid, homes.pairs.side, homes.pairs.user])).rows);
}

/**
 * The names of a partitioned index's indexes on the partitions: [partition, index name, the
 * schema of both]. (The schema is absent in what earlier versions stored: the index's own.)
 */
export type PartitionIndexName = [string, string, string?];

export async function partitionIndexNames(c: Client, index: SqlText): Promise<PartitionIndexName[]> {
  const r = await c.query<{ partition: string; name: string; schema: string }>(
    `SELECT pc.relname AS partition, ic.relname AS name, n.nspname AS schema FROM pg_partition_tree($1::regclass) t
       JOIN pg_class ic ON ic.oid = t.relid JOIN pg_namespace n ON n.oid = ic.relnamespace
       JOIN pg_index i ON i.indexrelid = t.relid JOIN pg_class pc ON pc.oid = i.indrelid
      WHERE t.level > 0 ORDER BY 3, 1`,
    [index],
  );
  return r.rows.map((row) => [row.partition, row.name, row.schema]);
}

/** A partition's index whose options or tablespace differ from its partitioned index's (`schema` absent in what earlier versions stored). */
export interface PartitionIndexStorage {
  index: string;
  schema?: string;
  options: string[] | null;
  tablespace: string | null;
}

/**
 * The indexes of a partitioned index's partitions that have options or a tablespace of their own
 * (an index a partition had of its own before it was attached, or one changed with ALTER INDEX):
 * a build of the partitioned index gives every partition its own options and tablespace.
 */
export async function partitionIndexStorage(c: Client, index: SqlText): Promise<PartitionIndexStorage[]> {
  const r = await c.query<PartitionIndexStorage>(
    `SELECT ic.relname AS index, n.nspname AS schema, ic.reloptions AS options, ts.spcname AS tablespace
       FROM pg_partition_tree($1::regclass) t JOIN pg_class ic ON ic.oid = t.relid JOIN pg_class root ON root.oid = $1::regclass
       JOIN pg_namespace n ON n.oid = ic.relnamespace
       LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
      WHERE t.level > 0 AND (ic.reloptions IS DISTINCT FROM root.reloptions OR ic.reltablespace <> root.reltablespace) ORDER BY 2, 1`,
    [index],
  );
  return r.rows;
}

/**
 * After a deferred partitioned index is built (and its partitions' indexes have their names
 * back): the options and tablespace a partition's index had of its own, then rebuilt with them
 * (SET changes only the catalog; the shadow's index is not in use yet).
 */
async function restorePartitionIndexStorage(c: Client, schema: string, storage: PartitionIndexStorage[]): Promise<void> {
  for (const s of storage) {
    const index = qualified(s.schema ?? schema, s.index);
    const options = relOptionsList(s.options);
    if (options.length) await c.query(`ALTER INDEX ${index} SET (${options.join(', ')})`);
    if (s.tablespace !== null) await c.query(`ALTER INDEX ${index} SET TABLESPACE ${ident(s.tablespace)}`);
    if (options.length) await c.query(`REINDEX INDEX ${index}`);
  }
}

/**
 * A deferred partitioned index, built after the copy, gives its partitions' indexes the names
 * they had when it was taken off (those the ALTER left: offline, an index the ALTER rebuilds
 * gets names PostgreSQL generates anew, the others keep theirs).
 */
async function renamePartitionIndexes(c: Client, schema: string, index: string, want: PartitionIndexName[]): Promise<void> {
  const key = (s: string | undefined, partition: string): string => JSON.stringify([s ?? schema, partition]);
  const now = new Map((await partitionIndexNames(c, qualified(schema, index))).map(([partition, name, s]) => [key(s, partition), name]));
  await renamePairs(c, want.flatMap(([partition, name, s]) => {
    const current = now.get(key(s, partition));
    return current !== undefined && current !== name ? [{ schema: s ?? schema, shadow_name: current, origin_name: name }] : [];
  }));
}

/**
 * What a deferred partitioned index needs once built (or found built by a resumed run): its
 * partitions' indexes' names back, then their own options and tablespace.
 */
export async function finishPartitionedIndex(
  c: Client,
  schema: string,
  idx: { name: string; partitionNames?: PartitionIndexName[]; partitionStorage?: PartitionIndexStorage[] },
): Promise<void> {
  if (idx.partitionNames) await renamePartitionIndexes(c, schema, idx.name, idx.partitionNames);
  if (idx.partitionStorage) await restorePartitionIndexStorage(c, schema, idx.partitionStorage);
}

/** Renames through temporary names: a generated name may be another index's final one. */
async function renamePairs(c: Client, pairs: { schema: string; shadow_name: string; origin_name: string }[]): Promise<void> {
  for (const [i, p] of pairs.entries()) {
    await c.query(`ALTER INDEX ${qualified(p.schema, p.shadow_name)} RENAME TO ${ident(`pgshift_ptmp_${i}`)}`);
  }
  for (const [i, p] of pairs.entries()) {
    await c.query(`ALTER INDEX ${qualified(p.schema, `pgshift_ptmp_${i}`)} RENAME TO ${ident(p.origin_name)}`);
  }
}

/** A partition's own triggers, to re-create on the new partition of the same name at the swap. */
export interface PartitionTrigger {
  name: string;
  def: string;
  enabled: string;
  comment: string | null;
  partition: string;
  schema: string;
}

/** Read under search_path = pg_catalog by the caller, so the definitions name their objects fully. */
export async function readPartitionTriggers(c: Client, rootOid: string, ownTriggers: string[]): Promise<PartitionTrigger[]> {
  return (await c.query<PartitionTrigger>(sqlFile('partition-triggers.sql'), [rootOid, ownTriggers])).rows;
}
