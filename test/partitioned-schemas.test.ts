import { describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions } from '../src/index.js';
import { startWorkload } from '../src/demo/workload.js';
import type { TestDatabase } from './support/test-db.js';
import { runCli } from './support/cli.js';
import { partitionedDatabasePerTest } from './support/partitioned.js';
import { mirrorDifferences } from './support/mirror.js';

/**
 * A partitioned table whose partitions live in other schemas than the table's (issue 15): each
 * user schema's partitions go through a migration schema of their own (plan/partition-homes.ts),
 * and end where they were. app.acct has partitions in app, arch and hot, and two named acct_p1
 * (app.acct_p1, arch.acct_p1). The mirrored workload writes meanwhile, rows moving between
 * partitions of different schemas; a revert window puts the old partitions back in their
 * schemas; a kill -9 is resumed or aborted, and nothing is left behind.
 */
const ROWS = 30_000;
const CHANGE = 'ALTER TABLE app.acct ALTER COLUMN v TYPE bigint, ADD COLUMN extra int DEFAULT 7';

/** [schema.partition, type of v] of every partition of app.acct. */
async function tree(db: TestDatabase): Promise<string[]> {
  const r = await db.query(
    `SELECT n.nspname || '.' || c.relname || ':' || format_type(a.atttypid, a.atttypmod) AS p FROM pg_partition_tree('app.acct') t
       JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'v'
      WHERE t.level > 0 ORDER BY 1`,
  );
  return r.rows.map((row) => row.p);
}

async function pgshiftSchemas(db: TestDatabase): Promise<string[]> {
  return (await db.query(`SELECT nspname::text AS n FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%' ORDER BY 1`)).rows.map((r) => r.n);
}

/** Triggers pgshift put on any partition or on the table. */
async function pgshiftTriggers(db: TestDatabase): Promise<number> {
  return (await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid IN (SELECT relid FROM pg_partition_tree('app.acct')) AND tgname LIKE 'pgshift%'`)).rows[0].n;
}

const PARTITIONS = (type: string): string[] =>
  ['app.acct_new', 'app.acct_p0', 'app.acct_p1', 'app.acct_p4', 'arch.acct_p1', 'hot.acct_p2'].map((p) => `${p}:${type}`);

describe('a partitioned table with partitions in other schemas than its own', () => {
  const partitioned = partitionedDatabasePerTest('part_schemas', ROWS, 6);

  /** A database each (the workload numbers the rows it inserts from the same start). */
  async function setUp(): Promise<TestDatabase> {
    const db = await partitioned();
    // acct_p1 to arch, acct_p2 to hot, and acct_p3 takes the name acct_p1 in app.
    await db.query(`CREATE SCHEMA arch; CREATE SCHEMA hot;
      ALTER TABLE app.acct_p1 SET SCHEMA arch; ALTER TABLE app.acct_p2 SET SCHEMA hot; ALTER TABLE app.acct_p3 RENAME TO acct_p1;
      CREATE INDEX acct_p1_note ON arch.acct_p1 (note); CREATE INDEX acct_p1_note ON app.acct_p1 (note);
      COMMENT ON TABLE arch.acct_p1 IS 'archived'; ALTER TABLE hot.acct_p2 SET (fillfactor = 80);`);
    return db;
  }

  it('--revert-window under the mirrored workload: the new tree in place in every schema, then the old one back in its schemas, then cleanup leaves nothing', async () => {
    const db = await setUp();
    const workload = await startWorkload({ url: db.url, schema: 'app', table: 'acct', mirror: 'acct_mirror', workers: 3, initialRows: ROWS, ratePerSecond: 300 });
    let report;
    let reverted;
    let swapped: string[] = [];
    let kept: string[] = [];
    let id = 0;
    try {
      await new Promise((r) => setTimeout(r, 300));
      report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: CHANGE, execute: true, chunkTimeMs: 20, revertWindowMs: 3_600_000 }));
      id = report.migrationId!;
      swapped = await tree(db);
      // The old partitions wait in the migration schemas of their schemas: app's in pgshift_<id>, arch's and hot's in _1 and _2.
      kept = (await db.query(
        `SELECT n.nspname || '.' || c.relname AS p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE $1 AND c.relispartition AND c.relkind = 'r' ORDER BY 1`,
        [`pgshift\\_${id}%`],
      )).rows.map((r) => r.p);
      const logged = async (): Promise<number> => (await db.query(`SELECT count(*)::int AS n FROM "pgshift_${id}_log".reverse_changelog`)).rows[0].n;
      for (let i = 0; i < 100 && (await logged()) < 30; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await mirrorDifferences(db)).toEqual([]);
      reverted = await runCli(['revert', String(id), '--url', db.url]);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
      expect(stats.failures).toBe(0);
    }
    expect(report.status).toBe('done');
    expect(swapped).toEqual(PARTITIONS('bigint'));
    expect(kept).toEqual([
      `pgshift_${id}.acct_new`, `pgshift_${id}.acct_p0`, `pgshift_${id}.acct_p1`, `pgshift_${id}.acct_p4`, `pgshift_${id}_1.acct_p1`, `pgshift_${id}_2.acct_p2`,
    ]);
    expect(reverted.status, reverted.stderr).toBe(0);
    expect(await mirrorDifferences(db)).toEqual([]);
    expect(await tree(db)).toEqual(PARTITIONS('integer'));
    // The old partitions' own index, comment and options, at home again.
    expect((await db.query(`SELECT pg_get_indexdef('arch.acct_p1_note'::regclass) AS d`)).rows[0].d).toBe('CREATE INDEX acct_p1_note ON arch.acct_p1 USING btree (note)');
    expect((await db.query(`SELECT obj_description('arch.acct_p1'::regclass, 'pg_class') AS c, (SELECT reloptions FROM pg_class WHERE oid = 'hot.acct_p2'::regclass) AS o`)).rows[0])
      .toEqual({ c: 'archived', o: ['fillfactor=80'] });
    expect(await pgshiftTriggers(db)).toBe(0);
    const cleaned = await runCli(['cleanup', String(id), '--url', db.url]);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect(await pgshiftSchemas(db)).toEqual([]);
  });

  // mid-index: the resume finds built the partitions' own indexes in their own migration schemas
  // (two named acct_p1_note); after-cutover: it drops the old tree and every migration schema.
  it.each([
    ['mid-copy', 'resume'],
    ['mid-index', 'resume'],
    ['after-cutover', 'resume'],
    ['in-cutover', 'abort'],
  ])('killed at %s, then %s: the tree finished (or as it was) in every schema, equal to its mirror, nothing left behind', async (failpoint, then) => {
    const db = await setUp();
    const workload = await startWorkload({ url: db.url, schema: 'app', table: 'acct', mirror: 'acct_mirror', workers: 2, initialRows: ROWS, ratePerSecond: 300 });
    try {
      const killed = await runCli(['alter', '--strategy', 'copy', CHANGE, '--execute', '--chunk-time', '20ms', '--drop-old', '--url', db.url], { PGSHIFT_FAILPOINT: failpoint });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = 'acct' AND outcome IS NULL`)).rows[0]?.id;
      expect(id, 'an unfinished migration is recorded').toBeGreaterThan(0);
      expect(await pgshiftSchemas(db)).toEqual([`pgshift_${id}`, `pgshift_${id}_1`, `pgshift_${id}_2`, `pgshift_${id}_log`]);
      expect(await tree(db)).toEqual(PARTITIONS(failpoint === 'after-cutover' ? 'bigint' : 'integer'));
      // A resume runs under the workload; an abort after it (once, on a loaded machine, a workload
      // transaction met a deadlock while the abort ran here; not reproduced in isolation).
      if (then === 'abort') expect((await workload.stop()).errors).toEqual([]);
      const next = await runCli(then === 'resume' ? ['resume', String(id), '--url', db.url, '--chunk-time', '20ms', '--drop-old'] : ['abort', String(id), '--url', db.url]);
      expect(next.status, next.stderr).toBe(0);
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(await mirrorDifferences(db)).toEqual([]);
    expect(await tree(db)).toEqual(PARTITIONS(then === 'resume' ? 'bigint' : 'integer'));
    expect(await pgshiftTriggers(db)).toBe(0);
    expect(await pgshiftSchemas(db)).toEqual([]);
    // The partitions' own indexes kept their names in each schema.
    expect((await db.query(`SELECT pg_get_indexdef('app.acct_p1_note'::regclass) AS a, pg_get_indexdef('arch.acct_p1_note'::regclass) AS b`)).rows[0]).toEqual({
      a: 'CREATE INDEX acct_p1_note ON app.acct_p1 USING btree (note)',
      b: 'CREATE INDEX acct_p1_note ON arch.acct_p1 USING btree (note)',
    });
  });

  // A partition's own foreign key on a retyped column is proven on the shadow's partition of its
  // name (README: Proof of new constraints), here in the migration schema of arch.
  it('the comprehensive validation and the proof of a partition\'s own foreign key read each partition where it is, in every schema', async () => {
    const db = await setUp();
    await db.query(`CREATE TABLE app.acct_ref (id int PRIMARY KEY); INSERT INTO app.acct_ref SELECT generate_series(0, 99);
      ALTER TABLE arch.acct_p1 ADD CONSTRAINT acct_p1_v_ref FOREIGN KEY (v) REFERENCES app.acct_ref (id);`);
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: CHANGE, execute: true, dropOld: true, validation: 'comprehensive' }));
    expect(report.status).toBe('done');
    expect(report.validation?.passed).toBe(true);
    expect(report.validation?.constraintChecks.map((k) => k.check)).toContain('FOREIGN KEY acct_p1_v_ref');
    expect((await db.query(`SELECT convalidated AS v FROM pg_constraint WHERE conname = 'acct_p1_v_ref' AND conrelid = 'arch.acct_p1'::regclass`)).rows).toEqual([{ v: true }]);
    await expect(db.query(`DELETE FROM app.acct_ref WHERE id = (SELECT v FROM arch.acct_p1 LIMIT 1)`)).rejects.toThrow(/violates foreign key constraint "acct_p1_v_ref"/);
    expect(await pgshiftSchemas(db)).toEqual([]);
    expect(await mirrorDifferences(db)).toEqual([]);
  });

  it('a leaf in another schema than its parent, changed alone: swapped in by DETACH/ATTACH in its own schema', async () => {
    const db = await setUp();
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE arch.acct_p1 SET (fillfactor = 70), ALTER COLUMN note SET STORAGE EXTERNAL', execute: true, dropOld: true }));
    expect(report.status).toBe('done');
    expect((await db.query(`SELECT relispartition AS p, reloptions, obj_description(oid, 'pg_class') AS c FROM pg_class WHERE oid = 'arch.acct_p1'::regclass`)).rows[0])
      .toEqual({ p: true, reloptions: ['fillfactor=70'], c: 'archived' });
    expect(await tree(db)).toEqual(PARTITIONS('integer'));
    expect(await mirrorDifferences(db)).toEqual([]);
    expect(await pgshiftSchemas(db)).toEqual([]);
  });
});
