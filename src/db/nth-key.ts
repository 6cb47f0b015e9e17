/**
 * The n-th key of `relation` in key order among the rows `where` selects, as text (k0, k1, ...):
 * the upper bound of a keyset chunk or batch. Cast to text outside the LIMIT: projected below it,
 * the cast ran for every key the OFFSET skips (measured: 412 ms against 25 ms for 160,000 keys).
 * `keys` are quoted identifiers; `n` is SQL (a parameter).
 */
export function nthKeySql(relation: string, keys: string[], where: string, n: string): string {
  return (
    `SELECT ${keys.map((k, i) => `${k}::text AS k${i}`).join(', ')} FROM (` +
    `SELECT ${keys.join(', ')} FROM ${relation}${where} ORDER BY ${keys.join(', ')} OFFSET ${n}::bigint - 1 LIMIT 1) b`
  );
}
