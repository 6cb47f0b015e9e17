import { loadModule, parseSync } from 'libpg-query';
import { deparseSync } from 'pgsql-deparser';
import { UserError } from '../errors.js';

/**
 * The user's statements as parsed by the real PostgreSQL parser (libpg-query). Accepted, on ONE
 * table: ALTER TABLE, ALTER TABLE ... RENAME COLUMN / RENAME CONSTRAINT, and the table's index
 * statements CREATE [UNIQUE] INDEX and DROP INDEX (which name an index: the table they belong
 * to is found in the catalog, plan/target.ts). Trees are rewritten and printed back with
 * pgsql-deparser, never edited as strings.
 */

// Parse trees are plain JSON objects; the shapes used here are narrow and checked at run time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Node = any;

export interface RelationRef {
  schema: string | undefined;
  name: string;
}

export type AlterStatement =
  | { kind: 'alter'; node: Node; cmds: Node[] }
  | { kind: 'rename-column'; node: Node; from: string; to: string }
  | { kind: 'rename-constraint'; node: Node; from: string; to: string }
  | { kind: 'create-index'; node: Node }
  | { kind: 'drop-index'; node: Node; indexes: RelationRef[] };

export interface ParsedAlter {
  /** the table the statements name (null when every statement is a DROP INDEX) */
  relation: RelationRef | null;
  /** each statement's own table reference (null for DROP INDEX), to be resolved against the search_path */
  relations: (RelationRef | null)[];
  statements: AlterStatement[];
}

let loaded: Promise<void> | undefined;
export function loadParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

export async function parseAlter(sql: string): Promise<ParsedAlter> {
  await loadParser();
  let tree: Node;
  try {
    tree = parseSync(sql);
  } catch (err) {
    throw new UserError(`cannot parse the statement: ${(err as Error).message.split('\n')[0]}`);
  }
  const stmts: Node[] = (tree.stmts ?? []).map((s: Node) => s.stmt);
  if (stmts.length === 0) throw new UserError('no statement given: expected ALTER TABLE ...');
  const statements = stmts.map(alterStatementOf);
  const relations = statements.map((s) => (s.kind === 'drop-index' ? null : relationOf(s.node)));
  const named = relations.filter((r): r is RelationRef => r !== null);
  const first = named[0];
  if (!first) return { relation: null, relations, statements };
  const schemas = new Set(named.flatMap((r) => (r.schema ? [r.schema] : [])));
  for (const r of named) {
    if (r.name !== first.name || schemas.size > 1) {
      const other = named.find((o) => o.name !== first.name || (o.schema && o.schema !== [...schemas][0])) ?? r;
      throw new UserError(`all statements must alter the same table: got ${show(first)} and ${show(other)}; run one pgshift per table`);
    }
  }
  // Unqualified and qualified names may still mean two tables, and a DROP INDEX names no table:
  // plan/target.ts resolves each against the catalog.
  return { relation: { schema: [...schemas][0], name: first.name }, relations, statements };
}

function indexStatement(stmt: Node): AlterStatement | null {
  if (stmt.IndexStmt) {
    const node = stmt.IndexStmt;
    return { kind: 'create-index', node };
  }
  if (stmt.DropStmt?.removeType === 'OBJECT_INDEX') {
    const node = stmt.DropStmt;
    // pgshift never drops with CASCADE (DESIGN.md section 2), and DROP INDEX CONCURRENTLY cannot.
    if (node.behavior === 'DROP_CASCADE') throw new UserError('refused: DROP INDEX ... CASCADE would drop what depends on the index too; drop those first, then the index');
    const indexes = (node.objects ?? []).map((o: Node) => {
      const parts: string[] = (o.List?.items ?? []).map((i: Node) => i.String?.sval);
      if (parts.length > 2) throw new UserError('a database-qualified index name is not supported');
      return parts.length === 2 ? { schema: parts[0], name: parts[1] } : { schema: undefined, name: parts[0] };
    });
    return { kind: 'drop-index', node, indexes };
  }
  return null;
}

/** One parsed statement as pgshift runs it online, or a UserError saying why it does not. */
export function alterStatementOf(stmt: Node): AlterStatement {
  const index = indexStatement(stmt);
  if (index) return index;
  if (stmt.AlterTableStmt) {
    const node = stmt.AlterTableStmt;
    if (node.objtype !== 'OBJECT_TABLE') {
      throw new UserError(`only ALTER TABLE is supported, not ALTER ${objectWord(node.objtype)}`);
    }
    return { kind: 'alter', node, cmds: (node.cmds ?? []).map((c: Node) => c.AlterTableCmd) };
  }
  if (stmt.RenameStmt) {
    const node = stmt.RenameStmt;
    if (node.renameType === 'OBJECT_COLUMN' && node.relationType === 'OBJECT_TABLE') {
      return { kind: 'rename-column', node, from: node.subname, to: node.newname };
    }
    if (node.renameType === 'OBJECT_TABCONSTRAINT') {
      return { kind: 'rename-constraint', node, from: node.subname, to: node.newname };
    }
    if (node.renameType === 'OBJECT_TABLE') {
      throw new UserError('renaming a table needs no online migration: run ALTER TABLE ... RENAME TO directly');
    }
    throw new UserError('only ALTER TABLE ... RENAME COLUMN and RENAME CONSTRAINT renames are supported');
  }
  const kind = Object.keys(stmt)[0] ?? 'unknown';
  throw new UserError(`only ALTER TABLE, CREATE INDEX and DROP INDEX statements are accepted, got ${kind.replace(/Stmt$/, '')}`);
}

function relationOf(node: Node): RelationRef {
  const rel = node.relation;
  if (!rel?.relname) throw new UserError('the statement names no table');
  if (rel.catalogname) throw new UserError('a database-qualified table name is not supported');
  return { schema: rel.schemaname, name: rel.relname };
}

function objectWord(objtype: string): string {
  return String(objtype ?? '').replace(/^OBJECT_/, '').replace(/_/g, ' ');
}

function show(r: RelationRef): string {
  return r.schema ? `${r.schema}.${r.name}` : r.name;
}

/** Prints one statement node back to SQL. */
export function deparseStatement(stmt: AlterStatement): string {
  const kinds = { alter: 'AlterTableStmt', 'rename-column': 'RenameStmt', 'rename-constraint': 'RenameStmt', 'create-index': 'IndexStmt', 'drop-index': 'DropStmt' };
  const wrapped = { [kinds[stmt.kind]]: stmt.node };
  return deparseSync([{ RawStmt: { stmt: wrapped } }] as Node, { pretty: false }).trim();
}

/** Prints an expression node back to SQL. */
export function deparseExpression(node: Node): string {
  return deparseSync(node, { pretty: false }).trim();
}
