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
  /** the lock the subcommand takes when run as written (`--strategy direct`, another migration tool; what lint reports) */
  writtenLock: LockLevel;
  /** how long that strongest lock is held */
  hold: Hold;
  rewrites: boolean;
  scans: boolean;
  /** the SQL the route runs, for people (the route's steps printed) */
  steps: string[];
  /** what strategy/run-route.ts executes: empty for copy and direct, which run the statements as a whole */
  route: Step[];
  /** idempotent SQL that removes what the route added, run when a later step of it fails */
  undo: string[];
}

/**
 * One step of a route without a copy:
 * - check: read-only; a row found means the change fails offline (the route stops, nothing added yet);
 * - check-foreign-key: the same for a foreign key, whose referenced columns the catalog gives;
 * - locked: statements in one short transaction under lock_timeout, retried;
 * - build-index: CREATE INDEX CONCURRENTLY under a pgshift name (an invalid leftover is dropped
 *   before a retry), then renamed to `name`, or attached as the constraint `attach`; on a
 *   partition (`schema`, `part`: the n-th build of the route), renamed and attached to the
 *   partitioned index `attachTo` in the same transaction;
 * - drop-index: DROP INDEX CONCURRENTLY, retried;
 * - validate: VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE: reads and writes continue).
 * `on` names the partition a step acts on (schema.name, for people) when it is not the table
 * itself, `lock` the lock a locked step takes when it is not the decision's.
 */
export type Step =
  | { kind: 'check'; sql: string; violation: string }
  | { kind: 'check-foreign-key'; constraint: string; table: string; node: Node }
  | { kind: 'locked'; sql: string[]; on?: string; lock?: LockLevel }
  | { kind: 'build-index'; node: Node; name: string; table: string; attach: Attach | null; attachTo?: string; schema?: string; part?: number }
  | { kind: 'drop-index'; sql: string }
  | { kind: 'validate'; sql: string; constraint: string; on?: string };

export type ClassifiedStatement = AlterStatement;

/** ADD CONSTRAINT ... USING INDEX: the constraint a concurrently built unique index becomes. */
export interface Attach {
  constraint: string;
  type: 'PRIMARY KEY' | 'UNIQUE';
  /** '', ' DEFERRABLE' or ' DEFERRABLE INITIALLY DEFERRED' */
  deferrable: string;
}

export function attachSql(table: string, a: Attach, index: string): string {
  return `ALTER TABLE ${table} ADD CONSTRAINT ${ident(a.constraint)} ${a.type} USING INDEX ${ident(index)}${a.deferrable}`;
}

/** A partition's index joins its parent's partitioned index. */
export function attachIndexSql(step: Extract<Step, { kind: 'build-index' }>): string {
  return `ALTER INDEX ${step.attachTo!} ATTACH PARTITION ${qualified(step.schema!, step.name)}`;
}

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
  const own = classifyEach(statements, facts);
  const heavy = own.filter((d) => d.strategy === 'copy' || d.strategy === 'direct');
  const size = facts.table.tableBytes + facts.table.indexBytes;

  if (opts.strategy === 'direct' && opts.copyOnlyOptions.length) {
    throw new UserError(`${opts.copyOnlyOptions.join(', ')} only mean${opts.copyOnlyOptions.length > 1 ? '' : 's'} something for an online copy: not with --strategy direct`);
  }
  // The copy addresses rows by a key (the primary key, else a unique index over NOT NULL columns).
  const needsKey = (why: string): void => {
    if (facts.key) return;
    const keyless = facts.keyless ?? { reason: 'has no primary key', fix: '' };
    throw new UserError(`refused: ${facts.table.schema}.${facts.table.name} ${keyless.reason}; ${why}${keyless.fix ? `; ${keyless.fix}` : ''}`);
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

/**
 * Each subcommand's own cheapest safe path, before the call is weighed as a whole (classify);
 * lint reads the locks and rewrites from these.
 */
export function classifyEach(statements: ClassifiedStatement[], facts: TableFacts): Decision[] {
  // Names PostgreSQL would generate must be free in the schema, also of names chosen earlier in this call.
  const used = new Set<string>(facts.usedNames);
  return statements.flatMap((stmt, s) => classifyStatement(stmt, s, facts, used));
}

function asCopy(d: Decision, why: string): Decision {
  // The copy's own locks: SHARE ROW EXCLUSIVE to install capture triggers, ACCESS EXCLUSIVE for the swap (milliseconds).
  const own = d.strategy === 'copy' || d.strategy === 'direct' ? `${d.why}; ` : '';
  return { ...d, strategy: 'copy', why: `${own}${why}`, lock: 'ACCESS EXCLUSIVE', hold: CATALOG, rewrites: true, scans: true, steps: [d.subcommand], route: [], undo: [] };
}

function asDirect(d: Decision, why: string): Decision {
  const heavy = d.strategy === 'copy' || d.strategy === 'direct';
  return { ...d, strategy: 'direct', why: heavy ? `${d.why}; ${why}` : why, lock: d.writtenLock, hold: d.rewrites ? 'rewrite' : d.scans ? 'scan' : d.hold, steps: [d.subcommand], route: [], undo: [] };
}

/**
 * The statements with every CREATE INDEX named as PostgreSQL would name it on the table (for the
 * copy, which builds it on the shadow, where other names are taken).
 */
export function nameIndexes(statements: ClassifiedStatement[], facts: TableFacts): string[] {
  const used = new Set<string>(facts.usedNames);
  return statements.map((stmt) => {
    if (stmt.kind !== 'create-index' || stmt.node.idxname) return deparseStatement(stmt);
    const idxname = chooseConstraintName(facts.table.name, [indexNameAddition(stmt.node)], 'idx', used);
    used.add(idxname);
    return deparseStatement({ ...stmt, node: { ...stmt.node, idxname } });
  });
}

/** A route's steps as the SQL a DBA reads (checks and builds shown as the statements they run). */
export function describeRoute(route: Step[]): string[] {
  return route.flatMap((step): string[] => {
    switch (step.kind) {
      case 'check':
        return [step.sql];
      case 'check-foreign-key':
        return [`-- read-only: no row of ${step.table} may lack a parent for ${step.constraint}`];
      case 'locked':
        return step.sql;
      case 'build-index':
        return [deparseIndex({ ...step.node, idxname: step.name, concurrent: true }), ...(step.attach ? [attachSql(step.table, step.attach, step.name)] : []), ...(step.attachTo ? [attachIndexSql(step)] : [])];
      case 'drop-index':
      case 'validate':
        return [step.sql];
    }
  });
}

function classifyStatement(stmt: ClassifiedStatement, s: number, facts: TableFacts, used: Set<string>): Decision[] {
  const table = qualified(facts.table.schema, facts.table.name);
  if (stmt.kind === 'create-index') return [createIndex(stmt.node, s, facts, used)];
  if (stmt.kind === 'drop-index') return dropIndex(stmt.node, s, facts);
  if (stmt.kind !== 'alter') {
    const text = deparseStatement(stmt);
    return [instant(s, text, `RENAME ${stmt.kind === 'rename-column' ? 'COLUMN' : 'CONSTRAINT'} changes the catalog only`, 'ACCESS EXCLUSIVE')];
  }
  return stmt.cmds.map((cmd, i) => {
    placementOf(cmd); // the refusals that hold whatever the strategy (partitions, inheritance, rules, ...)
    const node = { ...structuredClone(stmt.node), cmds: [{ AlterTableCmd: cmd }] };
    const text = deparseStatement({ kind: 'alter', node, cmds: [cmd] });
    return classifyCommand(cmd, { s, i, text, table, facts, used });
  });
}

interface Ctx {
  s: number;
  i: number;
  text: string;
  table: string;
  facts: TableFacts;
  used: Set<string>;
}

function instant(statement: number, subcommand: string, why: string, lock: LockLevel): Decision {
  return { statement, subcommand, strategy: 'instant', why, lock, writtenLock: lock, hold: CATALOG, rewrites: false, scans: false, steps: [subcommand], route: [{ kind: 'locked', sql: [subcommand] }], undo: [] };
}

function heavy(ctx: Ctx, why: string, rewrites: boolean, lock: LockLevel = 'ACCESS EXCLUSIVE'): Decision {
  // 'copy' until classify() weighs the table's size: above the threshold it stays a copy.
  return { statement: ctx.s, subcommand: ctx.text, strategy: 'copy', why, lock, writtenLock: lock, hold: rewrites ? 'rewrite' : 'scan', rewrites, scans: true, steps: [ctx.text], route: [], undo: [] };
}

/** A route's decision: its display steps are the route's; as written it takes the route's strongest lock unless told otherwise. */
function routed(d: Omit<Decision, 'steps' | 'writtenLock'> & { writtenLock?: LockLevel }): Decision {
  return { ...d, writtenLock: d.writtenLock ?? d.lock, steps: describeRoute(d.route) };
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
      return routed({
        statement: s, subcommand: text, strategy: 'not-valid-validate', why: 'VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE: reads and writes continue',
        lock: 'SHARE UPDATE EXCLUSIVE', hold: ONLINE, rewrites: false, scans: true, route: [{ kind: 'validate', sql: text, constraint: cmd.name }], undo: [],
      });
    case 'AT_DropColumn':
      return instant(s, text, 'DROP COLUMN hides the column in the catalog; rows are not rewritten', 'ACCESS EXCLUSIVE');
    case 'AT_ColumnDefault':
      return instant(s, text, 'SET/DROP DEFAULT affects later inserts only', 'ACCESS EXCLUSIVE');
    case 'AT_DropNotNull':
      return instant(s, text, 'DROP NOT NULL changes the catalog only', 'ACCESS EXCLUSIVE');
    case 'AT_DropExpression':
      return instant(s, text, 'DROP EXPRESSION keeps the stored values', 'ACCESS EXCLUSIVE');
    case 'AT_SetExpression':
      requires(ctx.facts, 170000, 'SET EXPRESSION');
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
      requires(ctx.facts, 150000, 'SET ACCESS METHOD');
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

/** Syntax a server does not have: `needs` is the first server_version_num that has it. */
export class VersionError extends UserError {
  constructor(readonly what: string, readonly needs: number, server: number) {
    super(`refused: ${what} needs PostgreSQL ${Math.floor(needs / 10000)} or later; this server is ${Math.floor(server / 10000)}`);
  }
}

/** Syntax the server does not have yet: refused before anything runs, as the server would refuse it. */
function requires(facts: TableFacts, version: number, what: string): void {
  if (facts.serverVersionNum < version) throw new VersionError(what, version, facts.serverVersionNum);
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
    // ADD COLUMN takes ACCESS EXCLUSIVE whatever its constraints (measured on 14-18).
    return heavy(ctx, 'an inline CHECK or REFERENCES is checked against every row under the ALTER\'s lock', false);
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
  const proof = notNullProof(column);
  if (facts.constraints.some((k) => k.type === 'c' && k.validated && k.definition === proof)) {
    return instant(s, text, 'a validated CHECK (column IS NOT NULL) proves it: PostgreSQL 12+ skips the scan', 'ACCESS EXCLUSIVE');
  }
  const precheck: Step = { kind: 'check', sql: `SELECT EXISTS (SELECT 1 FROM ${table} WHERE ${ident(column)} IS NULL)`, violation: `column ${column} contains null values` };
  if (hasNotNullNotValid(facts.serverVersionNum)) {
    // The name SET NOT NULL itself gives on 18 (<table>_<column>_not_null), so the catalog matches offline.
    const name = objectName(facts.table.name, column, 'not_null');
    return routed({
      statement: s, subcommand: text, strategy: 'not-valid-validate', lock: 'ACCESS EXCLUSIVE', hold: CATALOG, rewrites: false, scans: true,
      why: 'NOT NULL ... NOT VALID, then VALIDATE under SHARE UPDATE EXCLUSIVE (PostgreSQL 18+)',
      route: [
        precheck,
        { kind: 'locked', sql: [`ALTER TABLE ${table} ADD CONSTRAINT ${ident(name)} NOT NULL ${ident(column)} NOT VALID`] },
        { kind: 'validate', sql: `ALTER TABLE ${table} VALIDATE CONSTRAINT ${ident(name)}`, constraint: name },
      ],
      undo: [`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${ident(name)}`],
    });
  }
  const helper = ident(`pgshift_nn_${column}`.slice(0, 63));
  return routed({
    statement: s, subcommand: text, strategy: 'not-valid-validate', lock: 'ACCESS EXCLUSIVE', hold: CATALOG, rewrites: false, scans: true,
    why: 'a helper CHECK (column IS NOT NULL) NOT VALID, VALIDATE under SHARE UPDATE EXCLUSIVE, then SET NOT NULL skips its scan (PostgreSQL 12+)',
    route: [
      precheck,
      { kind: 'locked', sql: [`ALTER TABLE ${table} ADD CONSTRAINT ${helper} CHECK (${ident(column)} IS NOT NULL) NOT VALID`] },
      { kind: 'validate', sql: `ALTER TABLE ${table} VALIDATE CONSTRAINT ${helper}`, constraint: `pgshift_nn_${column}`.slice(0, 63) },
      { kind: 'locked', sql: [`ALTER TABLE ${table} ALTER COLUMN ${ident(column)} SET NOT NULL`, `ALTER TABLE ${table} DROP CONSTRAINT ${helper}`] },
    ],
    undo: [`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${helper}`],
  });
}

/** A validated CHECK with this definition (pg_get_constraintdef's) proves the column holds no NULL. */
export function notNullProof(column: string): string {
  return `CHECK ((${ident(column).replace(/^"([a-z_][a-z0-9_]*)"$/, '$1')} IS NOT NULL))`;
}

function addConstraint(cmd: Node, ctx: Ctx): Decision {
  const { facts, table, s, text, used } = ctx;
  const con = cmd.def?.Constraint ?? cmd.def?.IndexStmt;
  const type: string = cmd.def?.Constraint?.contype ?? (cmd.def?.IndexStmt?.primary ? 'CONSTR_PRIMARY' : 'CONSTR_UNIQUE');
  const notValid = Boolean(con?.skip_validation);
  switch (type) {
    case 'CONSTR_CHECK':
    case 'CONSTR_FOREIGN':
    case 'CONSTR_NOTNULL': {
      const lock: LockLevel = type === 'CONSTR_FOREIGN' ? 'SHARE ROW EXCLUSIVE' : 'ACCESS EXCLUSIVE';
      if (notValid && !(type === 'CONSTR_FOREIGN' && noNotValidForeignKey(facts))) return instant(s, text, 'NOT VALID: existing rows are not checked', lock);
      if (type === 'CONSTR_NOTNULL' && !hasNotNullNotValid(facts.serverVersionNum)) return setNotNull(con.keys?.[0]?.String?.sval, ctx);
      const name: string = con.conname ?? chooseConstraintName(facts.table.name, constraintColumns(con, type), type === 'CONSTR_CHECK' ? 'check' : type === 'CONSTR_FOREIGN' ? 'fkey' : 'not_null', used);
      used.add(name);
      if (type === 'CONSTR_FOREIGN' && noNotValidForeignKey(facts)) {
        if (notValid) {
          throw new UserError(`refused: PostgreSQL before 18 cannot add a NOT VALID foreign key to a partitioned table (offline it refuses too); without NOT VALID, pgshift adds it to each partition NOT VALID, validates it there, then adds it to ${facts.table.schema}.${facts.table.name}, which finds them validated`);
        }
        return partitionedForeignKey(cmd, name, ctx);
      }
      const added = structuredClone(cmd);
      Object.assign(added.def.Constraint, { conname: name, skip_validation: true, initially_valid: false });
      const node = { relation: relationOf(facts), cmds: [{ AlterTableCmd: added }], objtype: 'OBJECT_TABLE' };
      const precheck: Step =
        type === 'CONSTR_CHECK'
          ? { kind: 'check', sql: `SELECT EXISTS (SELECT 1 FROM ${table} WHERE (${deparseExpression(con.raw_expr)}) IS FALSE)`, violation: `check constraint "${name}" is violated by some row` }
          : type === 'CONSTR_NOTNULL'
            ? { kind: 'check', sql: `SELECT EXISTS (SELECT 1 FROM ${table} WHERE ${ident(con.keys[0].String.sval)} IS NULL)`, violation: `column ${con.keys[0].String.sval} contains null values` }
            : { kind: 'check-foreign-key', constraint: name, table, node: added.def.Constraint };
      return routed({
        statement: s, subcommand: text, strategy: 'not-valid-validate', lock, hold: CATALOG, rewrites: false, scans: true,
        route: [
          precheck,
          { kind: 'locked', sql: [deparseStatement({ kind: 'alter', node, cmds: [added] })] },
          { kind: 'validate', sql: `ALTER TABLE ${table} VALIDATE CONSTRAINT ${ident(name)}`, constraint: name },
        ],
        undo: [`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${ident(name)}`],
        why: `added NOT VALID (catalog only), then VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE${type === 'CONSTR_FOREIGN' ? ' (ROW SHARE on the referenced table)' : ''}`,
      });
    }
    case 'CONSTR_UNIQUE':
    case 'CONSTR_PRIMARY': {
      if (con.nulls_not_distinct) requires(facts, 150000, 'NULLS NOT DISTINCT');
      if (con.indexname) return instant(s, text, 'USING INDEX attaches an index that already exists', 'ACCESS EXCLUSIVE');
      if (facts.table.relkind === 'p') {
        return heavy(ctx, 'a partitioned table has no ADD CONSTRAINT ... USING INDEX: PostgreSQL builds the index under the ALTER\'s lock', false);
      }
      if (!concurrentIndexSafe(facts.serverVersionNum)) {
        return heavy(ctx, 'CREATE INDEX CONCURRENTLY can corrupt indexes on PostgreSQL 14.0-14.3 (upgrade to 14.4+): built under the ALTER\'s lock instead', false);
      }
      const keys: string[] = (con.keys ?? []).map((k: Node) => k.String.sval);
      const primary = type === 'CONSTR_PRIMARY';
      const deferrable = con.deferrable ? ` DEFERRABLE${con.initdeferred ? ' INITIALLY DEFERRED' : ''}` : '';
      const nullable = primary ? keys.filter((k) => !facts.columns.find((c) => c.name === k)?.notNull) : [];
      const notNull = nullable.map((k) => setNotNull(k, ctx));
      // The index PostgreSQL builds for the constraint (transformIndexConstraint), as a CREATE INDEX.
      const index: Node = {
        relation: relationOf(facts), accessMethod: 'btree', tableSpace: con.indexspace, options: con.options,
        indexParams: keys.map((k) => ({ IndexElem: { name: k, ordering: 'SORTBY_DEFAULT', nulls_ordering: 'SORTBY_NULLS_DEFAULT' } })),
        indexIncludingParams: (con.including ?? []).map((k: Node) => ({ IndexElem: { name: k.String.sval, ordering: 'SORTBY_DEFAULT', nulls_ordering: 'SORTBY_NULLS_DEFAULT' } })),
        unique: true, nulls_not_distinct: Boolean(con.nulls_not_distinct),
      };
      const name: string = con.conname ?? chooseConstraintName(facts.table.name, primary ? [] : [indexNameAddition(index)], primary ? 'pkey' : 'key', used);
      used.add(name);
      index.idxname = name;
      return routed({
        statement: s, subcommand: text, strategy: 'concurrent', lock: 'ACCESS EXCLUSIVE', hold: CATALOG, rewrites: false, scans: true,
        why: `CREATE UNIQUE INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE), then ADD CONSTRAINT ... USING INDEX (catalog only)${nullable.length ? '; the key columns become NOT NULL by the NOT VALID route first' : ''}`,
        route: [
          ...notNull.flatMap((d) => d.route),
          duplicatesCheck(index, table),
          {
            kind: 'build-index', node: index, name, table,
            attach: { constraint: name, type: primary ? 'PRIMARY KEY' : 'UNIQUE', deferrable },
          },
        ],
        undo: [
          `ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${ident(name)}`,
          ...notNull.flatMap((d) => d.undo),
          ...nullable.map((k) => `ALTER TABLE ${table} ALTER COLUMN ${ident(k)} DROP NOT NULL`),
        ],
      });
    }
    default:
      return heavy(ctx, 'an EXCLUDE constraint builds its index under ACCESS EXCLUSIVE; PostgreSQL has no USING INDEX route for it', false);
  }
}

/** Read-only: would the unique index fail to build on the rows there now? */
function duplicatesCheck(index: Node, table: string): Step {
  const exprs: string[] = (index.indexParams ?? []).map((p: Node) => (p.IndexElem.name ? ident(p.IndexElem.name) : `(${deparseExpression(p.IndexElem.expr)})`));
  const nulls = index.nulls_not_distinct ? [] : exprs.map((e) => `${e} IS NOT NULL`);
  const where = [...nulls, ...(index.whereClause ? [`(${deparseExpression(index.whereClause)})`] : [])];
  return {
    kind: 'check',
    sql: `SELECT EXISTS (SELECT 1 FROM ${table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} GROUP BY ${exprs.join(', ')} HAVING count(*) > 1)`,
    violation: `existing rows hold duplicate values of (${exprs.join(', ')})`,
  };
}

function createIndex(node: Node, s: number, facts: TableFacts, used: Set<string>): Decision {
  if (node.nulls_not_distinct) requires(facts, 150000, 'NULLS NOT DISTINCT');
  const text = deparseIndex(node);
  if (facts.table.relkind === 'p' && onOnly(node)) {
    // ON ONLY the partitioned table: an index of its own, invalid until each partition's is attached.
    const d = instant(s, deparseIndex({ ...node, concurrent: false }), 'CREATE INDEX ... ON ONLY a partitioned table builds nothing: catalog only (invalid until every partition has its index attached)', 'SHARE');
    return { ...d, writtenLock: 'SHARE' };
  }
  if (!concurrentIndexSafe(facts.serverVersionNum)) {
    return { statement: s, subcommand: text, strategy: 'copy', why: 'CREATE INDEX CONCURRENTLY can corrupt indexes on PostgreSQL 14.0-14.3 (upgrade to 14.4+)', lock: 'SHARE', writtenLock: node.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE', hold: 'scan', rewrites: false, scans: true, steps: [text], route: [], undo: [] };
  }
  const name: string = node.idxname ?? chooseConstraintName(facts.table.name, [indexNameAddition(node)], 'idx', used);
  used.add(name);
  const table = qualified(facts.table.schema, facts.table.name);
  const named = { ...node, idxname: name };
  if (facts.table.relkind === 'p') {
    const equivalent = new Map(facts.equivalentIndexes.filter((e) => e.statement === s).map((e) => [e.partitionOid, e.index]));
    const tree = partitionedIndexRoute(named, facts, used, equivalent);
    return routed({
      statement: s, subcommand: text, strategy: 'concurrent', lock: 'SHARE', writtenLock: 'SHARE', hold: CATALOG, rewrites: false, scans: true,
      why: 'PostgreSQL cannot build an index on a partitioned table CONCURRENTLY: it is created ON ONLY the table (catalog only, SHARE for milliseconds), each partition\'s built CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes continue) and attached (ACCESS EXCLUSIVE on that new index for milliseconds); the last attachment makes it valid',
      route: [...(node.unique ? [duplicatesCheck(node, table)] : []), ...tree.route],
      undo: tree.undo,
    });
  }
  return routed({
    statement: s, subcommand: text, strategy: 'concurrent', why: 'CREATE INDEX CONCURRENTLY builds without blocking writes; an invalid index left by a failed build is dropped before a retry',
    lock: 'SHARE UPDATE EXCLUSIVE', writtenLock: node.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE', hold: ONLINE, rewrites: false, scans: true,
    route: [...(node.unique ? [duplicatesCheck(node, table)] : []), { kind: 'build-index', node: named, name, table, attach: null }],
    undo: [],
  });
}

function dropIndex(node: Node, s: number, facts: TableFacts): Decision[] {
  // DROP INDEX CONCURRENTLY takes one index and no CASCADE: one step per index.
  return (node.objects ?? []).map((o: Node) => {
    const one = { ...node, objects: [o] };
    const text = deparseSync(one, 'DropStmt');
    const indexName: string | undefined = o.List?.items?.at(-1)?.String?.sval;
    if (facts.indexes.some((i) => i.name === indexName && i.partitioned)) {
      // PostgreSQL has no DROP INDEX CONCURRENTLY for a partitioned index: it drops the whole tree's at once.
      const plain = deparseSync({ ...one, concurrent: false }, 'DropStmt');
      return instant(s, plain, 'a partitioned index cannot be dropped CONCURRENTLY: DROP INDEX removes it and every partition\'s index in the catalog (ACCESS EXCLUSIVE on the table and its partitions for milliseconds)', 'ACCESS EXCLUSIVE');
    }
    const concurrent = deparseSync({ ...one, concurrent: true, behavior: 'DROP_RESTRICT' }, 'DropStmt');
    return routed({
      statement: s, subcommand: text, strategy: 'concurrent', why: 'DROP INDEX CONCURRENTLY waits for running transactions instead of blocking them',
      lock: 'SHARE UPDATE EXCLUSIVE', writtenLock: node.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE', hold: CATALOG, rewrites: false, scans: false, route: [{ kind: 'drop-index', sql: concurrent }], undo: [],
    });
  });
}

/** CREATE INDEX ... ON ONLY: libpg-query leaves the relation's `inh` out when it is false. */
function onOnly(node: Node): boolean {
  return node.relation?.inh !== true;
}

/** PostgreSQL before 18 refuses a NOT VALID foreign key on a partitioned table. */
function noNotValidForeignKey(facts: TableFacts): boolean {
  return facts.table.relkind === 'p' && facts.serverVersionNum < 180000;
}

function relationNode(schema: string, name: string): Node {
  return { schemaname: schema, relname: name, inh: true, relpersistence: 'p' };
}

/**
 * A foreign key on a partitioned table before PostgreSQL 18, which has no NOT VALID for it there:
 * added to each leaf partition NOT VALID and validated (SHARE UPDATE EXCLUSIVE: reads and writes
 * continue), then to the table itself, where PostgreSQL finds each partition's validated
 * constraint, attaches it without a scan (measured on 17) and creates the partitioned levels' own.
 * The partitions' constraints take the table's constraint's name, as offline.
 */
function partitionedForeignKey(cmd: Node, name: string, ctx: Ctx): Decision {
  const { facts, table, s, text } = ctx;
  const leaves = facts.partitions.filter((p) => !p.partitioned);
  const taken = leaves.find((p) => p.constraintNames.includes(name));
  if (taken) return heavy(ctx, `partition ${taken.schema}.${taken.name} already has a constraint named ${name}, which the partition-by-partition route would take`, false, 'SHARE ROW EXCLUSIVE');
  const as = (relation: Node, validated: boolean): string => {
    const added = structuredClone(cmd);
    Object.assign(added.def.Constraint, { conname: name, skip_validation: !validated, initially_valid: validated });
    return deparseStatement({ kind: 'alter', node: { relation, cmds: [{ AlterTableCmd: added }], objtype: 'OBJECT_TABLE' }, cmds: [added] });
  };
  const route: Step[] = [{ kind: 'check-foreign-key', constraint: name, table, node: { ...structuredClone(cmd.def.Constraint), conname: name } }];
  for (const p of leaves) {
    const on = `${p.schema}.${p.name}`;
    route.push({ kind: 'locked', sql: [as(relationNode(p.schema, p.name), false)], on, lock: 'SHARE ROW EXCLUSIVE' });
    route.push({ kind: 'validate', sql: `ALTER TABLE ${qualified(p.schema, p.name)} VALIDATE CONSTRAINT ${ident(name)}`, constraint: name, on });
  }
  route.push({ kind: 'locked', sql: [as(relationOf(facts), true)], lock: 'SHARE ROW EXCLUSIVE' });
  return routed({
    statement: s, subcommand: text, strategy: 'not-valid-validate', lock: 'SHARE ROW EXCLUSIVE', hold: CATALOG, rewrites: false, scans: true, route,
    undo: [`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${ident(name)}`, ...leaves.map((p) => `ALTER TABLE ${qualified(p.schema, p.name)} DROP CONSTRAINT IF EXISTS ${ident(name)}`)],
    why: 'PostgreSQL before 18 has no NOT VALID foreign key on a partitioned table: added NOT VALID to each partition and validated there (SHARE UPDATE EXCLUSIVE: reads and writes continue), then added to the table, which attaches the validated ones without a scan (SHARE ROW EXCLUSIVE on the table, its partitions and the referenced table, for milliseconds)',
  });
}

/**
 * CREATE INDEX on a partitioned table as steps PostgreSQL allows online: the index ON ONLY the
 * table (catalog only, invalid while a partition lacks its index), likewise ON ONLY each
 * partitioned level below it, each leaf partition's index built CONCURRENTLY under a pgshift name,
 * renamed to the name PostgreSQL gives it offline (ChooseIndexName on the partition) and attached
 * in one short transaction; a level is attached to its parent's once its own partitions are.
 * A partition that already has an equal index of its own (`equivalent`, by partition OID) gets
 * it attached instead, as offline; for a sub-partitioned one that covers its partitions too. Those
 * attachments come last, in one transaction: PostgreSQL cannot detach an index, and the undo's
 * DROP of the table's index would take an attached one of the user's along.
 * Undo: dropping the table's index drops every attached one; the levels' not yet attached are
 * dropped by name, and a leaf build not yet attached by its pgshift name.
 */
function partitionedIndexRoute(named: Node, facts: TableFacts, used: Set<string>, equivalent: Map<string, string>): { route: Step[]; undo: string[] } {
  const addition = indexNameAddition(named);
  const route: Step[] = [];
  const undo: string[] = [];
  // ON ONLY is the parse tree's relation without `inh` (libpg-query leaves false out; the deparser reads it so).
  const onOnlyIndex = (schema: string, table: string, idxname: string): string =>
    deparseIndex({ ...named, idxname, concurrent: false, relation: { schemaname: schema, relname: table, relpersistence: 'p' } });
  const root = qualified(facts.table.schema, named.idxname);
  route.push({ kind: 'locked', sql: [onOnlyIndex(facts.table.schema, facts.table.name, named.idxname)], lock: 'SHARE' });
  undo.push(`DROP INDEX IF EXISTS ${root}`);
  let part = 0;
  const existing: { sql: string; on: string }[] = [];
  // PostgreSQL chooses a partition's index name among the names of the partition's schema.
  const usedIn = new Map<string, Set<string>>([[facts.table.schema, used]]);
  const usedOf = (schema: string): Set<string> => usedIn.get(schema) ?? usedIn.set(schema, new Set(facts.usedNamesIn?.[schema] ?? [])).get(schema)!;
  const visit = (parentOid: string, parentIndex: string): void => {
    for (const p of facts.partitions.filter((x) => x.parentOid === parentOid)) {
      const own = equivalent.get(p.oid);
      if (own !== undefined) {
        existing.push({ sql: `ALTER INDEX ${parentIndex} ATTACH PARTITION ${qualified(p.schema, own)}`, on: `${p.schema}.${p.name}` });
        continue;
      }
      const name = chooseConstraintName(p.name, [addition], 'idx', usedOf(p.schema));
      usedOf(p.schema).add(name);
      const index = qualified(p.schema, name);
      const on = `${p.schema}.${p.name}`;
      if (p.partitioned) {
        route.push({ kind: 'locked', sql: [onOnlyIndex(p.schema, p.name, name)], on, lock: 'SHARE' });
        undo.push(`DROP INDEX IF EXISTS ${index}`);
        visit(p.oid, index);
        route.push({ kind: 'locked', sql: [`ALTER INDEX ${parentIndex} ATTACH PARTITION ${index}`], on, lock: 'SHARE UPDATE EXCLUSIVE' });
      } else {
        part++;
        route.push({ kind: 'build-index', node: { ...named, relation: relationNode(p.schema, p.name) }, name, table: qualified(p.schema, p.name), attach: null, attachTo: parentIndex, schema: p.schema, part });
      }
    }
  };
  visit(facts.table.oid, root);
  if (existing.length) route.push({ kind: 'locked', sql: existing.map((e) => e.sql), on: existing.map((e) => e.on).join(', '), lock: 'SHARE UPDATE EXCLUSIVE' });
  return { route, undo };
}

/** CREATE INDEX as SQL (pgsql-deparser). */
export function deparseIndex(node: Node): string {
  return deparseSync(node);
}

function deparseSync(node: Node, kind: 'IndexStmt' | 'DropStmt' = 'IndexStmt'): string {
  return deparseExpression([{ RawStmt: { stmt: { [kind]: node } } }]);
}

/**
 * ChooseIndexColumnNames + ChooseIndexNameAddition (src/backend/commands/indexcmds.c): each
 * column's name, an expression's FigureIndexColname (a function's name, a cast's column or type,
 * ...) or "expr", made unique within the index with a number, joined by '_'.
 */
export function indexNameAddition(node: Node): string {
  const names: string[] = [];
  for (const p of [...(node.indexParams ?? []), ...(node.indexIncludingParams ?? [])]) {
    const e = p.IndexElem;
    const orig: string = e.indexcolname ?? e.name ?? figureColname(e.expr) ?? 'expr';
    let name = orig;
    for (let i = 1; names.includes(name); i++) name = `${orig}${i}`;
    names.push(name);
  }
  let out = '';
  for (const n of names) {
    out += (out ? '_' : '') + n;
    if (out.length >= 63) break;
  }
  return out;
}

/** FigureColnameInternal (src/backend/parser/parse_target.c), the cases an index expression meets. */
function figureColname(expr: Node): string | null {
  const [kind, n] = Object.entries(expr ?? {})[0] ?? [];
  const x = n as Node;
  switch (kind) {
    case 'ColumnRef': {
      const last = x.fields?.at(-1);
      return last?.String?.sval ?? null;
    }
    case 'FuncCall':
      return x.funcname?.at(-1)?.String?.sval ?? null;
    case 'TypeCast': {
      const inner = figureColname(x.arg);
      if (inner && !STRENGTH_ONE.has(Object.keys(x.arg ?? {})[0] ?? '')) return inner;
      return x.typeName?.names?.at(-1)?.String?.sval ?? inner;
    }
    case 'CollateClause':
      return figureColname(x.arg);
    case 'CoalesceExpr':
      return 'coalesce';
    case 'MinMaxExpr':
      return x.op === 'IS_GREATEST' ? 'greatest' : 'least';
    case 'NullIfExpr':
      return 'nullif';
    case 'CaseExpr':
      return 'case';
    case 'A_ArrayExpr':
      return 'array';
    case 'RowExpr':
      return 'row';
    default:
      return null;
  }
}

// Names FigureColnameInternal gives with strength 1, which a cast's type name overrides.
const STRENGTH_ONE = new Set(['CaseExpr']);

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
