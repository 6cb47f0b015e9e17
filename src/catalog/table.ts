import type { Client } from '../db/session.js';
import { qualified, ident } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import { chooseRowIdentity, readUniqueIndexes, type UniqueIndex } from './row-identity.js';
import { readLeafPartition, readPartitionKey, readPartitions, type LeafPartition, type Partition } from './partitions.js';

export interface Column {
  attnum: number;
  name: string;
  type: string;
  notNull: boolean;
  /** '' | 'a' (ALWAYS) | 'd' (BY DEFAULT) */
  identity: string;
  /** '' | 's' (stored generated column) */
  generated: string;
  hasMissing: boolean;
  /** attmissingval as array text, e.g. {2024-01-01}: the once-evaluated default of an added column */
  missingValue: string | null;
  /** schema-qualified, quoted collation when it differs from the type's default */
  collation: string | null;
  statTarget: number | null;
  options: string[] | null;
  comment: string | null;
  acl: string[] | null;
}

/** A table in a legacy inheritance relation (a parent, or a child). */
export interface InheritParent {
  oid: string;
  schema: string;
  name: string;
}

export interface KeyColumn {
  name: string;
  type: string;
  collation: string | null;
}

export interface TableInfo {
  oid: string;
  schema: string;
  name: string;
  relkind: string;
  persistence: string;
  owner: string;
  tablespace: string | null;
  reloptions: string[] | null;
  toastReloptions: string[] | null;
  isPartition: boolean;
  hasRules: boolean;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  replicaIdentity: string;
  estimatedRows: number;
  comment: string | null;
  /** a typed table's composite type (CREATE TABLE ... OF type), qualified; null otherwise */
  ofType: string | null;
  /** legacy inheritance children (tables that INHERIT this one; partitions do not count) */
  hasInheritanceChildren: boolean;
  /** those children, by name (shadow/parent.ts: the cutover moves them to the new table) */
  inheritanceChildren: InheritParent[];
  /** a legacy inheritance child's parents, in the order of its INHERITS list (shadow/inherit.ts) */
  inheritsFrom: InheritParent[];
  isOwner: boolean;
  isSuperuser: boolean;
  bypassRls: boolean;
  columns: Column[];
  /** the row identity's columns in key order (empty when the table has none) */
  key: KeyColumn[];
  /** the row identity (row-identity.ts): the primary key, else a usable unique index, else null */
  identity: UniqueIndex | null;
  /** every unique index, for saying why none can be the identity */
  uniqueIndexes: UniqueIndex[];
  /** a partitioned table's key (RANGE (at)), else null */
  partitionKey: string | null;
  /** a partitioned table's partitions at every level, parents first (empty otherwise) */
  partitions: Partition[];
  /** a partition's parent and bound (a leaf changed alone), else null */
  partitionOf: LeafPartition | null;
}

/** Resolves a possibly unqualified name with the session's search_path, as ALTER TABLE would. */
export async function resolveTableOid(c: Client, schema: string | undefined, name: string): Promise<string | null> {
  const text = schema ? qualified(schema, name) : ident(name);
  const r = await c.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::int8::text AS oid', [text]);
  return r.rows[0]?.oid ?? null;
}

export async function describeTable(c: Client, oid: string): Promise<TableInfo> {
  const t = (await c.query(sqlFile('catalog-table.sql'), [oid])).rows[0];
  if (!t) throw new Error(`table ${oid} vanished`);
  const columns = await readColumns(c, oid);
  const uniqueIndexes = await readUniqueIndexes(c, oid);
  const identity = chooseRowIdentity(uniqueIndexes);
  return {
    oid: t.oid,
    schema: t.schema,
    name: t.name,
    relkind: t.relkind,
    persistence: t.persistence,
    owner: t.owner,
    tablespace: t.tablespace,
    reloptions: t.reloptions,
    toastReloptions: t.toast_reloptions,
    isPartition: t.is_partition,
    hasRules: t.has_rules,
    rowSecurity: t.row_security,
    forceRowSecurity: t.force_row_security,
    replicaIdentity: t.replica_identity,
    estimatedRows: Math.max(0, Number(t.estimated_rows)),
    comment: t.comment,
    ofType: t.of_type,
    hasInheritanceChildren: t.has_inheritance_children,
    inheritanceChildren: t.inheritance_children,
    inheritsFrom: t.inherits_from,
    isOwner: t.is_owner,
    isSuperuser: t.is_superuser,
    bypassRls: t.bypass_rls,
    columns,
    key: (identity?.columns ?? []).map((k) => ({ name: k.name, type: k.type, collation: k.collation })),
    identity,
    uniqueIndexes,
    partitionKey: t.relkind === 'p' ? await readPartitionKey(c, oid) : null,
    partitions: t.relkind === 'p' ? await readPartitions(c, oid) : [],
    partitionOf: t.is_partition ? await readLeafPartition(c, oid) : null,
  };
}

export async function readColumns(c: Client, oid: string): Promise<Column[]> {
  const r = await c.query(sqlFile('catalog-columns.sql'), [oid]);
  return r.rows.map((a) => ({
    attnum: a.attnum,
    name: a.name,
    type: a.type,
    notNull: a.not_null,
    identity: a.identity,
    generated: a.generated,
    hasMissing: a.has_missing,
    missingValue: a.missing_value,
    collation: a.collation,
    statTarget: a.stat_target,
    options: a.options,
    comment: a.comment,
    acl: a.acl,
  }));
}

export interface Dependent {
  kind: 'view' | 'materialized view' | 'rule' | 'fk-in' | 'policy-in' | 'trigger-in' | 'function' | 'own' | 'other';
  relOid: string | null;
  description: string;
  constraintName: string | null;
  columnAttnum: number;
}

export async function readDependents(c: Client, oid: string): Promise<Dependent[]> {
  const r = await c.query(sqlFile('catalog-dependents.sql'), [oid]);
  return r.rows.map((d) => ({
    kind: d.kind,
    relOid: d.rel_oid,
    description: d.description,
    constraintName: d.constraint_name,
    columnAttnum: d.column_attnum,
  }));
}

/**
 * A fingerprint of the table's shape. Taken when the migration starts and checked again under
 * the cutover lock: DDL by someone else in between means the shadow is stale.
 */
export async function tableFingerprint(c: Client, oid: string, withTree = false): Promise<string> {
  const r = await c.query<{ fp: string }>(sqlFile('catalog-fingerprint.sql'), [oid]);
  if (!withTree) return r.rows[0]!.fp;
  // A parent copied with its tree (shadow/tree.ts): its descendants too, under a key of their own.
  const tree = await c.query<{ fp: string }>(sqlFile('tree-fingerprint.sql'), [oid]);
  return JSON.stringify({ ...JSON.parse(r.rows[0]!.fp), [TREE_KEY]: tree.rows[0]!.fp });
}

/** The fingerprint's key of a tree copied with its parent: its descendants (sql/tree-fingerprint.sql). */
const TREE_KEY = 'inheritance tree';

/**
 * What changed on the table since `before` was taken, by kind ("columns, table": grants and
 * options count under 'table'), or null when nothing did.
 */
export async function changedSince(c: Client, oid: string, before: string): Promise<string | null> {
  const after = await tableFingerprint(c, oid, TREE_KEY in (JSON.parse(before) as Record<string, string>));
  if (after === before) return null;
  const a = JSON.parse(before) as Record<string, string>;
  const b = JSON.parse(after) as Record<string, string>;
  return Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k]).join(', ');
}
