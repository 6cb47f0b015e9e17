import { DEFAULT_RETRY, type RetryPolicy } from './db/retry.js';

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
  onProgress?: (p: Progress) => void;
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
} as const;

export function alterOptions(partial: Partial<AlterOptions> & Pick<AlterOptions, 'statements'>): AlterOptions {
  return {
    execute: false,
    chunkTimeMs: DEFAULTS.chunkTimeMs,
    retry: DEFAULTS.retry,
    cutoverDeadlineMs: DEFAULTS.cutoverDeadlineMs,
    cutoverBacklog: DEFAULTS.cutoverBacklog,
    ...partial,
  };
}
