import { ident, qualified } from '../db/quote.js';
import type { Node } from '../plan/parse.js';

/**
 * The statements that undo one statement of a migration file, read from its parse tree, for
 * `migrate up --rollback automatic`; null when it has none pgshift can be sure of from the
 * statement alone (a USING cast, a DROP, an UPDATE, a function, SET NOT NULL on a column that may
 * have been NOT NULL already, anything IF NOT EXISTS, ...). `indexName` names the index an unnamed CREATE INDEX got.
 */
export function inverseOf(node: Node, indexName?: string): string[] | null {
  const rel = (r: Node): string => (r.schemaname ? qualified(r.schemaname, r.relname) : ident(r.relname));
  // IF NOT EXISTS may have created nothing; without it, what the statement names is its own.
  if (node.CreateStmt) return node.CreateStmt.if_not_exists ? null : [`DROP TABLE ${rel(node.CreateStmt.relation)}`];
  if (node.IndexStmt) {
    const i = node.IndexStmt;
    if (i.if_not_exists) return null;
    const name = i.idxname ?? indexName;
    if (!name) return null;
    const schema = i.relation.schemaname;
    return [`DROP INDEX CONCURRENTLY ${schema ? qualified(schema, name) : ident(name)}`];
  }
  if (node.RenameStmt?.renameType === 'OBJECT_COLUMN' && node.RenameStmt.relationType === 'OBJECT_TABLE') {
    const r = node.RenameStmt;
    return [`ALTER TABLE ${rel(r.relation)} RENAME COLUMN ${ident(r.newname)} TO ${ident(r.subname)}`];
  }
  if (!node.AlterTableStmt || node.AlterTableStmt.objtype !== 'OBJECT_TABLE') return null;
  const table = rel(node.AlterTableStmt.relation);
  const undo: string[] = [];
  for (const c of node.AlterTableStmt.cmds ?? []) {
    const cmd = c.AlterTableCmd;
    switch (cmd.subtype) {
      case 'AT_AddColumn':
        if (cmd.missing_ok) return null; // ADD COLUMN IF NOT EXISTS may have added nothing
        undo.push(`ALTER TABLE ${table} DROP COLUMN ${ident(cmd.def.ColumnDef.colname)}`);
        break;
      case 'AT_AddConstraint': {
        const name = cmd.def?.Constraint?.conname;
        if (!name) return null;
        undo.push(`ALTER TABLE ${table} DROP CONSTRAINT ${ident(name)}`);
        break;
      }
      default:
        return null;
    }
  }
  return undo.reverse();
}
