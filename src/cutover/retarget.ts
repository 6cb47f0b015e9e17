import { parseSync } from 'libpg-query';
import { loadParser, type Node } from '../plan/parse.js';
import { ident } from '../db/quote.js';

/**
 * Definitions PostgreSQL printed (pg_get_viewdef, pg_get_indexdef, pg_get_statisticsobjdef,
 * read under search_path = pg_catalog so that every name is schema-qualified), with some of the
 * relations and types they name moved to another schema: `public.t` becomes `pgshift_7.t`.
 *
 * The text is edited only at the positions PostgreSQL's own parser (libpg-query) reports for
 * those names, and everything else stays byte for byte what PostgreSQL printed: an object built
 * from it reads back with the same definition (a deparser would print its own dialect, and
 * pgsql-deparser gets some statements wrong, e.g. an index's WITH after its WHERE).
 */
export interface SchemaMoves {
  /** [schema, name] of a relation (and its row type) -> the schema it is to be read from */
  get(schema: string, name: string): string | undefined;
}

export function schemaMoves(entries: { schema: string; name: string; to: string }[]): SchemaMoves {
  const map = new Map(entries.map((e) => [JSON.stringify([e.schema, e.name]), e.to]));
  return { get: (schema, name) => map.get(JSON.stringify([schema, name])) };
}

/** `sql` with every qualified relation and type name that `moves` names read from its new schema. */
export async function retargetSchemas(sql: string, moves: SchemaMoves, extra: { offset: number }[] = []): Promise<string> {
  await loadParser();
  const tree: Node = parseSync(sql);
  const edits: { at: number; schema: string; name: string }[] = [];
  walk(tree, (node) => {
    // RangeVar: { schemaname, relname, location }; TypeName: { names: [String...], typemod, location }
    if (typeof node.relname === 'string' && typeof node.schemaname === 'string' && typeof node.location === 'number') {
      edits.push({ at: node.location, schema: node.schemaname, name: node.relname });
    } else if (Array.isArray(node.names) && 'typemod' in node && node.names.length === 2 && typeof node.location === 'number') {
      const [schema, name] = node.names.map((n: Node) => n?.String?.sval);
      if (typeof schema === 'string' && typeof name === 'string') edits.push({ at: node.location, schema, name });
    }
  });
  const bytes = Buffer.from(sql, 'utf8');
  for (const e of extra) {
    const span = qualifiedNameAt(bytes, e.offset);
    edits.push({ at: e.offset, schema: span.schema, name: span.name });
  }
  const chosen = edits
    .map((e) => ({ ...e, to: moves.get(e.schema, e.name) }))
    .filter((e): e is typeof e & { to: string } => e.to !== undefined)
    .sort((a, b) => b.at - a.at);
  let out = bytes;
  const done = new Set<number>();
  for (const e of chosen) {
    if (done.has(e.at)) continue;
    done.add(e.at);
    const span = qualifiedNameAt(out, e.at);
    if (span.schema !== e.schema || span.name !== e.name) {
      throw new Error(`cannot retarget ${e.schema}.${e.name}: the text at ${e.at} reads ${span.schema}.${span.name}`);
    }
    // Only the schema changes: the name, and so every reference by the relation's name, stays.
    out = Buffer.concat([out.subarray(0, e.at), Buffer.from(ident(e.to), 'utf8'), out.subarray(span.schemaEnd)]);
  }
  return out.toString('utf8');
}

function walk(node: Node, visit: (n: Node) => void): void {
  if (Array.isArray(node)) {
    for (const x of node) walk(x, visit);
  } else if (node !== null && typeof node === 'object') {
    visit(node);
    for (const v of Object.values(node)) walk(v, visit);
  }
}

/**
 * The `schema.name` that starts at byte `at`, each part an identifier as PostgreSQL prints it
 * (quote_ident: bare when plain lowercase, else double-quoted with "" for a quote).
 */
export function qualifiedNameAt(bytes: Buffer, at: number): { schema: string; name: string; schemaEnd: number } {
  const first = identifierAt(bytes, at);
  if (bytes[first.end] !== 0x2e /* . */) throw new Error(`no qualified name at ${at}`);
  const second = identifierAt(bytes, first.end + 1);
  return { schema: first.value, name: second.value, schemaEnd: first.end };
}

function identifierAt(bytes: Buffer, at: number): { value: string; end: number } {
  if (bytes[at] === 0x22 /* " */) {
    let i = at + 1;
    const parts: Buffer[] = [];
    for (let start = i; ; ) {
      if (i >= bytes.length) throw new Error(`unterminated identifier at ${at}`);
      if (bytes[i] === 0x22) {
        parts.push(bytes.subarray(start, i));
        if (bytes[i + 1] === 0x22) {
          parts.push(Buffer.from('"'));
          i += 2;
          start = i;
          continue;
        }
        return { value: Buffer.concat(parts).toString('utf8'), end: i + 1 };
      }
      i++;
    }
  }
  let i = at;
  // quote_ident leaves bare only lowercase letters, digits, underscores (and not first a digit)
  while (i < bytes.length && (isLower(bytes[i]!) || isDigit(bytes[i]!) || bytes[i] === 0x5f || bytes[i]! >= 0x80)) i++;
  if (i === at) throw new Error(`no identifier at ${at}`);
  return { value: bytes.subarray(at, i).toString('utf8'), end: i };
}

const isLower = (b: number): boolean => b >= 0x61 && b <= 0x7a;
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;

