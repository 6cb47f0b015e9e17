import { UserError } from '../errors.js';
import type { Column, KeyColumn } from '../catalog/table.js';
import { describeIdentity, identityColumn, type UniqueIndex } from '../catalog/row-identity.js';
import type { ColumnFlow } from './columns.js';
import { transformSql, type Transform } from './transforms.js';

/**
 * How a row of the origin becomes a row of the shadow: the column list the copy and the replay
 * insert, and the expression over origin columns that feeds each. Expressions are SQL text
 * made of quoted identifiers, deparsed USING expressions, and $n references to `constants`.
 */
export interface RowMapping {
  targets: string[];
  expressions: string[];
  /** values of the once-evaluated defaults of added columns; referenced as $1..$n */
  constants: (string | null)[];
  /** added columns whose per-row value (volatile default, identity) must survive a replay */
  preserved: string[];
  /** an identity ALWAYS column is written: INSERT needs OVERRIDING SYSTEM VALUE */
  overriding: boolean;
  originKey: KeyColumn[];
  /** the key's columns as named in the shadow, in key order */
  shadowKey: string[];
  /**
   * key columns whose type change is not widening (bigint to integer, text to varchar(64), ...):
   * one-to-one only if the data says so, which the copy's key and the row counts prove before
   * the swap (README, Validation)
   */
  narrowedKey: { column: string; from: string; to: string }[];
}

const WIDENING: Record<string, string[]> = {
  smallint: ['integer', 'bigint', 'numeric'],
  integer: ['bigint', 'numeric'],
  bigint: ['numeric'],
  'character varying': ['text'],
  text: ['character varying'],
};

const INTEGERS = new Set(['smallint', 'integer', 'bigint']);

/**
 * Whether a narrowing key change can map two old keys to one new key without an error: an
 * integer narrowing cannot (a value fits unchanged or the cast fails), a varchar limit can
 * (trailing spaces are cut), and so can a rounding (numeric scale, timestamp to date). Only
 * these need the cutover's exact row counts.
 */
export function narrowingMayMerge(k: { from: string; to: string }): boolean {
  return !(INTEGERS.has(k.from) && INTEGERS.has(k.to));
}

/** A key column's type change that maps every old value to a distinct new one, whatever the data. */
export function isWideningKeyChange(from: string, to: string): boolean {
  if (from === to) return true;
  if (WIDENING[from]?.includes(to)) return true;
  const vf = /^character varying\((\d+)\)$/.exec(from);
  const vt = /^character varying(?:\((\d+)\))?$/.exec(to);
  if (vf && (to === 'text' || (vt && (vt[1] === undefined || Number(vt[1]) >= Number(vf[1]))))) return true;
  return false;
}

export function deriveMapping(
  flow: ColumnFlow,
  shadowColumns: Column[],
  onceDefaults: Map<string, string | null>,
  originKey: KeyColumn[],
  quote: (n: string) => string,
  transforms: Transform[] = [],
  /** the origin's row identity, for the refusals' wording (null: a primary key) */
  rowIdentity: UniqueIndex | null = null,
): RowMapping {
  const targets: string[] = [];
  const expressions: string[] = [];
  const constants: (string | null)[] = [];
  const preserved: string[] = [];
  let overriding = false;

  // A new column's value as the origin gives it: what a transform reads for that column.
  const valueOf = (name: string): string => {
    const source = flow.sources.get(name);
    const col = shadowColumns.find((c) => c.name === name);
    if (!source || source.kind !== 'origin' || !col) {
      throw new UserError(`--transform reads column ${name}, which has no value in the origin`);
    }
    const read = source.using ? `(${source.using})` : quote(source.origin);
    return source.typeChanged ? `CAST(${read} AS ${col.type})` : read;
  };
  for (const t of transforms) {
    const col = shadowColumns.find((c) => c.name === t.column);
    if (!col) throw new UserError(`--transform: the new table has no column ${t.column}`);
    if (col.generated) throw new UserError(`--transform: ${t.column} is a generated column`);
    if (originKey.some((k) => flow.sources.get(t.column)?.kind === 'origin' && (flow.sources.get(t.column) as { origin: string }).origin === k.name)) {
      throw new UserError(`--transform: ${t.column} is part of ${describeIdentity(rowIdentity)}`);
    }
  }
  for (const col of shadowColumns) {
    if (col.generated) continue; // computed by the shadow itself
    const source = flow.sources.get(col.name) ?? { kind: 'added' as const };
    const transform = transforms.find((t) => t.column === col.name);
    if (transform) {
      targets.push(col.name);
      expressions.push(transformSql(transform, valueOf));
      if (col.identity === 'a') overriding = true;
    } else if (source.kind === 'origin') {
      targets.push(col.name);
      expressions.push(source.using ? `(${source.using})` : quote(source.origin));
      if (col.identity === 'a') overriding = true;
    } else if (onceDefaults.has(col.name)) {
      // A non-volatile default, evaluated once for all rows, as offline.
      constants.push(onceDefaults.get(col.name) ?? null);
      targets.push(col.name);
      expressions.push(`$${constants.length}::${col.type}`);
    } else {
      preserved.push(col.name);
      if (col.identity === 'a') overriding = true;
    }
  }

  const narrowedKey: RowMapping['narrowedKey'] = [];
  const shadowKey = originKey.map((k) => {
    const entry = [...flow.sources.entries()].find(([, s]) => s.kind === 'origin' && s.origin === k.name);
    if (!entry) throw new UserError(`refused: ${identityColumn(rowIdentity, k.name)} does not survive the change`);
    const shadowCol = shadowColumns.find((c) => c.name === entry[0])!;
    // A narrowing cast (no USING expression: plan/columns.ts refuses those on the key) is one-to-one
    // on data where no two keys merge: a value that does not fit fails the copy as offline, and
    // keys that merge meet the shadow's unique key or differ in the row counts, before the swap.
    if (!isWideningKeyChange(k.type, shadowCol.type)) narrowedKey.push({ column: k.name, from: k.type, to: shadowCol.type });
    return entry[0];
  });
  return { targets, expressions, constants, preserved, overriding, originKey, shadowKey, narrowedKey };
}
