import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { runCli } from './support/cli.js';
import { migrateUnderLoad, partitionedDatabase, referencingWriter } from './support/partitioned.js';

/**
 * No lost writes on a partitioned table (DESIGN.md section 5, issue 15): the mirrored workload
 * writes while the whole partition tree is copied and swapped, with key updates that move rows
 * from one partition to another. The long version (1,000,000 rows) is test/partitioned/long.
 */
const ROWS = 20_000;

describe('concurrent writes on a partitioned table', () => {
  let db: TestDatabase;
  let appUrl: string;
  partitionedDatabase('part', ROWS, (d, u) => {
    db = d;
    appUrl = u;
  });

  it('loses no write across 12 partitions, rows moving between partitions included', async () => {
    const run = await migrateUnderLoad(db, appUrl, ROWS);
    expect(run.status).toBe('done');
    expect(run.stats.errors).toEqual([]);
    expect(run.stats.failures).toBe(0);
    expect(run.during).toBeGreaterThan(50);
    expect(run.movedRows, 'rows inserted or moved into the last partition').toBeGreaterThan(0);
    expect(run.differences).toEqual([]);
    // Validated through the partitioned table's xmin: the rows written meanwhile, looked up one by one.
    expect(run.rowsLookedUp?.origin).toBeGreaterThan(0);
    // Copied partition by partition: one lane per leaf, each read from the partition itself.
    expect(run.lanes).toEqual({ n: 12, done: 12, sources: expect.arrayContaining(['"app"."acct_p0"']) });
    const tree = await db.query(`SELECT count(*)::int AS n FROM pg_partition_tree('app.acct') WHERE level = 1`);
    expect(tree.rows[0].n).toBe(12);
    const types = await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'app.acct_p3'::regclass AND attname = 'v'`);
    expect(types.rows[0].t).toBe('bigint');
    const leftovers = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`);
    expect(leftovers.rows).toEqual([]);
  });
});

describe('concurrent writes on a partitioned table and on a table whose foreign key references one partition itself', () => {
  let db: TestDatabase;
  let appUrl: string;
  // A database of its own: the workload numbers the rows it inserts from the same start.
  partitionedDatabase('part_fk', ROWS, (d, u) => {
    db = d;
    appUrl = u;
  });

  it('the referencing table written meanwhile: its foreign key re-pointed at the new partition in the cutover, NOT VALID, validated after; no write lost', async () => {
    // Rows that the workload moves out of the partition (key updates) or deletes take theirs along.
    await db.query(`CREATE TABLE app.acct_ref (id bigserial PRIMARY KEY, acct_id int NOT NULL,
        CONSTRAINT acct_ref_p3 FOREIGN KEY (acct_id) REFERENCES app.acct_p3 (id) ON DELETE CASCADE ON UPDATE CASCADE);
      INSERT INTO app.acct_ref (acct_id) SELECT id FROM app.acct_p3 WHERE id % 3 = 0`);
    const def = (await db.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'acct_ref_p3'`)).rows[0].def;
    const oldPartition = (await db.query(`SELECT 'app.acct_p3'::regclass::oid::int8::text AS oid`)).rows[0].oid;
    const change = 'ALTER TABLE app.acct ALTER COLUMN v TYPE bigint, ADD COLUMN extra int DEFAULT 7';
    const plan = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: change }));
    expect(plan.plan.join('\n')).toMatch(/re-pointed at the swap: fk-in app\.acct_ref \(acct_ref_p3\)/);
    // The runbook's cutover locks the referencing table with the tree, and re-points the key.
    const runbook = await runCli(['plan', change, '--strategy', 'copy', '--url', db.url]);
    expect(runbook.status, runbook.stderr).toBe(0);
    expect(runbook.stdout).toMatch(/LOCK TABLE "app"\."acct", [^\n]*"app"\."acct_ref"[^\n]* IN ACCESS EXCLUSIVE MODE/);
    expect(runbook.stdout).toMatch(/ALTER TABLE "app"\."acct_ref" DROP CONSTRAINT "acct_ref_p3"\n\s*ALTER TABLE "app"\."acct_ref" ADD CONSTRAINT "acct_ref_p3" FOREIGN KEY \(acct_id\) REFERENCES app\.acct_p3\(id\) [^\n]*NOT VALID/);
    expect(runbook.stdout).toMatch(/ALTER TABLE "app"\."acct_ref" VALIDATE CONSTRAINT "acct_ref_p3"/);
    expect(runbook.stdout).toMatch(/^ {2}foreign keys in: app\.acct_ref\.acct_ref_p3$/m);
    const [lo, hi] = (await db.query(`SELECT min(id)::int AS lo, max(id)::int AS hi FROM app.acct_p3`)).rows.map((r) => [r.lo, r.hi])[0]!;
    const writer = referencingWriter(db.url, { table: 'app.acct_ref', source: 'app.acct_p3', lo, hi });
    let run;
    let errors: string[] = [];
    const before = writer.inserted();
    try {
      run = await migrateUnderLoad(db, appUrl, ROWS);
    } finally {
      errors = await writer.stop();
    }
    expect(errors).toEqual([]);
    expect(run.status).toBe('done');
    expect(run.stats.errors).toEqual([]);
    expect(run.stats.failures).toBe(0);
    expect(run.differences).toEqual([]);
    expect(writer.inserted() - before, 'rows the referencing table got during the migration').toBeGreaterThan(20);
    const fk = await db.query(`SELECT confrelid::int8::text AS ref, confrelid = 'app.acct_p3'::regclass AS new_partition, convalidated, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE conname = 'acct_ref_p3'`);
    expect(fk.rows).toEqual([{ ref: expect.not.stringMatching(`^${oldPartition}$`), new_partition: true, convalidated: true, def }]);
    expect((await db.query(`SELECT count(*)::int AS n FROM app.acct_ref r WHERE NOT EXISTS (SELECT FROM app.acct_p3 a WHERE a.id = r.acct_id)`)).rows[0].n).toBe(0);
    expect(((await db.query(`INSERT INTO app.acct_ref (acct_id) VALUES (-424242)`).catch((e: unknown) => e)) as { code?: string }).code).toBe('23503');
  });
});

// Attach/detach, revert and validation of a tree: one database, a table per test.
describe('a partitioned table changed meanwhile, reverted, validated', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('part_more');
  });
  afterAll(async () => {
    await db.drop();
  });

  it.each([
    ['attached', (t: string) => `CREATE TABLE ${t}_late PARTITION OF ${t} FOR VALUES FROM (5001) TO (6001)`],
    ['detached', (t: string) => `ALTER TABLE ${t} DETACH PARTITION ${t}_b`],
  ])('a partition %s meanwhile stops the migration before the swap, exit 1, the tree untouched and nothing left behind', async (what, ddl) => {
    const t = `tree_${what}`;
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, v int) PARTITION BY RANGE (id);
      CREATE TABLE ${t}_a PARTITION OF ${t} FOR VALUES FROM (1) TO (2501);
      CREATE TABLE ${t}_b PARTITION OF ${t} FOR VALUES FROM (2501) TO (5001);
      INSERT INTO ${t} SELECT g, g FROM generate_series(1, 5000) g;`);
    let done = false;
    const err: unknown = await onlineAlter(
      alterOptions({
        strategy: 'copy', url: db.url, statements: `ALTER TABLE ${t} ALTER COLUMN v TYPE bigint`, execute: true,
        onPhase: async (phase) => {
          if (phase !== 'catch-up' || done) return;
          done = true;
          await db.query(ddl(t));
        },
      }),
    ).then(() => null, (e: unknown) => e);
    expect(done).toBe(true);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
    expect(String((err as Error).message)).toMatch(/partitions of the table, or the table as a partition, were attached, detached or renamed during the migration .*nothing was swapped/);
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'v'`, [t])).rows[0].t).toBe('integer');
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relname LIKE $1 AND NOT t.tgisinternal`, [`${t}%`])).rows[0].n).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n).toBe(what === 'attached' ? 5000 : 2500);
  });


  it('swaps the old tree back with the writes made to the new one, rows moved between partitions included, a partition\'s own foreign key and index with it, another table\'s foreign key into a partition re-pointed there and back', async () => {
    await db.query(`CREATE TABLE rv_ref (id int PRIMARY KEY);
      INSERT INTO rv_ref SELECT generate_series(1, 10);
      CREATE TABLE rv (id int PRIMARY KEY, v int, note text, ref int) PARTITION BY RANGE (id);
      CREATE TABLE rv_a PARTITION OF rv FOR VALUES FROM (1) TO (1001);
      CREATE TABLE rv_b PARTITION OF rv FOR VALUES FROM (1001) TO (2001);
      CREATE TABLE rv_rest PARTITION OF rv DEFAULT;
      CREATE INDEX rv_v ON rv (v);
      INSERT INTO rv SELECT g, g, 'n' || g, g % 10 + 1 FROM generate_series(1, 2000) g;
      CREATE INDEX rv_a_note ON rv_a (note);
      ALTER TABLE rv_a ADD CONSTRAINT rv_a_ref_fkey FOREIGN KEY (ref) REFERENCES rv_ref;
      CREATE TABLE rv_log (id int);
      CREATE FUNCTION rv_log_row() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO rv_log VALUES (NEW.id); RETURN NULL; END$$;
      CREATE TRIGGER rv_a_log AFTER INSERT OR UPDATE ON rv_a FOR EACH ROW EXECUTE FUNCTION rv_log_row();
      CREATE STATISTICS rv_b_stats (ndistinct) ON v, note FROM rv_b;
      CREATE STATISTICS rv_stats (ndistinct) ON v, note FROM rv;
      CREATE PUBLICATION rv_pub FOR TABLE rv_b;
      CREATE TABLE rv_in (id int PRIMARY KEY, rv_id int REFERENCES rv_b (id));
      INSERT INTO rv_in SELECT g, g FROM generate_series(1001, 2000, 10) g;`);
    // Another table's foreign key into one partition itself: re-pointed at the new partition, and back.
    const into = `SELECT confrelid::int8::text AS ref, convalidated AS valid FROM pg_constraint WHERE conname = 'rv_in_rv_id_fkey'`;
    const partitionOid = `SELECT 'public.rv_b'::regclass::oid::int8::text AS ref, true AS valid`;
    const oldB = (await db.query(partitionOid)).rows;
    expect((await db.query(into)).rows).toEqual(oldB);
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE rv ALTER COLUMN v TYPE bigint', execute: true, revertWindowMs: 3_600_000 }));
    expect(report.status).toBe('done');
    expect((await db.query(into)).rows).toEqual((await db.query(partitionOid)).rows);
    expect((await db.query(into)).rows).not.toEqual(oldB);
    // The new partition has the foreign key (valid, enforced), the kept old one no longer holds rv_ref.
    const fks = `SELECT n.nspname = 'public' AS home, con.convalidated AS valid FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE con.conname = 'rv_a_ref_fkey'`;
    expect((await db.query(fks)).rows).toEqual([{ home: true, valid: true }]);
    await expect(db.query(`DELETE FROM rv_ref WHERE id = 10`)).rejects.toThrow(/violates foreign key constraint "rv_a_ref_fkey"/);
    expect((await db.query(`SELECT pg_get_indexdef('public.rv_a_note'::regclass) AS d`)).rows[0].d).toBe('CREATE INDEX rv_a_note ON public.rv_a USING btree (note)');
    expect((await db.query(`SELECT stxrelid = 'public.rv_b'::regclass AS home FROM pg_statistic_ext WHERE stxname = 'rv_b_stats' AND stxnamespace = 'public'::regnamespace`)).rows).toEqual([{ home: true }]);
    await db.query(`UPDATE rv SET id = id + 5000 WHERE id <= 10; UPDATE rv SET v = -v WHERE id BETWEEN 1500 AND 1510; DELETE FROM rv WHERE id = 20; INSERT INTO rv VALUES (9999, 1, 'late'); UPDATE rv SET v = v + 1 WHERE id = 30`);
    const before = (await db.query(`SELECT string_agg(concat_ws(':', id, v, note), ',' ORDER BY id) AS s FROM rv`)).rows[0].s;
    // The writes fired the new partition's own trigger once each; the revert's replay into the old
    // partition must not fire its copy of it again.
    const logged = (await db.query(`SELECT count(*)::int AS n FROM rv_log`)).rows[0].n;
    expect(logged).toBeGreaterThan(0);
    const r = await runCli(['revert', String(report.migrationId), '--url', db.url]);
    expect(r.status, r.stderr).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM rv_log`)).rows[0].n).toBe(logged);
    expect((await db.query(`SELECT tgenabled::text AS e FROM pg_trigger WHERE tgname = 'rv_a_log' AND tgrelid = 'public.rv_a'::regclass`)).rows).toEqual([{ e: 'O' }]);
    // The partition's statistics object and publication membership are the old partition's again.
    expect((await db.query(`SELECT stxrelid = 'public.rv_b'::regclass AS home FROM pg_statistic_ext WHERE stxname = 'rv_b_stats' AND stxnamespace = 'public'::regnamespace`)).rows).toEqual([{ home: true }]);
    expect((await db.query(`SELECT stxrelid = 'public.rv'::regclass AS home FROM pg_statistic_ext WHERE stxname = 'rv_stats' AND stxnamespace = 'public'::regnamespace`)).rows).toEqual([{ home: true }]);
    expect((await db.query(`SELECT prrelid = 'public.rv_b'::regclass AS home FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid WHERE p.pubname = 'rv_pub'`)).rows).toEqual([{ home: true }]);
    expect((await db.query(`SELECT string_agg(concat_ws(':', id, v, note), ',' ORDER BY id) AS s FROM rv`)).rows[0].s).toBe(before);
    const tree = await db.query(`SELECT c.relname, format_type(a.atttypid, a.atttypmod) AS v FROM pg_partition_tree('rv') p JOIN pg_class c ON c.oid = p.relid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'v' ORDER BY 1`);
    expect(tree.rows).toEqual(['rv', 'rv_a', 'rv_b', 'rv_rest'].map((relname) => ({ relname, v: 'integer' })));
    expect((await db.query(`SELECT count(*)::int AS n FROM rv_rest`)).rows[0].n).toBe(11);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid IN (SELECT relid FROM pg_partition_tree('rv')) AND tgname LIKE 'pgshift%'`)).rows[0].n).toBe(0);
    expect((await db.query(fks)).rows).toEqual([{ home: true, valid: true }]);
    await expect(db.query(`DELETE FROM rv_ref WHERE id = 10`)).rejects.toThrow(/violates foreign key constraint "rv_a_ref_fkey"/);
    expect((await db.query(`SELECT pg_get_indexdef('public.rv_a_note'::regclass) AS d`)).rows[0].d).toBe('CREATE INDEX rv_a_note ON public.rv_a USING btree (note)');
    expect((await db.query(into)).rows).toEqual(oldB);
    await expect(db.query(`DELETE FROM rv WHERE id = 1011`)).rejects.toThrow(/violates foreign key constraint "rv_in_rv_id_fkey"/);
  });

  it('a partition of the new table truncated during the revert window: the revert refuses, as for the table, and swaps nothing back', async () => {
    await db.query(`CREATE TABLE rt (id int PRIMARY KEY, v int) PARTITION BY RANGE (id);
      CREATE TABLE rt_a PARTITION OF rt FOR VALUES FROM (1) TO (1001);
      CREATE TABLE rt_b PARTITION OF rt FOR VALUES FROM (1001) TO (2001);
      INSERT INTO rt SELECT g, g FROM generate_series(1, 2000) g;`);
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE rt ALTER COLUMN v TYPE bigint', execute: true, revertWindowMs: 3_600_000 }));
    expect(report.status).toBe('done');
    await db.query(`TRUNCATE rt_b`);
    const r = await runCli(['revert', String(report.migrationId), '--url', db.url]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/the new table was truncated during the revert window; reverting would not bring those rows back/);
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'rt_a'::regclass AND attname = 'v'`)).rows[0].t).toBe('bigint');
    expect((await db.query(`SELECT count(*)::int AS n FROM rt`)).rows[0].n).toBe(1000);
    const c = await runCli(['cleanup', String(report.migrationId), '--url', db.url]);
    expect(c.status, c.stderr).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid IN (SELECT relid FROM pg_partition_tree('rt')) AND tgname LIKE 'pgshift%'`)).rows[0].n).toBe(0);
  });


  it('a tree with a foreign partition: the copy refuses it with PostgreSQL\'s reason (no unique index can span it), a change needing no copy runs as offline', async () => {
    // A wrapper without handlers: its table takes DDL and is never read here.
    await db.query(`CREATE FOREIGN DATA WRAPPER ft_none; CREATE SERVER ft_srv FOREIGN DATA WRAPPER ft_none;
      CREATE TABLE ft (id int NOT NULL, v int) PARTITION BY RANGE (id);
      CREATE TABLE ft_a PARTITION OF ft FOR VALUES FROM (1) TO (1001);
      CREATE FOREIGN TABLE ft_b PARTITION OF ft FOR VALUES FROM (1001) TO (2001) SERVER ft_srv;
      INSERT INTO ft_a SELECT g, g FROM generate_series(1, 1000) g;`);
    await expect(db.query(`ALTER TABLE ft ADD PRIMARY KEY (id)`)).rejects.toThrow(/cannot create unique index on partitioned table "ft"/);
    const copy = await runCli(['alter', 'ALTER TABLE ft ALTER COLUMN v TYPE bigint', '--url', db.url, '--strategy', 'copy', '--execute']);
    expect(copy.status, copy.stderr).toBe(2);
    expect(copy.stderr.trim().split('\n')).toHaveLength(1);
    expect(copy.stderr).toMatch(/refused: public\.ft has foreign table public\.ft_b as a partition, and PostgreSQL allows no unique index on a partitioned table with a foreign partition, so it has no row identity; .*; run the ALTER offline/);
    const typeOf = `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'ft_a'::regclass AND attname = 'v'`;
    expect((await db.query(typeOf)).rows[0].t).toBe('integer');
    const direct = await runCli(['alter', 'ALTER TABLE ft ADD COLUMN note text', '--url', db.url, '--execute']);
    expect(direct.status, direct.stderr).toBe(0);
    const cols = await db.query(`SELECT attrelid::regclass::text AS rel FROM pg_attribute WHERE attname = 'note' AND attrelid IN ('ft'::regclass, 'ft_a'::regclass, 'ft_b'::regclass) ORDER BY 1`);
    expect(cols.rows.map((r) => r.rel)).toEqual(['ft', 'ft_a', 'ft_b']);
  });


  it('fingerprints each partition and finds a row corrupted in one shadow partition, before the cutover', async () => {
    await db.query(`CREATE TABLE pv (id int PRIMARY KEY, v int NOT NULL) PARTITION BY HASH (id);
      CREATE TABLE pv_0 PARTITION OF pv FOR VALUES WITH (MODULUS 2, REMAINDER 0);
      CREATE TABLE pv_1 PARTITION OF pv FOR VALUES WITH (MODULUS 2, REMAINDER 1);
      INSERT INTO pv SELECT g, g FROM generate_series(1, 20000) g;`);
    const err = await onlineAlter(
      alterOptions({
        strategy: 'copy', url: db.url, statements: 'ALTER TABLE pv ALTER COLUMN v TYPE bigint', execute: true, validation: 'comprehensive',
        // A shadow row changed behind the engine's back: no changelog entry will repair it.
        onPhase: async (phase, m) => {
          if (phase === 'checksum') await db.query(`UPDATE "${m.schema}"."${m.table}" SET v = -v WHERE id = 1234`);
        },
      }),
    ).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
    expect(String(err)).toMatch(/1234 different/);
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'pv_1'::regclass AND attname = 'v'`)).rows[0].t).toBe('integer');
    const left = await db.query(`SELECT n.nspname FROM pgshift.migrations m JOIN pg_namespace n ON n.nspname = m.artifact_schema WHERE m.table_name = 'pv'`);
    expect(left.rows).toEqual([]);
  });
});
