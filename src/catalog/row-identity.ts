import type { Client } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import type { KeyColumn } from './table.js';

/**
 * The row identity: what the copy's keyset chunks, the capture's changelog, the replay, the
 * validation and the revert address rows by. The primary key; without one, a unique index the
 * way gh-ost and pg_repack take it: every key column NOT NULL (so no two rows share a key, and a
 * key names one row), not partial, no expressions, valid, not deferrable (a key that holds only
 * at commit could name two rows inside a transaction), and comparing each column as the column's
 * own type does (the replay's `=`, the changelog's columns and the chunks' order are the
 * column's: an index with another operator class or collation may call two of its keys equal).
 */
export interface UniqueIndex {
  name: string;
  /** the PRIMARY KEY or UNIQUE constraint the index belongs to, else null (a bare unique index) */
  constraint: string | null;
  primary: boolean;
  valid: boolean;
  immediate: boolean;
  partial: boolean;
  expressions: boolean;
  /** the key columns in key order (INCLUDE columns left out) */
  columns: IndexColumn[];
}

export interface IndexColumn extends KeyColumn {
  notNull: boolean;
  /** its NOT NULL constraint's name (PostgreSQL 18+), which DROP CONSTRAINT can drop */
  notNullConstraint: string | null;
  /** compared by the type's default operator class in the column's own collation */
  plain: boolean;
}

export async function readUniqueIndexes(c: Client, oid: string): Promise<UniqueIndex[]> {
  const r = await c.query(sqlFile('catalog-unique-indexes.sql'), [oid]);
  return r.rows.map((i) => ({
    name: i.name,
    constraint: i.constraint_name,
    primary: i.primary,
    valid: i.valid,
    immediate: i.immediate,
    partial: i.partial,
    expressions: i.expressions,
    columns: i.columns,
  }));
}

/** Why an index cannot be the row identity; empty when it can. */
export function unusableBecause(i: UniqueIndex): string[] {
  const why: string[] = [];
  if (!i.valid) why.push('is not valid');
  if (!i.immediate) why.push('is deferrable');
  if (i.partial) why.push('is partial');
  if (i.expressions) why.push('is on an expression');
  const special = i.columns.filter((c) => !c.plain).map((c) => c.name);
  if (special.length) why.push(`compares ${special.join(', ')} by another operator class or collation than the column's`);
  const nullable = nullableColumns(i);
  if (nullable.length) why.push(`has nullable column${nullable.length > 1 ? 's' : ''} ${nullable.join(', ')}`);
  return why;
}

function nullableColumns(i: UniqueIndex): string[] {
  return i.columns.filter((c) => !c.notNull).map((c) => c.name);
}

/**
 * The primary key, else the usable unique index with the fewest columns, a UNIQUE constraint
 * before a bare index, then by name: deterministic, so a resumed or reverted migration finds the
 * identity its changelog was made for.
 */
export function chooseRowIdentity(indexes: UniqueIndex[]): UniqueIndex | null {
  const pk = indexes.find((i) => i.primary);
  if (pk) return pk;
  const usable = indexes.filter((i) => unusableBecause(i).length === 0);
  usable.sort((a, b) =>
    a.columns.length - b.columns.length ||
    Number(a.constraint === null) - Number(b.constraint === null) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return usable[0] ?? null;
}

/**
 * The identity in a refusal: "the primary key" as before, else which unique index and why it
 * matters ("unique constraint t_u_key (the row identity of the online copy: ...)").
 */
export function describeIdentity(i: UniqueIndex | null): string {
  if (!i || i.primary) return 'the primary key';
  return `${identityName(i)} (the row identity of the online copy: the table has no primary key)`;
}

/** "the primary key", "unique constraint t_u_key" or "unique index t_u_idx". */
export function identityName(i: UniqueIndex): string {
  if (i.primary) return 'the primary key';
  return i.constraint !== null ? `unique constraint ${i.constraint}` : `unique index ${i.name}`;
}

/** A column of the identity in a refusal: `primary-key column "id"`, or `column "u" of unique constraint ...`. */
export function identityColumn(i: UniqueIndex | null, column: string): string {
  return !i || i.primary ? `primary-key column "${column}"` : `column "${column}" of ${describeIdentity(i)}`;
}

/**
 * Why a table has no row identity, and the one-line fix. Unique indexes that fail only because
 * a column is nullable are named, and the fix makes the first of them usable; otherwise the fix
 * adds a primary key. Both fixes run without a copy (pgshift's own routes). A partitioned table
 * with a foreign table as a partition can have no unique index at all (PostgreSQL: "cannot
 * create unique index on partitioned table ... contains partitions that are foreign tables"):
 * no fix keeps that partition, and the reason says so.
 */
export function noRowIdentity(schema: string, table: string, indexes: UniqueIndex[], foreignPartition?: { schema: string; name: string }): { reason: string; fix: string } {
  if (foreignPartition) {
    return {
      reason: `has foreign table ${foreignPartition.schema}.${foreignPartition.name} as a partition, and PostgreSQL allows no unique index on a partitioned table with a foreign partition, so it has no row identity`,
      fix: 'run the ALTER offline (under --strategy auto a change that needs no copy runs on the table as PostgreSQL allows it)',
    };
  }
  const nearMisses = indexes
    .filter((i) => !i.primary && unusableBecause(i).every((w) => w.startsWith('has nullable column')))
    .sort((a, b) => nullableColumns(a).length - nullableColumns(b).length || a.columns.length - b.columns.length);
  const unusable = indexes.map((i) => `${i.name} ${unusableBecause(i).join(' and ')}`);
  const reason = `has no primary key and no unique index over NOT NULL columns${unusable.length ? ` (${unusable.join('; ')})` : ''}`;
  const t = qualified(schema, table);
  const best = nearMisses[0];
  const fix = best
    ? `fix: make ${best.name}'s columns NOT NULL and it becomes the row identity (no copy needed): ` +
      `pgshift alter ${shellQuoted(`ALTER TABLE ${t} ${nullableColumns(best).map((c) => `ALTER COLUMN ${ident(c)} SET NOT NULL`).join(', ')}`)} --execute`
    : `fix: add a primary key first (no copy needed): pgshift alter ${shellQuoted(`ALTER TABLE ${t} ADD PRIMARY KEY (<columns>)`)} --execute`;
  return { reason, fix };
}

function shellQuoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
