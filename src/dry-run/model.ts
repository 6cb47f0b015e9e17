import type { Decision } from '../strategy/classify.js';
import type { Estimate } from '../estimate/sample.js';

/**
 * The one plan that `pgshift plan`, the dry run of `alter` and `migrate up --dry-run` produce,
 * and that render.ts prints as Markdown, text or JSON. Everything in it is read or measured
 * now, on the server, and nothing in it was changed to get it.
 */
export interface PlanModel {
  /** a version tag for readers of the JSON */
  format: 'pgshift-plan/1';
  command: 'plan' | 'alter' | 'migrate up';
  createdAt: string;
  server: { version: string };
  /** the tables the changes touch, as they are now */
  tables: TableSummary[];
  /** in the order they run: one for a call of plan or alter (it runs as a whole), one per statement for migrate */
  changes: PlannedChange[];
  /** sessions and transactions that would hold up a lock on the tables right now */
  blockers: Blockers;
  /** the whole run: this process's start-up and planning once, then every change measured */
  estimate: { seconds: number | null; basis: string; startupSeconds: number };
  runbook: Runbook;
  /** the verdict and anything else the reader must know (unused options, lint findings) */
  notes: string[];
}

export interface TableSummary {
  name: string;
  /** heap + TOAST, as pg_table_size */
  tableBytes: number;
  indexBytes: number;
  /** the planner's estimate for the table as it is now */
  rows: number;
  indexes: { name: string; definition: string; bytes: number; valid: boolean }[];
  dependents: Dependents;
}

export interface Dependents {
  foreignKeysOut: { name: string; references: string; definition: string }[];
  foreignKeysIn: { name: string; from: string; definition: string }[];
  views: { name: string; materialized: boolean }[];
  triggers: { name: string; enabled: string; definition: string }[];
  policies: { name: string; command: string }[];
  publications: string[];
}

export interface PlannedChange {
  /** 'the call' for plan and alter; '<version> line <n>' for migrate */
  label: string;
  table: string | null;
  sql: string;
  /** instant, online, copy, direct; for migrate also backfill and statement (run as written) */
  strategy: string;
  why: string;
  /** the classifier's decision per subcommand */
  decisions: Decision[];
  /** the strongest lock it takes on the table and how long that lock is held (null: not a table change) */
  lock: string | null;
  hold: string | null;
  rewrites: boolean;
  steps: PlanStep[];
  estimate: Estimate | null;
  /** why there is no estimate */
  unmeasured?: string;
  disk: DiskLine | null;
  /** migrate: statements with the same number commit together */
  segment?: number;
  /** the copy's own plan: where each column comes from, what is built after it and re-pointed at the swap */
  details: string[];
}

/** One step as it runs: its SQL, the strongest lock it takes, on what, and for how long. */
export interface PlanStep {
  name: string;
  sql: string[];
  lock: string;
  on: string;
  hold: string;
}

export interface DiskLine {
  /** the line as printed: what is needed, what is free, and how that is known */
  text: string;
  /** what the change writes: the shadow, its indexes and WAL; or an index and its WAL */
  needBytes: number;
  parts: string;
  /** free bytes where it goes, or null when not known */
  freeBytes: number | null;
  /** how the free figure is known, or why it is not */
  freeKnown: string;
  enough: boolean | null;
}

export interface Blockers {
  /** transactions open longer than `olderThanSeconds` (any table: they hold back vacuum and may hold locks) */
  longTransactions: { pid: number; application: string; state: string; seconds: number; query: string }[];
  /** prepared transactions (two-phase commit): they hold their locks until someone ends them by name */
  prepared: { gid: string; prepared: string; owner: string; locksTables: boolean; end: string }[];
  /** sessions holding or waiting for a lock on the tables */
  lockHolders: { pid: number; application: string; state: string; mode: string; granted: boolean; table: string; seconds: number | null }[];
  olderThanSeconds: number;
  /** what could not be read (a missing privilege), if anything */
  unreadable: string[];
}

export interface Runbook {
  /** forward, abort, revert, cleanup: plain SQL a DBA can run with psql */
  scripts: RunbookScript[];
  /** what the scripts cannot do, or why none were written */
  notes: string[];
}

export interface RunbookScript {
  name: 'forward' | 'abort' | 'revert' | 'cleanup';
  file: string;
  /** what it is for, one line */
  purpose: string;
  sql: string;
}
