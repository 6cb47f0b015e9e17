import { ident } from '../db/quote.js';

/**
 * One side of a comparison: a relation, its key (expressions and types, in key order) and the
 * values compared (expressions whose canonical text is compared; the key is among them).
 * Two rows differ exactly when the text of ROW(values) differs: NULL and '' differ, so do
 * trailing spaces, and a type-changed column is compared after the same cast on both sides.
 */
export interface Side {
  relation: string;
  keys: string[];
  keyTypes: string[];
  values: string[];
  /** the type of each value (format_type) */
  types: string[];
  /** values hashed in binary; the others are hashed through their text */
  binary: boolean[];
  /** parameters the value expressions reference as $1..$n (once-evaluated defaults) */
  params: (string | null)[];
}

/** The side with its value expressions' parameters renumbered from `by` + 1 (it follows others in one statement). */
function shiftParams(side: Side, by: number): Side {
  return { ...side, values: side.values.map((v) => v.replace(/\$(\d+)/g, (_, d: string) => `$${Number(d) + by}`)) };
}

const tuple = (items: string[]): string => (items.length === 1 ? items[0]! : `(${items.join(', ')})`);

/** The WHERE clause of a key range (low, high]; parameters numbered from `from`. */
export function rangeWhere(side: Side, hasLow: boolean, hasHigh: boolean, from: number): { sql: string; next: number } {
  const parts: string[] = [];
  let n = from;
  const bound = (): string => tuple(side.keyTypes.map((t) => `$${n++}::${t}`));
  if (hasLow) parts.push(`${tuple(side.keys)} > ${bound()}`);
  if (hasHigh) parts.push(`${tuple(side.keys)} <= ${bound()}`);
  return { sql: parts.length ? ` WHERE ${parts.join(' AND ')}` : '', next: n };
}

export function rowText(side: Side): string {
  return `ROW(${side.values.join(', ')})::text`;
}

/**
 * Types whose hash is equal exactly when their text is: hashed in binary, about four times
 * faster than through text. Every other type (numeric: 1.5 = 1.50; float: -0 = 0; interval:
 * 1 day = 24 hours; jsonb with numbers; types without a hash) is hashed through its text, so
 * the checksum keeps the rule that rows differ when their canonical text differs.
 */
const BINARY_HASHED = new Set([
  'smallint', 'integer', 'bigint', 'boolean', 'text', 'bytea', 'date', 'uuid', 'oid',
  'timestamp without time zone', 'timestamp with time zone', 'time without time zone',
]);

/** Whether a type's hash is equal exactly when its text is. */
export function hashMatchesText(type: string): boolean {
  return BINARY_HASHED.has(type) || type.replace(/\(\d+\)$/, '') === 'character varying';
}

/**
 * The fingerprint of the rows a WHERE clause selects: the row count, the XOR of 64-bit row
 * hashes, and the sum of their high halves (a second, differently combined fingerprint: two
 * equal changes cancel in a XOR, not in a sum). Order-free, so no sort, and combinable across
 * parts; one hash per row: OFFSET 0 keeps PostgreSQL from flattening the subquery, which would
 * compute the hash once per aggregate (it doubled the validation's time).
 */
function fingerprintSql(side: Side, where: string): string {
  return (
    `SELECT count(*)::text AS n, coalesce(bit_xor(h), 0)::text AS h1, coalesce(sum(h >> 32), 0)::text AS h2` +
    ` FROM (SELECT ${rowHash(side)} AS h FROM ${side.relation}${where} OFFSET 0) x`
  );
}

/** A row's 64-bit hash over the side's values (binary where the type allows, else through text). */
function rowHash(side: Side): string {
  return `hash_record_extended(ROW(${side.values.map((v, i) => (side.binary[i] ? v : `(${v})::text`)).join(', ')}), 0)`;
}

/**
 * Rows written since a transaction id: their xmin (the transaction that wrote the row version,
 * kept as written when the row is frozen) is that one or later. `age()` reads both against the
 * same current transaction, so the comparison holds across the 32-bit wraparound. Param: an xid8.
 */
export const writtenSince = (param: number): string => `age(xmin) <= age(($${param}::text::int8 % 4294967296)::text::xid)`;

/** Rows not written by one of the transactions listed in `table` (a column `xid`). */
export const notWrittenBy = (table: string): string => `xmin NOT IN (SELECT xid FROM ${table})`;

/** A side's rows, and of them those `where` selects: one sequential pass. Params: `where`'s. */
export function countWhereSql(side: Side, where: string): string {
  return `SELECT count(*)::text AS n, count(*) FILTER (WHERE ${where})::text AS selected FROM ${side.relation}`;
}

/**
 * Each row of side `a` that `where` selects, against the row of its key on side `b` (looked up
 * by key, cast to b's key types), by hash: how many there are and how many differ or have no row
 * on b. Params: a's, then `where`'s, then b's (renumbered after them).
 */
export function keyedDiffSql(a: Side, b: Side, where: string, whereParams: number): string {
  const bShifted = shiftParams(b, a.params.length + whereParams);
  const match = b.keys.map((k, i) => `${k} = a.k${i}::${b.keyTypes[i]}`).join(' AND ');
  return (
    `SELECT count(*)::text AS n, count(*) FILTER (WHERE b.h IS DISTINCT FROM a.h)::text AS differ` +
    ` FROM (SELECT ${a.keys.map((k, i) => `${k} AS k${i}`).join(', ')}, ${rowHash(a)} AS h FROM ${a.relation} WHERE ${where} OFFSET 0) a` +
    ` LEFT JOIN LATERAL (SELECT ${rowHash(bShifted)} AS h FROM ${b.relation} WHERE ${match}) b ON true`
  );
}

/** The fingerprint of a key range (low, high]. */
export function chunkChecksumSql(side: Side, hasLow: boolean, hasHigh: boolean): string {
  return fingerprintSql(side, rangeWhere(side, hasLow, hasHigh, side.params.length + 1).sql);
}

/**
 * The fingerprint of a range of heap pages [from, to) (open-ended without `to`): a TID range
 * scan reads pages in order and needs no index, about 20% cheaper per row than a key range.
 */
export function pageRangeChecksumSql(side: Side, hasHigh: boolean): string {
  const n = side.params.length + 1;
  return fingerprintSql(side, ` WHERE ctid >= $${n}::tid${hasHigh ? ` AND ctid < $${n + 1}::tid` : ''}`);
}

/**
 * Chunk boundaries: about every `size` rows, in key order. Exact for small tables; for large
 * ones taken from a page sample of the keys (100 sampled keys per chunk), which costs a few
 * pages instead of a pass over the whole key: chunks need not be equal, only disjoint.
 */
export function boundariesSql(side: Side, size: number, estimatedRows: number): string {
  const keys = side.keys.join(', ');
  const exact = estimatedRows < 20 * size;
  const source = exact
    ? side.relation
    : `(SELECT ${keys} FROM ${side.relation} TABLESAMPLE SYSTEM (${Math.min(100, 10_000 / size)})) s`; // 100 keys per chunk of `size` rows
  const every = exact ? Math.max(1, Math.trunc(size)) : 100;
  return (
    `SELECT ${side.keys.map((k, i) => `${k}::text AS k${i}`).join(', ')} FROM (` +
    `SELECT ${keys}, row_number() OVER (ORDER BY ${keys}) AS n FROM ${source}) x` +
    // ORDER BY n, never by the text output: '100000' sorts before '50000' as text.
    ` WHERE n % ${every} = 0 ORDER BY n`
  );
}

/**
 * Rows of a key range that differ between the sides, in key order: a full join on the key of
 * the two sides' row texts. Params: side a's, side b's (shifted), then the range bounds for a
 * and for b.
 */
export function rangeDiffSql(a: Side, b: Side, hasLow: boolean, hasHigh: boolean): string {
  const bShifted = shiftParams(b, a.params.length);
  let next = a.params.length + b.params.length + 1;
  const wa = rangeWhere(a, hasLow, hasHigh, next);
  next = wa.next;
  const wb = rangeWhere(b, hasLow, hasHigh, next);
  const ka = a.keys.map((k, i) => `${k} AS k${i}`).join(', ');
  const kb = b.keys.map((k, i) => `${k} AS k${i}`).join(', ');
  const on = a.keys.map((_, i) => `a.k${i} = b.k${i}`).join(' AND ');
  const key = a.keys.map((_, i) => `coalesce(a.k${i}::text, b.k${i}::text)`);
  return (
    `SELECT ${key.map((k, i) => `${k} AS k${i}`).join(', ')},` +
    ` CASE WHEN a.r IS NULL THEN 'only in b' WHEN b.r IS NULL THEN 'only in a' ELSE 'different' END AS kind` +
    ` FROM (SELECT ${ka}, ${rowText(a)} AS r FROM ${a.relation}${wa.sql}) a` +
    ` FULL JOIN (SELECT ${kb}, ${rowText(bShifted)} AS r FROM ${b.relation}${wb.sql}) b ON ${on}` +
    ` WHERE a.r IS DISTINCT FROM b.r ORDER BY ${a.keys.map((_, i) => `coalesce(a.k${i}, b.k${i})`).join(', ')}`
  );
}

export function columnSide(relation: string, keys: string[], keyTypes: string[], columns: string[], types: string[]): Side {
  return { relation, keys: keys.map(ident), keyTypes, values: columns.map(ident), types, binary: types.map(hashMatchesText), params: [] };
}

/**
 * For comparisons where both sides went through the same casts (an ALTER's origin and shadow):
 * every type with a default hash opclass (arrays and domains through their element and base
 * types) can be hashed in binary; only the rest needs its text.
 */
export const HASHABLE_TYPES_SQL = `
  WITH RECURSIVE t(input, oid) AS (
    SELECT x, x::regtype::oid FROM unnest($1::text[]) x
    UNION ALL
    SELECT t.input, CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.typelem END
      FROM t JOIN pg_type ty ON ty.oid = t.oid
     WHERE ty.typtype = 'd' OR (ty.typelem <> 0 AND ty.typsubscript = 'array_subscript_handler'::regproc)
  )
  SELECT input, bool_and(EXISTS (SELECT FROM pg_opclass o JOIN pg_am am ON am.oid = o.opcmethod
                                  WHERE am.amname = 'hash' AND o.opcdefault AND o.opcintype = t.oid)
                         OR t.oid = 'anyarray'::regtype) AS hashable
    FROM t GROUP BY input`;
