import type { Pool } from '../db/session.js';
import type { AlterOptions } from '../config.js';
import type { ArtifactNames } from '../plan/names.js';
import type { BeforeCutoverReport } from '../verify/validate.js';
import { rowsToCopy, type Plan } from './plan.js';
import type { Throttler } from '../throttle/throttler.js';
import type { Hooks } from './hooks.js';
import type { Ownership } from '../state/ownership.js';
import { createHooks } from './hooks.js';
import { artifactNames } from '../plan/names.js';
import { noopThrottler } from '../throttle/throttler.js';
import { setPhase } from '../state/store.js';
import type { Phase } from '../state/phases.js';
import type { Tables } from '../copy/sql.js';

/** One migration being executed: what every phase reads, and what cleanup must know. */
export interface Run {
  /** the session advisory lock that makes this process the migration's only runner */
  ownership?: Ownership;
  pool: Pool;
  plan: Plan;
  opts: AlterOptions;
  id: number;
  names: ArtifactNames;
  /** set once the capture triggers exist on the origin: cleanup must remove them */
  triggersInstalled: boolean;
  swapped: boolean;
  validation?: BeforeCutoverReport;
  /** consulted before every copy chunk and replay batch */
  throttler: Throttler;
  hooks: Hooks;
  rowsCopied: number;
  /** performance.now() when this process took the migration on (for --max-runtime) */
  startedAt: number;
  /** performance.now() of the last backlog count (phases/checks.ts samples at most once a second) */
  backlogSampledAt: number;
  /** the copy lanes' default, looked for while the shadow is built (phases/copy.ts) */
  laneLooks?: Promise<{ lanes: number; why: string }>;
  /** a tree's relations' tables, the parent's first (shadow/tree.ts): the copy's lanes, one each */
  relations?: Tables[];
}

/** A run of migration `id`: a new one, or one taken over with the names its schemas hold (migration/artifacts.ts migrationNames). */
export function newRun(pool: Pool, plan: Plan, opts: AlterOptions, id: number, names: ArtifactNames = artifactNames(id)): Run {
  return {
    pool, plan, opts, id, names, triggersInstalled: false, swapped: false, throttler: noopThrottler,
    hooks: createHooks({ cmd: opts.hookCmd, dir: opts.hooksDir }), rowsCopied: 0, startedAt: performance.now(), backlogSampledAt: 0,
  };
}

/** What hooks receive (PGSHIFT_<KEY> environment variables). */
export function hookState(run: Run, phase: string, error?: string): Record<string, string | number | null> {
  return {
    migration_id: run.id,
    table: `${run.plan.origin.schema}.${run.plan.origin.name}`,
    statements: run.plan.statements.join('; '),
    phase,
    rows_copied: run.rowsCopied,
    rows_estimated: rowsToCopy(run.plan),
    artifact_schema: run.names.schema,
    error: error ?? null,
  };
}

/** Entering a phase (recorded, announced, awaited by onPhase) and timing one. */
export interface PhaseHelpers {
  enter: (phase: Phase, message: string) => Promise<void>;
  timed: <T>(fn: () => Promise<T>) => Promise<[T, number]>;
}

/** The phase functions' shared helpers for one run. */
export function phaseHelpers(run: Run): PhaseHelpers {
  return {
    enter: async (phase, message) => {
      await run.ownership?.assertHeld();
      await setPhase(run.pool, run.id, phase, message);
      await run.opts.onPhase?.(phase, { id: run.id, schema: run.names.schema, table: run.plan.origin.name, logSchema: run.names.logSchema });
    },
    timed: async (fn) => {
      const t0 = performance.now();
      const r = await fn();
      return [r, performance.now() - t0];
    },
  };
}
