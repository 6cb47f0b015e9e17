import type { Pool } from '../db/session.js';
import { bindMigration, withTransaction } from '../db/session.js';
import { withRetry } from '../db/retry.js';
import { PgshiftError, RuntimeError, describeError } from '../errors.js';
import { componentLog } from '../log.js';
import type { AlterOptions } from '../config.js';
import { describeBlockers, lockGaveUp } from '../cutover/blockers.js';
import { takeOwnership } from '../state/ownership.js';
import { finishMigration, registerMigration, setPhase } from '../state/store.js';
import { createHooks } from './hooks.js';
import type { Plan } from './plan.js';
import { planReport, type AlterReport } from './report.js';
import { storedOptions } from './stored-options.js';

const log = componentLog('direct');

/** How a change that needs no copy is applied (issue 12 chooses; see src/strategy). */
export type DirectStrategy = 'instant' | 'direct';

/**
 * Applies the statements to the table itself, as offline, in one transaction, with what every
 * pgshift step keeps: a short lock_timeout per attempt with backoff and a retry budget (no
 * lock wait without a timeout; the holders named when it runs out), the migration registered
 * and owned like a copy (one at a time per table, `pgshift status`, NOTIFY, events), the hooks.
 * For catalog-only changes ("instant") the lock is held for milliseconds; "direct" is a rewrite
 * of a small table, or any with the application down. A failure rolls the transaction back:
 * exit 1, nothing changed.
 */
export async function applyDirect(pool: Pool, plan: Plan, opts: AlterOptions, strategy: DirectStrategy): Promise<AlterReport> {
  const started = performance.now();
  const origin = plan.origin;
  const table = `${origin.schema}.${origin.name}`;
  const id = await withTransaction(pool, (c) =>
    registerMigration(c, {
      tableOid: origin.oid,
      schema: origin.schema,
      table: origin.name,
      statements: plan.statements.join(';\n'),
      rowsEstimated: origin.estimatedRows,
      options: { ...storedOptions(opts), strategy },
    }),
  );
  await bindMigration(pool, id);
  const ownership = await takeOwnership(pool, id);
  const hooks = createHooks({ cmd: opts.hookCmd, dir: opts.hooksDir });
  const state = (phase: string, error?: string): Record<string, string | number | null> => ({
    migration_id: id, table, statements: plan.statements.join('; '), phase, rows_copied: 0, rows_estimated: origin.estimatedRows, artifact_schema: null, error: error ?? null,
  });
  let attempts = 0;
  let heldMs = 0;
  try {
    await hooks.run('startup', state('plan'));
    await setPhase(pool, id, 'cutover', `applying the statements to the table directly (${strategy})`);
    await opts.onPhase?.('cutover', { id, schema: origin.schema, table: origin.name });
    await hooks.run('before-cutover', state('cutover'));
    await withRetry(
      opts.retry,
      (_attempt, lockTimeoutMs) => {
        attempts++;
        return withTransaction(
          pool,
          async (c) => {
            await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
            const t0 = performance.now();
            for (const statement of plan.statements) await c.query(statement);
            await c.query(`UPDATE pgshift.migrations SET phase = 'done', updated_at = now() WHERE id = $1`, [id]);
            heldMs = performance.now() - t0;
          },
          { role: 'direct' },
        );
      },
      async (attempt, err, pauseMs) => {
        log.warn({ migration: id, attempt, pauseMs, reason: describeError(err), holders: await describeBlockers(pool, [origin.oid]) }, 'direct attempt failed; retrying');
      },
    ).catch((err: unknown) => lockGaveUp(pool, [origin.oid], `could not take the table's lock in ${attempts} attempts`, err));
    await finishMigration(pool, id, 'done', null);
    await hooks.run('after-cutover', state('cutover'));
    await hooks.run('success', state('done'));
    log.info({ migration: id, strategy, attempts, heldMs: Math.round(heldMs) }, 'applied');
  } catch (err) {
    const reason = describeError(err);
    await finishMigration(pool, id, 'failed', reason).catch(() => undefined);
    await hooks.run('failure', state('failed', reason)).catch(() => undefined);
    if (err instanceof PgshiftError) throw err;
    throw new RuntimeError(`the change failed, nothing was changed: ${reason}`, { cause: err });
  } finally {
    await ownership.release();
  }
  const report = planReport(plan, opts);
  return { ...report, status: 'done', migrationId: id, rowsCopied: 0, durationsMs: null, strategy, direct: { attempts, lockHeldMs: heldMs, totalMs: performance.now() - started } };
}
