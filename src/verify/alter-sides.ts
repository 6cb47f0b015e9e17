import { ident } from '../db/quote.js';
import { originRows, shadowRows, type Tables } from '../copy/sql.js';
import type { Column } from '../catalog/table.js';
import type { Client } from '../db/session.js';
import { HASHABLE_TYPES_SQL, type Side } from './side.js';

export async function hashableTypes(c: Client, types: string[]): Promise<Map<string, boolean>> {
  const r = await c.query<{ input: string; hashable: boolean }>(HASHABLE_TYPES_SQL, [[...new Set(types)]]);
  return new Map(r.rows.map((row) => [row.input, row.hashable]));
}

/**
 * The two sides an online ALTER compares: the origin read through the copy's mapping (each
 * value cast to the new column's type, so a type-changed column is compared after the same
 * conversion), and the shadow's copied columns. Columns whose values the shadow makes up
 * itself (volatile defaults, generated columns) have no origin counterpart and are left out.
 */
export function alterSides(t: Tables, shadowColumns: Column[], hashable: Map<string, boolean>): { origin: Side; shadow: Side; columns: string[] } {
  const m = t.mapping;
  const typeOf = (name: string): string => shadowColumns.find((c) => c.name === name)!.type;
  // Both sides went through the same casts: equal values have equal binary forms, so every
  // type with a hash function is hashed in binary (the copy of a value never changes its scale).
  const binary = m.targets.map((name) => hashable.get(typeOf(name)) === true);
  return {
    origin: {
      relation: originRows(t),
      keys: m.originKey.map((k) => ident(k.name)),
      keyTypes: m.originKey.map((k) => k.type),
      values: m.targets.map((name, i) => `CAST(${m.expressions[i]} AS ${typeOf(name)})`),
      types: m.targets.map(typeOf),
      binary,
      params: m.constants,
    },
    shadow: {
      relation: shadowRows(t),
      keys: m.shadowKey.map(ident),
      keyTypes: t.shadowKeyTypes,
      values: m.targets.map(ident),
      types: m.targets.map(typeOf),
      binary,
      params: [],
    },
    columns: m.targets,
  };
}
