import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, onlineAlter } from '../src/index.js';
import { startWorkload } from '../src/demo/workload.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { runCli } from './support/cli.js';

/**
 * The copy in key lanes (--max-parallel): disjoint key ranges copied at once, each with its own
 * watermark. Under writes mirrored into a second table, the table must equal its mirror, after a
 * run and after kill -9 in the middle of the lanes and a resume.
 */
const ROWS = 250_000;

describe('copy lanes', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('lanes');
  });
  afterAll(async () => {
    await db.drop();
  });

  async function table(t: string): Promise<void> {
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
      CREATE TABLE ${t}_mirror (id int, u int, v int, note text); CREATE INDEX ON ${t}_mirror (id);
      INSERT INTO ${t} SELECT g, g, g, 'n' || g FROM generate_series(1, ${ROWS}) g; INSERT INTO ${t}_mirror SELECT * FROM ${t};
      ANALYZE ${t};`);
  }

  async function expectMirrored(t: string): Promise<void> {
    const diff = await db.query(`SELECT count(*)::int AS n FROM ((SELECT id, u, v, note FROM ${t} EXCEPT ALL SELECT * FROM ${t}_mirror)
      UNION ALL (SELECT * FROM ${t}_mirror EXCEPT ALL SELECT id, u, v, note FROM ${t})) d`);
    expect(diff.rows[0].n).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${t} WHERE flag IS NOT TRUE`)).rows[0].n).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  }

  it('two lanes under mirrored writes: every lane done, the table equal to its mirror', async () => {
    await table('lanes_run');
    let lanes: { lane: number; done: boolean }[] = [];
    const workload = await startWorkload({ url: db.url, schema: 'public', table: 'lanes_run', mirror: 'lanes_run_mirror', workers: 3, initialRows: ROWS, ratePerSecond: 300 });
    try {
      const report = await onlineAlter(alterOptions({
        strategy: 'copy', url: db.url, execute: true, chunkTimeMs: 20, dropOld: true, maxParallel: 2,
        statements: 'ALTER TABLE lanes_run ALTER COLUMN v TYPE bigint, ADD COLUMN flag boolean DEFAULT true',
        onPhase: async (phase, m) => {
          if (phase === 'index') lanes = (await db.query(`SELECT lane, done FROM ${m.logSchema}.copy_lanes ORDER BY lane`)).rows;
        },
      }));
      expect(report.status).toBe('done');
      expect(report.rowsCopied).toBeGreaterThanOrEqual(ROWS);
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
      expect(stats.failures).toBe(0);
    }
    expect(lanes).toEqual([{ lane: 0, done: true }, { lane: 1, done: true }]);
    await expectMirrored('lanes_run');
  });

  it('kill -9 while two lanes copy, then resume: each lane continues from its own watermark', async () => {
    await table('lanes_kill');
    const workload = await startWorkload({ url: db.url, schema: 'public', table: 'lanes_kill', mirror: 'lanes_kill_mirror', workers: 2, initialRows: ROWS, ratePerSecond: 300 });
    try {
      const alter = ['alter', '--strategy', 'copy', 'ALTER TABLE lanes_kill ALTER COLUMN v TYPE bigint, ADD COLUMN flag boolean DEFAULT true', '--execute', '--chunk-time', '20ms', '--max-parallel', '2', '--drop-old', '--url', db.url];
      const killed = await runCli(alter, { PGSHIFT_FAILPOINT: 'mid-copy' });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const m = (await db.query(`SELECT id::int, artifact_schema AS s FROM pgshift.migrations WHERE table_name = 'lanes_kill' AND outcome IS NULL`)).rows[0];
      const lanes = (await db.query(`SELECT lane, done FROM ${m.s}_log.copy_lanes ORDER BY lane`)).rows;
      expect(lanes).toEqual([{ lane: 0, done: false }, { lane: 1, done: false }]);
      const resumed = await runCli(['resume', String(m.id), '--url', db.url, '--chunk-time', '20ms', '--drop-old']);
      expect(resumed.status, resumed.stderr).toBe(0);
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    await expectMirrored('lanes_kill');
  });

  it('a large relation of an inheritance tree or a large partition gets key lanes of its own, one pool for all', async () => {
    // The parent small, its child large, written under the mirrored workload meanwhile.
    await db.query(`CREATE TABLE lt (id int PRIMARY KEY, u int NOT NULL, v int NOT NULL, note text);
      CREATE TABLE lt_c () INHERITS (lt); ALTER TABLE lt_c ADD PRIMARY KEY (id);
      CREATE TABLE lt_c_mirror (id int, u int, v int, note text); CREATE INDEX ON lt_c_mirror (id);
      INSERT INTO lt SELECT -g, g, g, 'p' || g FROM generate_series(1, 1000) g;
      INSERT INTO lt_c SELECT g, g, g, 'n' || g FROM generate_series(1, ${ROWS}) g; INSERT INTO lt_c_mirror SELECT * FROM lt_c;
      ANALYZE lt; ANALYZE lt_c;`);
    const lanesOf = async (m: { logSchema?: string }): Promise<{ source: string; split: boolean }[]> =>
      (await db.query(`SELECT source::regclass::text AS source, low IS NOT NULL OR high IS NOT NULL AS split FROM ${m.logSchema}.copy_lanes ORDER BY lane`)).rows;
    let lanes: { source: string; split: boolean }[] = [];
    const workload = await startWorkload({ url: db.url, schema: 'public', table: 'lt_c', mirror: 'lt_c_mirror', workers: 2, initialRows: ROWS, ratePerSecond: 300 });
    try {
      const report = await onlineAlter(alterOptions({
        strategy: 'copy', url: db.url, execute: true, chunkTimeMs: 20, dropOld: true, maxParallel: 2,
        statements: 'ALTER TABLE lt ALTER COLUMN v TYPE bigint, ADD COLUMN flag boolean DEFAULT true',
        onPhase: async (phase, m) => {
          if (phase === 'index') lanes = await lanesOf(m);
        },
      }));
      expect(report.status).toBe('done');
      expect(report.rowsEstimated).toBe(ROWS + 1000);
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
      expect(stats.failures).toBe(0);
    }
    expect(lanes).toEqual([{ source: 'lt', split: false }, { source: 'lt_c', split: true }, { source: 'lt_c', split: true }]);
    await expectMirrored('lt_c');
    expect((await db.query(`SELECT count(*)::int AS n, sum(v)::int8::text AS s FROM ONLY lt WHERE flag`)).rows[0]).toEqual({ n: 1000, s: '500500' });

    // A partitioned table: the large partition in two lanes, the small one in one.
    await db.query(`CREATE TABLE lp (id int PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (id);
      CREATE TABLE lp_small PARTITION OF lp FOR VALUES FROM (MINVALUE) TO (1);
      CREATE TABLE lp_big PARTITION OF lp FOR VALUES FROM (1) TO (MAXVALUE);
      INSERT INTO lp SELECT g, g FROM generate_series(-999, ${ROWS}) g; ANALYZE lp;`);
    const before = (await db.query(`SELECT count(*)::int AS n, sum(v)::int8::text AS s FROM lp`)).rows[0];
    const report = await onlineAlter(alterOptions({
      strategy: 'copy', url: db.url, execute: true, chunkTimeMs: 20, dropOld: true, maxParallel: 2,
      statements: 'ALTER TABLE lp ALTER COLUMN v TYPE bigint',
      onPhase: async (phase, m) => {
        if (phase === 'index') lanes = await lanesOf(m);
      },
    }));
    expect(report.status).toBe('done');
    expect(lanes).toEqual([{ source: 'lp_big', split: true }, { source: 'lp_big', split: true }, { source: 'lp_small', split: false }]);
    expect((await db.query(`SELECT count(*)::int AS n, sum(v)::int8::text AS s FROM lp`)).rows[0]).toEqual(before);
  });

  it('the shadow fills with autovacuum off and gets back the settings the ALTER gives it in the cutover', async () => {
    await db.query(`CREATE TABLE av (id int PRIMARY KEY, v int, note text) WITH (autovacuum_vacuum_scale_factor = 0.05, toast.autovacuum_enabled = false);
      INSERT INTO av SELECT g, g, 'n' || g FROM generate_series(1, 20000) g;`);
    const options = async (relation: string): Promise<string[]> =>
      (await db.query(`SELECT coalesce(c.reloptions, '{}') || coalesce(t.reloptions, '{}') AS o FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = $1::regclass`, [relation])).rows[0].o;
    let during: string[] = [];
    let beforeSwap: string[] = [];
    const report = await onlineAlter(
      alterOptions({
        strategy: 'copy', url: db.url, execute: true, dropOld: true,
        statements: 'ALTER TABLE av ALTER COLUMN v TYPE bigint, SET (autovacuum_enabled = true)',
        onPhase: async (phase, m) => {
          if (phase === 'copy') during = await options(`"${m.schema}"."${m.table}"`);
          if (phase === 'cutover') beforeSwap = await options(`"${m.schema}"."${m.table}"`);
        },
      }),
    );
    expect(report.status).toBe('done');
    expect(during).toEqual(expect.arrayContaining(['autovacuum_enabled=false', 'autovacuum_vacuum_scale_factor=0.05']));
    expect(during.filter((o) => o === 'autovacuum_enabled=false')).toHaveLength(2); // the heap's and its TOAST table's
    // Kept off until the cutover gives them back under its lock: no vacuum of the fresh heap in its way.
    expect(beforeSwap.filter((o) => o === 'autovacuum_enabled=false')).toHaveLength(2);
    expect((await options('av')).sort()).toEqual(['autovacuum_enabled=false', 'autovacuum_enabled=true', 'autovacuum_vacuum_scale_factor=0.05']);
  });

  it('--max-parallel out of range: one line, exit 2', async () => {
    const r = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE lanes_run ADD COLUMN x int', '--max-parallel', '9', '--url', db.url]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('pgshift: --max-parallel: "9" is not a whole number from 1 to 4');
  });
});
