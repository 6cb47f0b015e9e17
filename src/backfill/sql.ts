import { ident } from '../db/quote.js';
import type { BackfillStatement } from './statement.js';

/** Pure builders of the backfill's statements. Keys travel as text and are cast back. */
export interface BackfillTarget {
  table: string;
  keys: string[];
  keyTypes: string[];
  statement: BackfillStatement;
}

const tuple = (xs: string[]): string => (xs.length === 1 ? xs[0]! : `(${xs.join(', ')})`);

/** The n-th key after the low key: the batch's upper bound (null: the last batch). */
export function backfillBoundSql(t: BackfillTarget, hasLow: boolean): string {
  const k = t.keys.map(ident);
  const where = hasLow ? ` WHERE ${tuple(k)} > ${tuple(t.keyTypes.map((ty, i) => `$${i + 1}::${ty}`))}` : '';
  return `SELECT ${k.map((x, i) => `${x}::text AS k${i}`).join(', ')} FROM ${t.table}${where} ORDER BY ${k.join(', ')} OFFSET $${hasLow ? t.keys.length + 1 : 1}::bigint - 1 LIMIT 1`;
}

function update(t: BackfillTarget, lockedRelation: string): string {
  const s = t.statement;
  const k = t.keys.map(ident);
  return (
    `UPDATE ${t.table} SET ${s.assignments.join(', ')}${s.from ? ` FROM ${s.from}` : ''}` +
    ` WHERE ${tuple(k.map((x) => `${t.table}.${x}`))} IN (SELECT ${k.join(', ')} FROM ${lockedRelation})${s.where ? ` AND (${s.where})` : ''} RETURNING 1`
  );
}

/**
 * One batch: lock the range's rows that nobody else holds (SKIP LOCKED: the application never
 * waits for the backfill beyond one short batch, and the backfill never waits for it), note
 * the keys it had to skip, update the locked ones. Params: $1 job id, then low keys, then high keys.
 */
export function backfillBatchSql(t: BackfillTarget, hasLow: boolean, hasHigh: boolean): string {
  const k = t.keys.map(ident);
  const conditions: string[] = [];
  let n = 2;
  const bound = (): string => tuple(t.keyTypes.map((ty) => `$${n++}::${ty}`));
  if (hasLow) conditions.push(`${tuple(k)} > ${bound()}`);
  if (hasHigh) conditions.push(`${tuple(k)} <= ${bound()}`);
  const range = conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
  return (
    `WITH locked AS (SELECT ${k.join(', ')} FROM ${t.table}${range} FOR UPDATE SKIP LOCKED),` +
    ` skipped AS (INSERT INTO pgshift.backfill_pending (migration_id, key)` +
    ` SELECT $1, ARRAY[${k.map((x) => `${x}::text`).join(', ')}] FROM (SELECT ${k.join(', ')} FROM ${t.table}${range} EXCEPT SELECT ${k.join(', ')} FROM locked) s RETURNING 1),` +
    ` updated AS (${update(t, 'locked')})` +
    ` SELECT (SELECT count(*) FROM updated)::int AS updated, (SELECT count(*) FROM skipped)::int AS skipped`
  );
}

/**
 * Retries keys skipped earlier: takes up to $2 of them, locks those still there and free,
 * puts back the ones still held, updates the rest. Params: $1 job id, $2 limit.
 */
export function backfillPendingSql(t: BackfillTarget): string {
  const k = t.keys.map(ident);
  const fromKey = t.keyTypes.map((ty, i) => `key[${i + 1}]::${ty}`);
  return (
    `WITH taken AS (DELETE FROM pgshift.backfill_pending WHERE ctid = ANY (ARRAY(SELECT ctid FROM pgshift.backfill_pending WHERE migration_id = $1 LIMIT $2)) RETURNING key),` +
    ` locked AS (SELECT ${k.join(', ')} FROM ${t.table} WHERE ${tuple(k)} IN (SELECT ${fromKey.join(', ')} FROM taken) FOR UPDATE SKIP LOCKED),` +
    ` again AS (INSERT INTO pgshift.backfill_pending (migration_id, key) SELECT $1, key FROM taken` +
    ` WHERE ${tuple(fromKey)} IN (SELECT ${k.join(', ')} FROM ${t.table}) AND ${tuple(fromKey)} NOT IN (SELECT ${k.join(', ')} FROM locked) RETURNING 1),` +
    ` updated AS (${update(t, 'locked')})` +
    ` SELECT (SELECT count(*) FROM taken)::int AS taken, (SELECT count(*) FROM updated)::int AS updated, (SELECT count(*) FROM again)::int AS again`
  );
}
