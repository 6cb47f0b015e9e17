/**
 * The one place identifiers and literals become SQL text. Values travel as $n parameters;
 * these are for the spots SQL cannot parameterise (names, COMMENT ... IS, policy bodies).
 */

/** A piece of SQL text that is safe to splice: produced only by the functions below. */
export type SqlText = string & { readonly __sql: unique symbol };

export function ident(name: string): SqlText {
  return `"${name.replace(/"/g, '""')}"` as SqlText;
}

export function qualified(schema: string, name: string): SqlText {
  return `${ident(schema)}.${ident(name)}` as SqlText;
}

export function literal(value: string | null): SqlText {
  if (value === null) return 'NULL' as SqlText;
  // E'' form keeps backslashes unambiguous whatever standard_conforming_strings says.
  const escaped = value.replace(/\\/g, '\\\\').replace(/'/g, "''");
  return (escaped.includes('\\') ? `E'${escaped}'` : `'${escaped}'`) as SqlText;
}

export function identList(names: readonly string[]): SqlText {
  return names.map(ident).join(', ') as SqlText;
}

/** Marks text that was produced by PostgreSQL itself (pg_get_*def, format_type) as splicable. */
export function trusted(text: string): SqlText {
  return text as SqlText;
}
