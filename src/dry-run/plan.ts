import type { Pool } from '../db/session.js';
import { createPool, withClient } from '../db/session.js';
import { DEFAULTS, type AlterOptions } from '../config.js';
import { makePlan, type Plan } from '../migration/plan.js';
import { nameIndexes, type ClassifyOptions } from '../strategy/classify.js';
import { decide, type Decided } from '../strategy/preview.js';
import type { ValidationLevel } from '../verify/validate.js';
import { alterPlanModel } from './alter-plan.js';
import type { PlanModel } from './model.js';

export interface PlanOptions extends Partial<ClassifyOptions> {
  url?: string;
  statements: string;
  lockTimeoutMs?: number;
  chunkTimeMs?: number;
  validation?: ValidationLevel;
  diskFreeBytes?: number;
  /** performance.now() when the caller began (default: now): what came before counts in the estimate */
  startedAt?: number;
}

/**
 * The library's `plan` and `pgshift plan`: the same plan as `alter`'s dry run (the decisions,
 * the table, the blockers, every step with its SQL, lock and hold, the disk, an estimated
 * duration rehearsed on a sample, the runbook). Writes only in transactions it rolls back.
 */
export async function plan(o: PlanOptions): Promise<PlanModel> {
  const startedAt = o.startedAt ?? performance.now();
  const lockTimeoutMs = o.lockTimeoutMs ?? DEFAULTS.retry.lockTimeoutMs;
  const pool = createPool({ url: o.url, role: 'plan', lockTimeoutMs, maxClients: 1 });
  try {
    const classify: ClassifyOptions = {
      strategy: o.strategy ?? DEFAULTS.strategy,
      copyThresholdBytes: o.copyThresholdBytes ?? DEFAULTS.copyThresholdBytes,
      downtimeAllowed: o.downtimeAllowed ?? false,
      copyOnlyOptions: o.copyOnlyOptions ?? [],
    };
    const decided = await withClient(pool, (c) => decide(c, o.statements, classify));
    let copy: Plan | null = null;
    if (decided.classification.overall.strategy === 'copy') {
      // The statements as the copy runs them: CREATE INDEX named as on the table itself.
      const named = nameIndexes(decided.parsed.statements, decided.facts).join(';\n');
      copy = await withClient(pool, (c) => makePlan(c, named, { ...DEFAULTS.retry, lockTimeoutMs }, [], o.diskFreeBytes));
    }
    return await alterPlanModel(pool, decided, copy, {
      command: 'plan', lockTimeoutMs, chunkTimeMs: o.chunkTimeMs ?? DEFAULTS.chunkTimeMs, validation: o.validation ?? DEFAULTS.validation,
      diskFreeBytes: o.diskFreeBytes, startedAt, notes: [],
    });
  } finally {
    await pool.end();
  }
}

/** `alter`'s dry run: its plan (the preflight passed to get here), on the pool the run would use. */
export function alterDryRun(pool: Pool, decided: Decided, copy: Plan | null, opts: AlterOptions, notes: string[]): Promise<PlanModel> {
  return alterPlanModel(pool, decided, copy, {
    command: 'alter', lockTimeoutMs: opts.retry.lockTimeoutMs, chunkTimeMs: opts.chunkTimeMs, validation: opts.validation,
    diskFreeBytes: opts.diskFreeBytes, startedAt: opts.startedAt ?? performance.now(), notes: ['preflight: ok. Dry run: nothing was changed; add --execute to run it.', ...notes],
  });
}
