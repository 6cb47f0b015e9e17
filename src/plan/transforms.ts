import { parseSync } from 'libpg-query';
import { UserError } from '../errors.js';
import { deparseExpression, loadParser, type Node } from './parse.js';

/**
 * `--transform "col = expression"`: a column of the new table computed from others during the
 * copy and the replay (migration type "both"), giving what ALTER followed by UPDATE would give
 * offline. The expression names columns of the NEW table, as that UPDATE would.
 */
export interface Transform {
  column: string;
  expression: Node;
}

export async function parseTransforms(texts: string[]): Promise<Transform[]> {
  await loadParser();
  const out: Transform[] = [];
  for (const text of texts) {
    let tree: Node;
    try {
      tree = parseSync(`UPDATE pgshift_transform SET ${text}`);
    } catch (err) {
      throw new UserError(`--transform "${text}": ${(err as Error).message.split('\n')[0]}`);
    }
    const stmts = tree.stmts ?? [];
    const update = stmts.length === 1 ? stmts[0].stmt.UpdateStmt : undefined;
    if (!update || update.fromClause || update.whereClause || update.returningList) {
      throw new UserError(`--transform "${text}": expected "column = expression"`);
    }
    for (const t of update.targetList) {
      const target = t.ResTarget;
      if (target.indirection) throw new UserError(`--transform "${text}": assign whole columns only`);
      if (out.some((o) => o.column === target.name)) throw new UserError(`--transform: column ${target.name} is transformed twice`);
      out.push({ column: target.name, expression: target.val });
    }
  }
  return out;
}

/**
 * The transform's expression over the origin: each column reference is replaced by the SQL that
 * produces that column's new value from the origin (a renamed column's origin name, a converted
 * column's cast), so the copy reads `SELECT <this> FROM origin`.
 */
export function transformSql(t: Transform, valueOf: (newColumn: string) => string): string {
  const copy = structuredClone(t.expression);
  const replace = (node: Node): void => {
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        if (child?.ColumnRef) node[i] = columnNode(child.ColumnRef, valueOf);
        else replace(child);
      });
    } else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if ((v as Node)?.ColumnRef) node[k] = columnNode((v as Node).ColumnRef, valueOf);
        else replace(v);
      }
    }
  };
  if (copy.ColumnRef) return `(${deparseExpression(columnNode(copy.ColumnRef, valueOf))})`;
  replace(copy);
  return `(${deparseExpression(copy)})`;
}

function columnNode(ref: Node, valueOf: (newColumn: string) => string): Node {
  const fields: Node[] = ref.fields ?? [];
  if (fields.length !== 1 || !fields[0].String) throw new UserError('--transform: name columns unqualified');
  const sql = valueOf(fields[0].String.sval);
  return parseSync(`SELECT ${sql}`).stmts[0].stmt.SelectStmt.targetList[0].ResTarget.val;
}
