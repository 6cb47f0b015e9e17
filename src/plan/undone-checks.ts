import { UserError } from '../errors.js';
import type { AlterStatement, Node } from './parse.js';

/**
 * Offline, each statement runs on its own and checks the existing rows: `ALTER COLUMN v SET NOT
 * NULL; ALTER COLUMN v DROP NOT NULL` fails at the first statement when v holds a NULL. The
 * shadow is built empty with all the statements applied, so a check that a later statement
 * takes back is never made against the rows, and the online run would succeed where offline
 * fails. Such a sequence is refused (within ONE statement PostgreSQL checks only the end state,
 * as the shadow does, so that is fine).
 */
type Checked = { statement: number; what: string };

const CHECKING_CONSTRAINTS = new Set(['CONSTR_NOTNULL', 'CONSTR_CHECK', 'CONSTR_UNIQUE', 'CONSTR_PRIMARY', 'CONSTR_EXCLUSION', 'CONSTR_FOREIGN']);

export function refuseUndoneChecks(statements: AlterStatement[]): void {
  const checked = new Map<string, Checked>();
  // Renames carry what was checked under the old name to the new one.
  const rename = (prefix: string, from: string, to: string): void => {
    const c = checked.get(`${prefix}:${from}`);
    if (c) {
      checked.delete(`${prefix}:${from}`);
      checked.set(`${prefix}:${to}`, c);
    }
  };
  const undo = (i: number, key: string, how: string): void => {
    const c = checked.get(key);
    if (c && c.statement < i) {
      throw new UserError(
        `refused: statement ${i + 1} ${how}, which statement ${c.statement + 1} (${c.what}) checks against every existing row offline; ` +
          `the online copy would never make that check: run them as separate migrations, or leave both out`,
      );
    }
  };
  statements.forEach((stmt, i) => {
    if (stmt.kind === 'rename-column') {
      for (const p of ['notnull', 'type', 'column']) rename(p, stmt.from, stmt.to);
      return;
    }
    if (stmt.kind === 'rename-constraint') {
      rename('constraint', stmt.from, stmt.to);
      return;
    }
    if (stmt.kind !== 'alter') return;
    for (const cmd of stmt.cmds as Node[]) {
      const name: string | undefined = cmd.name;
      switch (cmd.subtype) {
        case 'AT_SetNotNull':
          checked.set(`notnull:${name}`, { statement: i, what: `SET NOT NULL on ${name}` });
          break;
        case 'AT_DropNotNull':
          undo(i, `notnull:${name}`, `drops NOT NULL on ${name}`);
          undo(i, `column:${name}`, `drops NOT NULL on ${name}`);
          break;
        case 'AT_AlterColumnType':
          undo(i, `type:${name}`, `converts ${name} again`);
          checked.set(`type:${name}`, { statement: i, what: `the conversion of ${name}` });
          break;
        case 'AT_AddColumn': {
          const col = cmd.def?.ColumnDef;
          const kinds: string[] = (col?.constraints ?? []).map((k: Node) => k.Constraint?.contype);
          if (kinds.some((k) => CHECKING_CONSTRAINTS.has(k))) checked.set(`column:${col.colname}`, { statement: i, what: `the constraints of the added column ${col.colname}` });
          break;
        }
        case 'AT_AddConstraint': {
          const con = cmd.def?.Constraint;
          if (con?.conname && CHECKING_CONSTRAINTS.has(con.contype) && !con.skip_validation) {
            checked.set(`constraint:${con.conname}`, { statement: i, what: `ADD CONSTRAINT ${con.conname}` });
          }
          break;
        }
        case 'AT_DropConstraint':
          undo(i, `constraint:${name}`, `drops constraint ${name}`);
          break;
        case 'AT_DropColumn':
          for (const p of ['notnull', 'type', 'column']) undo(i, `${p}:${name}`, `drops column ${name}`);
          break;
      }
    }
  });
}
