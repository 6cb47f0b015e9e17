import type { Node } from '../plan/parse.js';

/**
 * What the migration files read so far say about tables, in file order: which file created a
 * table or added a column (its own objects: nobody else uses them yet), the columns' declared types
 * (to judge a later type change) and NOT NULL, and the CHECK (column IS NOT NULL) constraints that
 * would let SET NOT NULL skip its scan. Lint's stand-in for the catalog it does not read.
 */
export interface ColumnInfo {
  /** the TypeName node as declared or last altered */
  type: Node | null;
  notNull: boolean;
  /** the file whose statement added it; null for columns of a CREATE TABLE (see TableInfo) */
  addedBy: string | null;
}

export interface TableInfo {
  schema: string;
  name: string;
  /** the file whose CREATE TABLE made it; null when the files only altered it */
  createdBy: string | null;
  columns: Map<string, ColumnInfo>;
  /** CHECK (column IS NOT NULL) constraints by name */
  notNullChecks: Map<string, { column: string; validated: boolean }>;
}

export interface Relation {
  schema: string;
  name: string;
}

/** A relation node's schema and name; an unqualified name is taken as public's (the files set no search_path we follow). */
export function relationOf(rel: Node): Relation {
  return { schema: rel?.schemaname ?? 'public', name: rel?.relname ?? '?' };
}

/** The tables a DROP TABLE names. */
export function droppedTables(drop: Node): Relation[] {
  return (drop.objects ?? []).map((o: Node) => {
    const parts: string[] = (o.List?.items ?? []).map((i: Node) => i.String?.sval);
    return parts.length > 1 ? { schema: parts.at(-2)!, name: parts.at(-1)! } : { schema: 'public', name: parts[0]! };
  });
}

export function showRelation(r: Relation): string {
  return r.schema === 'public' ? r.name : `${r.schema}.${r.name}`;
}

const key = (r: Relation): string => `${r.schema}.${r.name}`;

export class FilesCatalog {
  private readonly tables = new Map<string, TableInfo>();

  table(r: Relation): TableInfo | undefined {
    return this.tables.get(key(r));
  }

  /** A table this file created (its down section included): empty and unused until the file is done. */
  createdBy(r: Relation, file: string): boolean {
    return this.table(r)?.createdBy === file;
  }

  /** A copy for a down section, whose changes never reach later files. */
  clone(): FilesCatalog {
    const copy = new FilesCatalog();
    for (const [k, t] of this.tables) {
      copy.tables.set(k, { ...t, columns: new Map([...t.columns].map(([n, c]) => [n, { ...c }])), notNullChecks: new Map([...t.notNullChecks].map(([n, c]) => [n, { ...c }])) });
    }
    return copy;
  }

  /** Records what one statement (a RawStmt's stmt) of `file` changes. */
  apply(stmt: Node, file: string): void {
    if (stmt.CreateStmt) this.create(stmt.CreateStmt, file);
    else if (stmt.AlterTableStmt?.objtype === 'OBJECT_TABLE') {
      const t = this.ensure(relationOf(stmt.AlterTableStmt.relation));
      for (const c of stmt.AlterTableStmt.cmds ?? []) this.alter(t, c.AlterTableCmd, file);
    } else if (stmt.RenameStmt) this.rename(stmt.RenameStmt);
    else if (stmt.DropStmt?.removeType === 'OBJECT_TABLE') {
      for (const r of droppedTables(stmt.DropStmt)) this.tables.delete(key(r));
    }
  }

  private ensure(r: Relation): TableInfo {
    let t = this.table(r);
    if (!t) {
      t = { ...r, createdBy: null, columns: new Map(), notNullChecks: new Map() };
      this.tables.set(key(r), t);
    }
    return t;
  }

  private create(node: Node, file: string): void {
    const r = relationOf(node.relation);
    if (node.if_not_exists && this.table(r)) return;
    const t: TableInfo = { ...r, createdBy: file, columns: new Map(), notNullChecks: new Map() };
    this.tables.set(key(r), t);
    for (const e of node.tableElts ?? []) {
      if (e.ColumnDef) this.addColumn(t, e.ColumnDef, null);
      const k = e.Constraint;
      if (k?.contype === 'CONSTR_PRIMARY') for (const c of k.keys ?? []) markNotNull(t, c.String?.sval);
      if (k?.contype === 'CONSTR_CHECK') this.addCheck(t, k);
    }
  }

  private addColumn(t: TableInfo, def: Node, addedBy: string | null): void {
    const kinds: string[] = (def.constraints ?? []).map((k: Node) => k.Constraint?.contype);
    t.columns.set(def.colname, { type: def.typeName ?? null, notNull: kinds.includes('CONSTR_NOTNULL') || kinds.includes('CONSTR_PRIMARY'), addedBy });
  }

  private addCheck(t: TableInfo, k: Node): void {
    const column = notNullColumn(k.raw_expr);
    if (!column) return;
    // PostgreSQL's name for an unnamed CHECK on one column (ChooseConstraintName)
    t.notNullChecks.set(k.conname ?? `${t.name}_${column}_check`, { column, validated: !k.skip_validation });
  }

  private alter(t: TableInfo, cmd: Node, file: string): void {
    const col = t.columns.get(cmd.name);
    switch (cmd.subtype) {
      case 'AT_AddColumn':
        this.addColumn(t, cmd.def.ColumnDef, file);
        break;
      case 'AT_AlterColumnType':
        if (col) col.type = cmd.def?.ColumnDef?.typeName ?? null;
        else t.columns.set(cmd.name, { type: cmd.def?.ColumnDef?.typeName ?? null, notNull: false, addedBy: null });
        break;
      case 'AT_DropColumn':
        t.columns.delete(cmd.name);
        break;
      case 'AT_SetNotNull':
        markNotNull(t, cmd.name);
        break;
      case 'AT_DropNotNull':
        if (col) col.notNull = false;
        break;
      case 'AT_AddConstraint':
        if (cmd.def?.Constraint?.contype === 'CONSTR_CHECK') this.addCheck(t, cmd.def.Constraint);
        break;
      case 'AT_ValidateConstraint': {
        const check = t.notNullChecks.get(cmd.name);
        if (check) check.validated = true;
        break;
      }
      case 'AT_DropConstraint':
        t.notNullChecks.delete(cmd.name);
        break;
    }
  }

  private rename(node: Node): void {
    const r = relationOf(node.relation);
    const t = this.table(r);
    if (!t) return;
    if (node.renameType === 'OBJECT_TABLE') {
      this.tables.delete(key(r));
      t.name = node.newname;
      this.tables.set(key(t), t);
    } else if (node.renameType === 'OBJECT_COLUMN') {
      const col = t.columns.get(node.subname);
      t.columns.delete(node.subname);
      if (col) t.columns.set(node.newname, col);
      for (const check of t.notNullChecks.values()) if (check.column === node.subname) check.column = node.newname;
    } else if (node.renameType === 'OBJECT_TABCONSTRAINT') {
      const check = t.notNullChecks.get(node.subname);
      t.notNullChecks.delete(node.subname);
      if (check) t.notNullChecks.set(node.newname, check);
    }
  }
}

function markNotNull(t: TableInfo, column: string | undefined): void {
  if (!column) return;
  const col = t.columns.get(column);
  if (col) col.notNull = true;
  else t.columns.set(column, { type: null, notNull: true, addedBy: null });
}

/** `column IS NOT NULL` on a bare column: its name; else null. */
export function notNullColumn(expr: Node): string | null {
  const test = expr?.NullTest;
  const fields: Node[] = test?.arg?.ColumnRef?.fields ?? [];
  return test?.nulltesttype === 'IS_NOT_NULL' && fields.length === 1 ? (fields[0].String?.sval ?? null) : null;
}
