import type { Client, Pool } from '../db/session.js';
import { checkout, createPool, withClient, withSessionLockTimeout, withTransaction } from '../db/session.js';
import { ident } from '../db/quote.js';
import { sleep, withRetry, type RetryPolicy } from '../db/retry.js';
import { advisoryLocks } from '../db/advisory-locks.js';
import { DifferenceError, RuntimeError, UserError, describeError } from '../errors.js';
import { componentLog } from '../log.js';
import { alterOptions, DEFAULTS, type AlterOptions } from '../config.js';
import { ensureStateSchema } from '../state/store.js';
import { onlineAlter } from '../migration/start.js';
import { unitsOf } from '../migration/without-copy.js';
import { revertMigration } from '../migration/revert.js';
import { closeRevertWindow } from '../migration/revert-window.js';
import { decide } from '../strategy/preview.js';
import { HOLDS, type Decision, type Hold, type LockLevel } from '../strategy/classify.js';
import { estimateChange, type Estimate } from '../estimate/estimate.js';
import type { DiskLine } from '../dry-run/model.js';
import { parseAlter, deparseExpression, type Node } from '../plan/parse.js';
import { onlyDrops } from '../shadow/parent.js';
import { MissingRelation, resolveTarget } from '../plan/target.js';
import { runBackfill } from '../backfill/backfill.js';
import { compareVersions, readMigrations, type Layout, type MigrationFile, type Section, type Statement } from './files.js';
import { inverseOf } from './inverse.js';
import { finishFile, forgetFile, markStepStarted, readHistory, recordSteps, startFile, writeDbmateHistory, type Applied, type StepRecord } from './history.js';

const log = componentLog('migrate');

/**
 * `pgshift migrate up|down|status|validate`: the migration files of a folder, each statement by
 * its cheapest safe path. Statements run in file order, never reordered: consecutive statements
 * that can share a transaction form one segment (statements that are not table changes, and
 * table changes that are instant or direct); an online step (a concurrent build, NOT VALID +
 * VALIDATE, an online copy, a backfill) runs alone between segments, through `pgshift alter`'s
 * engine. Each segment commits with the file's progress in the history, so an interrupted file
 * continues at the first statement not done. One runner at a time per database.
 */
export interface MigrateOptions {
  url?: string;
  dir: string;
  layout?: Layout;
  /** apply up to and including this version */
  to?: string;
  strategy: AlterOptions['strategy'];
  copyThresholdBytes: number;
  downtimeAllowed: boolean;
  retry: RetryPolicy;
  validation: AlterOptions['validation'];
  /** keep the old tables online copies leave (default: dropped once the copy is done) */
  keepOld: boolean;
  /** how long to wait for another runner to finish */
  lockWaitMs: number;
  /** also keep this tool's history table in step */
  historyCompat?: 'dbmate';
  /**
   * A file that fails: automatic undoes its committed statements, newest first, each by its
   * recorded inverse, and the history stays as before the file (a statement without one stops
   * as manual does); manual and none stop, what committed listed (manual with the commands that
   * finish or undo it). Online copies keep alter's meaning of the same word.
   */
  rollback: 'automatic' | 'manual' | 'none';
  say: (line: string) => void;
}

export function migrateOptions(partial: Partial<MigrateOptions> & Pick<MigrateOptions, 'dir'>): MigrateOptions {
  return {
    strategy: DEFAULTS.strategy, copyThresholdBytes: DEFAULTS.copyThresholdBytes, downtimeAllowed: false, retry: DEFAULTS.retry,
    validation: DEFAULTS.validation, keepOld: false, lockWaitMs: 60_000, rollback: 'automatic', say: () => undefined, ...partial,
  };
}

export interface FileRun {
  version: string;
  name: string;
  steps: StepRecord[];
  ms: number;
}

export interface PlannedStatement {
  version: string;
  /** the file's path */
  file: string;
  line: number;
  sql: string;
  /**
   * which transaction it runs in, numbered through the plan: statements sharing a number commit
   * together; an online step, or any statement of a `transaction:false` section, has its own
   */
  segment: number;
  strategy: string;
  why: string;
  /** the strongest lock it takes on its table, and how long that lock is held; null: not a table change, run as written */
  lock: LockLevel | null;
  hold: Hold | null;
  rewrites: boolean;
  /** rehearsed now on a sample of its table (src/estimate); null for a statement run as written, or one that could not be rehearsed */
  estimate: Estimate | null;
  /** why there is no estimate */
  unmeasured?: string;
  /** the classifier's decision per subcommand (empty: not a table change) */
  decisions: Decision[];
  /** the table it changes (null: not a table change, or a table not there yet) */
  table: { oid: string; schema: string; name: string } | null;
  /** what it writes on disk against what is free (null: nothing but catalog rows, or not measured) */
  disk: DiskLine | null;
}

function pool(o: MigrateOptions, role: string, readOnly = false): Pool {
  return createPool({ url: o.url, role, lockTimeoutMs: o.retry.lockTimeoutMs, maxClients: 3, readOnly });
}

/** The library's `migrate({ url, dir, ... })`: `pgshift migrate up`, every option not given at its default. */
export async function migrate(o: Partial<MigrateOptions> & Pick<MigrateOptions, 'dir'>): Promise<FileRun[]> {
  return migrateUp(migrateOptions(o));
}

/** Applies the pending files in order (up to `--to`); refuses (exit 2) when an applied file was edited. */
export async function migrateUp(o: MigrateOptions): Promise<FileRun[]> {
  return asTheRunner(o, async (p, files, history) => {
    const runs: FileRun[] = [];
    for (const f of pending(files, history, o.to)) {
      const t0 = performance.now();
      let done = history.get(f.version);
      if (done && done.checksum !== f.checksum) {
        // A repeatable file changed since it ran (or since its interrupted run): it runs again from its start.
        await withClient(p, (c) => forgetFile(c, f.version));
        done = undefined;
      }
      o.say(`${done ? 'continuing' : 'applying'} ${f.version} ${f.name}${done ? ` at statement ${done.stepsDone + 1}` : ''}`);
      await withClient(p, (c) => startFile(c, { version: f.version, name: f.name, checksum: f.checksum }));
      const steps = [...(done?.steps ?? []), ...(await runSection(p, o, f, f.up, done?.stepsDone ?? 0, done?.stepStartedAt ?? null, true).catch((err: unknown) => failed(p, o, f, err)))];
      // The file is done: the revert windows its copies kept close (their old tables go, unless --keep-old).
      for (const s of steps) if (s.revert) await closeRevertWindow(p, s.revert, o.retry, o.keepOld);
      await withTransaction(p, async (c) => {
        await finishFile(c, f.version);
        if (o.historyCompat === 'dbmate' && !f.repeatable) await writeDbmateHistory(c, f.version, true);
      });
      runs.push({ version: f.version, name: f.name, steps, ms: performance.now() - t0 });
    }
    return runs;
  });
}

/**
 * A file failed (its failing segment is rolled back): with --rollback automatic its committed
 * statements are undone newest first, each by its recorded inverse or its copy's revert window,
 * and its history row goes; a statement without either stops as manual does. Always throws.
 */
async function failed(p: Pool, o: MigrateOptions, f: MigrationFile, err: unknown): Promise<never> {
  const why = describeError(err);
  const steps = (await readHistory(p)).get(f.version)?.steps ?? [];
  const where = `${f.version} ${f.name}`;
  if (steps.length === 0) {
    await withClient(p, (c) => forgetFile(c, f.version));
    throw rethrown(err, `${why} (nothing of ${where} was applied)`);
  }
  const applied = steps.map((s) => `line ${s.line} (${s.strategy})`).join(', ');
  const undo = [...steps].reverse().map((s) => `line ${s.line}: ${s.revert ? `pgshift revert ${s.revert}` : s.inverse ? s.inverse.join('; ') : 'no sure inverse: undo it by hand'}`);
  const manual = `applied and kept: ${applied}; fix the cause and run pgshift migrate up to go on from the failed statement, or undo them, newest first (${undo.join('; ')}), then run pgshift migrate mark pending ${f.version}`;
  if (o.rollback !== 'automatic') throw rethrown(err, `${why}; ${o.rollback === 'manual' ? manual : `applied and kept: ${applied}`}`);
  const missing = steps.filter((s) => !s.inverse && !s.revert);
  if (missing.length) throw rethrown(err, `${why}; --rollback automatic cannot undo line ${missing.map((s) => s.line).join(', ')} (no sure inverse): stopped as manual; ${manual}`);
  for (const s of [...steps].reverse()) {
    const undone = (what: string) => (undoErr: unknown): never => {
      throw new RuntimeError(`${where}: ${why}; undoing it failed at ${what} (${describeError(undoErr)}): the history still lists what stays applied; pgshift migrate status shows it`, { cause: err });
    };
    if (s.revert) {
      // The copy's old table, kept in step since the swap, swapped back; what the copy built goes.
      await revertMigration({ url: o.url, retry: o.retry, deadlineMs: DEFAULTS.cutoverDeadlineMs }, String(s.revert)).catch(undone(`pgshift revert ${s.revert}`));
      await closeRevertWindow(p, s.revert, o.retry, false);
    }
    for (const sql of s.inverse ?? []) {
      // Each alone (DROP INDEX CONCURRENTLY cannot run in a transaction), under the lock timeout, retried.
      await withRetry(o.retry, (_a, lockTimeoutMs) => withClient(p, (c) => withSessionLockTimeout(c, lockTimeoutMs, () => c.query(sql)))).catch(undone(`"${sql}"`));
    }
    await withClient(p, (c) => c.query(`UPDATE pgshift.migration_files SET steps = steps - (jsonb_array_length(steps) - 1), steps_done = steps_done - 1 WHERE version = $1`, [f.version]));
  }
  await withClient(p, (c) => forgetFile(c, f.version));
  throw rethrown(err, `${why}; rolled back (--rollback automatic): ${steps.length} applied statement(s) of ${where} undone, newest first; the history is as before the file`);
}

function rethrown(err: unknown, message: string): Error {
  if (err instanceof UserError) return new UserError(message, { cause: err });
  return new RuntimeError(message, { cause: err });
}

/**
 * Runs the down sections of applied files, newest first: the last `steps` of them, or every one
 * newer than `to` (which stays applied). Each leaves the history when done. Repeatable files
 * have no down.
 */
export async function migrateDown(o: MigrateOptions, which: { steps: number } | { to: string }): Promise<FileRun[]> {
  return asTheRunner(o, async (p, files, history) => {
    const newestFirst = files.filter((f) => !f.repeatable && history.get(f.version)?.success).reverse();
    if ('to' in which && !files.some((f) => f.version === which.to) && !history.has(which.to)) throw new UserError(`--to ${which.to}: no such version in ${o.dir} or the history`);
    const applied = 'steps' in which ? newestFirst.slice(0, which.steps) : newestFirst.filter((f) => compareVersions(f.version, which.to) > 0);
    const runs: FileRun[] = [];
    for (const f of applied) {
      if (!f.down) throw new UserError(`${f.version} ${f.name} has no down section: it cannot be taken down`);
      const t0 = performance.now();
      o.say(`taking down ${f.version} ${f.name}`);
      const done = await runSection(p, o, f, f.down, 0, null, false);
      await withTransaction(p, async (c) => {
        await forgetFile(c, f.version);
        if (o.historyCompat === 'dbmate') await writeDbmateHistory(c, f.version, false);
      });
      runs.push({ version: f.version, name: f.name, steps: done, ms: performance.now() - t0 });
    }
    return runs;
  });
}

export type FileState = 'applied' | 'pending' | 'changed' | 'missing' | 'partly applied';

export interface StatusEntry {
  version: string;
  name: string;
  state: FileState;
  appliedAt: string | null;
}

/**
 * Every file and every history row: applied, pending, changed (edited since applied), missing
 * (applied, file gone), partly applied. A repeatable file changed since it ran is pending again.
 */
export async function migrateStatus(o: MigrateOptions): Promise<StatusEntry[]> {
  const { files } = await readMigrations(o.dir, o.layout);
  const p = pool(o, 'migrate-status', true);
  try {
    const history = await readHistory(p);
    const out: StatusEntry[] = files.map((f) => {
      const a = history.get(f.version);
      const edited = a !== undefined && a.checksum !== f.checksum;
      const state: FileState = !a || (edited && f.repeatable) ? 'pending' : edited ? 'changed' : a.success ? 'applied' : 'partly applied';
      return { version: f.version, name: f.name, state, appliedAt: a?.appliedAt ?? null };
    });
    for (const a of history.values()) {
      if (!files.some((f) => f.version === a.version)) out.push({ version: a.version, name: a.name, state: 'missing', appliedAt: a.appliedAt });
    }
    // Versions in order, repeatable files (R__...) after them, as they run.
    return out.sort((a, b) => compareVersions(a.version, b.version));
  } finally {
    await p.end();
  }
}

/** Every file parses (else exit 2), no applied file changed (else exit 3); down sections and order are reported. */
export async function migrateValidate(o: MigrateOptions): Promise<string[]> {
  const { files, warnings } = await readMigrations(o.dir, o.layout);
  const status = await migrateStatus(o);
  const changed = status.filter((s) => s.state === 'changed');
  const notes = [...warnings];
  for (const f of files) if (!f.down && !f.repeatable) notes.push(`${f.version} ${f.name}: no down section`);
  const lastApplied = status.filter((s) => s.state === 'applied').at(-1)?.version;
  for (const s of status) {
    if (s.state === 'pending' && lastApplied && !s.version.startsWith('R__') && compareVersions(s.version, lastApplied) < 0) {
      notes.push(`${s.version} ${s.name}: pending, but older than the applied ${lastApplied} (out of order)`);
    }
  }
  if (changed.length) {
    throw new DifferenceError(`edited after being applied: ${changed.map((s) => `${s.version} ${s.name}`).join(', ')}${notes.length ? `; also: ${notes.join('; ')}` : ''}`);
  }
  return notes;
}

/** What `up` would do, read-only: per statement its strategy and why, against the schema as it is now. */
export async function migratePlan(o: MigrateOptions): Promise<PlannedStatement[]> {
  const { files } = await readMigrations(o.dir, o.layout);
  const p = pool(o, 'migrate-plan', true);
  try {
    const history = await readHistory(p);
    refuseEdited(files, history);
    const out: PlannedStatement[] = [];
    let segment = 0;
    for (const f of pending(files, history, o.to)) {
      let shared = false; // the segment before this statement is open to it
      for (const st of f.up.statements.slice(history.get(f.version)?.stepsDone ?? 0)) {
        const route = await withClient(p, (c) => routeOf(c, o, st, false));
        const alone = route.kind === 'online' || !f.up.transaction;
        if (alone || !shared) segment++;
        shared = !alone;
        const d = route.decisions ?? [];
        out.push({
          version: f.version, file: f.path, line: st.line, sql: st.sql, segment, strategy: route.strategy, why: route.why,
          lock: d.length ? strongest(d.map((x) => x.lock), LOCKS) : null, hold: d.length ? strongest(d.map((x) => x.hold), HOLDS) : null, rewrites: d.some((x) => x.rewrites),
          decisions: d, table: route.table ?? null,
          ...(await withClient(p, (c) => estimateOf(c, o, st, route))),
        });
      }
    }
    return out;
  } finally {
    await p.end();
  }
}

/**
 * A statement's estimated duration, rehearsed now on a sample of its table (src/estimate; a
 * backfill's UPDATE run on the sample); none for a statement run as written.
 */
async function estimateOf(c: Client, o: MigrateOptions, st: Statement, route: Route): Promise<{ estimate: Estimate | null; unmeasured?: string; disk: DiskLine | null }> {
  const backfill = st.directives.backfill ? backfillOf(st) : null;
  const table = route.table ?? (backfill ? await tableNamed(c, backfill.table) : null);
  if (!table) return { estimate: null, unmeasured: route.strategy === 'statement' ? 'run as written' : 'its table is not there yet', disk: null };
  const update = backfill
    ? (scratch: string): string => `UPDATE ${scratch} AS ${ident(st.node.UpdateStmt.relation.relname)} SET ${backfill.set}${backfill.from ? ` FROM ${backfill.from}` : ''}${backfill.where ? ` WHERE ${backfill.where}` : ''}`
    : undefined;
  return estimateChange(c, { sql: st.sql, strategy: route.strategy, decisions: route.decisions ?? [], table, retry: o.retry, validation: o.validation, update });
}

async function tableNamed(c: Client, name: string): Promise<{ oid: string; schema: string; name: string } | null> {
  const r = await c.query(
    `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`,
    [name],
  );
  return r.rows[0] ?? null;
}

function refuseEdited(files: MigrationFile[], history: Map<string, Applied>): void {
  for (const f of files) {
    const a = history.get(f.version);
    if (a && a.checksum !== f.checksum && !f.repeatable) {
      throw new UserError(`${f.version} ${f.name} was edited after it was applied (checksum ${a.checksum.slice(0, 12)}..., now ${f.checksum.slice(0, 12)}...): restore it, or accept it with pgshift migrate repair`);
    }
  }
}

/** Versioned files not applied (up to `to`), then repeatable ones not run as they are now (only without `to`). */
function pending(files: MigrationFile[], history: Map<string, Applied>, to?: string): MigrationFile[] {
  return files.filter((f) => {
    const a = history.get(f.version);
    if (f.repeatable) return to === undefined && !(a?.success && a.checksum === f.checksum);
    return !a?.success && (to === undefined || compareVersions(f.version, to) <= 0);
  });
}

/**
 * One runner per database: a session advisory lock taken by polling, never by waiting in
 * pg_advisory_lock. Inside it, `fn` gets the files, the history, and the certainty that no applied
 * file was edited (else exit 2, nothing run).
 */
async function asTheRunner<T>(o: MigrateOptions, fn: (p: Pool, files: MigrationFile[], history: Map<string, Applied>) => Promise<T>): Promise<T> {
  const { files } = await readMigrations(o.dir, o.layout);
  const p = pool(o, 'migrate');
  try {
    await ensureStateSchema(p);
    const c = await checkout(p, 'runner');
    try {
      const deadline = Date.now() + o.lockWaitMs;
      while (!(await c.query('SELECT pg_try_advisory_lock($1, $2) AS ok', advisoryLocks.migrateRunner)).rows[0].ok) {
        if (Date.now() > deadline) throw new RuntimeError(`another pgshift migrate runs on this database (waited ${Math.round(o.lockWaitMs / 1000)}s); try again when it is done`);
        await sleep(250);
      }
      try {
        const history = await readHistory(p);
        refuseEdited(files, history);
        return await fn(p, files, history);
      } finally {
        await c.query('SELECT pg_advisory_unlock($1, $2)', advisoryLocks.migrateRunner).catch(() => undefined);
      }
    } finally {
      c.release();
    }
  } finally {
    await p.end();
  }
}

type Route = ({ kind: 'segment'; sql: string[] } | { kind: 'online' }) & {
  strategy: string;
  why: string;
  decisions?: Decision[];
  /** the table a table change changes */
  table?: { oid: string; schema: string; name: string };
};

/** Weakest first. */
const LOCKS: readonly LockLevel[] = ['SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'];

function strongest<T>(values: T[], order: readonly T[]): T {
  return values.reduce((a, b) => (order.indexOf(b) > order.indexOf(a) ? b : a));
}

/** A table change by its classification (inside a segment: against what the segment did so far); anything else as written. */
async function routeOf(c: Client, o: MigrateOptions, st: Statement, inTransaction: boolean): Promise<Route> {
  if (st.directives.backfill) {
    if (!st.node.UpdateStmt) throw new UserError(`line ${st.line}: -- pgshift:backfill must precede an UPDATE`);
    return { kind: 'online', strategy: 'backfill', why: 'a throttled, batched backfill (-- pgshift:backfill)' };
  }
  if (!isTableChange(st.node)) return { kind: 'segment', sql: [st.sql], strategy: 'statement', why: 'not a change of an existing table: as written' };
  const decided = await decide(c, st.sql, {
    strategy: st.directives.strategy ?? o.strategy, copyThresholdBytes: o.copyThresholdBytes, downtimeAllowed: o.downtimeAllowed, copyOnlyOptions: [], inTransaction,
  }).catch((err: unknown) => {
    // A dry run reads the schema as it is: a table an earlier pending statement creates is not there yet.
    if (!inTransaction && err instanceof MissingRelation) return null;
    throw err;
  });
  if (!decided) return { kind: 'segment', sql: [st.sql], strategy: 'statement', why: 'its table does not exist yet (an earlier pending statement creates it): decided when it runs' };
  const { overall, decisions } = decided.classification;
  if (overall.strategy === 'instant' || overall.strategy === 'direct') {
    const sql = unitsOf(decided.classification, decided.parsed.statements).flatMap((u) => (u.kind === 'locked' ? u.statements : []));
    return { kind: 'segment', sql, strategy: overall.strategy, why: overall.why, decisions, table: decided.facts.table };
  }
  return { kind: 'online', strategy: overall.strategy, why: overall.why, decisions, table: decided.facts.table };
}

function isTableChange(node: Node): boolean {
  if (node.AlterTableStmt) return node.AlterTableStmt.objtype === 'OBJECT_TABLE';
  if (node.RenameStmt) return ['OBJECT_COLUMN', 'OBJECT_TABCONSTRAINT'].includes(node.RenameStmt.renameType) && node.RenameStmt.relationType !== 'OBJECT_VIEW';
  if (node.IndexStmt) return true;
  return node.DropStmt?.removeType === 'OBJECT_INDEX';
}

/**
 * Runs a section from statement `from` on: segments in a transaction each (retried as a whole
 * when a lock does not come), online steps alone. With `record`, progress is kept in the history.
 */
async function runSection(p: Pool, o: MigrateOptions, f: MigrationFile, section: Section, from: number, stepStartedAt: string | null, record: boolean): Promise<StepRecord[]> {
  const out: StepRecord[] = [];
  const statements = section.statements;
  let i = from;
  let resumedOnline = stepStartedAt;
  while (i < statements.length) {
    if (!section.transaction) {
      const next = await segment(p, o, f, statements, i, i + 1, record, out);
      if (next === i) i = await online(p, o, f, statements, i, record, out, resumedOnline);
      else i = next;
    } else {
      const next = await segment(p, o, f, statements, i, statements.length, record, out);
      i = next < statements.length ? await online(p, o, f, statements, next, record, out, resumedOnline) : next;
    }
    resumedOnline = null;
  }
  return out;
}

/**
 * Statements [from, until) in one transaction up to the first online step (whose index it
 * returns; `until` when there is none). Progress is recorded in the same transaction.
 */
async function segment(p: Pool, o: MigrateOptions, f: MigrationFile, statements: Statement[], from: number, until: number, record: boolean, out: StepRecord[]): Promise<number> {
  let steps: StepRecord[] = [];
  const next = await withRetry(
    o.retry,
    (_attempt, lockTimeoutMs) =>
      withTransaction(p, async (c) => {
        steps = [];
        let j = from;
        for (; j < until; j++) {
          const st = statements[j]!;
          const route = await routeOf(c, o, st, true);
          if (route.kind === 'online') break;
          await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${st.directives.lockTimeoutMs ?? lockTimeoutMs}ms`]);
          const t0 = performance.now();
          try {
            for (const sql of route.sql) await c.query(sql);
          } catch (err) {
            throw Object.assign(err as Error, { pgshiftWhere: `${f.version} ${f.name} line ${st.line}` });
          }
          steps.push({ line: st.line, strategy: route.strategy, ms: performance.now() - t0, inverse: inverseOf(st.node) });
        }
        if (record && j > from) await recordSteps(c, f.version, j, steps);
        return j;
      }, { role: 'migrate' }),
    (attempt, err) => log.warn({ file: f.version, attempt, reason: describeError(err) }, 'segment attempt failed; retrying'),
  ).catch((err: unknown) => {
    const where = (err as { pgshiftWhere?: string }).pgshiftWhere ?? `${f.version} ${f.name}`;
    if (err instanceof UserError || err instanceof RuntimeError) throw err;
    throw new RuntimeError(`${where}: ${describeError(err)}; its transaction was rolled back (statements before it in the file stay applied, recorded in the history)`, { cause: err });
  });
  out.push(...steps);
  return next;
}

/**
 * How long `migrate up` keeps a copy's revert window open at most: it is closed as soon as the
 * copy's file is done (or undone); a run that stops midway leaves it open for a later `up`, or
 * for `pgshift revert` / `pgshift cleanup` by hand.
 */
const FILE_REVERT_WINDOW_MS = 7 * 24 * 3_600_000;

/** One online step alone: the engine of `pgshift alter` (or a backfill), then the progress recorded. Returns the next index. */
async function online(p: Pool, o: MigrateOptions, f: MigrationFile, statements: Statement[], i: number, record: boolean, out: StepRecord[], resumedAt: string | null): Promise<number> {
  const st = statements[i]!;
  const t0 = performance.now();
  let step: StepRecord;
  const finished = resumedAt && !st.directives.backfill ? await doneSince(p, st, resumedAt) : null;
  if (finished) {
    step = { line: st.line, strategy: 'online', ms: 0, migrationId: finished.id, inverse: null, ...(finished.revertible ? { revert: finished.id } : {}) };
  } else {
    if (record) await withClient(p, (c) => markStepStarted(c, f.version));
    const retry = st.directives.lockTimeoutMs ? { ...o.retry, lockTimeoutMs: st.directives.lockTimeoutMs } : o.retry;
    if (st.directives.backfill) {
      const report = await runBackfill({
        url: o.url, execute: true, retry, throttle: { ...DEFAULTS.throttle }, batchTimeMs: DEFAULTS.backfillBatchTimeMs, ...backfillOf(st),
      });
      step = { line: st.line, strategy: 'backfill', ms: performance.now() - t0, migrationId: report.migrationId ?? undefined, inverse: null };
    } else {
      // A copy with statements after it in its file keeps a revert window until the file is done,
      // so that --rollback automatic can swap the old table back if a later statement fails.
      const windowed = record && o.rollback !== 'none' && i < statements.length - 1 && !convertsByUsing(st.node)
        // ALTER TABLE ONLY ... DROP: on a parent, a revert could not give its children back what it made theirs (migration/report.ts).
        && onlyDrops((await parseAlter(st.sql)).statements).length === 0
        && (await withClient(p, (c) => routeOf(c, o, st, false))).strategy === 'copy';
      const report = await onlineAlter(alterOptions({
        url: o.url, statements: st.sql, execute: true, retry, strategy: windowed ? 'copy' : st.directives.strategy ?? o.strategy,
        copyThresholdBytes: o.copyThresholdBytes, downtimeAllowed: o.downtimeAllowed, validation: o.validation, rollback: o.rollback,
        ...(windowed ? { dropOld: false, revertWindowMs: FILE_REVERT_WINDOW_MS } : { dropOld: !o.keepOld }),
      }));
      // A copy is undone by its revert window when it has one; an unnamed index is named by its route.
      const built = report.decisions?.flatMap((d) => d.route).find((r) => r.kind === 'build-index') as { name: string } | undefined;
      const inverse = report.strategy === 'copy' ? null : inverseOf(st.node, built?.name);
      step = {
        line: st.line, strategy: report.strategy ?? 'copy', ms: performance.now() - t0, migrationId: report.migrationId ?? undefined, inverse,
        ...(windowed && report.migrationId ? { revert: report.migrationId } : {}),
      };
    }
  }
  if (record) await withClient(p, (c) => recordSteps(c, f.version, i + 1, [step]));
  out.push(step);
  return i + 1;
}

/** A `-- pgshift:backfill` UPDATE as `pgshift backfill`'s table, SET, FROM and WHERE. */
function backfillOf(st: Statement): { table: string; set: string; where?: string; from?: string } {
  const u = st.node.UpdateStmt;
  return {
    table: deparseExpression(u.relation), set: u.targetList.map((t: Node) => `${ident(t.ResTarget.name)} = ${deparseExpression(t.ResTarget.val)}`).join(', '),
    where: u.whereClause ? deparseExpression(u.whereClause) : undefined, from: u.fromClause?.length ? u.fromClause.map(deparseExpression).join(', ') : undefined,
  };
}

/** ALTER COLUMN ... TYPE ... USING: a conversion a revert window cannot run backwards. */
function convertsByUsing(node: Node): boolean {
  return (node.AlterTableStmt?.cmds ?? []).some((c: Node) => c.AlterTableCmd?.subtype === 'AT_AlterColumnType' && c.AlterTableCmd.def?.ColumnDef?.raw_default);
}

/** After a crash during an online step: the pgshift migration of that table that finished since the step began. */
async function doneSince(p: Pool, st: Statement, since: string): Promise<{ id: number; revertible: boolean } | null> {
  return withClient(p, async (c) => {
    const oid = await resolveTarget(c, await parseAlter(st.sql)).catch(() => null);
    if (!oid) return null;
    const r = await c.query(
      `SELECT id::int, revert_until IS NOT NULL AS revertible FROM pgshift.migrations
        WHERE kind = 'alter' AND table_oid = $1 AND outcome = 'done' AND started_at >= $2::timestamptz ORDER BY id DESC LIMIT 1`,
      [oid, since],
    );
    return r.rows[0] ?? null;
  });
}
