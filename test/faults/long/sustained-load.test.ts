import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bounded } from '../../support/bounded.js';
import { alterOptions, onlineAlter, type AlterReport } from '../../../src/index.js';
import { startMaxLoad, type MaxLoad, type MaxLoadStats } from '../../../src/demo/max-load.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-db.js';
import { mirrorDifferences } from '../../support/mirror.js';

/**
 * Sustained load (issue 11): unthrottled writers at the machine's maximum for the whole
 * migration of a 1,000,000-row table. The migration must finish with the table equal to its
 * mirror, the changelog's backlog must stay bounded, and no phase may wait for an empty
 * changelog (under this load it is never empty: such a phase would never end).
 *
 * Needs the build (the load runs the compiled module in a worker thread): `npm run test:faults`.
 */
const ROWS = 1_000_000;
const CLIENTS = Number(process.env.PGSHIFT_LOAD_CLIENTS ?? 5);
const ALONE_MS = 5_000;
const SAMPLE_MS = 200;
const MIGRATION_DEADLINE_MS = 12 * 60_000;
/** Changelog entries one committed transaction of each kind writes (one per row event on the table). */
const ENTRIES: Record<string, number> = { update: 1, insert: 1, delete: 1, 'key-update': 2, 'unique-swap': 3, note: 1 };
/** The replay's batch (drain.ts): at most this many entries are taken but not yet replayed. */
const BATCH = 20_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


interface Sample {
  atMs: number;
  phase: string;
  backlog: number;
  transactions: number;
}

interface PhaseMark {
  phase: string;
  atMs: number;
  transactions: number;
}

/**
 * Samples the changelog's size every SAMPLE_MS on its own connection, with the phase the
 * engine last entered and the load's committed transactions.
 */
function startSampler(url: string, load: MaxLoad, current: () => { phase: string; schema: string | null }): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  let running = true;
  const c = new pg.Client({ connectionString: url, application_name: 'sustained-load-sampler' });
  c.on('error', () => undefined);
  const done = (async () => {
    await c.connect();
    while (running) {
      const t0 = performance.now();
      const { phase, schema } = current();
      if (schema) {
        // The changelog is gone once the artifacts are dropped: such a sample is just skipped.
        const r = await c.query(`SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(schema)}.changelog`).catch(() => null);
        if (r) samples.push({ atMs: t0, phase, backlog: r.rows[0].n, transactions: load.counters().transactions });
        // A line every 10 s: a run that ends at its deadline has said where it was.
        const first = samples[0];
        const last = samples[samples.length - 1];
        if (r && first && last && samples.length % 50 === 0) {
          const back = samples[samples.length - 50]!;
          console.log(`[sustained-load] +${((last.atMs - first.atMs) / 1000).toFixed(0)}s ${phase}: backlog ${last.backlog}, load ${rate(last.transactions - back.transactions, last.atMs - back.atMs)} tx/s`);
        }
      }
      await sleep(Math.max(0, SAMPLE_MS - (performance.now() - t0)));
    }
    await c.end();
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await done;
    },
  };
}


const rate = (tx: number, ms: number): number => Math.round(tx / (ms / 1000));

describe('sustained maximum write load for a whole migration', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('sustained');
    await db.query(`
      CREATE SCHEMA app;
      CREATE TABLE app.acct (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
      CREATE INDEX acct_v_idx ON app.acct (v);
      CREATE TABLE app.acct_mirror (id int PRIMARY KEY, u int, v int, note text);
      INSERT INTO app.acct SELECT g, g, g % 1000, 'row ' || g FROM generate_series(1, ${ROWS}) g;
      INSERT INTO app.acct_mirror SELECT * FROM app.acct;`);
    await db.query('VACUUM ANALYZE app.acct, app.acct_mirror');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('finishes, loses no write, keeps the backlog bounded, and no phase waits for an empty changelog', { timeout: 15 * 60_000 }, async () => {
    const load = await startMaxLoad({ url: db.url, schema: 'app', table: 'acct', mirror: 'acct_mirror', clients: CLIENTS, initialRows: ROWS });
    let stats: MaxLoadStats | undefined;
    let sampler: ReturnType<typeof startSampler> | undefined;
    try {
      // The load alone: a second of warm-up (connections, caches), then the measured window.
      await sleep(1000);
      const alone0 = { at: performance.now(), tx: load.counters().transactions };
      await sleep(ALONE_MS);
      const aloneTps = rate(load.counters().transactions - alone0.tx, performance.now() - alone0.at);
      console.log(`[sustained-load] ${CLIENTS} clients, the load alone: ${aloneTps} tx/s over ${ALONE_MS / 1000}s`);

      const marks: PhaseMark[] = [];
      let schema: string | null = null;
      const mark = (phase: string): void => {
        marks.push({ phase, atMs: performance.now(), transactions: load.counters().transactions });
      };
      mark('plan');
      sampler = startSampler(db.url, load, () => ({ phase: marks[marks.length - 1]!.phase, schema }));
      const samples = sampler.samples;
      const migration = onlineAlter(
        alterOptions({ strategy: 'copy',
          url: db.url,
          statements: 'ALTER TABLE app.acct ALTER COLUMN id TYPE bigint',
          execute: true,
          dropOld: true,
          onPhase: async (phase, m) => {
            schema = m.logSchema ?? null;
            mark(phase);
          },
        }),
      );
      const report: AlterReport = await bounded(migration, MIGRATION_DEADLINE_MS, () => {
        const last = samples.slice(-10).map((s) => `${s.phase}:${s.backlog}`).join(' ');
        return `phase ${marks[marks.length - 1]!.phase}; last backlog samples ${last}`;
      });
      mark('end');
      await sampler.stop();
      sampler = undefined;
      // A moment of load on the new table before stopping it.
      await sleep(1000);
      stats = await load.stop();

      const migrationMs = marks[marks.length - 1]!.atMs - marks[0]!.atMs;
      const duringTps = rate(marks[marks.length - 1]!.transactions - marks[0]!.transactions, migrationMs);
      // Load rate and peak backlog within each phase the engine entered.
      const phases = marks.slice(0, -1).map((m, i) => {
        const end = marks[i + 1]!;
        const inPhase = samples.filter((s) => s.atMs >= m.atMs && s.atMs < end.atMs);
        return {
          phase: m.phase,
          ms: end.atMs - m.atMs,
          tps: rate(end.transactions - m.transactions, end.atMs - m.atMs),
          backlogPeak: Math.max(0, ...inPhase.map((s) => s.backlog)),
          backlogLast: inPhase.length ? inPhase[inPhase.length - 1]!.backlog : null,
        };
      });
      // The bound the algorithm allows (DESIGN.md section 2). During the copy only entries at
      // or below the watermark can be replayed: with writes spread evenly over the keys, the
      // entries waiting above it peak near a third of those written during the copy (and the
      // new keys' entries, above every watermark, wait for its end): half, with margin. During
      // the index builds nothing is replayed but before a unique one: all of them. Plus one batch
      // taken but not replayed yet (the ANALYZE between index and catch-up is within it). A
      // replay slower than the writes exceeds it; a phase waiting for an empty changelog never
      // ends (the deadline above).
      const tx = (phase: string): number => {
        const i = marks.findIndex((m) => m.phase === phase);
        return i < 0 ? 0 : marks[i + 1]!.transactions - marks[i]!.transactions;
      };
      const entriesPerTx = Object.entries(stats.byKind).reduce((sum, [k, n]) => sum + n * ENTRIES[k]!, 0) / Math.max(1, stats.transactions);
      const bound = Math.round(entriesPerTx * (0.5 * tx('copy') + tx('index')) + BATCH);
      const peak = samples.reduce((best, s) => (s.backlog > best.backlog ? s : best), { atMs: 0, phase: '-', backlog: 0, transactions: 0 });
      const d = report.durationsMs!;
      const fmt = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
      console.log(
        `[sustained-load] ${CLIENTS} clients; load alone ${aloneTps} tx/s; during the migration ${duringTps} tx/s; ` +
          `migration ${fmt(migrationMs)}; backlog peak ${peak.backlog} (in ${peak.phase}, bound ${bound}); ` +
          `phases: build ${fmt(d.build)}, copy ${fmt(d.copy)}, index ${fmt(d.index)}, catch-up ${fmt(d.catchUp)}, ` +
          `checksum ${fmt(d.checksum)} (writes held ${Math.round(report.validation!.writesHeldMs)}ms), ` +
          `cutover ${fmt(d.cutover)} (attempts ${report.cutover!.attempts}, hold ${Math.round(report.cutover!.holdMs)}ms, ` +
          `final entries ${report.cutover!.finalEntries}), total ${fmt(d.total)}; ` +
          `load: ${stats.transactions} tx, ${stats.failures} failures, ${stats.misses} misses, ` +
          `latency p50 ${stats.latencyMs.p50.toFixed(1)}ms p99 ${stats.latencyMs.p99.toFixed(1)}ms max ${stats.latencyMs.max.toFixed(0)}ms`,
      );
      console.log(`[sustained-load] per phase: ${phases.map((p) => `${p.phase} ${fmt(p.ms)} ${p.tps} tx/s backlog peak ${p.backlogPeak} last ${p.backlogLast ?? '-'}`).join('; ')}`);
      console.log(`[sustained-load] load by kind: ${JSON.stringify(stats.byKind)}; failures by SQLSTATE ${JSON.stringify(stats.failuresByCode)}`);

      expect(report.status).toBe('done');
      expect(stats.errors).toEqual([]);
      expect(stats.failures).toBe(0);
      expect(stats.misses).toBe(0);
      expect(await mirrorDifferences(db)).toEqual([]);
      const type = await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'app.acct'::regclass AND attname = 'id'`);
      expect(type.rows[0].t).toBe('bigint');

      expect(peak.backlog, 'backlog peak').toBeLessThanOrEqual(bound);
      // The catch-up ended with entries still waiting (the changelog was never empty while it
      // ran, yet it ended): it waited for a short backlog, not an empty one.
      const catchUp = phases.find((p) => p.phase === 'catch-up')!;
      const catchUpSamples = samples.filter((s) => s.phase === 'catch-up');
      if (catchUp.tps >= 500 && catchUpSamples.length > 0) expect(Math.min(...catchUpSamples.map((s) => s.backlog))).toBeGreaterThan(0);

      // The load really ran flat out the whole time: no phase starved it.
      for (const p of phases.filter((x) => x.ms > 2000)) expect(p.tps, `load in ${p.phase}`).toBeGreaterThan(aloneTps * 0.1);
      expect(samples.length).toBeGreaterThan(10);
    } finally {
      await sampler?.stop();
      if (!stats) await load.stop().catch(() => undefined);
    }
  });
});
