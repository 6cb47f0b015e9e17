import { parseSync } from 'libpg-query';
import { deparseSync } from 'pgsql-deparser';
import { loadParser, type Node } from '../plan/parse.js';

/**
 * A statement meant for the table, made to act on its scratch copy instead: every reference to
 * the table (qualified or not) points into the scratch schema, CONCURRENTLY goes (a rehearsal
 * runs in one transaction). Done on the parse tree, never on the text. Null when the statement
 * cannot be rehearsed without touching another table's locks (a foreign key locks its
 * referenced table) or cannot be parsed.
 */
export async function retarget(sql: string, table: { schema: string; name: string }, scratch: string): Promise<string | null> {
  await loadParser();
  let tree: Node;
  try {
    tree = parseSync(sql);
  } catch {
    return null;
  }
  let blocked = false;
  const visit = (n: Node): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (!n || typeof n !== 'object') return;
    if (n.Constraint?.contype === 'CONSTR_FOREIGN') blocked = true;
    // A RangeVar: bare where a field holds one (AlterTableStmt.relation), wrapped in a FROM list.
    if (typeof n.relname === 'string' && n.relname === table.name && (n.schemaname === undefined || n.schemaname === table.schema)) n.schemaname = scratch;
    if (n.IndexStmt) n.IndexStmt.concurrent = false;
    if (n.DropStmt) blocked = true; // an index of the table: its name in the scratch schema is not known
    Object.values(n).forEach(visit);
  };
  visit(tree.stmts);
  if (blocked) return null;
  try {
    return deparseSync(tree, { pretty: false }).trim();
  } catch {
    return null;
  }
}
