import { UserError } from '../errors.js';
import type { Directives } from '../migrate/files.js';
import { alterStatementOf, type AlterStatement, type Node } from '../plan/parse.js';
import { columnConstraintTypes } from '../plan/subcommands.js';
import { classifyEach, VersionError, type Decision } from '../strategy/classify.js';
import { columnDefault, factsFor } from './facts.js';
import { droppedTables, relationOf, showRelation, type FilesCatalog, type Relation } from './files-catalog.js';
import { blocksWrites, stronger, type LockMode, type RuleId } from './rules.js';
import { defaultVolatility, typeRefOf } from './type-names.js';

/**
 * Which rules one statement breaks. Pure over the parse tree, what the files said before it
 * (FilesCatalog), the section's state (transaction, lock_timeout, locks held) and the version.
 * Statements pgshift classifies (ALTER TABLE, CREATE/DROP INDEX, RENAME COLUMN) go through the
 * classifier, whose decisions give the lock each subcommand takes as written and whether it
 * rewrites or scans; this file only names the hazard. Statements on a table the same file created
 * are not flagged: nobody else uses it yet.
 */
export interface Hazard {
  rule: RuleId;
  table: Relation | null;
  lock: LockMode | null;
  message: string;
}

export interface SectionState {
  file: string;
  /** a transaction is open: the section runs in one (dbmate, Flyway, node-pg-migrate by default), or BEGIN was seen */
  transaction: boolean;
  /** lock_timeout set (and not 0) by SET, or by SET LOCAL for the open transaction */
  lockTimeout: 'session' | 'local' | null;
  /** strongest lock the open transaction holds, per table */
  held: Map<string, LockMode>;
  /** missing-lock-timeout is reported once per section, at its first ACCESS EXCLUSIVE statement */
  timeoutFlagged: boolean;
}

interface Ctx {
  catalog: FilesCatalog;
  state: SectionState;
  version: number;
}

/** What one statement found, and the locks it takes as written (for the section's rules). */
interface Out {
  hazard(rule: RuleId, table: Relation | null, lock: LockMode | null, message: string): void;
  locks: { table: Relation; lock: LockMode }[];
}

export function lintStatement(node: Node, directives: Directives, ctx: Ctx): Hazard[] {
  const own = (r: Relation): boolean => ctx.catalog.createdBy(r, ctx.state.file);
  const found: Hazard[] = [];
  const locks: Out['locks'] = [];
  const hazard: Out['hazard'] = (rule, table, lock, message) => {
    found.push({ rule, table, lock, message });
  };

  if (node.UpdateStmt) {
    const r = relationOf(node.UpdateStmt.relation);
    if (!own(r) && !directives.backfill && !pinsColumn(node.UpdateStmt.whereClause)) {
      hazard('update-without-backfill', r, 'ROW EXCLUSIVE', `UPDATE of ${showRelation(r)} in one transaction: every row it changes stays locked until the file commits, and the table bloats by as many rows`);
    }
  } else if (node.DropStmt?.removeType === 'OBJECT_TABLE') {
    for (const r of droppedTables(node.DropStmt)) {
      if (own(r)) continue;
      locks.push({ table: r, lock: 'ACCESS EXCLUSIVE' });
      hazard('drop-table', r, 'ACCESS EXCLUSIVE', `DROP TABLE ${showRelation(r)}: running code that still uses it fails`);
    }
  } else if (node.RenameStmt?.renameType === 'OBJECT_TABLE') {
    const r = relationOf(node.RenameStmt.relation);
    if (!own(r)) {
      locks.push({ table: r, lock: 'ACCESS EXCLUSIVE' });
      hazard('rename-table', r, 'ACCESS EXCLUSIVE', `RENAME ${showRelation(r)} TO ${node.RenameStmt.newname}: running code that names ${showRelation(r)} fails`);
    }
  } else {
    if (!classified(node, ctx, { hazard, locks })) return [];
  }

  const { state } = ctx;
  for (const { table, lock } of locks) {
    if (lock === 'ACCESS EXCLUSIVE' && !state.lockTimeout && !state.timeoutFlagged) {
      state.timeoutFlagged = true;
      hazard('missing-lock-timeout', table, lock, `takes ACCESS EXCLUSIVE on ${showRelation(table)} with no lock_timeout set before it (the first such statement of this section): while it waits behind a long transaction, every query on ${showRelation(table)} queues behind it`);
    }
    if (state.transaction) state.held.set(keyOf(table), stronger(state.held.get(keyOf(table)), lock));
  }
  trackSettings(node, state);
  return dedupe(found);
}

/**
 * ALTER TABLE, CREATE/DROP INDEX and RENAME COLUMN, through the classifier. False for a
 * statement on a table the same file created: nothing to flag, and nothing the section's rules
 * need to know.
 */
function classified(node: Node, ctx: Ctx, { hazard, locks }: Out): boolean {
  let stmt: AlterStatement;
  try {
    stmt = alterStatementOf(node);
  } catch (err) {
    if (err instanceof UserError) return true; // not a statement pgshift classifies: no rule of this file applies
    throw err;
  }
  const r = stmt.kind === 'drop-index' ? null : relationOf(stmt.node.relation);
  if (r && ctx.catalog.createdBy(r, ctx.state.file)) return false;
  let decisions: Decision[];
  try {
    decisions = classifyEach([stmt], factsFor(stmt, r ?? { schema: 'public', name: '?' }, r ? ctx.catalog.table(r) : undefined, ctx.version));
  } catch (err) {
    if (err instanceof VersionError) {
      hazard('unsupported-on-version', r, null, `${err.what} needs PostgreSQL ${Math.floor(err.needs / 10000)} or later; linted for ${Math.floor(ctx.version / 10000)}`);
      return true;
    }
    if (err instanceof UserError) return true; // refused online (partitions, inheritance, ...): pgshift does not run it, lint has no lock for it
    throw err;
  }
  const t = r ? showRelation(r) : 'its table';
  decisions.forEach((d, i) => {
    if (r) locks.push({ table: r, lock: d.writtenLock });
    const h = (rule: RuleId, message: string, lock: LockMode = d.writtenLock): void => hazard(rule, r, lock, message);
    if (stmt.kind === 'create-index') {
      if (d.writtenLock === 'SHARE') h('require-concurrent-index', `CREATE INDEX takes SHARE on ${t} for the whole build: writes wait`);
    } else if (stmt.kind === 'drop-index') {
      if (d.writtenLock === 'ACCESS EXCLUSIVE') h('require-concurrent-index-drop', 'DROP INDEX takes ACCESS EXCLUSIVE on the index\'s table: reads and writes wait, and queue behind it while it waits');
    } else if (stmt.kind === 'rename-column') {
      h('rename-column', `RENAME COLUMN ${stmt.from} TO ${stmt.to} on ${t}: running code that names ${stmt.from} fails`);
    } else if (stmt.kind === 'alter') {
      alterHazard(stmt.cmds[i], d, r!, ctx, h);
    }
  });
  return true;
}

function alterHazard(cmd: Node, d: Decision, r: Relation, ctx: Ctx, h: (rule: RuleId, message: string, lock?: LockMode) => void): void {
  const t = showRelation(r);
  const lock = d.writtenLock;
  switch (cmd.subtype) {
    case 'AT_AddColumn':
      if (d.strategy !== 'instant') addColumnHazard(cmd.def.ColumnDef, t, ctx.version, h);
      return;
    case 'AT_AlterColumnType':
      if (d.strategy !== 'instant') h('rewriting-type-change', typeChangeMessage(cmd, d, r, ctx));
      return;
    case 'AT_SetNotNull':
      if (d.strategy !== 'instant') h('set-not-null-without-check', `SET NOT NULL on ${t}.${cmd.name} scans every row under ${lock}`);
      return;
    case 'AT_AddConstraint':
    case 'AT_AddIndex': {
      const type: string = cmd.def?.Constraint?.contype ?? 'CONSTR_UNIQUE';
      if (d.strategy === 'instant') return;
      if (type === 'CONSTR_CHECK') h('constraint-missing-not-valid', `ADD CHECK on ${t} scans every row under ${lock}`);
      else if (type === 'CONSTR_FOREIGN') h('constraint-missing-not-valid', `ADD FOREIGN KEY scans every row under ${lock} on ${t} and on ${showRelation(relationOf(cmd.def.Constraint.pktable))}: writes to both wait`);
      else if (type === 'CONSTR_UNIQUE' || type === 'CONSTR_PRIMARY') h('unique-without-index', `ADD ${type === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE'} builds its index under ${lock} on ${t}`);
      else h('table-rewrite', `${d.why} (${t})`);
      return;
    }
    case 'AT_ValidateConstraint': {
      const held = ctx.state.transaction ? ctx.state.held.get(keyOf(r)) : undefined;
      if (held && blocksWrites(held)) h('validate-in-same-transaction', `VALIDATE CONSTRAINT ${cmd.name} scans ${t} while this transaction still holds ${held} on it from an earlier statement`, held);
      return;
    }
    case 'AT_DropColumn':
      if (ctx.catalog.table(r)?.columns.get(cmd.name)?.addedBy !== ctx.state.file) h('drop-column', `DROP COLUMN ${cmd.name} on ${t}: running code that reads or writes it fails`);
      return;
    default:
      if (d.strategy === 'copy') h('table-rewrite', `${d.why} (${t})`);
  }
}

/** Why an ADD COLUMN is not catalog only, in the classifier's order of reasons. */
function addColumnHazard(def: Node, t: string, version: number, h: (rule: RuleId, message: string) => void): void {
  const kinds = columnConstraintTypes(def);
  const typeName = def.typeName?.names?.at(-1)?.String?.sval ?? '';
  const expr = columnDefault(def);
  const v = expr ? defaultVolatility(expr) : ({ volatile: false } as const);
  const col = `${t}.${def.colname}`;
  const rewrite = `every row of ${t} is rewritten under ACCESS EXCLUSIVE`;
  if (kinds.includes('CONSTR_GENERATED')) return h('adding-volatile-default', `stored generated column ${col}: ${rewrite}`);
  if (kinds.includes('CONSTR_IDENTITY') || /^(small|big)?serial[248]?$/.test(typeName)) return h('adding-volatile-default', `${col} takes a sequence value per row (serial or identity): ${rewrite}`);
  if (v.volatile === true) return h('adding-volatile-default', `${col} DEFAULT calls ${v.fn}(), which is VOLATILE: ${rewrite}`);
  if (v.volatile === 'unknown') return h('adding-volatile-default', `may rewrite: ${col} DEFAULT calls ${v.fn}(), which lint does not know; if it is VOLATILE, ${rewrite}`);
  if (expr && version < 110000) return h('adding-volatile-default', `${col} has a DEFAULT: before PostgreSQL 11 ${rewrite}`);
  if (kinds.includes('CONSTR_PRIMARY') || kinds.includes('CONSTR_UNIQUE')) return h('unique-without-index', `inline UNIQUE / PRIMARY KEY on ${col} builds its index under ACCESS EXCLUSIVE`);
  if (kinds.includes('CONSTR_EXCLUSION')) return h('table-rewrite', `inline EXCLUDE on ${col} builds its index under ACCESS EXCLUSIVE`);
  if (kinds.includes('CONSTR_CHECK') || kinds.includes('CONSTR_FOREIGN')) return h('constraint-missing-not-valid', `inline CHECK / REFERENCES on ${col} checks every row of ${t} under ACCESS EXCLUSIVE`);
  if (kinds.includes('CONSTR_NOTNULL')) return h('adding-required-column', `${col} is NOT NULL without a DEFAULT: fails unless ${t} is empty`);
}

function typeChangeMessage(cmd: Node, d: Decision, r: Relation, ctx: Ctx): string {
  const def = cmd.def.ColumnDef;
  const t = showRelation(r);
  const col = `${t}.${cmd.name}`;
  const rewrite = `every row of ${t} is rewritten and its indexes rebuilt under ACCESS EXCLUSIVE`;
  const known = typeRefOf(ctx.catalog.table(r)?.columns.get(cmd.name)?.type) !== null;
  const to = typeRefOf(def.typeName);
  // With both types known the classifier's reason is coercion.ts's rule ("integer to int8: no binary-coercible cast ...").
  if (known && to) return `${col}: ${d.why}: ${rewrite}`;
  const bare = def.raw_default?.ColumnRef?.fields?.length === 1 && def.raw_default.ColumnRef.fields[0].String?.sval === cmd.name;
  if (def.raw_default && !bare) return `${col} TYPE ... USING an expression: ${rewrite}`;
  if (!to) return `may rewrite: ${col} becomes a type lint does not know (not a built-in); unless the stored bytes stay the same, ${rewrite}`;
  return `may rewrite: the files do not say what type ${col} had before; unless the change is binary-coercible (varchar(n) to varchar(m >= n) or text, numeric precision up at the same scale), ${rewrite}`;
}

const keyOf = (r: Relation): string => `${r.schema}.${r.name}`;

/** A WHERE that pins some column to constants (col = value, col IN (...)) touches few rows, as far as lint can tell. */
function pinsColumn(where: Node): boolean {
  if (!where) return false;
  if (where.BoolExpr?.boolop === 'AND_EXPR') return where.BoolExpr.args.some(pinsColumn);
  const e = where.A_Expr;
  if (!e) return false;
  const column = (n: Node): boolean => Boolean(n?.ColumnRef);
  const value = (n: Node): boolean => Boolean(n?.A_Const || n?.ParamRef || n?.TypeCast?.arg?.A_Const);
  if (e.kind === 'AEXPR_OP' && e.name?.[0]?.String?.sval === '=') return (column(e.lexpr) && value(e.rexpr)) || (value(e.lexpr) && column(e.rexpr));
  return e.kind === 'AEXPR_IN' && column(e.lexpr) && (e.rexpr ?? []).every?.(value) === true;
}

/** lock_timeout set or reset, and transaction boundaries. */
function trackSettings(node: Node, state: SectionState): void {
  const set = node.VariableSetStmt;
  if (set?.name === 'lock_timeout') {
    const arg = set.args?.[0]?.A_Const;
    const zero = arg && (arg.ival ? !arg.ival.ival : !arg.sval?.sval || /^\s*0+\s*(ms|s|min|h|d)?\s*$/i.test(arg.sval.sval));
    const on = set.kind === 'VAR_SET_VALUE' && !zero;
    // SET LOCAL outside a transaction block does nothing
    if (!set.is_local) state.lockTimeout = on ? 'session' : null;
    else if (state.transaction) state.lockTimeout = on ? 'local' : null; // SET LOCAL outside a transaction block does nothing
  }
  const call = node.SelectStmt?.targetList?.[0]?.ResTarget?.val?.FuncCall;
  if (call?.funcname?.at(-1)?.String?.sval === 'set_config' && call.args?.[0]?.A_Const?.sval?.sval === 'lock_timeout') {
    const value = call.args[1]?.A_Const?.sval?.sval ?? '0';
    const local = Boolean(call.args[2]?.A_Const?.boolval?.boolval);
    const on = !/^\s*0+\s*(ms|s|min|h|d)?\s*$/i.test(value);
    if (!local) state.lockTimeout = on ? 'session' : null;
    else if (state.transaction) state.lockTimeout = on ? 'local' : null;
  }
  const tx = node.TransactionStmt?.kind;
  if (tx === 'TRANS_STMT_BEGIN' || tx === 'TRANS_STMT_START') state.transaction = true;
  if (tx === 'TRANS_STMT_COMMIT' || tx === 'TRANS_STMT_ROLLBACK') {
    state.transaction = false;
    state.held.clear();
    if (state.lockTimeout === 'local') state.lockTimeout = null;
  }
}

/** One finding per rule and table for a statement (a multi-subcommand ALTER takes its lock once). */
function dedupe(found: Hazard[]): Hazard[] {
  const seen = new Set<string>();
  return found.filter((f) => {
    const k = `${f.rule}|${f.table ? keyOf(f.table) : ''}|${f.rule === 'missing-lock-timeout' ? '' : f.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
