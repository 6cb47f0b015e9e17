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
import { decide } from '../strategy/preview.js';
import { parseAlter, deparseExpression, type Node } from '../plan/parse.js';
import { MissingRelation, resolveTarget } from '../plan/target.js';
import { runBackfill } from '../backfill/backfill.js';
import { readMigrations, type Layout, type MigrationFile, type Section, type Statement } from './files.js';
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
  line: number;
  sql: string;
  strategy: string;
  why: string;
}

function pool(o: MigrateOptions, role: string, readOnly = false): Pool {
  return createPool({ url: o.url, role, lockTimeoutMs: o.retry.lockTimeoutMs, maxClients: 3, readOnly });
}

/** Applies the pending files in order (up to `--to`); refuses (exit 2) when an applied file was edited. */
export async function migrateUp(o: MigrateOptions): Promise<FileRun[]> {
  return asTheRunner(o, async (p, files, history) => {
    const runs: FileRun[] = [];
    for (const f of pending(files, history, o.to)) {
      const t0 = performance.now();
      const done = history.get(f.version!);
      o.say(`${done ? 'continuing' : 'applying'} ${f.version} ${f.name}${done ? ` at statement ${done.stepsDone + 1}` : ''}`);
      await withClient(p, (c) => startFile(c, { version: f.version!, name: f.name, checksum: f.checksum }));
      const steps = await runSection(p, o, f, f.up, done?.stepsDone ?? 0, done?.stepStartedAt ?? null, true).catch((err: unknown) => failed(p, o, f, err));
      await withTransaction(p, async (c) => {
        await finishFile(c, f.version!);
        if (o.historyCompat === 'dbmate') await writeDbmateHistory(c, f.version!, true);
      });
      runs.push({ version: f.version!, name: f.name, steps: [...(done?.steps ?? []), ...steps], ms: performance.now() - t0 });
    }
    return runs;
  });
}

/**
 * A file failed (its failing segment is rolled back): with --rollback automatic its committed
 * statements are undone newest first, each by its recorded inverse, and its history row goes; a
 * statement without an inverse stops as manual does. Always throws.
 */
async function failed(p: Pool, o: MigrateOptions, f: MigrationFile, err: unknown): Promise<never> {
  const why = describeError(err);
  const steps = (await readHistory(p)).get(f.version!)?.steps ?? [];
  const where = `${f.version} ${f.name}`;
  if (steps.length === 0) {
    await withClient(p, (c) => forgetFile(c, f.version!));
    throw rethrown(err, `${why} (nothing of ${where} was applied)`);
  }
  const applied = steps.map((s) => `line ${s.line} (${s.strategy})`).join(', ');
  const manual = `applied and kept: ${applied}; fix the cause and run pgshift migrate up to go on from the failed statement, or undo them by hand and run pgshift migrate mark pending ${f.version}`;
  if (o.rollback !== 'automatic') throw rethrown(err, `${why}; ${o.rollback === 'manual' ? manual : `applied and kept: ${applied}`}`);
  const missing = steps.filter((s) => !s.inverse);
  if (missing.length) throw rethrown(err, `${why}; --rollback automatic cannot undo line ${missing.map((s) => s.line).join(', ')} (no sure inverse): stopped as manual; ${manual}`);
  for (const s of [...steps].reverse()) {
    for (const sql of s.inverse!) {
      // Each alone (DROP INDEX CONCURRENTLY cannot run in a transaction), under the lock timeout, retried.
      await withRetry(o.retry, (_a, lockTimeoutMs) => withClient(p, (c) => withSessionLockTimeout(c, lockTimeoutMs, () => c.query(sql)))).catch((undoErr: unknown) => {
        throw new RuntimeError(`${where}: ${why}; undoing it failed at "${sql}" (${describeError(undoErr)}): the history still lists what stays applied; pgshift migrate status shows it`, { cause: err });
      });
    }
    await withClient(p, (c) => c.query(`UPDATE pgshift.migration_files SET steps = steps - (jsonb_array_length(steps) - 1), steps_done = steps_done - 1 WHERE version = $1`, [f.version]));
  }
  await withClient(p, (c) => forgetFile(c, f.version!));
  throw rethrown(err, `${why}; rolled back (--rollback automatic): ${steps.length} applied statement(s) of ${where} undone, newest first; the history is as before the file`);
}

function rethrown(err: unknown, message: string): Error {
  if (err instanceof UserError) return new UserError(message, { cause: err });
  return new RuntimeError(message, { cause: err });
}

/** Runs the down sections of the last `steps` applied files, newest first; each leaves the history when done. */
export async function migrateDown(o: MigrateOptions, steps: number): Promise<FileRun[]> {
  return asTheRunner(o, async (p, files, history) => {
    const applied = files.filter((f) => f.version !== null && history.get(f.version)?.success).reverse().slice(0, steps);
    const runs: FileRun[] = [];
    for (const f of applied) {
      if (!f.down) throw new UserError(`${f.version} ${f.name} has no down section: it cannot be taken down`);
      const t0 = performance.now();
      o.say(`taking down ${f.version} ${f.name}`);
      const done = await runSection(p, o, f, f.down, 0, null, false);
      await withTransaction(p, async (c) => {
        await forgetFile(c, f.version!);
        if (o.historyCompat === 'dbmate') await writeDbmateHistory(c, f.version!, false);
      });
      runs.push({ version: f.version!, name: f.name, steps: done, ms: performance.now() - t0 });
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

/** Every file and every history row: applied, pending, changed (edited since applied), missing (applied, file gone), partly applied. */
export async function migrateStatus(o: MigrateOptions): Promise<StatusEntry[]> {
  const { files } = await readMigrations(o.dir, o.layout);
  const p = pool(o, 'migrate-status', true);
  try {
    const history = await readHistory(p);
    const out: StatusEntry[] = files.filter((f) => f.version !== null).map((f) => {
      const a = history.get(f.version!);
      const state: FileState = !a ? 'pending' : a.checksum !== f.checksum ? 'changed' : a.success ? 'applied' : 'partly applied';
      return { version: f.version!, name: f.name, state, appliedAt: a?.appliedAt ?? null };
    });
    for (const a of history.values()) {
      if (!files.some((f) => f.version === a.version)) out.push({ version: a.version, name: a.name, state: 'missing', appliedAt: a.appliedAt });
    }
    return out.sort((a, b) => a.version.localeCompare(b.version, undefined, { numeric: true }));
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
  for (const f of files) if (!f.down && f.version !== null) notes.push(`${f.version} ${f.name}: no down section`);
  const lastApplied = status.filter((s) => s.state === 'applied').at(-1)?.version;
  for (const s of status) {
    if (s.state === 'pending' && lastApplied && s.version.localeCompare(lastApplied, undefined, { numeric: true }) < 0) {
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
    for (const f of pending(files, history, o.to)) {
      for (const st of f.up.statements.slice(history.get(f.version!)?.stepsDone ?? 0)) {
        const route = await withClient(p, (c) => routeOf(c, o, st, false));
        out.push({ version: f.version!, line: st.line, sql: st.sql, strategy: route.strategy, why: route.why });
      }
    }
    return out;
  } finally {
    await p.end();
  }
}

function refuseEdited(files: MigrationFile[], history: Map<string, Applied>): void {
  for (const f of files) {
    const a = f.version ? history.get(f.version) : undefined;
    if (a && a.checksum !== f.checksum) {
      throw new UserError(`${f.version} ${f.name} was edited after it was applied (checksum ${a.checksum.slice(0, 12)}..., now ${f.checksum.slice(0, 12)}...): restore it, or accept it with pgshift migrate repair`);
    }
  }
}

function pending(files: MigrationFile[], history: Map<string, Applied>, to?: string): MigrationFile[] {
  return files.filter((f) => f.version !== null && !history.get(f.version)?.success && (to === undefined || f.version.localeCompare(to, undefined, { numeric: true }) <= 0));
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

type Route = { kind: 'segment'; sql: string[]; strategy: string; why: string } | { kind: 'online'; strategy: string; why: string };

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
  const { overall } = decided.classification;
  if (overall.strategy === 'instant' || overall.strategy === 'direct') {
    const sql = unitsOf(decided.classification, decided.parsed.statements).flatMap((u) => (u.kind === 'locked' ? u.statements : []));
    return { kind: 'segment', sql, strategy: overall.strategy, why: overall.why };
  }
  return { kind: 'online', strategy: overall.strategy, why: overall.why };
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
      if (next === i) i = await online(p, o, f, statements[i]!, i, record, out, resumedOnline);
      else i = next;
    } else {
      const next = await segment(p, o, f, statements, i, statements.length, record, out);
      i = next < statements.length ? await online(p, o, f, statements[next]!, next, record, out, resumedOnline) : next;
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
        if (record && j > from) await recordSteps(c, f.version!, j, steps);
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

/** One online step alone: the engine of `pgshift alter` (or a backfill), then the progress recorded. Returns the next index. */
async function online(p: Pool, o: MigrateOptions, f: MigrationFile, st: Statement, i: number, record: boolean, out: StepRecord[], resumedAt: string | null): Promise<number> {
  const t0 = performance.now();
  let step: StepRecord;
  const finishedSince = resumedAt && !st.directives.backfill ? await doneSince(p, st, resumedAt) : null;
  if (finishedSince !== null) {
    step = { line: st.line, strategy: 'online', ms: 0, migrationId: finishedSince, inverse: null };
  } else {
    if (record) await withClient(p, (c) => markStepStarted(c, f.version!));
    const retry = st.directives.lockTimeoutMs ? { ...o.retry, lockTimeoutMs: st.directives.lockTimeoutMs } : o.retry;
    if (st.directives.backfill) {
      const u = st.node.UpdateStmt;
      const report = await runBackfill({
        url: o.url, execute: true, retry, throttle: { ...DEFAULTS.throttle }, batchTimeMs: DEFAULTS.backfillBatchTimeMs,
        table: deparseExpression(u.relation), set: u.targetList.map((t: Node) => `${ident(t.ResTarget.name)} = ${deparseExpression(t.ResTarget.val)}`).join(', '),
        where: u.whereClause ? deparseExpression(u.whereClause) : undefined, from: u.fromClause?.length ? u.fromClause.map(deparseExpression).join(', ') : undefined,
      });
      step = { line: st.line, strategy: 'backfill', ms: performance.now() - t0, migrationId: report.migrationId ?? undefined, inverse: null };
    } else {
      const report = await onlineAlter(alterOptions({
        url: o.url, statements: st.sql, execute: true, retry, strategy: st.directives.strategy ?? o.strategy,
        copyThresholdBytes: o.copyThresholdBytes, downtimeAllowed: o.downtimeAllowed, validation: o.validation, dropOld: !o.keepOld, rollback: o.rollback,
      }));
      // A copy has no inverse here (its old table is dropped once it is done); an unnamed index is named by its route.
      const built = report.decisions?.flatMap((d) => d.route).find((r) => r.kind === 'build-index') as { name: string } | undefined;
      const inverse = report.strategy === 'copy' ? null : inverseOf(st.node, built?.name);
      step = { line: st.line, strategy: report.strategy ?? 'copy', ms: performance.now() - t0, migrationId: report.migrationId ?? undefined, inverse };
    }
  }
  if (record) await withClient(p, (c) => recordSteps(c, f.version!, i + 1, [step]));
  out.push(step);
  return i + 1;
}

/** After a crash during an online step: the pgshift migration of that table that finished since the step began. */
async function doneSince(p: Pool, st: Statement, since: string): Promise<number | null> {
  return withClient(p, async (c) => {
    const oid = await resolveTarget(c, await parseAlter(st.sql)).catch(() => null);
    if (!oid) return null;
    const r = await c.query(
      `SELECT id::int FROM pgshift.migrations WHERE kind = 'alter' AND table_oid = $1 AND outcome = 'done' AND started_at >= $2::timestamptz ORDER BY id DESC LIMIT 1`,
      [oid, since],
    );
    return r.rows[0]?.id ?? null;
  });
}
