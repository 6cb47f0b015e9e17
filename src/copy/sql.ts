import { ident, identList, qualified } from '../db/quote.js';
import { nthKeySql } from '../db/nth-key.js';
import type { RowMapping } from '../plan/mapping.js';

/**
 * Pure builders of the copy's and the replay's statements. Parameters: the mapping's constants
 * always come first ($1..$m), then what each statement needs. Keys travel as PostgreSQL text
 * and are cast back to the key's own type, so ordering and equality are the key's own.
 */
export interface Tables {
  origin: string;
  /**
   * The origin as the copy and the replay read its rows, when that is not `origin`: ONLY the
   * table, for one with inheritance children, whose rows are theirs (shadow/parent.ts)
   */
  originRows?: string;
  shadow: string;
  /** the shadow as the replay and the validation read its rows, when that is not `shadow`: ONLY a tree's shadow (shadow/tree.ts), whose children are relations of their own */
  shadowRows?: string;
  changelog: string;
  mapping: RowMapping;
  /** the shadow's key column types, in key order */
  shadowKeyTypes: string[];
  /** where each copy chunk records its transaction's id (verify/validate.ts); none for a rehearsal */
  copyXacts?: string;
}

/** Tables.originRows of a table: ONLY it when it has inheritance children (shadow/parent.ts), else nothing. */
export function rowsOfParent(table: { schema: string; name: string; hasInheritanceChildren: boolean }): Pick<Tables, 'originRows'> {
  return table.hasInheritanceChildren ? { originRows: `ONLY ${qualified(table.schema, table.name)}` } : {};
}

/** The origin's rows as a FROM item (ONLY a parent: Tables.originRows). */
export function originRows(t: Pick<Tables, 'origin' | 'originRows'>): string {
  return t.originRows ?? t.origin;
}

/** The shadow's rows as a FROM item (ONLY a tree's: Tables.shadowRows). */
export function shadowRows(t: Pick<Tables, 'shadow' | 'shadowRows'>): string {
  return t.shadowRows ?? t.shadow;
}

const tuple = (items: string[]): string => (items.length === 1 ? items[0]! : `(${items.join(', ')})`);

function params(from: number, types: string[]): string[] {
  return types.map((t, i) => `$${from + i}::${t}`);
}

function insertHead(t: Tables, extra: string[] = []): string {
  return `INSERT INTO ${t.shadow} (${identList([...t.mapping.targets, ...extra])})${t.mapping.overriding ? ' OVERRIDING SYSTEM VALUE' : ''}`;
}

/**
 * The chunk's upper key: the n-th key after the low key (and at most the high key: a lane's end),
 * found by an index scan of the key. No row: fewer than n rows remain, the chunk is the last (of
 * its lane). Params: constants-free; low keys ($1..$k) when there is a low key, then high keys
 * when there is a high key, then n.
 */
export function chunkBoundSql(t: Tables, hasLow: boolean, hasHigh = false): string {
  const m = t.mapping;
  const originKey = m.originKey.map((k) => ident(k.name));
  const types = m.originKey.map((k) => k.type);
  const conditions: string[] = [];
  let next = 1;
  if (hasLow) {
    conditions.push(`${tuple(originKey)} > ${tuple(params(next, types))}`);
    next += types.length;
  }
  if (hasHigh) {
    conditions.push(`${tuple(originKey)} <= ${tuple(params(next, types))}`);
    next += types.length;
  }
  const where = conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
  const n = `$${next}`;
  return nthKeySql(originRows(t), originKey, where, n);
}

/**
 * Keys that split the origin into `lanes` ranges of about equal rows, from a page sample of the
 * key (SYSTEM sampling reads whole pages, `percent` of them): the lanes need not be equal, only
 * disjoint, and an index walk to the exact middle of a large table measured 108 ms on 1,000,000
 * rows, the sample a few. Each split is the last key of its sampled tile, in key order. Params:
 * none.
 */
export function laneSplitsSql(t: Tables, lanes: number, percent: number): string {
  const originKey = t.mapping.originKey.map((k) => ident(k.name));
  return (
    `SELECT ${originKey.map((k, i) => `${k}::text AS k${i}`).join(', ')} FROM (` +
    `SELECT DISTINCT ON (tile) tile, ${originKey.join(', ')} FROM (` +
    `SELECT ${originKey.join(', ')}, ntile(${Math.trunc(lanes)}) OVER (ORDER BY ${originKey.join(', ')}) AS tile` +
    ` FROM ${originRows(t)} TABLESAMPLE SYSTEM (${Number(percent.toPrecision(6))})) s` +
    ` ORDER BY tile, ${originKey.map((k) => `${k} DESC`).join(', ')}) x WHERE tile < ${Math.trunc(lanes)} ORDER BY tile`
  );
}

/**
 * One keyset chunk: the rows in (low, high], or after low for the last chunk, in key order.
 * No ON CONFLICT: by the watermark rule nothing else writes keys above the committed watermark.
 * Params: constants ($1..$m), then the low keys, then the high keys.
 */
export function copyRangeSql(t: Tables, hasLow: boolean, hasHigh: boolean): string {
  const m = t.mapping;
  const originKey = m.originKey.map((k) => ident(k.name));
  const types = m.originKey.map((k) => k.type);
  const conditions: string[] = [];
  let next = m.constants.length + 1;
  if (hasLow) {
    conditions.push(`${tuple(originKey)} > ${tuple(params(next, types))}`);
    next += types.length;
  }
  if (hasHigh) conditions.push(`${tuple(originKey)} <= ${tuple(params(next, types))}`);
  const where = conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
  return `${insertHead(t)} SELECT ${m.expressions.join(', ')} FROM ${originRows(t)}${where} ORDER BY ${originKey.join(', ')}`;
}

/**
 * Takes a batch of changelog entries (deleting them BEFORE the origin is read, so an entry
 * committed meanwhile stays for the next batch). With a watermark, only entries at or below it:
 * a key above it belongs to a range whose chunk has not committed yet.
 */
export function takeEntriesSql(t: Tables, hasWatermark: boolean): string {
  const keys = t.mapping.originKey.map((k) => ident(k.name));
  const where = hasWatermark ? ` WHERE ${tuple(keys)} <= ${tuple(params(1, t.mapping.originKey.map((k) => k.type)))}` : '';
  const limit = `$${hasWatermark ? keys.length + 1 : 1}`;
  return (
    `WITH taken AS (DELETE FROM ${t.changelog} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${t.changelog}${where} LIMIT ${limit}))` +
    ` RETURNING ${keys.join(', ')})` +
    ` SELECT ${keys.map((k, i) => `${k}::text AS k${i}`).join(', ')} FROM (SELECT DISTINCT ${keys.join(', ')} FROM taken) d`
  );
}

function keysFromArrays(types: string[], from: number): string {
  return `SELECT * FROM unnest(${types.map((ty, i) => `$${from + i}::${ty}[]`).join(', ')})`;
}

/** Deletes the shadow rows of the given keys ($1..$k arrays), returning their keys and preserved values. */
export function deleteShadowRowsSql(t: Tables): string {
  const sk = t.mapping.shadowKey.map(ident);
  const ret = [...sk.map((k) => `${k}::text`), ...t.mapping.preserved.map((p) => `${ident(p)}::text`)];
  return `DELETE FROM ${shadowRows(t)} WHERE ${tuple(sk)} IN (${keysFromArrays(t.shadowKeyTypes, 1)}) RETURNING ${ret.join(', ')}`;
}

/**
 * Deletes shadow rows outside the batch that hold a unique value the batch's origin rows are
 * about to take (their own change is still pending), returning them so they are re-synced in
 * the same transaction. Params: the batch's key arrays only. Null when a column of the index
 * takes a once-evaluated constant (every row has the same value: no conflict to resolve).
 */
export function uniqueConflictsSql(t: Tables, uniqueColumns: string[]): string | null {
  const m = t.mapping;
  const exprs = uniqueColumns.map((c) => {
    const i = m.targets.indexOf(c);
    return i < 0 ? null : m.expressions[i]!;
  });
  if (exprs.some((e) => e === null || /^\$\d+::/.test(e))) return null;
  const sk = m.shadowKey.map((k) => `s.${ident(k)}`);
  const ok = m.originKey.map((k) => ident(k.name));
  const incoming = `FROM ${originRows(t)} WHERE ${tuple(ok)} IN (${keysFromArrays(m.originKey.map((k) => k.type), 1)})`;
  // One probe of the shadow's unique index per incoming value (= ANY of an array): as a join,
  // the planner hashed the batch and scanned the whole shadow, 1.5 s a batch on 1,000,000 rows,
  // a replay slower than the sustained-load test's writes. Other columns of the index: IN.
  const probe = `s.${ident(uniqueColumns[0]!)} = ANY (ARRAY(SELECT ${exprs[0]} ${incoming}))`;
  const rest = uniqueColumns.length > 1 ? ` AND ${tuple(uniqueColumns.map((c) => `s.${ident(c)}`))} IN (SELECT ${exprs.join(', ')} ${incoming})` : '';
  const ret = [...sk.map((k) => `${k}::text`), ...m.preserved.map((p) => `s.${ident(p)}::text`)];
  return (
    `DELETE FROM ${shadowRows(t)} s WHERE ${probe}${rest}` +
    ` AND ${tuple(sk)} NOT IN (${keysFromArrays(t.shadowKeyTypes, 1)}) RETURNING ${ret.join(', ')}`
  );
}

/** Inserts the origin's current rows for the given keys. Params: constants, then key arrays. */
export function insertRowsSql(t: Tables): string {
  const m = t.mapping;
  const ok = m.originKey.map((k) => ident(k.name));
  const base = m.constants.length + 1;
  return `${insertHead(t)} SELECT ${m.expressions.join(', ')} FROM ${originRows(t)} WHERE ${tuple(ok)} IN (${keysFromArrays(m.originKey.map((k) => k.type), base)})`;
}

/**
 * Inserts the origin's current rows for keys whose shadow row carried preserved values (a
 * volatile default evaluated when the row was first copied), putting those values back.
 * Params: constants, key arrays, then one text array per preserved column.
 */
export function insertPreservedRowsSql(t: Tables, preservedTypes: string[]): string {
  const m = t.mapping;
  const base = m.constants.length + 1;
  const nk = m.originKey.length;
  const keyCols = m.originKey.map((_, i) => `pgshift_k${i}`);
  const valCols = m.preserved.map((_, i) => `pgshift_v${i}`);
  const arrays = [
    ...m.originKey.map((k, i) => `$${base + i}::${k.type}[]`),
    ...m.preserved.map((_, i) => `$${base + nk + i}::text[]`),
  ];
  const on = tuple(m.originKey.map((k) => `${t.origin}.${ident(k.name)}`));
  return (
    `${insertHead(t, m.preserved)} SELECT ${m.expressions.join(', ')}, ${valCols.map((v, i) => `p.${v}::${preservedTypes[i]}`).join(', ')}` +
    ` FROM ${originRows(t)} JOIN unnest(${arrays.join(', ')}) AS p(${[...keyCols, ...valCols].join(', ')})` +
    ` ON ${on} = ${tuple(keyCols.map((k) => `p.${k}`))}`
  );
}
