import type { Pool } from '../db/session.js';
import { bindMigration, createPool, withClient, withTransaction } from '../db/session.js';
import { PgshiftError, RuntimeError, StoppedError, UserError, describeError } from '../errors.js';
import { componentLog } from '../log.js';
import type { AlterOptions } from '../config.js';
import { ensureStateSchema, finishMigration, recordError, registerMigration, setPhase } from '../state/store.js';
import { ValidationFailed, type BeforeCutoverReport, type InLockReport } from '../verify/validate.js';
import { describePlan, makePlan, type Plan } from './plan.js';
import { execute, hookState, newRun, type ExecutionReport } from './execute.js';
import type { Run } from './run.js';
import { load, resumeOnPool } from './resume.js';
import { isOwned, takeOwnership } from '../state/ownership.js';
import { dropArtifacts } from './artifacts.js';

const log = componentLog('runner');

export interface AlterReport {
  status: 'planned' | 'done';
  migrationId: number | null;
  table: string;
  statements: string[];
  plan: string[];
  rowsEstimated: number;
  rowsCopied: number | null;
  copyRowsPerSecond: number | null;
  durationsMs: (ExecutionReport['durationsMs'] & { total: number }) | null;
  cutover: { attempts: number; lockWaitMs: number; holdMs: number; finalEntries: number; check: InLockReport } | null;
  validation: BeforeCutoverReport | null;
  validated: string[];
}

/**
 * `pgshift alter`: plan (always), then with `execute` run every phase to the swap. On failure
 * before the swap, everything created is removed in reverse order and the origin is untouched.
 */
export async function onlineAlter(opts: AlterOptions): Promise<AlterReport> {
  const started = performance.now();
  // Connections: copy + bound look-ups, two index builds, the validation's lock and snapshot holders and its workers.
  const pool = createPool({ url: opts.url, role: 'alter', lockTimeoutMs: opts.retry.lockTimeoutMs, maxClients: 5 + opts.checksumParallel });
  try {
    const plan = await withClient(pool, (c) => makePlan(c, opts.statements, opts.retry, opts.transforms));
    const report = planReport(plan);
    if (opts.revertWindowMs) revertability(plan, opts).forEach((line) => report.plan.push(line));
    if (!opts.execute) return report;

    await ensureStateSchema(pool);
    // The same statements on a table whose migration was interrupted: take it over.
    const interrupted = await withClient(pool, (c) =>
      c.query(`SELECT id::int FROM pgshift.migrations WHERE kind = 'alter' AND outcome IS NULL AND table_oid = $1 AND statements = $2`, [plan.origin.oid, plan.statements.join(';\n')]),
    );
    if (interrupted.rows[0]) {
      const m = await load(pool, interrupted.rows[0].id);
      if (!(await isOwned(pool, m.id))) return await resumeOnPool(pool, opts, m);
    }
    const id = await withTransaction(pool, (c) =>
      registerMigration(c, {
        tableOid: plan.origin.oid,
        schema: plan.origin.schema,
        table: plan.origin.name,
        statements: plan.statements.join(';\n'),
        rowsEstimated: plan.origin.estimatedRows,
        options: { chunkTimeMs: opts.chunkTimeMs, validation: opts.validation, rollback: opts.rollback, transforms: opts.transforms },
      }),
    );
    await bindMigration(pool, id);
    log.info({ migration: id, table: report.table }, 'migration started');
    const executed = await runRegistered(pool, plan, opts, id);
    return doneReport(report, id, executed, performance.now() - started);
  } finally {
    await pool.end();
  }
}

export function doneReport(report: AlterReport, id: number, executed: ExecutionReport, total: number): AlterReport {
  return {
    ...report,
    status: 'done',
    migrationId: id,
    rowsCopied: executed.rowsCopied,
    copyRowsPerSecond: executed.rowsCopied / Math.max(executed.durationsMs.copy / 1000, 0.001),
    durationsMs: { ...executed.durationsMs, total },
    cutover: {
      attempts: executed.cutover.attempts,
      lockWaitMs: executed.cutover.lockWaitMs,
      holdMs: executed.cutover.holdMs,
      finalEntries: executed.cutover.finalEntries,
      check: executed.cutover.check,
    },
    validation: executed.validation,
    validated: executed.validated,
  };
}

async function runRegistered(pool: Pool, plan: Plan, opts: AlterOptions, id: number): Promise<ExecutionReport> {
  return runToEnd(newRun(pool, plan, opts, id), execute);
}

/** Runs a migration's remaining phases, then finishes it, or cleans up as its failure demands. */
export async function runToEnd(run: Run, body: (run: Run) => Promise<ExecutionReport>): Promise<ExecutionReport> {
  const ownership = await takeOwnership(run.pool, run.id);
  try {
    return await ownedRun(run, body);
  } finally {
    await ownership.release();
  }
}

async function ownedRun(run: Run, body: (run: Run) => Promise<ExecutionReport>): Promise<ExecutionReport> {
  const { pool, plan, opts, id } = run;
  try {
    await run.hooks.run('startup', hookState(run, 'plan'));
    const executed = await body(run);
    // The old table stays in the migration's schema until `pgshift cleanup` (or --drop-old).
    await dropArtifacts(pool, run.names, plan.origin, opts.retry, { triggers: false, keepOld: opts.dropOld ? undefined : plan.origin.name, keepRevertWindow: Boolean(opts.revertWindowMs) });
    await setPhase(pool, id, 'done', 'migration finished');
    const check = executed.cutover.check;
    await finishMigration(pool, id, 'done', check.passed ? null : 'the check inside the cutover found differences (--rollback none)');
    if (check.passed) await run.hooks.run('success', hookState(run, 'done'));
    if (!check.passed) {
      throw new ValidationFailed(
        `swapped with --rollback none although the check inside the cutover found differences (counts ${JSON.stringify(check.counts)}, ${check.sampleMismatches} of ${check.sampledRows} sampled rows differ)`,
        'in cutover',
      );
    }
    return executed;
  } catch (err) {
    const reason = describeError(err);
    if (err instanceof StoppedError) {
      // Stopped on purpose: everything stays in place for `pgshift resume`.
      await recordError(pool, id, reason).catch(() => undefined);
      throw err;
    }
    await run.hooks.run('failure', hookState(run, 'failed', reason)).catch(() => undefined);
    if (err instanceof ValidationFailed && run.swapped) throw err;
    if (err instanceof ValidationFailed && opts.rollback === 'manual') {
      // Kept for inspection: the capture goes on, nothing is swapped; `pgshift abort` removes it.
      await recordError(pool, id, reason).catch(() => undefined);
      throw new ValidationFailed(`${reason}; everything is kept for inspection in schema ${run.names.schema}: remove it with pgshift abort ${id}`, err.stage);
    }
    if (run.swapped) {
      // The swap committed: the change is in place; what failed is a follow-up step.
      await finishMigration(pool, id, 'done', `after the swap: ${reason}`).catch(() => undefined);
      throw new RuntimeError(`the table was swapped, but a follow-up step failed: ${reason}`, { cause: err });
    }
    log.error({ migration: id, reason }, 'migration failed; removing what it created');
    try {
      await dropArtifacts(pool, run.names, plan.origin, opts.retry, { triggers: run.triggersInstalled });
      await finishMigration(pool, id, 'failed', reason);
    } catch (cleanupErr) {
      throw new RuntimeError(
        `${reason}; and removing the migration's artifacts failed too (${describeError(cleanupErr)}): schema ${run.names.schema} and triggers ${run.names.captureTrigger}, ${run.names.truncateTrigger} remain: pgshift cleanup ${id} removes them`,
        { cause: err },
      );
    }
    if (err instanceof ValidationFailed) throw new RuntimeError(`${reason}; the migration was aborted and nothing was changed`, { cause: err });
    if (err instanceof PgshiftError) throw err;
    throw new RuntimeError(`migration failed, nothing was changed: ${reason}`, { cause: err });
  }
}

/**
 * What a revert window can and cannot carry back, said before the swap: a USING expression or a
 * transform has no inverse (refused); a dropped NOT NULL column without a default and a widened
 * type are fine until the new table holds a row the old one cannot (revert then refuses, with
 * the keys).
 */
function revertability(plan: Plan, opts: AlterOptions): string[] {
  if (opts.dropOld) throw new UserError('--revert-window keeps the old table; it cannot go with --drop-old');
  for (const [name, s] of plan.flow.sources) {
    if (s.kind === 'origin' && s.using) throw new UserError(`refused: --revert-window: column ${name} is converted by a USING expression, which has no inverse`);
  }
  if (plan.transforms.length) throw new UserError('refused: --revert-window: a --transform has no inverse');
  const lines: string[] = [];
  for (const d of plan.flow.dropped) {
    const col = plan.origin.columns.find((c) => c.name === d);
    if (col?.notNull) lines.push(`  revert: rows inserted after the swap cannot go back if dropped column ${d} (NOT NULL) has no default`);
  }
  for (const o of plan.flow.typeChanged) lines.push(`  revert: values written after the swap must still fit the old type of ${o}`);
  return lines;
}

export function planReport(plan: Plan): AlterReport {
  return {
    status: 'planned',
    migrationId: null,
    table: `${plan.origin.schema}.${plan.origin.name}`,
    statements: plan.statements,
    plan: describePlan(plan),
    rowsEstimated: plan.origin.estimatedRows,
    rowsCopied: null,
    copyRowsPerSecond: null,
    durationsMs: null,
    cutover: null,
    validation: null,
    validated: [],
  };
}
