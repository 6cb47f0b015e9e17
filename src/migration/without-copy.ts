import type { Client, Pool } from '../db/session.js';
import { bindMigration, withClient, withSessionLockTimeout, withTransaction } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { PgshiftError, RuntimeError, StoppedError, UserError, describeError, sqlState } from '../errors.js';
import { componentLog } from '../log.js';
import { progress } from '../progress.js';
import type { AlterOptions } from '../config.js';
import { failpoint } from '../failpoints.js';
import { describeBlockers, lockGaveUp } from '../cutover/blockers.js';
import { takeOwnership, type Ownership } from '../state/ownership.js';
import { finishMigration, registerMigration, setPhase } from '../state/store.js';
import { deparseStatement, type AlterStatement } from '../plan/parse.js';
import { attachIndexSql, attachSql, deparseIndex, type Classification, type Decision, type Step } from '../strategy/classify.js';
import { foreignKeyColumns, orphanCondition } from '../verify/foreign-keys.js';
import { createHooks, noHooks, type Hooks } from './hooks.js';
import type { AlterReport } from './report.js';
import { storedOptions } from './stored-options.js';

const log = componentLog('without-copy');

/**
 * A change that needs no copy, applied to the table itself, unit by unit in the order written:
 * - locked: statements in one transaction under a short lock_timeout with retries (a run of
 *   instant subcommands, or the whole change when the strategy is direct);
 * - route: one subcommand's online route (strategy/classify.ts Step), whose additions are removed
 *   again when a later step of it fails.
 * Every unit keeps what each pgshift step keeps: no lock wait without a timeout (the holders named
 * when the budget runs out), the migration registered and owned (one at a time per table,
 * `pgshift status`, NOTIFY, events), the hooks. Progress (units done) is stored with the
 * migration: a take-over removes what the interrupted unit had added and goes on from it.
 */
export type Unit = { kind: 'locked'; statements: string[] } | { kind: 'route'; decision: Decision };

export type WithoutCopy = 'instant' | 'online' | 'direct';

export interface Target {
  oid: string;
  schema: string;
  name: string;
  estimatedRows: number;
}

export interface Progress {
  units: Unit[];
  done: number;
}

/** The units a classification runs as: consecutive instant subcommands share one transaction. */
export function unitsOf(c: Classification, statements: AlterStatement[]): Unit[] {
  if (c.overall.strategy === 'direct') {
    // As written, in one transaction: CONCURRENTLY cannot run inside one (and the table is small, or the application down).
    const asWritten = statements.map((s) => (s.kind === 'create-index' || s.kind === 'drop-index' ? deparseStatement({ ...s, node: { ...s.node, concurrent: false } }) : deparseStatement(s)));
    return [{ kind: 'locked', statements: asWritten }];
  }
  const units: Unit[] = [];
  for (const d of c.decisions) {
    const last = units.at(-1);
    if (d.strategy === 'instant') {
      const sql = d.route.flatMap((s) => (s.kind === 'locked' ? s.sql : []));
      if (last?.kind === 'locked') last.statements.push(...sql);
      else units.push({ kind: 'locked', statements: sql });
    } else {
      units.push({ kind: 'route', decision: d });
    }
  }
  return units;
}

interface Run {
  pool: Pool;
  id: number;
  target: Target;
  table: string;
  retry: RetryPolicy;
  hooks: Hooks;
  ownership: Ownership;
  attempts: number;
  heldMs: number;
}

/** Registers the migration and runs every unit. */
export async function applyWithoutCopy(
  pool: Pool,
  x: { target: Target; statements: string[]; units: Unit[]; strategy: WithoutCopy },
  opts: AlterOptions,
): Promise<AlterReport> {
  // Registered with its units in one transaction: a take-over always finds them.
  const id = await withTransaction(pool, async (c) => {
    const registered = await registerMigration(c, {
      tableOid: x.target.oid,
      schema: x.target.schema,
      table: x.target.name,
      statements: x.statements.join(';\n'),
      rowsEstimated: x.target.estimatedRows,
      options: { ...storedOptions(opts), strategy: x.strategy },
    });
    await c.query(`UPDATE pgshift.migrations SET resume_state = $2 WHERE id = $1`, [registered, JSON.stringify({ units: x.units, done: 0 } satisfies Progress)]);
    return registered;
  });
  await bindMigration(pool, id);
  const ownership = await takeOwnership(pool, id);
  return runUnits(pool, { id, target: x.target, statements: x.statements, strategy: x.strategy, progress: { units: x.units, done: 0 }, ownership, fresh: true }, opts);
}

/** Takes over an interrupted change without a copy: what its unit in progress added goes, then it goes on. */
export async function continueWithoutCopy(
  pool: Pool,
  m: { id: number; target: Target; statements: string[]; strategy: WithoutCopy; progress: Progress; ownership: Ownership },
  opts: AlterOptions,
): Promise<AlterReport> {
  return runUnits(pool, { ...m, fresh: false }, opts);
}

async function runUnits(
  pool: Pool,
  m: { id: number; target: Target; statements: string[]; strategy: WithoutCopy; progress: Progress; ownership: Ownership; fresh: boolean },
  opts: AlterOptions,
): Promise<AlterReport> {
  const started = performance.now();
  const { id, target } = m;
  const table = qualified(target.schema, target.name);
  const run: Run = { pool, id, target, table, retry: opts.retry, hooks: createHooks({ cmd: opts.hookCmd, dir: opts.hooksDir }), ownership: m.ownership, attempts: 0, heldMs: 0 };
  const state = (phase: string, error?: string): Record<string, string | number | null> => ({
    migration_id: id, table: `${target.schema}.${target.name}`, statements: m.statements.join('; '), phase, rows_copied: 0, rows_estimated: target.estimatedRows, artifact_schema: null, error: error ?? null,
  });
  const { units } = m.progress;
  let done = m.progress.done;
  try {
    if (m.fresh) await run.hooks.run('startup', state('plan'));
    else if (units[done]?.kind === 'route') await undoRoute(run, done, (units[done] as { decision: Decision }).decision);
    await setPhase(pool, id, 'cutover', `applying the change to the table itself (${m.strategy})`);
    await opts.onPhase?.('cutover', { id, schema: target.schema, table: target.name });
    await run.hooks.run('before-cutover', state('cutover'));
    for (; done < units.length; done++) {
      await run.ownership.assertHeld();
      const unit = units[done]!;
      await failpoint('without-copy-unit');
      if (unit.kind === 'locked') await locked(run, unit.statements, done + 1);
      else await runRoute(run, done, unit.decision);
      if (unit.kind === 'route') await markDone(run, done + 1);
    }
    // The change's lock, as a copy's cutover reports its own (the wait is not measured here).
    progress.emit({ type: 'cutover', id, attempts: run.attempts, lockWaitMs: null, holdMs: run.heldMs });
    await setPhase(pool, id, 'done', `applied (${m.strategy})`);
    await finishMigration(pool, id, 'done', null);
    await run.hooks.run('after-cutover', state('cutover'));
    await run.hooks.run('success', state('done'));
    log.info({ migration: id, strategy: m.strategy, attempts: run.attempts, heldMs: Math.round(run.heldMs) }, 'applied');
  } catch (err) {
    if (err instanceof StoppedError || err instanceof LeftInPlace) throw err; // resumable: the migration stays unfinished
    const applied = units.slice(0, done).flatMap(unitText);
    const tail = applied.length ? ` Already applied (kept, as a migration tool running the statements one by one would): ${applied.join('; ')}.` : '';
    const reason = `${describeError(err)}${tail}`;
    await finishMigration(pool, id, 'failed', reason).catch(() => undefined);
    await run.hooks.run('failure', state('failed', reason)).catch(() => undefined);
    if (err instanceof PgshiftError && !applied.length) throw err;
    throw new RuntimeError(err instanceof PgshiftError ? `${err.message}${tail}` : `the change failed: ${reason}`, { cause: err });
  } finally {
    await run.ownership.release();
  }
  return {
    status: 'done', migrationId: id, table: `${target.schema}.${target.name}`, statements: m.statements, plan: [], rowsEstimated: target.estimatedRows,
    rowsCopied: 0, copyRowsPerSecond: null, durationsMs: null, cutover: null, validation: null, validated: [],
    strategy: m.strategy, direct: { attempts: run.attempts, lockHeldMs: run.heldMs, totalMs: performance.now() - started },
  };
}

function unitText(u: Unit): string[] {
  return u.kind === 'locked' ? u.statements : [u.decision.subcommand];
}

async function markDone(run: Run, done: number, c?: Client): Promise<void> {
  const sql = `UPDATE pgshift.migrations SET resume_state = jsonb_set(resume_state, '{done}', to_jsonb($2::int)), updated_at = now() WHERE id = $1`;
  if (c) await c.query(sql, [run.id, done]);
  else await withClient(run.pool, (cl) => cl.query(sql, [run.id, done]));
}

/**
 * One step retried under lock_timeout (each attempt gets its own, growing), the holders logged
 * per failed attempt; when the attempts run out, one line naming the holders. `cleanup` runs
 * before each retry.
 */
async function attempted(run: Run, giveUp: (attempts: number) => string, fn: (lockTimeoutMs: number) => Promise<unknown>, cleanup?: () => Promise<void>): Promise<void> {
  let attempts = 0;
  await withRetry(
    run.retry,
    (_attempt, lockTimeoutMs) => {
      attempts++;
      run.attempts++;
      return fn(lockTimeoutMs);
    },
    async (attempt, err, pauseMs) => {
      log.warn({ migration: run.id, attempt, pauseMs, reason: describeError(err), holders: await describeBlockers(run.pool, [run.target.oid]) }, 'attempt failed; retrying');
      await cleanup?.();
    },
  ).catch((err: unknown) => lockGaveUp(run.pool, [run.target.oid], giveUp(attempts), rejected(err)));
}

/** Statements in one short transaction, retried under lock_timeout; `done` recorded in it. */
async function locked(run: Run, statements: string[], done: number | null): Promise<void> {
  await attempted(run, (n) => `could not take the table's lock in ${n} attempts`, (lockTimeoutMs) =>
    withTransaction(
      run.pool,
      async (c) => {
        await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        const t0 = performance.now();
        for (const sql of statements) await c.query(sql);
        if (done !== null) await markDone(run, done, c);
        run.heldMs += performance.now() - t0;
      },
      { role: 'direct' },
    ),
  );
}

/**
 * PostgreSQL refusing the statements themselves (an unknown column, a dependent object, a
 * feature it does not have: SQLSTATE classes 42 and 0A, and 2BP01) is bad input, as when the
 * copy's trial shadow finds it: exit 2 when nothing was applied before. A rule the rows break
 * (class 23) stays a failure at run time.
 */
function rejected(err: unknown): unknown {
  const state = sqlState(err) ?? '';
  if (state.startsWith('42') || state.startsWith('0A') || state === '2BP01') return new UserError(`refused: PostgreSQL rejects the change: ${describeError(err)}`, { cause: err });
  return err;
}

/**
 * A statement that cannot run in a transaction block (CONCURRENTLY), under a session-level
 * lock_timeout per attempt, retried; `cleanup` runs before each retry (an invalid index left by
 * a failed build). lock_timeout also bounds the waits for older transactions these statements make.
 */
async function concurrently(run: Run, sql: string, cleanup?: () => Promise<void>): Promise<void> {
  await attempted(
    run,
    (n) => `${sql.split(' ').slice(0, 4).join(' ')} could not get past older transactions in ${n} attempts`,
    (lockTimeoutMs) => withClient(run.pool, (c) => withSessionLockTimeout(c, lockTimeoutMs, () => c.query(sql)), 'direct'),
    cleanup,
  );
}

/**
 * The name a concurrent build runs under: pgshift's, never one the user has (and found again by a
 * take-over); a route that builds on each partition numbers its builds.
 */
function buildName(run: Run, unit: number, step: BuildStep): string {
  return `pgshift_${run.id}_index_${unit}${step.part ? `_${step.part}` : ''}`;
}

type BuildStep = Extract<Step, { kind: 'build-index' }>;

async function dropBuild(run: Run, unit: number, step: BuildStep): Promise<void> {
  await concurrently(run, `DROP INDEX CONCURRENTLY IF EXISTS ${qualified(step.schema ?? run.target.schema, buildName(run, unit, step))}`);
}

async function runRoute(run: Run, unit: number, d: Decision): Promise<void> {
  let added = false;
  try {
    for (const step of d.route) {
      await failpoint('in-route');
      if (step.kind === 'check' || step.kind === 'check-foreign-key') {
        await check(run, step);
        continue;
      }
      // A locked step adds nothing when it fails (its transaction rolls back): PostgreSQL refusing the
      // route's first statement stays its own error (exit 2), as when the statement runs directly.
      if (step.kind !== 'locked') added = true;
      await runStep(run, unit, step);
      added = true;
    }
  } catch (err) {
    // Nothing added yet (a locked step that failed rolled back what it did), or stopped on purpose:
    // a take-over removes what the unit added and runs it again.
    if (!added || err instanceof StoppedError) throw err;
    const what = `${d.subcommand} failed: ${describeError(err)}`;
    await undoRoute(run, unit, d).catch((undoErr: unknown) => {
      throw new LeftInPlace(`${what}; removing what it had added failed too (${describeError(undoErr)}): pgshift abort ${run.id} removes it, pgshift resume ${run.id} tries again`, { cause: err });
    });
    throw new RuntimeError(`${what}; removed what it had added. While it was in place, writes that violated it were rejected.`, { cause: err });
  }
}

/** A failed route whose additions could not be removed: the migration stays unfinished, for abort or resume. */
class LeftInPlace extends RuntimeError {}

async function runStep(run: Run, unit: number, step: Step): Promise<void> {
  switch (step.kind) {
    case 'locked':
      return locked(run, step.sql, null);
    case 'validate':
      await setPhase(run.pool, run.id, 'cutover', `validating ${step.constraint} (SHARE UPDATE EXCLUSIVE: reads and writes continue)`);
      return locked(run, [step.sql], null);
    case 'drop-index':
      return concurrently(run, step.sql);
    case 'build-index': {
      const tmp = buildName(run, unit, step);
      const schema = step.schema ?? run.target.schema;
      await withClient(run.pool, (c) =>
        c.query(`INSERT INTO pgshift.artifacts (migration_id, kind, schema_name, name, on_table) VALUES ($1, 'index', $2, $3, $4) ON CONFLICT DO NOTHING`, [run.id, schema, tmp, step.node.relation?.relname ?? run.target.name]),
      );
      await dropBuild(run, unit, step);
      await setPhase(run.pool, run.id, 'index', `building ${step.name} CONCURRENTLY (as ${tmp})${step.attachTo ? ` on ${step.table}` : ''}`);
      await concurrently(run, deparseIndex({ ...step.node, idxname: tmp, concurrent: true, if_not_exists: false }), () => dropBuild(run, unit, step));
      // USING INDEX renames the index to the constraint's name itself; a partition's index is
      // renamed and attached at once, so an unattached one always has its pgshift name.
      const rename = `ALTER INDEX ${qualified(schema, tmp)} RENAME TO ${ident(step.name)}`;
      const finish = step.attach ? [attachSql(step.table, step.attach, tmp)] : step.attachTo ? [rename, attachIndexSql(step)] : [rename];
      return locked(run, finish, null);
    }
    case 'check':
    case 'check-foreign-key':
      return check(run, step);
  }
}

/** Read-only: the rows there now already break the rule, so the change fails as offline, before anything is added. */
async function check(run: Run, step: Extract<Step, { kind: 'check' | 'check-foreign-key' }>): Promise<void> {
  await withRetry(run.retry, () =>
    withClient(run.pool, async (c) => {
      let sql: string;
      let violation: string;
      if (step.kind === 'check') {
        sql = step.sql;
        violation = step.violation;
      } else {
        const k = await foreignKeyColumns(c, step.node);
        sql = `SELECT EXISTS (SELECT 1 FROM ${step.table} s WHERE ${orphanCondition('s', { ...k, matchFull: step.node.fk_matchtype === 'f' })})`;
        violation = `foreign key ${step.constraint} is violated: some row references no row of ${k.parent}`;
      }
      const found = Object.values((await c.query(sql)).rows[0] ?? {})[0] === true;
      if (found) throw new RuntimeError(`${violation}; offline the same ALTER fails the same way; nothing was added for it`);
    }),
  );
}

/** Removes what a route added (idempotent): its pgshift-named index build, then its undo statements. */
async function undoRoute(run: Run, unit: number, d: Decision): Promise<void> {
  for (const step of d.route) if (step.kind === 'build-index') await dropBuild(run, unit, step);
  for (const sql of d.undo) await locked(run, [sql], null);
}

/**
 * `pgshift abort` of an interrupted change without a copy (the caller owns it): what its unit in
 * progress had added is removed; units already applied stay (they are the table's now). Returns
 * what was removed and what stays.
 */
export async function abortWithoutCopy(pool: Pool, x: { id: number; target: Target; progress: Progress; ownership: Ownership }, retry: RetryPolicy): Promise<string[]> {
  const run: Run = { pool, id: x.id, target: x.target, table: qualified(x.target.schema, x.target.name), retry, hooks: noHooks, ownership: x.ownership, attempts: 0, heldMs: 0 };
  const { units, done } = x.progress;
  const unit = units[done];
  const out: string[] = [];
  if (unit?.kind === 'route') {
    await undoRoute(run, done, unit.decision);
    out.push(`removed what ${unit.decision.subcommand} had added`);
  }
  const applied = units.slice(0, done).flatMap(unitText);
  if (applied.length) out.push(`kept, already applied: ${applied.join('; ')}`);
  return out;
}
