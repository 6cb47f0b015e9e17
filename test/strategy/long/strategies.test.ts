import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bounded } from '../../support/bounded.js';
import { alterOptions, onlineAlter, type AlterReport } from '../../../src/index.js';
import { startWorkload, type Workload, type WorkloadStats } from '../../../src/demo/workload.js';
import type { Strategy } from '../../../src/strategy/classify.js';
import { cloneDatabase, createTestDatabase, type TestDatabase } from '../../support/test-db.js';
import { mirrorDifferences } from '../../support/mirror.js';
import { diffSnapshots, snapshotCatalog, type CatalogSnapshot } from '../../support/catalog-snapshot.js';

/**
 * Issue 12's measured promise: on a 1,000,000-row table under a mirrored write workload, each
 * strategy class (instant, concurrent, NOT VALID + VALIDATE, online copy), chosen by `auto` with
 * the default copy threshold, runs with 0 failed application transactions, none waiting longer
 * than 1 s, the table equal to its mirror, and the catalog the same statement gives offline. An
 * instant change takes at most 20x the same statement offline plus 3 s, pgshift's start-up
 * included. Each case also runs the statement as written (offline, plain SQL) on an equal table
 * under the same workload: one line per case prints both, the figures of README's "Strategies
 * measured".
 *
 * `npm run test:strategies` (PGSHIFT_LONG=1; excluded from the default run).
 */
const ROWS = 1_000_000;
const WORKERS = 2;
/** modest and fixed, so that a 2-core machine keeps up with it while pgshift works */
const RATE = 400;
const WARM_MS = 1000;
/** the workload goes on after the change: a transaction the change had blocked completes within this */
const AFTER_MS = 1500;
const WORST_WAIT_MS = 1000;
const INSTANT_FACTOR = 20;
const INSTANT_SLACK_MS = 3000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


interface Case {
  class: string;
  sql: string;
  /** report.strategy: what the call did overall */
  strategy: 'instant' | 'online' | 'copy';
  /** report.decisions[0].strategy: the subcommand's route */
  decision: Strategy;
  /** the change's own deadline (pgshift or offline) */
  deadlineMs: number;
  /** what the statement must have left in the catalog */
  after: string;
}

const T = 'app.acct';
const CASES: Case[] = [
  { class: 'instant: ADD COLUMN with a constant default', sql: `ALTER TABLE ${T} ADD COLUMN note2 text DEFAULT 'x'`, strategy: 'instant', decision: 'instant', deadlineMs: 60_000,
    after: `SELECT count(*) = 1 AS ok FROM pg_attribute WHERE attrelid = '${T}'::regclass AND attname = 'note2'` },
  { class: 'concurrent: CREATE INDEX', sql: `CREATE INDEX ON ${T} (v)`, strategy: 'online', decision: 'concurrent', deadlineMs: 120_000,
    after: `SELECT indisvalid AS ok FROM pg_index WHERE indexrelid = 'app.acct_v_idx'::regclass` },
  { class: 'concurrent: ADD UNIQUE', sql: `ALTER TABLE ${T} ADD UNIQUE (u)`, strategy: 'online', decision: 'concurrent', deadlineMs: 120_000,
    after: `SELECT convalidated AS ok FROM pg_constraint WHERE conrelid = '${T}'::regclass AND conname = 'acct_u_key1' AND contype = 'u'` },
  { class: 'NOT VALID + VALIDATE: ADD CHECK', sql: `ALTER TABLE ${T} ADD CONSTRAINT acct_v_nonnegative CHECK (v >= 0)`, strategy: 'online', decision: 'not-valid-validate', deadlineMs: 120_000,
    after: `SELECT convalidated AS ok FROM pg_constraint WHERE conrelid = '${T}'::regclass AND conname = 'acct_v_nonnegative'` },
  { class: 'NOT VALID + VALIDATE: SET NOT NULL', sql: `ALTER TABLE ${T} ALTER COLUMN note SET NOT NULL`, strategy: 'online', decision: 'not-valid-validate', deadlineMs: 120_000,
    after: `SELECT attnotnull AS ok FROM pg_attribute WHERE attrelid = '${T}'::regclass AND attname = 'note'` },
  { class: 'copy: ALTER COLUMN TYPE (a rewrite above the threshold)', sql: `ALTER TABLE ${T} ALTER COLUMN v TYPE bigint`, strategy: 'copy', decision: 'copy', deadlineMs: 8 * 60_000,
    after: `SELECT format_type(atttypid, atttypmod) = 'bigint' AS ok FROM pg_attribute WHERE attrelid = '${T}'::regclass AND attname = 'v'` },
];

interface Measured {
  ms: number;
  /** the workload's worst transaction latency among those running during the change */
  worstWaitMs: number;
  /** workload transactions that ran during the change */
  during: number;
  stats: WorkloadStats;
}

/**
 * Runs `change` on `db` under the mirrored workload (warmed up first, and going on a moment after
 * so that every transaction the change blocked completes) and measures it with the workload's
 * own latencies.
 */
async function underWorkload(db: TestDatabase, deadlineMs: number, what: string, change: () => Promise<unknown>): Promise<Measured> {
  // The workload's clock (completedAt) starts inside startWorkload, before its first await.
  const origin = performance.now();
  const workload: Workload = await startWorkload({ url: db.url, schema: 'app', table: 'acct', mirror: 'acct_mirror', workers: WORKERS, initialRows: ROWS, ratePerSecond: RATE });
  let stats: WorkloadStats | undefined;
  try {
    await sleep(WARM_MS);
    const from = performance.now() - origin;
    await bounded(change(), deadlineMs, () => `${what}; the workload has run ${workload.stats().transactions} transactions`);
    const to = performance.now() - origin;
    await sleep(AFTER_MS);
    stats = await bounded(workload.stop(), 30_000, () => 'the workload did not stop');
    let worstWaitMs = 0;
    let during = 0;
    for (let i = 0; i < stats.transactions; i++) {
      const end = stats.completedAt[i]!;
      const ms = stats.latencies[i]!;
      if (end >= from && end - ms <= to) {
        during++;
        worstWaitMs = Math.max(worstWaitMs, ms);
      }
    }
    return { ms: to - from, worstWaitMs, during, stats };
  } finally {
    if (!stats) await workload.stop().catch(() => undefined);
  }
}

const rows: string[] = [];
const fmt = (ms: number): string => (ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`);

describe('each strategy class on a 1,000,000-row table under a mirrored write workload', () => {
  let base: TestDatabase;

  beforeAll(async () => {
    // Built once, never written by a workload (each case clones it: ids 1..ROWS exist, u = id).
    base = await createTestDatabase('strategies');
    await base.query(`
      CREATE SCHEMA app;
      CREATE TABLE app.acct (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
      CREATE TABLE app.acct_mirror (id int PRIMARY KEY, u int, v int, note text);
      INSERT INTO app.acct SELECT g, g, g % 1000, 'row ' || g FROM generate_series(1, ${ROWS}) g;
      INSERT INTO app.acct_mirror SELECT * FROM app.acct;`);
    await base.query('VACUUM ANALYZE app.acct, app.acct_mirror');
    await base.query('CHECKPOINT');
  }, 10 * 60_000);

  afterAll(async () => {
    await base?.drop();
    if (rows.length) {
      console.log(
        ['[strategies] summary', '| statement class | strategy | pgshift time | worst wait | offline time | worst wait |', '|---|---|---|---|---|---|', ...rows].join('\n'),
      );
    }
  });

  it.each(CASES.map((c) => [c.class, c] as const))('%s', { timeout: 15 * 60_000 }, async (_name, c) => {
    // As written, offline, on an equal table under the same workload: the comparison.
    const offlineDb = await cloneDatabase(base, 'strategies_offline');
    let offline: Measured;
    let offlineCatalog: CatalogSnapshot;
    try {
      offline = await underWorkload(offlineDb, c.deadlineMs, `offline: ${c.sql}`, () => offlineDb.query(c.sql));
      offlineCatalog = await snapshotCatalog(offlineDb.pool, ['app']);
    } finally {
      await offlineDb.drop();
    }

    const db = await cloneDatabase(base, 'strategies_pgshift');
    try {
      let report: AlterReport | undefined;
      // Wall clock of the whole call: pool, catalog facts, classification, state schema, the change.
      const pgshift = await underWorkload(db, c.deadlineMs, `pgshift: ${c.sql}`, async () => {
        report = await onlineAlter(alterOptions({ url: db.url, statements: c.sql, execute: true }));
      });
      const decisions = (report!.decisions ?? []).map((d) => d.strategy);
      console.log(
        `[strategies] ${c.class}: ${c.sql} -> ${report!.strategy} (${decisions.join(', ')}); ` +
          `pgshift ${fmt(pgshift.ms)}${report!.cutover ? ` (${report!.rowsCopied} rows copied, cutover held its locks ${Math.round(report!.cutover.holdMs)} ms)` : ''}, workload worst ${Math.round(pgshift.worstWaitMs)} ms over ${pgshift.during} tx, ${pgshift.stats.failures} failed; ` +
          `offline ${fmt(offline.ms)}, workload worst ${Math.round(offline.worstWaitMs)} ms over ${offline.during} tx, ${offline.stats.failures} failed`,
      );
      rows.push(`| ${c.class} | ${report!.strategy} (${decisions.join(', ')}) | ${fmt(pgshift.ms)} | ${Math.round(pgshift.worstWaitMs)} ms | ${fmt(offline.ms)} | ${Math.round(offline.worstWaitMs)} ms |`);

      expect(report!.status).toBe('done');
      expect(report!.strategy).toBe(c.strategy);
      expect(decisions).toEqual([c.decision]);
      // A copy copies the table (less the workload's deletes meanwhile); nothing else copies anything.
      if (c.strategy === 'copy') expect(report!.rowsCopied).toBeGreaterThan(0.9 * ROWS);
      else expect(report!.rowsCopied ?? 0).toBe(0);
      expect(pgshift.stats.failures, pgshift.stats.errors.join('; ')).toBe(0);
      expect(pgshift.during, 'workload transactions during the change').toBeGreaterThan(0);
      expect(pgshift.worstWaitMs, 'the workload\'s worst latency during the change (ms)').toBeLessThanOrEqual(WORST_WAIT_MS);
      expect(await mirrorDifferences(db)).toEqual([]);
      expect((await db.query(c.after)).rows[0]?.ok, c.after).toBe(true);
      // The result is the catalog the statement gives offline (the rows differ by the workload's writes, by design).
      expect(diffSnapshots(offlineCatalog!, await snapshotCatalog(db.pool, ['app']))).toEqual([]);
      if (c.strategy === 'instant') {
        expect(pgshift.ms, `pgshift ${Math.round(pgshift.ms)} ms against offline ${Math.round(offline!.ms)} ms`).toBeLessThanOrEqual(INSTANT_FACTOR * offline!.ms + INSTANT_SLACK_MS);
      }
    } finally {
      await db.drop();
    }
  });
});
