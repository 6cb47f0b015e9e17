import { loadModule, parseSync } from 'libpg-query';
import { deparseSync } from 'pgsql-deparser';
import { UserError } from '../errors.js';

/**
 * The user's statements as parsed by the real PostgreSQL parser (libpg-query). Only
 * ALTER TABLE and ALTER TABLE ... RENAME COLUMN / RENAME CONSTRAINT on ONE table are accepted;
 * trees are rewritten and printed back with pgsql-deparser, never edited as strings.
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
  | { kind: 'rename-constraint'; node: Node; from: string; to: string };

export interface ParsedAlter {
  relation: RelationRef;
  /** each statement's own reference, to be resolved against the search_path */
  relations: RelationRef[];
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
  const statements = stmts.map(classify);
  const relations = statements.map((s) => relationOf(s.node));
  const first = relations[0]!;
  const schemas = new Set(relations.flatMap((r) => (r.schema ? [r.schema] : [])));
  for (const r of relations) {
    if (r.name !== first.name || schemas.size > 1) {
      const other = relations.find((o) => o.name !== first.name || (o.schema && o.schema !== [...schemas][0])) ?? r;
      throw new UserError(`all statements must alter the same table: got ${show(first)} and ${show(other)}; run one pgshift per table`);
    }
  }
  // Unqualified and qualified names may still mean two tables; the planner resolves each.
  return { relation: { schema: [...schemas][0], name: first.name }, relations, statements };
}

function classify(stmt: Node): AlterStatement {
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
  throw new UserError(`only ALTER TABLE statements are accepted, got ${kind.replace(/Stmt$/, '')}`);
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
  const wrapped = stmt.kind === 'alter' ? { AlterTableStmt: stmt.node } : { RenameStmt: stmt.node };
  return deparseSync([{ RawStmt: { stmt: wrapped } }] as Node, { pretty: false }).trim();
}

/** Prints an expression node back to SQL. */
export function deparseExpression(node: Node): string {
  return deparseSync(node, { pretty: false }).trim();
}
