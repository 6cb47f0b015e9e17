import { UserError } from '../errors.js';
import { ident, qualified } from '../db/quote.js';
import { deparseExpression, deparseStatement, type AlterStatement, type Node } from '../plan/parse.js';
import { placementOf } from '../plan/subcommands.js';
import type { TableFacts } from './facts.js';

/**
 * Issue 12's classifier: pure functions over the parsed statements and the catalog facts. Not
 * called by any command yet (see README.md beside it).
 *
 * Lock levels are PostgreSQL's (https://www.postgresql.org/docs/current/sql-altertable.html and
 * tablecmds.c AlterTableGetLockLevel, the same for 14-18): ACCESS EXCLUSIVE unless a form says
 * otherwise; SET STATISTICS, SET/RESET attribute options, CLUSTER ON, SET WITHOUT CLUSTER and
 * VALIDATE CONSTRAINT take SHARE UPDATE EXCLUSIVE; ENABLE/DISABLE TRIGGER and ADD FOREIGN KEY
 * take SHARE ROW EXCLUSIVE (the latter on the referenced table too); SET (storage parameter)
 * takes SHARE UPDATE EXCLUSIVE for fillfactor, autovacuum, toast_tuple_target, parallel_workers,
 * vacuum_index_cleanup and vacuum_truncate (reloptions.c), else ACCESS EXCLUSIVE. CREATE INDEX
 * CONCURRENTLY and DROP INDEX CONCURRENTLY take SHARE UPDATE EXCLUSIVE (sql-createindex.html,
 * sql-dropindex.html).
 */

export const STRATEGIES = ['instant', 'concurrent', 'not-valid-validate', 'copy', 'direct'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const HOLDS = ['catalog only (milliseconds)', 'scan', 'rewrite', 'online scan (reads and writes continue)'] as const;
export type Hold = (typeof HOLDS)[number];

export type LockLevel = 'ACCESS EXCLUSIVE' | 'EXCLUSIVE' | 'SHARE ROW EXCLUSIVE' | 'SHARE' | 'SHARE UPDATE EXCLUSIVE';

export interface Decision {
  statement: number;
  /** the subcommand alone, as one statement */
  subcommand: string;
  strategy: Strategy;
  why: string;
  /** the strongest lock a step takes on the table */
  lock: LockLevel;
  /** how long that strongest lock is held */
  hold: Hold;
  rewrites: boolean;
  scans: boolean;
  steps: string[];
}

/** CREATE [UNIQUE] INDEX and DROP INDEX, which issue 12 lets `alter` accept (parse.ts does not yet). */
export type IndexStatement = { kind: 'create-index'; node: Node } | { kind: 'drop-index'; node: Node };
export type ClassifiedStatement = AlterStatement | IndexStatement;

export interface ClassifyOptions {
  strategy: 'auto' | 'copy' | 'direct';
  /** a rewrite of a table (heap + indexes) below this size runs directly */
  copyThresholdBytes: number;
  downtimeAllowed: boolean;
  /** options given that only mean something for a copy (--postpone-cutover, --cutover-at, --revert-window, --transform) */
  copyOnlyOptions: string[];
}

export interface Classification {
  decisions: Decision[];
  overall: { strategy: 'instant' | 'online' | 'copy' | 'direct'; why: string };
}

const CATALOG: Hold = 'catalog only (milliseconds)';
const ONLINE: Hold = 'online scan (reads and writes continue)';

/** PostgreSQL 14.0-14.3 can corrupt indexes built CONCURRENTLY (fixed in 14.4): never build one there. */
export function concurrentIndexSafe(version: number): boolean {
  return !(version >= 140000 && version < 140004);
}

/** PostgreSQL 18 adds NOT NULL constraints that can be NOT VALID, then validated. */
export function hasNotNullNotValid(version: number): boolean {
  return version >= 180000;
}

export function classify(statements: ClassifiedStatement[], facts: TableFacts, opts: ClassifyOptions): Classification {
  const own = statements.flatMap((stmt, s) => classifyStatement(stmt, s, facts));
  const heavy = own.filter((d) => d.strategy === 'copy' || d.strategy === 'direct');
  const size = facts.table.tableBytes + facts.table.indexBytes;

  if (opts.strategy === 'direct' && opts.copyOnlyOptions.length) {
    throw new UserError(`${opts.copyOnlyOptions.join(', ')} only mean${opts.copyOnlyOptions.length > 1 ? '' : 's'} something for an online copy: not with --strategy direct`);
  }
  const needsKey = (why: string): void => {
    if (!facts.key) throw new UserError(`refused: ${facts.table.schema}.${facts.table.name} has no primary key; ${why}`);
  };
  if (opts.strategy === 'copy' || opts.copyOnlyOptions.length) {
    const why = opts.strategy === 'copy' ? '--strategy copy' : `${opts.copyOnlyOptions.join(', ')} ${opts.copyOnlyOptions.length > 1 ? 'need' : 'needs'} the online copy`;
    needsKey('the online copy needs one (--strategy copy or a copy-only option)');
    return { decisions: own.map((d) => asCopy(d, why)), overall: { strategy: 'copy', why } };
  }
  if (opts.strategy === 'direct') {
    return { decisions: own.map((d) => asDirect(d, '--strategy direct')), overall: { strategy: 'direct', why: '--strategy direct' } };
  }
  if (heavy.length === 0) {
    const allInstant = own.every((d) => d.strategy === 'instant');
    return { decisions: own, overall: { strategy: allInstant ? 'instant' : 'online', why: allInstant ? 'every change is catalog only' : 'no change needs a rewrite: online steps without a copy' } };
  }
  if (opts.downtimeAllowed || size < opts.copyThresholdBytes) {
    const why = opts.downtimeAllowed
      ? '--downtime-allowed: the fastest path'
      : `the table and its indexes (${size} bytes) are below the copy threshold (${opts.copyThresholdBytes} bytes): a direct rewrite holds its lock no longer than a lock-timeout attempt`;
    return { decisions: own.map((d) => (d.strategy === 'instant' ? d : asDirect(d, why))), overall: { strategy: 'direct', why } };
  }
  const why = `${heavy.map((d) => d.subcommand).join('; ')} would hold ${heavy[0]!.lock} for a ${heavy[0]!.hold} of ${size} bytes: everything goes through one online copy`;
  needsKey(`${heavy[0]!.subcommand} needs an online copy above the copy threshold, which needs one (or use --downtime-allowed)`);
  return { decisions: own.map((d) => asCopy(d, why)), overall: { strategy: 'copy', why } };
}

function asCopy(d: Decision, why: string): Decision {
  // The copy's own locks: SHARE ROW EXCLUSIVE to install capture triggers, ACCESS EXCLUSIVE for the swap (milliseconds).
  const own = d.strategy === 'copy' || d.strategy === 'direct' ? `${d.why}; ` : '';
  return { ...d, strategy: 'copy', why: `${own}${why}`, lock: 'ACCESS EXCLUSIVE', hold: CATALOG, rewrites: true, scans: true, steps: [d.subcommand] };
}

function asDirect(d: Decision, why: string): Decision {
  const heavy = d.strategy === 'copy' || d.strategy === 'direct';
  return { ...d, strategy: 'direct', why: heavy ? `${d.why}; ${why}` : why, lock: heavy ? d.lock : 'ACCESS EXCLUSIVE', hold: d.rewrites ? 'rewrite' : d.scans ? 'scan' : d.hold, steps: [d.subcommand] };
}

function classifyStatement(stmt: ClassifiedStatement, s: number, facts: TableFacts): Decision[] {
  const table = qualified(facts.table.schema, facts.table.name);
  if (stmt.kind === 'create-index') return [createIndex(stmt.node, s, facts)];
  if (stmt.kind === 'drop-index') return dropIndex(stmt.node, s);
  if (stmt.kind !== 'alter') {
    const text = deparseStatement(stmt);
    return [instant(s, text, `RENAME ${stmt.kind === 'rename-column' ? 'COLUMN' : 'CONSTRAINT'} changes the catalog only`, 'ACCESS EXCLUSIVE')];
  }
  return stmt.cmds.map((cmd, i) => {
    placementOf(cmd); // the refusals that hold whatever the strategy (partitions, inheritance, rules, ...)
    const node = { ...structuredClone(stmt.node), cmds: [{ AlterTableCmd: cmd }] };
    const text = deparseStatement({ kind: 'alter', node, cmds: [cmd] });
    return classifyCommand(cmd, { s, i, text, table, facts });
  });
}

interface Ctx {
  s: number;
  i: number;
  text: string;
  table: string;
  facts: TableFacts;
}

function instant(statement: number, subcommand: string, why: string, lock: LockLevel): Decision {
  return { statement, subcommand, strategy: 'instant', why, lock, hold: CATALOG, rewrites: false, scans: false, steps: [subcommand] };
}

function heavy(ctx: Ctx, why: string, rewrites: boolean, lock: LockLevel = 'ACCESS EXCLUSIVE'): Decision {
  // 'copy' until classify() weighs the table's size: above the threshold it stays a copy.
  return { statement: ctx.s, subcommand: ctx.text, strategy: 'copy', why, lock, hold: rewrites ? 'rewrite' : 'scan', rewrites, scans: true, steps: [ctx.text] };
}

const SUE_RELOPTIONS = new Set(['fillfactor', 'toast_tuple_target', 'parallel_workers', 'vacuum_index_cleanup', 'vacuum_truncate', 'log_autovacuum_min_duration']);

function classifyCommand(cmd: Node, ctx: Ctx): Decision {
  const { s, text } = ctx;
  switch (cmd.subtype) {
    case 'AT_AddColumn':
      return addColumn(cmd, ctx);
    case 'AT_AlterColumnType':
      return alterType(cmd, ctx);
    case 'AT_SetNotNull':
      return setNotNull(cmd.name, ctx);
    case 'AT_AddConstraint':
    case 'AT_AddIndex':
      return addConstraint(cmd, ctx);
    case 'AT_ValidateConstraint':
      return { statement: s, subcommand: text, strategy: 'not-valid-validate', why: 'VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE: reads and writes continue', lock: 'SHARE UPDATE EXCLUSIVE', hold: ONLINE, rewrites: false, scans: true, steps: [text] };
    case 'AT_DropColumn':
      return instant(s, text, 'DROP COLUMN hides the column in the catalog; rows are not rewritten', 'ACCESS EXCLUSIVE');
    case 'AT_ColumnDefault':
      return instant(s, text, 'SET/DROP DEFAULT affects later inserts only', 'ACCESS EXCLUSIVE');
    case 'AT_DropNotNull':
      return instant(s, text, 'DROP NOT NULL changes the catalog only', 'ACCESS EXCLUSIVE');
    case 'AT_DropExpression':
      return instant(s, text, 'DROP EXPRESSION keeps the stored values', 'ACCESS EXCLUSIVE');
    case 'AT_SetExpression':
      return heavy(ctx, 'SET EXPRESSION recomputes every stored value: a rewrite (PostgreSQL 17+)', true);
    case 'AT_SetStatistics':
    case 'AT_SetOptions':
    case 'AT_ResetOptions':
    case 'AT_ClusterOn':
    case 'AT_DropCluster':
      return instant(s, text, 'a planner or maintenance setting: catalog only', 'SHARE UPDATE EXCLUSIVE');
    case 'AT_SetStorage':
      return instant(s, text, 'SET STORAGE applies to values stored later', 'ACCESS EXCLUSIVE');
    case 'AT_SetCompression':
      return instant(s, text, 'SET COMPRESSION applies to values stored later (PostgreSQL 14+)', 'ACCESS EXCLUSIVE');
    case 'AT_AlterConstraint':
      return instant(s, text, 'ALTER CONSTRAINT changes deferrability in the catalog', 'ACCESS EXCLUSIVE');
    case 'AT_DropConstraint': {
      const fk = ctx.facts.constraints.find((k) => k.name === cmd.name)?.type === 'f';
      return instant(s, text, `DROP CONSTRAINT changes the catalog only${fk ? ' (a foreign key: the referenced table is locked ACCESS EXCLUSIVE too)' : ''}`, 'ACCESS EXCLUSIVE');
    }
    case 'AT_SetRelOptions':
    case 'AT_ResetRelOptions': {
      const names: string[] = (cmd.def?.List?.items ?? []).map((d: Node) => String(d.DefElem?.defname ?? ''));
      const light = names.every((n) => SUE_RELOPTIONS.has(n) || n.startsWith('autovacuum_'));
      return instant(s, text, 'storage parameters apply to later writes and maintenance', light ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE');
    }
    case 'AT_ReplaceRelOptions':
      return instant(s, text, 'storage parameters apply to later writes and maintenance', 'ACCESS EXCLUSIVE');
    case 'AT_AddIdentity':
    case 'AT_SetIdentity':
    case 'AT_DropIdentity':
      return instant(s, text, 'identity changes the catalog and its sequence; existing values stay', 'ACCESS EXCLUSIVE');
    case 'AT_SetLogged':
    case 'AT_SetUnLogged':
      return heavy(ctx, 'SET LOGGED/UNLOGGED rewrites the table', true);
    case 'AT_SetTableSpace':
      return heavy(ctx, 'SET TABLESPACE copies every file of the table', true);
    case 'AT_SetAccessMethod':
      return heavy(ctx, 'SET ACCESS METHOD rewrites the table (PostgreSQL 15+)', true);
    case 'AT_EnableTrig': case 'AT_EnableAlwaysTrig': case 'AT_EnableReplicaTrig': case 'AT_DisableTrig':
    case 'AT_EnableTrigAll': case 'AT_DisableTrigAll': case 'AT_EnableTrigUser': case 'AT_DisableTrigUser':
      return instant(s, text, 'ENABLE/DISABLE TRIGGER affects later writes only', 'SHARE ROW EXCLUSIVE');
    case 'AT_ChangeOwner':
    case 'AT_EnableRowSecurity': case 'AT_DisableRowSecurity': case 'AT_ForceRowSecurity': case 'AT_NoForceRowSecurity':
    case 'AT_ReplicaIdentity':
      return instant(s, text, 'changes the catalog only', 'ACCESS EXCLUSIVE');
    default:
      // placementOf refused everything else already; a subcommand it accepts but this file does not know must not be guessed.
      throw new UserError(`refused: ${String(cmd.subtype).replace(/^AT_/, '')} has no strategy yet`);
  }
}

const SERIAL = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2']);

function addColumn(cmd: Node, ctx: Ctx): Decision {
  const def = cmd.def.ColumnDef;
  const kinds: string[] = (def.constraints ?? []).map((k: Node) => k.Constraint?.contype);
  const fact = ctx.facts.addedColumns.find((a) => a.statement === ctx.s && a.command === ctx.i);
  const typeName = def.typeName?.names?.at(-1)?.String?.sval ?? '';
  if (kinds.includes('CONSTR_GENERATED')) return heavy(ctx, 'a stored generated column is computed for every row: a rewrite', true);
  if (kinds.includes('CONSTR_IDENTITY') || SERIAL.has(typeName)) return heavy(ctx, 'an identity or serial column takes a sequence value per row: a rewrite', true);
  if (fact?.volatile) return heavy(ctx, 'a volatile default is evaluated per row: a rewrite (PostgreSQL 11+ stores only non-volatile defaults in the catalog)', true);
  if (!fact || fact.rewrites !== false) return heavy(ctx, fact ? 'PostgreSQL rewrites the table for this column (measured on a probe)' : 'the probe could not measure this column: assumed a rewrite', true);
  if (kinds.some((k) => k === 'CONSTR_PRIMARY' || k === 'CONSTR_UNIQUE' || k === 'CONSTR_EXCLUSION')) {
    return heavy(ctx, 'an inline UNIQUE, PRIMARY KEY or EXCLUDE builds an index under ACCESS EXCLUSIVE', false);
  }
  if (kinds.includes('CONSTR_CHECK') || kinds.includes('CONSTR_FOREIGN')) {
    return heavy(ctx, 'an inline CHECK or REFERENCES is checked against every row under the ALTER\'s lock', false, kinds.includes('CONSTR_CHECK') ? 'ACCESS EXCLUSIVE' : 'SHARE ROW EXCLUSIVE');
  }
  if (kinds.includes('CONSTR_NOTNULL') && !fact.hasDefault) {
    return heavy(ctx, 'NOT NULL without a default: every row is checked (fails unless the table is empty)', false);
  }
  return instant(ctx.s, ctx.text, fact.hasDefault ? 'a non-volatile default is evaluated once and kept in the catalog (PostgreSQL 11+)' : 'a column without a default is NULL in every row: catalog only', 'ACCESS EXCLUSIVE');
}

function alterType(cmd: Node, ctx: Ctx): Decision {
  const fact = ctx.facts.typeChanges.find((t) => t.statement === ctx.s && t.command === ctx.i);
  if (!fact || fact.rewrites !== false) {
    return heavy(ctx, fact ? `${fact.from.name} to ${fact.to?.name ?? '?'}: ${fact.rule}` : 'the probe could not measure this conversion: assumed a rewrite', true);
  }
  if (fact.indexesRebuilt) return heavy(ctx, `no rewrite (${fact.rule}), but ${fact.indexesRebuilt} index(es) on the column are rebuilt under ACCESS EXCLUSIVE`, false);
  if (fact.constraintsOnColumn.length) return heavy(ctx, `no rewrite (${fact.rule}), but ${fact.constraintsOnColumn.join(', ')} are re-added and re-checked against every row`, false);
  return instant(ctx.s, ctx.text, `${fact.from.name} to ${fact.to!.name} keeps the stored bytes: ${fact.rule}`, 'ACCESS EXCLUSIVE');
}

function setNotNull(column: string, ctx: Ctx): Decision {
  const { facts, table, s, text } = ctx;
  const col = facts.columns.find((c) => c.name === column);
  if (col?.notNull) return instant(s, text, 'the column is already NOT NULL', 'ACCESS EXCLUSIVE');
  const proof = `CHECK ((${ident(column).replace(/^"([a-z_][a-z0-9_]*)"$/, '$1')} IS NOT NULL))`;
  if (facts.constraints.some((k) => k.type === 'c' && k.validated && k.definition === proof)) {
    return instant(s, text, 'a validated CHECK (column IS NOT NULL) proves it: PostgreSQL 12+ skips the scan', 'ACCESS EXCLUSIVE');
  }
  const precheck = `SELECT EXISTS (SELECT 1 FROM ${table} WHERE ${ident(column)} IS NULL)`;
  if (hasNotNullNotValid(facts.serverVersionNum)) {
    // The name SET NOT NULL itself gives on 18 (<table>_<column>_not_null), so the catalog matches offline.
    const name = ident(objectName(facts.table.name, column, 'not_null'));
    return {
      statement: s, subcommand: text, strategy: 'not-valid-validate', lock: 'ACCESS EXCLUSIVE', hold: CATALOG, rewrites: false, scans: true,
      why: 'NOT NULL ... NOT VALID, then VALIDATE under SHARE UPDATE EXCLUSIVE (PostgreSQL 18+)',
      steps: [precheck, `ALTER TABLE ${table} ADD CONSTRAINT ${name} NOT NULL ${ident(column)} NOT VALID`, `ALTER TABLE ${table} VALIDATE CONSTRAINT ${name}`],
    };
  }
  const helper = ident(`pgshift_nn_${column}`.slice(0, 63));
  return {
    statement: s, subcommand: text, strategy: 'not-valid-validate', lock: 'ACCESS EXCLUSIVE', hold: CATALOG, rewrites: false, scans: true,
    why: 'a helper CHECK (column IS NOT NULL) NOT VALID, VALIDATE under SHARE UPDATE EXCLUSIVE, then SET NOT NULL skips its scan (PostgreSQL 12+)',
    steps: [
      precheck,
      `ALTER TABLE ${table} ADD CONSTRAINT ${helper} CHECK (${ident(column)} IS NOT NULL) NOT VALID`,
      `ALTER TABLE ${table} VALIDATE CONSTRAINT ${helper}`,
      `ALTER TABLE ${table} ALTER COLUMN ${ident(column)} SET NOT NULL`,
      `ALTER TABLE ${table} DROP CONSTRAINT ${helper}`,
    ],
  };
}

function addConstraint(cmd: Node, ctx: Ctx): Decision {
  const { facts, table, s, text } = ctx;
  const con = cmd.def?.Constraint ?? cmd.def?.IndexStmt;
  const type: string = cmd.def?.Constraint?.contype ?? (cmd.def?.IndexStmt?.primary ? 'CONSTR_PRIMARY' : 'CONSTR_UNIQUE');
  const notValid = Boolean(con?.skip_validation);
  const used = new Set(facts.constraints.map((k) => k.name));
  switch (type) {
    case 'CONSTR_CHECK':
    case 'CONSTR_FOREIGN':
    case 'CONSTR_NOTNULL': {
      const lock: LockLevel = type === 'CONSTR_FOREIGN' ? 'SHARE ROW EXCLUSIVE' : 'ACCESS EXCLUSIVE';
      if (notValid) return instant(s, text, 'NOT VALID: existing rows are not checked', lock);
      if (type === 'CONSTR_NOTNULL' && !hasNotNullNotValid(facts.serverVersionNum)) return setNotNull(con.keys?.[0]?.String?.sval, ctx);
      const name: string = con.conname ?? chooseConstraintName(facts.table.name, constraintColumns(con, type), type === 'CONSTR_CHECK' ? 'check' : type === 'CONSTR_FOREIGN' ? 'fkey' : 'not_null', used);
      const added = structuredClone(cmd);
      Object.assign(added.def.Constraint, { conname: name, skip_validation: true, initially_valid: false });
      const node = { relation: relationOf(facts), cmds: [{ AlterTableCmd: added }], objtype: 'OBJECT_TABLE' };
      const steps = [
        ...(type === 'CONSTR_CHECK' ? [`SELECT EXISTS (SELECT 1 FROM ${table} WHERE (${deparseExpression(con.raw_expr)}) IS FALSE)`] : []),
        deparseStatement({ kind: 'alter', node, cmds: [added] }),
        `ALTER TABLE ${table} VALIDATE CONSTRAINT ${ident(name)}`,
      ];
      return {
        statement: s, subcommand: text, strategy: 'not-valid-validate', lock, hold: CATALOG, rewrites: false, scans: true, steps,
        why: `added NOT VALID (catalog only), then VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE${type === 'CONSTR_FOREIGN' ? ' (ROW SHARE on the referenced table)' : ''}`,
      };
    }
    case 'CONSTR_UNIQUE':
    case 'CONSTR_PRIMARY': {
      if (con.indexname) return instant(s, text, 'USING INDEX attaches an index that already exists', 'ACCESS EXCLUSIVE');
      if (!concurrentIndexSafe(facts.serverVersionNum)) {
        return heavy(ctx, 'CREATE INDEX CONCURRENTLY can corrupt indexes on PostgreSQL 14.0-14.3 (upgrade to 14.4+): built under the ALTER\'s lock instead', false);
      }
      const keys: string[] = (con.keys ?? []).map((k: Node) => k.String.sval);
      const primary = type === 'CONSTR_PRIMARY';
      const name: string = con.conname ?? (primary ? objectName(facts.table.name, null, 'pkey') : chooseConstraintName(facts.table.name, keys, 'key', new Set([...used, ...facts.indexes.map((x) => x.name)])));
      const nulls = con.nulls_not_distinct ? ' NULLS NOT DISTINCT' : '';
      const include = con.including?.length ? ` INCLUDE (${con.including.map((k: Node) => ident(k.String.sval)).join(', ')})` : '';
      const deferrable = con.deferrable ? ` DEFERRABLE${con.initdeferred ? ' INITIALLY DEFERRED' : ''}` : '';
      const nullable = primary ? keys.filter((k) => !facts.columns.find((c) => c.name === k)?.notNull) : [];
      const notNullSteps = nullable.flatMap((k) => setNotNull(k, { ...ctx }).steps);
      return {
        statement: s, subcommand: text, strategy: 'concurrent', lock: 'ACCESS EXCLUSIVE', hold: CATALOG, rewrites: false, scans: true,
        why: `CREATE UNIQUE INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE), then ADD CONSTRAINT ... USING INDEX (catalog only)${nullable.length ? '; the key columns become NOT NULL by the NOT VALID route first' : ''}`,
        steps: [
          ...notNullSteps,
          `CREATE UNIQUE INDEX CONCURRENTLY ${ident(name)} ON ${table} (${keys.map((k) => ident(k)).join(', ')})${include}${nulls}`,
          `ALTER TABLE ${table} ADD CONSTRAINT ${ident(name)} ${primary ? 'PRIMARY KEY' : 'UNIQUE'} USING INDEX ${ident(name)}${deferrable}`,
        ],
      };
    }
    default:
      return heavy(ctx, 'an EXCLUDE constraint builds its index under ACCESS EXCLUSIVE; PostgreSQL has no USING INDEX route for it', false);
  }
}

function createIndex(node: Node, s: number, facts: TableFacts): Decision {
  const text = deparseSync(node);
  if (!concurrentIndexSafe(facts.serverVersionNum)) {
    return { statement: s, subcommand: text, strategy: 'copy', why: 'CREATE INDEX CONCURRENTLY can corrupt indexes on PostgreSQL 14.0-14.3 (upgrade to 14.4+)', lock: 'SHARE', hold: 'scan', rewrites: false, scans: true, steps: [text] };
  }
  const concurrent = deparseSync({ ...node, concurrent: true });
  return { statement: s, subcommand: text, strategy: 'concurrent', why: 'CREATE INDEX CONCURRENTLY builds without blocking writes; an invalid index left by a failed build is dropped before a retry', lock: 'SHARE UPDATE EXCLUSIVE', hold: ONLINE, rewrites: false, scans: true, steps: [concurrent] };
}

function dropIndex(node: Node, s: number): Decision[] {
  // DROP INDEX CONCURRENTLY takes one index and no CASCADE: one step per index.
  return (node.objects ?? []).map((o: Node) => {
    const one = { ...node, objects: [o] };
    const text = deparseSync(one, 'DropStmt');
    const concurrent = deparseSync({ ...one, concurrent: true, behavior: 'DROP_RESTRICT' }, 'DropStmt');
    return { statement: s, subcommand: text, strategy: 'concurrent' as const, why: 'DROP INDEX CONCURRENTLY waits for running transactions instead of blocking them', lock: 'SHARE UPDATE EXCLUSIVE' as const, hold: CATALOG, rewrites: false, scans: false, steps: [concurrent] };
  });
}

function deparseSync(node: Node, kind: 'IndexStmt' | 'DropStmt' = 'IndexStmt'): string {
  return deparseExpression([{ RawStmt: { stmt: { [kind]: node } } }]);
}

function relationOf(facts: TableFacts): Node {
  return { schemaname: facts.table.schema, relname: facts.table.name, inh: true, relpersistence: 'p' };
}

function constraintColumns(con: Node, type: string): string[] {
  if (type === 'CONSTR_FOREIGN') return (con.fk_attrs ?? []).map((k: Node) => k.String.sval);
  if (type === 'CONSTR_NOTNULL') return (con.keys ?? []).map((k: Node) => k.String.sval);
  // ChooseConstraintName for a CHECK names its one column when the expression reads exactly one.
  const names = new Set<string>();
  const visit = (n: Node): void => {
    if (Array.isArray(n)) n.forEach(visit);
    else if (n && typeof n === 'object') {
      const f = n.ColumnRef?.fields;
      if (f?.length === 1 && f[0].String) names.add(f[0].String.sval);
      Object.values(n).forEach(visit);
    }
  };
  visit(con.raw_expr);
  return names.size === 1 ? [...names] : [];
}

/**
 * makeObjectName (src/backend/commands/indexcmds.c): table, columns joined by '_', label,
 * shortened to fit 63 bytes by trimming the longer of the first two parts. ASCII names assumed.
 */
export function objectName(table: string, columns: string | null, label: string): string {
  const avail = 63 - (label.length + 1) - (columns ? 1 : 0);
  let a = table.length;
  let b = columns?.length ?? 0;
  while (a + b > avail) {
    if (a > b) a--;
    else b--;
  }
  return [table.slice(0, a), ...(columns ? [columns.slice(0, b)] : []), label].join('_');
}

/**
 * ChooseConstraintName (src/backend/catalog/pg_constraint.c): label, then label1, label2, ...
 * until the name is not used. Only this table's constraint and index names are known here; the
 * executor must still confirm an index name is free in the schema.
 */
export function chooseConstraintName(table: string, columns: string[], label: string, used: Set<string>): string {
  const cols = columns.length ? columns.join('_') : null;
  for (let pass = 0; ; pass++) {
    const name = objectName(table, cols, pass === 0 ? label : `${label}${pass}`);
    if (!used.has(name)) return name;
  }
}
