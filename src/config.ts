import { DEFAULT_RETRY, type RetryPolicy } from './db/retry.js';
import type { RollbackMode, ValidationLevel } from './verify/validate.js';
import type { Phase } from './state/phases.js';

/** Options of `alter`, validated once at the edge (the CLI) and passed down as they are. */
export interface AlterOptions {
  url?: string;
  statements: string;
  execute: boolean;
  /** target duration of one copy chunk */
  chunkTimeMs: number;
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
  onProgress?: (p: Progress) => void;
  /** awaited at the start of each phase; hooks and tests use it */
  onPhase?: (phase: Phase, migration: { id: number; schema: string; table: string }) => Promise<void>;
}

export interface Progress {
  phase: string;
  rowsCopied: number;
  rowsEstimated: number;
  rowsPerSecond: number;
  backlog?: number;
}

export const DEFAULTS = {
  chunkTimeMs: 500,
  retry: DEFAULT_RETRY,
  cutoverDeadlineMs: 10_000,
  cutoverBacklog: 1000,
  validation: 'thorough' as ValidationLevel,
  rollback: 'automatic' as RollbackMode,
  checksumParallel: 2,
} as const;

export function alterOptions(partial: Partial<AlterOptions> & Pick<AlterOptions, 'statements'>): AlterOptions {
  return {
    execute: false,
    chunkTimeMs: DEFAULTS.chunkTimeMs,
    retry: DEFAULTS.retry,
    cutoverDeadlineMs: DEFAULTS.cutoverDeadlineMs,
    cutoverBacklog: DEFAULTS.cutoverBacklog,
    validation: DEFAULTS.validation,
    rollback: DEFAULTS.rollback,
    checksumParallel: DEFAULTS.checksumParallel,
    ...partial,
  };
}
