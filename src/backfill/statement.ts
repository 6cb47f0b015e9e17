import { parseSync } from 'libpg-query';
import { UserError } from '../errors.js';
import { ident } from '../db/quote.js';
import { deparseExpression, loadParser, type Node } from '../plan/parse.js';

/**
 * `--set`, `--where` and `--from` are checked by the real parser as ONE UPDATE of the table,
 * then printed back piece by piece (deparsed) into the batch statement the backfill runs.
 */
export interface BackfillStatement {
  /** `col = expr` assignments, deparsed */
  assignments: string[];
  targets: string[];
  from: string | null;
  where: string | null;
  /** the predicate reads a column it assigns: a rerun finds no work already done */
  idempotent: boolean;
}

export async function parseBackfill(table: string, set: string, where?: string, from?: string): Promise<BackfillStatement> {
  await loadParser();
  const sql = `UPDATE ${table} SET ${set}${from ? ` FROM ${from}` : ''}${where ? ` WHERE ${where}` : ''}`;
  let tree: Node;
  try {
    tree = parseSync(sql);
  } catch (err) {
    throw new UserError(`cannot parse the backfill: ${(err as Error).message.split('\n')[0]}`);
  }
  const stmts: Node[] = tree.stmts ?? [];
  const update = stmts.length === 1 ? stmts[0].stmt.UpdateStmt : undefined;
  if (!update || update.returningList || update.withClause) {
    throw new UserError('--set, --where and --from must make ONE plain UPDATE of the table');
  }
  const targets: string[] = [];
  const assignments = update.targetList.map((t: Node) => {
    const r = t.ResTarget;
    if (r.indirection) throw new UserError('--set: assign whole columns only');
    targets.push(r.name);
    return `${ident(r.name)} = ${deparseExpression(r.val)}`;
  });
  const read = new Set<string>();
  const visit = (n: Node): void => {
    if (Array.isArray(n)) n.forEach(visit);
    else if (n && typeof n === 'object') {
      if (n.ColumnRef) {
        const fields: Node[] = n.ColumnRef.fields ?? [];
        const last = fields[fields.length - 1];
        if (last?.String) read.add(last.String.sval);
      }
      Object.values(n).forEach(visit);
    }
  };
  if (update.whereClause) visit(update.whereClause);
  return {
    assignments,
    targets,
    from: update.fromClause ? update.fromClause.map((f: Node) => deparseExpression(f)).join(', ') : null,
    where: update.whereClause ? deparseExpression(update.whereClause) : null,
    idempotent: targets.some((t) => read.has(t)),
  };
}
