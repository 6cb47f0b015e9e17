// Objects bound to the table by OID through a live cutover and a revert: materialized views
// (rebuilt before the cutover, exchanged inside it), routines of the table's row type (created
// anew), BEGIN ATOMIC bodies and views (re-bound). The differential suite proves the catalog and
// the data against offline ALTER; this file proves what readers see while it happens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, onlineAlter } from '../src/index.js';
import { revertMigration } from '../src/migration/revert.js';
import { DEFAULT_RETRY } from '../src/db/retry.js';
import { startWorkload } from '../src/demo/workload.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { mirrorDifferences } from './support/mirror.js';
import { runCli } from './support/cli.js';
import { startReader } from './support/reader.js';

const ROWS = 60_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const SETUP = `
  CREATE SCHEMA app;
  CREATE TABLE app.acct (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
  CREATE TABLE app.acct_mirror (id int, u int, v int, note text);
  CREATE INDEX ON app.acct_mirror (id);
  INSERT INTO app.acct SELECT g, g, g % 100, 'row ' || g FROM generate_series(1, ${ROWS}) g;
  INSERT INTO app.acct_mirror SELECT * FROM app.acct;
  ANALYZE app.acct;
  CREATE MATERIALIZED VIEW app.acct_buckets AS SELECT v % 10 AS bucket, count(*) AS n, sum(v) AS total FROM app.acct GROUP BY 1;
  CREATE UNIQUE INDEX acct_buckets_bucket_idx ON app.acct_buckets (bucket);
  CREATE MATERIALIZED VIEW app.acct_copy AS SELECT id, v, note FROM app.acct;
  CREATE UNIQUE INDEX acct_copy_id_idx ON app.acct_copy (id);
  CREATE VIEW app.acct_busy AS SELECT bucket FROM app.acct_buckets WHERE n > 0;
  CREATE FUNCTION app.all_acct() RETURNS SETOF app.acct LANGUAGE sql STABLE AS 'SELECT * FROM app.acct';
  CREATE FUNCTION app.acct_count() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM app.acct; END;
  CREATE VIEW app.acct_rows AS SELECT a AS row, a.id FROM app.acct a;
  CREATE VIEW app.acct_low AS SELECT id, v FROM app.acct WHERE id <= 100;
`;

/**
 * Materialized views in another schema whose names meet the table's and the first schema's
 * (plan/matview-homes.ts): one named like the table with an index named like its primary key,
 * one named like a matview of app with an index named like that one's.
 */
const ELSEWHERE = `
  CREATE SCHEMA rep;
  CREATE MATERIALIZED VIEW rep.acct AS SELECT v % 7 AS bucket, count(*) AS n FROM app.acct GROUP BY 1;
  CREATE UNIQUE INDEX acct_pkey ON rep.acct (bucket);
  CREATE MATERIALIZED VIEW rep.acct_buckets AS SELECT v % 3 AS bucket, count(*) AS n FROM app.acct GROUP BY 1;
  CREATE UNIQUE INDEX acct_buckets_bucket_idx ON rep.acct_buckets (bucket);
`;

/** The schemas of a migration (its own, its log's, its partitions' and matviews' homes) still there. */
async function migrationSchemas(db: TestDatabase): Promise<string[]> {
  return (await db.query(`SELECT nspname::text AS n FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%' ORDER BY 1`)).rows.map((r: { n: string }) => r.n);
}

/** Where a relation's or a routine's dependencies on tables point: the tables' names. */
async function readsFrom(db: TestDatabase, what: 'relation' | 'routine', name: string): Promise<string[]> {
  const r = await db.query(
    what === 'relation'
      ? `SELECT DISTINCT d.refobjid::regclass::text AS t FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
          WHERE r.ev_class = $1::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> $1::regclass ORDER BY 1`
      : `SELECT DISTINCT d.refobjid::regclass::text AS t FROM pg_depend d
          WHERE d.classid = 'pg_proc'::regclass AND d.objid = $1::regprocedure AND d.refclassid = 'pg_class'::regclass ORDER BY 1`,
    [name],
  );
  return r.rows.map((row: { t: string }) => row.t);
}

describe('objects bound to the table, live', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('bound');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a reader of the materialized views (and of a view over one, and of the routines) never finds them missing or unpopulated through the cutover', async () => {
    await db.query(SETUP);
    const workload = await startWorkload({ url: db.url, schema: 'app', table: 'acct', mirror: 'acct_mirror', workers: 2, initialRows: ROWS, ratePerSecond: 300 });
    const readers = await Promise.all([
      startReader(db.url, ['SELECT count(*) AS n FROM app.acct_buckets', 'SELECT count(*) AS n FROM app.acct_copy']),
      startReader(db.url, ['SELECT count(*) AS n FROM app.acct_busy']),
      startReader(db.url, ['SELECT app.acct_count() AS n', 'SELECT count(*) AS n FROM app.all_acct() WHERE id <= 100']),
      // Views over the table, one re-bound (CREATE OR REPLACE) and one created anew (it reads the whole row).
      startReader(db.url, ['SELECT count(*) AS n FROM app.acct_low', 'SELECT count(*) AS n FROM app.acct_rows WHERE id <= 100']),
    ]);
    let report;
    let tallies;
    try {
      await sleep(300);
      report = await onlineAlter(
        alterOptions({
          strategy: 'copy',
          url: db.url,
          statements: 'ALTER TABLE app.acct ALTER COLUMN u TYPE bigint, ADD COLUMN extra int DEFAULT 7',
          execute: true,
          chunkTimeMs: 20,
          dropOld: true,
        }),
      );
      await sleep(300);
    } finally {
      tallies = await Promise.all(readers.map((r) => r.stop()));
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(report.status).toBe('done');
    // The matviews, the view over one, and the views over the table never failed a reader.
    expect([...tallies[0]!.errors, ...tallies[1]!.errors, ...tallies[3]!.errors]).toEqual([]);
    // A call of a routine created anew that resolved the old one just before the swap and runs
    // after it fails (PostgreSQL takes no lock on a function): README says so. At most that one.
    expect(tallies[2]!.errors.length).toBeLessThanOrEqual(1);
    for (const e of tallies[2]!.errors) expect(e).toMatch(/all_acct\(\).*: (cache lookup failed for function \d+|return type mismatch)/);
    expect(tallies.map((t) => t.empty)).toEqual([0, 0, 0, 0]);
    expect(tallies.every((t) => t.ok > 10)).toBe(true);
    expect(await mirrorDifferences(db)).toEqual([]);

    // Everything reads the new table (the old one is gone: --drop-old drops it without CASCADE).
    expect(await readsFrom(db, 'relation', 'app.acct_buckets')).toEqual(['app.acct']);
    expect(await readsFrom(db, 'relation', 'app.acct_busy')).toEqual(['app.acct_buckets']);
    expect(await readsFrom(db, 'routine', 'app.acct_count()')).toEqual(['app.acct']);
    expect((await db.query(`SELECT pg_get_function_result('app.all_acct()'::regprocedure) AS r`)).rows[0].r).toBe('SETOF app.acct');
    // The routine returns the new row type, extra filled on every row (the workload may have
    // deleted or moved any of the first keys meanwhile: compared with how many are left).
    const first = (await db.query(`SELECT count(*)::int AS n, count(extra)::int AS extra FROM app.all_acct() WHERE id <= 100`)).rows[0];
    expect(first.n).toBeGreaterThan(50);
    expect(first.extra).toBe(first.n);
    expect((await db.query(`SELECT (row).extra FROM app.acct_rows WHERE id = 1`)).rows[0].extra).toBe(7);
    // Filled as of one snapshot shortly before the swap: every row the copy held then.
    const copy = await db.query(`SELECT relispopulated AS p, (SELECT count(*)::int FROM app.acct_copy) AS n FROM pg_class WHERE oid = 'app.acct_copy'::regclass`);
    expect(copy.rows[0].p).toBe(true);
    expect(copy.rows[0].n).toBeGreaterThan(ROWS / 2);
    expect(report.plan.join('\n')).toMatch(/materialized view app\.acct_copy: rebuilt and filled just before the cutover/);
  });

  it('the disk estimate counts the materialized views rebuilt for the swap', async () => {
    await db.query(`CREATE TABLE sized (id int PRIMARY KEY, pad text); INSERT INTO sized SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g; ANALYZE sized`);
    const shadowMb = async (): Promise<number> => {
      const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE sized ADD COLUMN extra int' }));
      const disk = report.plan.find((l) => l.startsWith('  disk:'))!;
      return Number(/shadow ([\d.]+) MB/.exec(disk)![1]);
    };
    const without = await shadowMb();
    await db.query(`CREATE MATERIALIZED VIEW sized_mv AS SELECT id, pad FROM sized`);
    const mv = Number((await db.query(`SELECT pg_table_size('sized_mv') / 1048576.0 AS mb`)).rows[0].mb);
    expect(mv).toBeGreaterThan(3);
    expect(await shadowMb()).toBeCloseTo(without + mv, 0);
  });

  it('killed in the cutover with rebuilds in their homes: abort removes them; resumed, the cutover takes them', async () => {
    await db.query(`DROP SCHEMA IF EXISTS rep CASCADE; DROP SCHEMA app CASCADE; ${SETUP} ${ELSEWHERE}`);
    const alter = ['alter', '--strategy', 'copy', 'ALTER TABLE app.acct ADD COLUMN extra int DEFAULT 7', '--execute', '--drop-old', '--url', db.url];
    const unfinished = async (): Promise<number> => (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = 'acct' AND outcome IS NULL`)).rows[0]?.id;
    const rebuilds = async (): Promise<string[]> =>
      (await db.query(`SELECT regexp_replace(n.nspname, '_m[0-9]+$', '_m') || '.' || c.relname AS r FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.relkind = 'm' AND n.nspname ~ '^pgshift_[0-9]+_m[0-9]+$' ORDER BY 1`)).rows.map((r: { r: string }) => r.r.replace(/^pgshift_\d+/, 'pgshift_<id>'));
    const built = ['pgshift_<id>_m.acct', 'pgshift_<id>_m.acct_buckets', 'pgshift_<id>_m.acct_buckets', 'pgshift_<id>_m.acct_copy'];

    const killed = await runCli(alter, { PGSHIFT_FAILPOINT: 'in-cutover' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(await rebuilds()).toEqual(built);
    const aborted = await runCli(['abort', String(await unfinished()), '--url', db.url]);
    expect(aborted.status, aborted.stderr).toBe(0);
    expect(await migrationSchemas(db)).toEqual([]);
    expect(await readsFrom(db, 'relation', 'rep.acct')).toEqual(['app.acct']);

    expect((await runCli(alter, { PGSHIFT_FAILPOINT: 'in-cutover' })).signal).toBe('SIGKILL');
    expect(await rebuilds()).toEqual(built);
    const resumed = await runCli(['resume', String(await unfinished()), '--url', db.url, '--drop-old']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(await migrationSchemas(db)).toEqual([]);
    for (const m of ['rep.acct', 'rep.acct_buckets', 'app.acct_buckets']) {
      expect(await readsFrom(db, 'relation', m), m).toEqual(['app.acct']);
    }
    const indexes = await db.query(`SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid IN ('rep.acct'::regclass, 'rep.acct_buckets'::regclass) ORDER BY 1`);
    expect(indexes.rows.map((r: { i: string }) => r.i)).toEqual(['rep.acct_buckets_bucket_idx', 'rep.acct_pkey']);
    expect((await db.query(`SELECT sum(n)::int AS n FROM rep.acct`)).rows[0].n).toBe(ROWS);
  });

  it('a revert rebuilds and re-binds them on the old table again', async () => {
    await db.query(`DROP SCHEMA IF EXISTS rep CASCADE; DROP SCHEMA app CASCADE; ${SETUP} ${ELSEWHERE}`);
    const report = await onlineAlter(
      alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE app.acct ADD COLUMN extra int DEFAULT 7; ALTER TABLE app.acct RENAME COLUMN note TO label', execute: true, revertWindowMs: 3_600_000 }),
    );
    expect(report.status).toBe('done');
    await db.query(`UPDATE app.acct SET v = 1000 WHERE id <= 10; REFRESH MATERIALIZED VIEW app.acct_copy`);
    expect((await db.query(`SELECT pg_get_viewdef('app.acct_copy'::regclass) AS d`)).rows[0].d).toMatch(/label AS note/);

    const r = await revertMigration({ url: db.url, retry: DEFAULT_RETRY, deadlineMs: 10_000 }, String(report.migrationId));
    expect(r.migrationId).toBe(report.migrationId);
    const columns = await db.query(`SELECT string_agg(attname, ', ' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = 'app.acct'::regclass AND attnum > 0 AND NOT attisdropped`);
    expect(columns.rows[0].c).toBe('id, u, v, note');
    expect(await readsFrom(db, 'relation', 'app.acct_copy')).toEqual(['app.acct']);
    expect(await readsFrom(db, 'routine', 'app.acct_count()')).toEqual(['app.acct']);
    expect((await db.query(`SELECT pg_get_viewdef('app.acct_copy'::regclass) AS d`)).rows[0].d).not.toMatch(/label/);
    // Rebuilt on the old table as of the revert: the write made since the swap is in it.
    expect((await db.query(`SELECT count(*)::int AS n FROM app.acct_copy WHERE v = 1000`)).rows[0].n).toBe(10);
    expect((await db.query(`SELECT count(*)::int AS n FROM app.all_acct()`)).rows[0].n).toBe(ROWS);
    expect((await db.query(`SELECT row FROM app.acct_rows WHERE id = 1`)).rows[0].row).toBe('(1,1,1000,"row 1")');
    // Nothing binds the kept new table any more: cleanup could drop it.
    const bound = await db.query(
      `SELECT count(*)::int AS n FROM pg_depend d JOIN pg_class c ON c.oid = d.refobjid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = 'acct' AND d.deptype = 'n' AND d.classid <> 'pg_class'::regclass`,
      [`pgshift_${report.migrationId}`],
    );
    expect(bound.rows[0].n).toBe(0);
    // The matviews of the other schema went through their home both ways, and cleanup removes every schema of the migration.
    expect(await readsFrom(db, 'relation', 'rep.acct')).toEqual(['app.acct']);
    expect((await db.query(`SELECT sum(n)::int AS n FROM rep.acct`)).rows[0].n).toBe(ROWS);
    expect((await db.query(`SELECT to_regclass('rep.acct_pkey') IS NOT NULL AS i`)).rows[0].i).toBe(true);
    const cleaned = await runCli(['cleanup', String(report.migrationId), '--url', db.url]);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect(await migrationSchemas(db)).toEqual([]);
  });
});
