import os from 'node:os';
import type { Pool } from '../db/session.js';
import { isConnectionError, ownPids, withClient } from '../db/session.js';
import type { RetryPolicy } from '../db/retry.js';
import { sleep } from '../db/retry.js';
import { PgshiftError, RuntimeError, StoppedError, describeError } from '../errors.js';
import { componentLog } from '../log.js';
import { qualified } from '../db/quote.js';
import { tableFingerprint } from '../catalog/table.js';
import { WORK_NAMESPACE } from '../db/advisory-locks.js';
import { takeOwnership, type Ownership } from '../state/ownership.js';
import { finishMigration, recordError, setPhase } from '../state/store.js';
import { ValidationFailed } from '../verify/validate.js';
import { dropArtifacts, migrationNames } from './artifacts.js';
import type { ExecutionReport } from './run-phases.js';
import { hookState, type Run } from './run.js';
import { validateConstraints } from './phases/finish.js';

const log = componentLog('lifecycle');

/**
 * Takes a migration over from a process that is gone: ownership first (a live owner makes this
 * refuse, and two take-overs never race), then the dead process's sessions are terminated — the
 * ones recorded for the migration and still named after it, and any holding its transaction
 * lock (a killed client's backend finishes its statement and could commit after we start).
 * Never by locks on the migration's tables: the application itself writes its changelogs.
 */
export async function takeOver(pool: Pool, id: number): Promise<Ownership> {
  const ownership = await takeOwnership(pool, id);
  try {
    await withClient(pool, async (c) => {
      for (let i = 0; i < 100; i++) {
        const r = await c.query<{ pid: number }>(
          `SELECT a.pid FROM pg_stat_activity a
            WHERE a.datname = current_database() AND a.pid <> ALL ($3::int[])
              AND ((a.pid = ANY ((SELECT backend_pids FROM pgshift.migrations WHERE id = $2)::int[])
                    AND a.application_name LIKE 'pgshift:' || $2 || ':%')
                   OR a.pid IN (SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2
                                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))`,
          [WORK_NAMESPACE, id, ownPids(pool)],
        );
        if (r.rows.length === 0) return;
        for (const row of r.rows) {
          log.warn({ migration: id, pid: row.pid }, 'terminating a session of the interrupted process');
          await c.query('SELECT pg_terminate_backend($1)', [row.pid]);
        }
        await sleep(100);
      }
      throw new RuntimeError(`migration ${id}: the interrupted process's sessions would not go away`);
    });
    await withClient(pool, (c) => c.query(`UPDATE pgshift.migrations SET pid = $2, host = $3, updated_at = now() WHERE id = $1`, [id, process.pid, os.hostname()]));
    return ownership;
  } catch (err) {
    await ownership.release();
    throw err;
  }
}

/** Runs a migration's remaining phases under its ownership, then finishes it, or cleans up as its failure demands. */
export async function runOwned(run: Run, ownership: Ownership, body: (run: Run) => Promise<ExecutionReport>): Promise<ExecutionReport> {
  run.ownership = ownership;
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
    await dropArtifacts(pool, run.names, opts.retry, { triggers: false, keepOld: opts.dropOld ? undefined : plan.origin.name, keepRevertWindow: Boolean(opts.revertWindowMs) });
    if (opts.revertWindowMs) await recordRevertFingerprint(pool, id, plan.origin);
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
    const reason = isConnectionError(err) ? `lost the connection to the server (a session was terminated or the server restarted): ${describeError(err)}` : describeError(err);
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
      // The swap committed: the change is in place; what failed is a follow-up step, which a
      // take-over (resume or cleanup) finishes.
      await recordError(pool, id, `after the swap: ${reason}`).catch(() => undefined);
      throw new RuntimeError(`the table was swapped, but a follow-up step failed: ${reason}; pgshift resume ${id} finishes it`, { cause: err });
    }
    log.error({ migration: id, reason }, 'migration failed; removing what it created');
    try {
      await dropArtifacts(pool, run.names, opts.retry, { triggers: run.triggersInstalled });
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

export interface Interrupted {
  id: number;
  table_schema: string;
  table_name: string;
  validate_list: [string, string][] | null;
  options: { dropOld?: boolean; revertWindowMs?: number };
}

/**
 * After a committed swap only follow-ups remain (VALIDATE of the constraints re-added NOT
 * VALID, the artifacts' removal): a take-over — resume or cleanup — finishes them, so the
 * migration ends done, never "aborted" with its change live and foreign keys left NOT VALID.
 */
export async function finishAfterSwap(pool: Pool, m: Interrupted, retry: RetryPolicy): Promise<string[]> {
  const validated = await validateConstraints(pool, retry, m.validate_list ?? []);
  const names = await migrationNames(pool, m.id);
  await dropArtifacts(pool, names, retry, {
    triggers: false,
    keepOld: m.options.dropOld ? undefined : m.table_name,
    keepRevertWindow: Boolean(m.options.revertWindowMs),
  });
  if (m.options.revertWindowMs) await recordRevertFingerprint(pool, m.id, { schema: m.table_schema, name: m.table_name });
  await setPhase(pool, m.id, 'done', 'migration finished after its swap by a take-over');
  await finishMigration(pool, m.id, 'done', null);
  return validated;
}

/**
 * The new table as the migration leaves it: a revert compares it under its locks, so that a
 * change someone made during the revert window (DDL, grants, RLS, options) is not undone by
 * the swap back.
 */
async function recordRevertFingerprint(pool: Pool, id: number, table: { schema: string; name: string }): Promise<void> {
  await withClient(pool, async (c) => {
    const oid = (await c.query(`SELECT to_regclass($1)::oid::int8::text AS oid`, [qualified(table.schema, table.name)])).rows[0].oid;
    if (!oid) return;
    // A tree's revert window (revert_state.tree): its descendants too, a child added to it among them.
    const tree = (await c.query(`SELECT revert_state ? 'tree' AS tree FROM pgshift.migrations WHERE id = $1`, [id])).rows[0]?.tree === true;
    const fp = await tableFingerprint(c, oid, tree);
    await c.query(`UPDATE pgshift.migrations SET revert_state = revert_state || jsonb_build_object('fingerprint', $2::text) WHERE id = $1`, [id, fp]);
  });
}
