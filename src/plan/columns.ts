import { UserError } from '../errors.js';
import type { Column } from '../catalog/table.js';
import { describeIdentity, identityColumn, type UniqueIndex } from '../catalog/row-identity.js';
import { deparseExpression, type AlterStatement, type Node } from './parse.js';
import { columnConstraintTypes, constraintType } from './subcommands.js';

/**
 * Follows the user's statements column by column to learn, for every column of the new table,
 * where its value comes from: an origin column (possibly renamed, possibly through a USING
 * expression) or nothing (added by the ALTER: its default applies).
 */
export type ColumnSource =
  | { kind: 'origin'; origin: string; using: string | null; typeChanged: boolean }
  | { kind: 'added' };

export interface ColumnFlow {
  /** new column name -> source, for every column that exists after the statements */
  sources: Map<string, ColumnSource>;
  /** origin column names renamed, in the order the statements rename them */
  renames: { from: string; to: string }[];
  /** origin columns dropped */
  dropped: string[];
  /** origin columns whose type changes (without or with USING) */
  typeChanged: string[];
  /**
   * The row identity's index as named after the statements, when it is a unique index (a primary
   * key is kept on the shadow through the copy anyway): the shadow keeps it through the copy too.
   */
  identityIndex: string | null;
}

/**
 * `identity` is the table's row identity (catalog/row-identity.ts). Whatever would change it is
 * refused here, for the online copy only: dropping it, its columns or their NOT NULL, or a USING
 * expression on one of its columns (the replay needs a one-to-one key mapping).
 */
export function followColumns(statements: AlterStatement[], origin: Column[], identity: UniqueIndex | null): ColumnFlow {
  const sources = new Map<string, ColumnSource>();
  for (const c of origin) sources.set(c.name, { kind: 'origin', origin: c.name, using: null, typeChanged: false });
  const renames: { from: string; to: string }[] = [];
  const dropped: string[] = [];
  const typeChanged: string[] = [];
  const keyNames = new Set((identity?.columns ?? []).map((k) => k.name));
  let keyConstraintName = identity?.constraint ?? null;
  let identityIndex = identity && !identity.primary ? identity.name : null;
  const notNullNames = new Map((identity?.columns ?? []).flatMap((k) => (k.notNullConstraint ? [[k.notNullConstraint, k.name] as const] : [])));
  const ofKey = describeIdentity(identity);
  const refuseNotNullDrop = (column: string): never => {
    throw new UserError(`refused: dropping NOT NULL on ${identityColumn(identity, column)} is not supported online: the copy and the replay address rows by it`);
  };
  const originOf = (name: string): string | undefined => {
    const s = sources.get(name);
    return s?.kind === 'origin' ? s.origin : undefined;
  };
  // Within one ALTER TABLE statement a USING expression reads the old row; a column converted
  // by an earlier statement has no origin value the copy could read.
  const convertedBefore = new Set<string>();
  const usingSource = (name: string): string | undefined => (convertedBefore.has(name) ? undefined : originOf(name));

  for (const stmt of statements) {
    for (const [name, s] of sources) if (s.kind === 'origin' && s.typeChanged) convertedBefore.add(name);
    if (stmt.kind === 'rename-constraint') {
      if (stmt.from === keyConstraintName) {
        keyConstraintName = stmt.to;
        // Renaming a UNIQUE constraint renames its index too.
        if (identityIndex !== null) identityIndex = stmt.to;
      }
      continue;
    }
    if (stmt.kind === 'drop-index') {
      if (identityIndex !== null && stmt.indexes.some((i) => i.name === identityIndex)) {
        throw new UserError(`refused: dropping ${ofKey} is not supported online`);
      }
      continue;
    }
    if (stmt.kind === 'rename-column') {
      const s = sources.get(stmt.from);
      if (!s) throw new UserError(`column "${stmt.from}" does not exist`);
      if (sources.has(stmt.to)) throw new UserError(`column "${stmt.to}" already exists`);
      sources.delete(stmt.from);
      sources.set(stmt.to, s);
      if (s.kind === 'origin') renames.push({ from: stmt.from, to: stmt.to });
      continue;
    }
    if (stmt.kind !== 'alter') continue;
    for (const cmd of stmt.cmds) {
      switch (cmd.subtype) {
        case 'AT_AddColumn': {
          const def = cmd.def.ColumnDef;
          if (columnConstraintTypes(def).includes('CONSTR_PRIMARY')) {
            throw new UserError('refused: changing the primary key\'s column set is not supported online');
          }
          if (!sources.has(def.colname) || !cmd.missing_ok) sources.set(def.colname, { kind: 'added' });
          break;
        }
        case 'AT_DropColumn': {
          const o = originOf(cmd.name);
          if (o && keyNames.has(o)) throw new UserError(`refused: column "${cmd.name}" is part of ${ofKey}`);
          if (o) dropped.push(o);
          sources.delete(cmd.name);
          break;
        }
        case 'AT_AlterColumnType': {
          const s = sources.get(cmd.name);
          if (!s) throw new UserError(`column "${cmd.name}" does not exist`);
          if (s.kind !== 'origin') break; // an added column: nothing to carry over
          const usingNode = cmd.def?.ColumnDef?.raw_default;
          if (usingNode && keyNames.has(s.origin)) {
            throw new UserError(
              `refused: a USING expression on ${identityColumn(identity, cmd.name)} may map two keys to one; only widening casts are allowed on the key`,
            );
          }
          const using = usingNode ? rewriteColumnRefs(usingNode, usingSource) : s.using;
          sources.set(cmd.name, { kind: 'origin', origin: s.origin, using, typeChanged: true });
          typeChanged.push(s.origin);
          break;
        }
        case 'AT_AddConstraint': {
          if (constraintType(cmd) === 'CONSTR_PRIMARY') {
            throw new UserError('refused: changing the primary key\'s column set is not supported online');
          }
          // ADD CONSTRAINT ... UNIQUE USING INDEX renames the index to the constraint's name.
          const con = cmd.def?.Constraint;
          if (identityIndex !== null && con?.indexname === identityIndex) identityIndex = keyConstraintName = con.conname || identityIndex;
          break;
        }
        case 'AT_DropConstraint':
          if (keyConstraintName && cmd.name === keyConstraintName) {
            throw new UserError(`refused: dropping ${ofKey} is not supported online`);
          }
          if (notNullNames.has(cmd.name)) refuseNotNullDrop(notNullNames.get(cmd.name)!);
          break;
        case 'AT_DropNotNull': {
          const o = originOf(cmd.name);
          if (o && keyNames.has(o)) refuseNotNullDrop(cmd.name);
          break;
        }
        default:
          break;
      }
    }
  }
  return { sources, renames, dropped, typeChanged, identityIndex };
}

/**
 * A USING expression names columns as they are at that point of the statements; the copy
 * reads the origin, so each reference is turned into the origin column's name. A reference to
 * a column the statements added or already converted has no origin value to read: refused.
 */
function rewriteColumnRefs(expr: Node, originOf: (name: string) => string | undefined): string {
  const copy = structuredClone(expr);
  visit(copy, (node) => {
    const ref = node.ColumnRef;
    if (!ref) return;
    const fields: Node[] = ref.fields ?? [];
    if (fields.length !== 1 || !fields[0].String) {
      throw new UserError('refused: a USING expression may name columns only unqualified');
    }
    const name: string = fields[0].String.sval;
    const origin = originOf(name);
    if (!origin) throw new UserError(`refused: the USING expression reads column "${name}", which has no origin value`);
    fields[0].String.sval = origin;
  });
  return deparseExpression(copy);
}

function visit(node: Node, fn: (n: Node) => void): void {
  if (Array.isArray(node)) {
    for (const n of node) visit(n, fn);
  } else if (node && typeof node === 'object') {
    fn(node);
    for (const v of Object.values(node)) visit(v, fn);
  }
}

/** The new table's columns whose type the change alters (by a cast or USING). */
export function retypedColumns(flow: ColumnFlow): string[] {
  return [...flow.sources].filter(([, s]) => s.kind === 'origin' && (s.typeChanged || s.using)).map(([n]) => n);
}

/** An origin column's name in the new table, absent when the change drops it. */
export function newColumnName(flow: ColumnFlow): (origin: string) => string | undefined {
  return (o) => [...flow.sources.entries()].find(([, s]) => s.kind === 'origin' && s.origin === o)?.[0];
}
