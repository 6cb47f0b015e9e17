import { ident, qualified } from '../db/quote.js';
import { nthKeySql } from '../db/nth-key.js';
import type { BackfillStatement } from './statement.js';

/**
 * Pure builders of the backfill's statements. The checkpoint travels as text (pgshift.migrations
 * .watermark) and is cast back with the key's own types; the job's key sets (pending, done
 * ahead) are tables of the key's own types and collations in the job's schema.
 */
export interface BackfillTarget {
  table: string;
  keys: string[];
  keyTypes: string[];
  /** per key column: its collation (schema-qualified, quoted) when not the type's default */
  keyCollations: (string | null)[];
  statement: BackfillStatement;
}

/** What one job creates: a schema of its own with the key sets and the key-move trigger's function. */
export interface BackfillNames {
  schema: string;
  /** keys the walk has passed whose rows still need the update (skipped, or moved there) */
  pending: string;
  /** keys the walk has not reached whose rows were already updated (moved there): the walk skips them */
  doneAhead: string;
  /** one row every batch rewrites: a REPEATABLE READ trigger locks it to learn its snapshot is stale */
  progress: string;
  moveFunction: string;
  /** on the user's table */
  moveTrigger: string;
}

export function backfillNames(jobId: number): BackfillNames {
  return {
    schema: `pgshift_${jobId}`,
    pending: 'pending',
    doneAhead: 'done_ahead',
    progress: 'progress',
    moveFunction: 'pgshift_backfill_moved',
    moveTrigger: `pgshift_backfill_${jobId}`,
  };
}

const tuple = (xs: string[]): string => (xs.length === 1 ? xs[0]! : `(${xs.join(', ')})`);
const cols = (t: BackfillTarget, alias: string): string[] => t.keys.map((k) => `${alias}.${ident(k)}`);
const same = (t: BackfillTarget, a: string, b: string): string => `${tuple(cols(t, a))} = ${tuple(cols(t, b))}`;

/** The key's columns as a table of their own: `"id" int4 NOT NULL, ..., PRIMARY KEY ("id", ...)`. */
export function keyColumnsSql(t: BackfillTarget): string {
  const defs = t.keys.map((k, i) => `${ident(k)} ${t.keyTypes[i]}${t.keyCollations[i] ? ` COLLATE ${t.keyCollations[i]}` : ''} NOT NULL`);
  return `${defs.join(', ')}, PRIMARY KEY (${t.keys.map(ident).join(', ')})`;
}

/** `$n::type` placeholders for one key, numbered from `first`. */
function params(t: BackfillTarget, first: number): string {
  return tuple(t.keyTypes.map((ty, i) => `$${first + i}::${ty}`));
}

/** The n-th key after the low key: the batch's upper bound (null: the last batch). */
export function backfillBoundSql(t: BackfillTarget, hasLow: boolean): string {
  const k = t.keys.map(ident);
  const where = hasLow ? ` WHERE ${tuple(k)} > ${params(t, 1)}` : '';
  return nthKeySql(t.table, k, where, `$${hasLow ? t.keys.length + 1 : 1}`);
}

/** `range`: the batch's bounds on the table's key too, so the planner reads the key's index range. */
function update(t: BackfillTarget, lockedRelation: string, range: string[] = []): string {
  const s = t.statement;
  const k = t.keys.map(ident);
  return (
    `UPDATE ${t.table} SET ${s.assignments.join(', ')}${s.from ? ` FROM ${s.from}` : ''}` +
    ` WHERE ${tuple(k.map((x) => `${t.table}.${x}`))} IN (SELECT ${k.join(', ')} FROM ${lockedRelation})${range.map((c) => ` AND ${c}`).join('')}${s.where ? ` AND (${s.where})` : ''} RETURNING 1`
  );
}

/**
 * One batch of the walk over (low, high] (no low: from the start; no high: to the end). Locks
 * the range's rows that nobody else holds (SKIP LOCKED: the application never waits for the
 * backfill beyond one short batch, and the backfill never waits for it), notes the keys it had
 * to skip as pending, updates the locked ones, and forgets the done-ahead keys it passes.
 * Rows already updated under a done-ahead key are neither locked, noted nor updated.
 * Params: the low key's values, then the high key's.
 */
export function backfillBatchSql(t: BackfillTarget, n: BackfillNames, hasLow: boolean, hasHigh: boolean): string {
  const pending = qualified(n.schema, n.pending);
  const doneAhead = qualified(n.schema, n.doneAhead);
  const k = t.keys.map(ident);
  const r = cols(t, 'r');
  const low = hasLow ? params(t, 1) : null;
  const high = hasHigh ? params(t, hasLow ? t.keys.length + 1 : 1) : null;
  const bounds = (key: string): string[] => [...(low ? [`${key} > ${low}`] : []), ...(high ? [`${key} <= ${high}`] : [])];
  const range = bounds(tuple(r));
  range.push(`NOT EXISTS (SELECT FROM ${doneAhead} d WHERE ${same(t, 'd', 'r')})`);
  const rows = `SELECT ${r.join(', ')} FROM ${t.table} r WHERE ${range.join(' AND ')}`;
  return (
    `WITH locked AS (${rows} FOR UPDATE OF r SKIP LOCKED),` +
    ` skipped AS (INSERT INTO ${pending} (${k.join(', ')}) SELECT ${k.join(', ')} FROM (${rows} EXCEPT SELECT ${k.join(', ')} FROM locked) s ON CONFLICT DO NOTHING RETURNING 1),` +
    ` passed AS (DELETE FROM ${doneAhead} d${high ? ` WHERE ${tuple(cols(t, 'd'))} <= ${high}` : ''} RETURNING 1),` +
    ` updated AS (${update(t, 'locked', bounds(tuple(k.map((x) => `${t.table}.${x}`))))})` +
    ` SELECT (SELECT count(*) FROM updated)::int AS updated, (SELECT count(*) FROM skipped)::int AS skipped, (SELECT count(*) FROM passed)::int AS passed`
  );
}

/**
 * Retries pending keys: takes up to $1 of them, locks the rows still there and free, puts back
 * the keys whose rows are still held, updates the rest (a key whose row is gone is dropped).
 */
export function backfillPendingSql(t: BackfillTarget, n: BackfillNames): string {
  const pending = qualified(n.schema, n.pending);
  const k = t.keys.map(ident);
  return (
    `WITH taken AS (DELETE FROM ${pending} p WHERE ${tuple(cols(t, 'p'))} IN (SELECT ${cols(t, 'q').join(', ')} FROM ${pending} q LIMIT $1) RETURNING ${cols(t, 'p').join(', ')}),` +
    ` locked AS (SELECT ${cols(t, 'r').join(', ')} FROM ${t.table} r WHERE EXISTS (SELECT FROM taken x WHERE ${same(t, 'x', 'r')}) FOR UPDATE OF r SKIP LOCKED),` +
    ` again AS (INSERT INTO ${pending} (${k.join(', ')}) SELECT ${cols(t, 'x').join(', ')} FROM taken x` +
    ` WHERE EXISTS (SELECT FROM ${t.table} r WHERE ${same(t, 'r', 'x')}) AND NOT EXISTS (SELECT FROM locked l WHERE ${same(t, 'l', 'x')}) ON CONFLICT DO NOTHING RETURNING 1),` +
    ` updated AS (${update(t, 'locked')})` +
    ` SELECT (SELECT count(*) FROM taken)::int AS taken, (SELECT count(*) FROM updated)::int AS updated, (SELECT count(*) FROM again)::int AS again`
  );
}

/** The checkpoint (text[] `w`) cast back to the key's types, as a row to compare keys with. */
export function checkpointSql(t: BackfillTarget, w: string): string {
  return tuple(t.keyTypes.map((ty, i) => `(${w}[${i + 1}])::${ty}${t.keyCollations[i] ? ` COLLATE ${t.keyCollations[i]}` : ''}`));
}

/** A key-valued record's fields (OLD, NEW) as a row. */
export function recordKeySql(t: BackfillTarget, record: 'OLD' | 'NEW'): string {
  return tuple(cols(t, record));
}
