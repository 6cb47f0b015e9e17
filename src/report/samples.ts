/**
 * What a run's report is built from: the samples its sampler kept (sampler.ts), as they are stored
 * in pgshift.run_samples and read back (store.ts). Times are milliseconds since the epoch, on the
 * clock of the process that ran the command.
 */
export const SAMPLE_KINDS = ['db', 'note', 'phase', 'rows', 'backlog', 'lag', 'throttle', 'end', 'cutover', 'validation'] as const;
export type SampleKind = (typeof SAMPLE_KINDS)[number];

export interface RunSample {
  at: number;
  kind: SampleKind;
  /** the migration or backfill job a progress event was about; null for 'db' and 'note' */
  migrationId: number | null;
  /** a progress event's fields without type and id; a DbSample; a note's { text } */
  data: Record<string, unknown>;
}

/**
 * The database as one sampler query sees it. Counters are cumulative (rates come from two of
 * them); gauges are what was true at that instant. Sessions are the application's: every
 * pgshift session (application_name pgshift...) is left out.
 */
export interface DbSample {
  /** pg_stat_database: xact_commit + xact_rollback of this database (pgshift's own included) */
  xacts: number;
  /** sessions waiting for a lock now (pg_stat_activity wait_event_type Lock) */
  waiting: number;
  /** the longest of those waits so far (pg_locks.waitstart), 0 when none waits */
  longestWaitMs: number;
  /** active sessions now */
  active: number;
  /** pg_stat_statements, over the application's statements known at the start: calls and execution time (null: not measurable) */
  calls: number | null;
  execMs: number | null;
}

/** The run as pgshift.runs keeps it. */
export interface RunRecord {
  id: number | null;
  command: string;
  startedAt: number;
  finishedAt: number;
  outcome: 'done' | 'failed' | 'stopped';
  exitCode: number;
  error: string | null;
  migrationIds: number[];
  /** the command's own report (what --json prints) */
  result: unknown;
  baseline: Baseline;
  server: ServerFacts;
}

export interface Baseline {
  /** when the counters were first read (the command's start) */
  startAt: number;
  /** when the run first changed something (its first progress event or note); null: it never did */
  changeAt: number | null;
  /** the followed statements' totals at the start (since pg_stat_statements was last reset); null: not measurable */
  statementsAtStart: { calls: number; execMs: number } | null;
  /** what sampling cost: how many times the database was sampled, and the time those queries took in all */
  sampling: { ticks: number; ms: number };
}

export interface ServerFacts {
  version: string;
  database: string;
  /** the schema of pg_stat_statements when it can be read; null with the reason in statementsNote */
  statementsSchema: string | null;
  statementsNote: string | null;
  /** how many of the application's statements (pg_stat_statements entries) the latency covers */
  statementsTracked: number;
}

/**
 * A list that keeps at most about `max` entries however long the run: past 2 x max it merges
 * neighbours pairwise (`merge` says how: the later counter, the larger gauge), halving it, so a
 * series keeps its shape and its peaks at a coarser step. The first `keep` entries are never merged.
 */
export interface Bounded<T> {
  push(x: T): void;
  items(): T[];
}

export function bounded<T>(max: number, merge: (a: T, b: T) => T, keep = 0): Bounded<T> {
  let xs: T[] = [];
  return {
    push(x) {
      xs.push(x);
      if (xs.length <= 2 * max) return;
      const head = xs.slice(0, keep);
      const rest = xs.slice(keep);
      const merged: T[] = [];
      for (let i = 0; i < rest.length; i += 2) merged.push(i + 1 < rest.length ? merge(rest[i]!, rest[i + 1]!) : rest[i]!);
      xs = [...head, ...merged];
    },
    items: () => xs.slice(),
  };
}
