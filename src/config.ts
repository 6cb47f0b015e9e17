import { DEFAULT_RETRY, type RetryPolicy } from './db/retry.js';
import type { RollbackMode, ValidationLevel } from './verify/validate.js';
import type { Phase } from './state/phases.js';

/** Options of `alter`, validated once at the edge (the CLI) and passed down as they are. */
export interface AlterOptions {
  url?: string;
  statements: string;
  execute: boolean;
  /** auto: each change's cheapest safe path (src/strategy); copy: the online copy; direct: as written, under lock_timeout */
  strategy: 'auto' | 'copy' | 'direct';
  /** under auto, a rewrite of a table smaller than this (heap + indexes) runs directly */
  copyThresholdBytes: number;
  /** the application is down: under auto, rewrites run directly whatever the size */
  downtimeAllowed: boolean;
  /** `col = expression` computed during the copy and the replay (migration type "both") */
  transforms: string[];
  /** target duration of one copy chunk */
  chunkTimeMs: number;
  /**
   * copy lanes (disjoint key ranges copied at once, each its own session); unset: 1 while the
   * database commits more than 20 transactions a second when the copy starts, else the server's
   * max_parallel_maintenance_workers (PostgreSQL does not say how many cores it has), at most 4
   */
  maxParallel?: number;
  /** after each copy chunk, sleep this fraction of the time it took (gh-ost's --nice-ratio): 0 none, 1 the copy at half speed */
  nice?: number;
  /** lock acquisition for DDL and the cutover: first attempt, growth cap, attempts */
  retry: RetryPolicy;
  /** the cutover transaction's overall deadline */
  cutoverDeadlineMs: number;
  /** cutover starts when the changelog holds fewer entries than this */
  cutoverBacklog: number;
  /** basic: counts; thorough: chunked checksums; comprehensive: plus row diffs and constraint checks */
  validation: ValidationLevel;
  /** what a failed validation does: clean up (automatic), keep for inspection (manual), or (none) keep a swap done */
  rollback: RollbackMode;
  /** connections checksumming chunks at once */
  checksumParallel: number;
  throttle: ThrottleOptions;
  /** drop the old table right after the swap instead of keeping it until `pgshift cleanup` */
  dropOld: boolean;
  /** keep the old table in sync with the new one for this long, so `pgshift revert` can swap back */
  revertWindowMs?: number;
  /** stop cleanly after this long (exit 4); `pgshift resume` continues */
  maxRuntimeMs?: number;
  /** free disk space as the operator knows it (`--disk-free`); else pgshift reads it where it can */
  diskFreeBytes?: number;
  /** keep replaying after the copy until `pgshift cutover <id>` or the --cutover-at time */
  postponeCutover: boolean;
  /** server clock time HH:MM[:SS] of the cutover (next occurrence; implies postponing until then) */
  cutoverAt?: string;
  /** gh-ost style hooks: a shell command and/or a folder of executables named after events */
  hookCmd?: string;
  hooksDir?: string;
  onProgress?: (p: Progress) => void;
  /** the options the operator gave (the CLI knows); a take-over checks these against the stored ones */
  explicit?: string[];
  /** awaited at the start of each phase; hooks and tests use it */
  onPhase?: (phase: Phase, migration: { id: number; schema: string; table: string; logSchema?: string }) => Promise<void>;
  /** a dry run: performance.now() when the command began (the CLI: 0, the process's start); what came before the plan's rehearsal counts in its estimate, since a run repeats it */
  startedAt?: number;
}

/** What the throttler watches (DESIGN.md: lag, slots, WAL, locks, load, operator). */
export interface ThrottleOptions {
  maxLagMs: number;
  replicas: string[];
  maxSlotLagBytes: number;
  maxWalRate?: number;
  maxXactAgeMs: number;
  maxActive?: number;
  throttleQuery?: string;
  criticalQuery?: string;
  /** sessions blocking the cutover: cancel or terminate them after the grace period */
  blockers: 'wait' | 'cancel' | 'terminate';
  blockerGraceMs: number;
}

export interface Progress {
  phase: string;
  rowsCopied: number;
  rowsEstimated: number;
  rowsPerSecond: number;
  chunkRows?: number;
  backlog?: number;
}

export const DEFAULTS = {
  chunkTimeMs: 500,
  /** a backfill batch's target duration: about the longest an application row (or key change) waits for it */
  backfillBatchTimeMs: 50,
  strategy: 'auto' as AlterOptions['strategy'],
  /**
   * A direct rewrite of a table this size (heap + indexes) holds ACCESS EXCLUSIVE for about the
   * first lock-timeout attempt (100 ms): measured by bench/rewrite-rate.ts (README, "Strategies").
   */
  copyThresholdBytes: 2 * 1024 ** 2,
  retry: DEFAULT_RETRY,
  cutoverDeadlineMs: 10_000,
  cutoverBacklog: 1000,
  validation: 'thorough' as ValidationLevel,
  rollback: 'automatic' as RollbackMode,
  checksumParallel: 2,
  throttle: {
    maxLagMs: 5000,
    replicas: [] as string[],
    maxSlotLagBytes: 10 * 1024 ** 3,
    maxXactAgeMs: 3_600_000,
    blockers: 'wait' as ThrottleOptions['blockers'],
    blockerGraceMs: 5000,
  },
} as const;

export function alterOptions(
  partial: Partial<Omit<AlterOptions, 'throttle'>> & Pick<AlterOptions, 'statements'> & { throttle?: Partial<ThrottleOptions> },
): AlterOptions {
  return {
    execute: false,
    strategy: DEFAULTS.strategy,
    copyThresholdBytes: DEFAULTS.copyThresholdBytes,
    downtimeAllowed: false,
    dropOld: false,
    postponeCutover: false,
    transforms: [],
    chunkTimeMs: DEFAULTS.chunkTimeMs,
    retry: DEFAULTS.retry,
    cutoverDeadlineMs: DEFAULTS.cutoverDeadlineMs,
    cutoverBacklog: DEFAULTS.cutoverBacklog,
    validation: DEFAULTS.validation,
    rollback: DEFAULTS.rollback,
    checksumParallel: DEFAULTS.checksumParallel,
    ...partial,
    throttle: { ...DEFAULTS.throttle, ...partial.throttle },
  };
}
