import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILPOINTS } from '../src/failpoints.js';
import { startWorkload } from '../src/demo/workload.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { CLI, runCli } from './support/cli.js';

/**
 * kill -9 of the pgshift process at every failpoint (deterministic: PGSHIFT_FAILPOINT makes the
 * process SIGKILL itself there), under concurrent writes mirrored into a second table; then
 * `pgshift resume` must finish the migration with the table equal to the mirror.
 */
const ROWS = 40_000;


describe('kill -9 and resume', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('crash');
  });
  afterAll(async () => {
    await db.drop();
  });

  const WITHOUT_COPY = ['without-copy-unit', 'in-route'];
  it.each(FAILPOINTS.filter((f) => f !== 'in-revert' && !WITHOUT_COPY.includes(f)).map((f, i) => [f, i] as const))('killed at %s, resume finishes with the table equal to its mirror', async (failpoint, i) => {
    const t = `crash_${i}`;
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
      CREATE TABLE ${t}_mirror (id int, u int, v int, note text); CREATE INDEX ON ${t}_mirror (id);
      INSERT INTO ${t} SELECT g, g, g, 'n' || g FROM generate_series(1, ${ROWS}) g; INSERT INTO ${t}_mirror SELECT * FROM ${t};
      ANALYZE ${t};`);
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 300 });
    try {
      const alter = ['alter', '--strategy', 'copy', `ALTER TABLE ${t} ALTER COLUMN v TYPE bigint, ADD COLUMN flag boolean DEFAULT true`, '--execute', '--chunk-time', '20ms', '--drop-old', '--url', db.url];
      const killed = await runCli(alter, { PGSHIFT_FAILPOINT: failpoint });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = $1 AND outcome IS NULL`, [t])).rows[0]?.id;
      expect(id, 'an unfinished migration is recorded').toBeGreaterThan(0);
      const resumed = await runCli(['resume', String(id), '--url', db.url, '--chunk-time', '20ms', '--drop-old']);
      expect(resumed.status, resumed.stderr).toBe(0);
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    const diff = await db.query(`SELECT count(*)::int AS n FROM ((SELECT id, u, v, note FROM ${t} EXCEPT ALL SELECT * FROM ${t}_mirror)
      UNION ALL (SELECT * FROM ${t}_mirror EXCEPT ALL SELECT id, u, v, note FROM ${t})) d`);
    expect(diff.rows[0].n).toBe(0);
    const cols = await db.query(`SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, [t]);
    expect(cols.rows[0].c).toBe('id integer, u integer, v bigint, note text, flag boolean');
    expect((await db.query(`SELECT count(*)::int AS n FROM ${t} WHERE flag IS NOT TRUE`)).rows[0].n).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [t])).rows[0].n).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
    expect((await db.query(`SELECT count(*)::int AS n FROM pgshift.migrations WHERE table_name = $1 AND outcome IS NULL`, [t])).rows[0].n).toBe(0);
  });

  it.each(WITHOUT_COPY)('killed at %s in a change without a copy, resume finishes it: the catalog offline gives, the table equal to its mirror', async (failpoint) => {
    const t = `crash_${failpoint.replace(/-/g, '_')}`;
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
      CREATE TABLE ${t}_mirror (id int, u int, v int, note text); CREATE INDEX ON ${t}_mirror (id);
      INSERT INTO ${t} SELECT g, g, g, 'n' || g FROM generate_series(1, ${ROWS}) g; INSERT INTO ${t}_mirror SELECT * FROM ${t};`);
    const statements = `ALTER TABLE ${t} ADD COLUMN flag boolean DEFAULT true; CREATE INDEX ON ${t} (v); ALTER TABLE ${t} ADD CONSTRAINT ${t}_v_nonneg CHECK (v >= 0); ALTER TABLE ${t} ALTER COLUMN note SET NOT NULL`;
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 300 });
    try {
      const killed = await runCli(['alter', statements, '--execute', '--url', db.url], { PGSHIFT_FAILPOINT: failpoint });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = $1 AND outcome IS NULL`, [t])).rows[0]?.id;
      expect(id, 'an unfinished migration is recorded').toBeGreaterThan(0);
      const resumed = await runCli(['resume', String(id), '--url', db.url]);
      expect(resumed.status, resumed.stderr).toBe(0);
      expect((await db.query(`SELECT outcome, options->>'strategy' AS s FROM pgshift.migrations WHERE id = $1`, [id])).rows[0]).toEqual({ outcome: 'done', s: 'online' });
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    const diff = await db.query(`SELECT count(*)::int AS n FROM ((SELECT id, u, v, note FROM ${t} EXCEPT ALL SELECT * FROM ${t}_mirror)
      UNION ALL (SELECT * FROM ${t}_mirror EXCEPT ALL SELECT id, u, v, note FROM ${t})) d`);
    expect(diff.rows[0].n).toBe(0);
    const indexes = await db.query(`SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY 1`, [t]);
    expect(indexes.rows).toEqual([{ relname: `${t}_pkey`, indisvalid: true }, { relname: `${t}_u_key`, indisvalid: true }, { relname: `${t}_v_idx`, indisvalid: true }]);
    const cons = await db.query(`SELECT conname, convalidated FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'`, [t]);
    expect(cons.rows).toEqual([{ conname: `${t}_v_nonneg`, convalidated: true }]);
    expect((await db.query(`SELECT attnotnull FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'note'`, [t])).rows[0].attnotnull).toBe(true);
  });

  // A partitioned table: its shadow tree, per-partition truncate triggers and partition index
  // names must survive the kill; rows moving between partitions meanwhile must not be lost.
  it.each(['after-capture', 'mid-copy', 'mid-index', 'in-cutover', 'after-cutover'] as const)('a partitioned table killed at %s, resume finishes with the tree equal to its mirror', async (failpoint) => {
    const t = `crash_p_${failpoint.replace(/-/g, '_')}`;
    const half = ROWS / 2;
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, u int NOT NULL, v int NOT NULL, note text) PARTITION BY RANGE (id);
      CREATE TABLE ${t}_a PARTITION OF ${t} FOR VALUES FROM (MINVALUE) TO (${half + 1});
      CREATE TABLE ${t}_b PARTITION OF ${t} FOR VALUES FROM (${half + 1}) TO (${ROWS + 1});
      CREATE TABLE ${t}_new PARTITION OF ${t} DEFAULT;
      CREATE INDEX ${t}_v ON ${t} (v);
      ALTER INDEX ${t}_b_v_idx RENAME TO ${t}_b_by_v;
      CREATE TABLE ${t}_mirror (id int, u int, v int, note text); CREATE INDEX ON ${t}_mirror (id);
      INSERT INTO ${t} SELECT g, g, g, 'n' || g FROM generate_series(1, ${ROWS}) g; INSERT INTO ${t}_mirror SELECT * FROM ${t};
      ANALYZE ${t};`);
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 300 });
    try {
      const alter = ['alter', '--strategy', 'copy', `ALTER TABLE ${t} ALTER COLUMN note TYPE varchar(40)`, '--execute', '--chunk-time', '20ms', '--drop-old', '--url', db.url];
      const killed = await runCli(alter, { PGSHIFT_FAILPOINT: failpoint });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = $1 AND outcome IS NULL`, [t])).rows[0]?.id;
      expect(id, 'an unfinished migration is recorded').toBeGreaterThan(0);
      const resumed = await runCli(['resume', String(id), '--url', db.url, '--chunk-time', '20ms', '--drop-old']);
      expect(resumed.status, resumed.stderr).toBe(0);
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    const diff = await db.query(`SELECT count(*)::int AS n FROM ((SELECT id, u, v, note FROM ${t} EXCEPT ALL SELECT * FROM ${t}_mirror)
      UNION ALL (SELECT * FROM ${t}_mirror EXCEPT ALL SELECT id, u, v, note FROM ${t})) d`);
    expect(diff.rows[0].n).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${t}_new`)).rows[0].n, 'rows moved into the default partition').toBeGreaterThan(0);
    const tree = await db.query(`SELECT c.relname, format_type(a.atttypid, a.atttypmod) AS note FROM pg_partition_tree($1::regclass) p JOIN pg_class c ON c.oid = p.relid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'note' ORDER BY 1`, [t]);
    expect(tree.rows).toEqual([t, `${t}_a`, `${t}_b`, `${t}_new`].map((relname) => ({ relname, note: 'character varying(40)' })));
    const indexes = await db.query(`SELECT c.relname FROM pg_partition_tree($1::regclass) p JOIN pg_class c ON c.oid = p.relid ORDER BY 1`, [`${t}_v`]);
    expect(indexes.rows.map((r) => r.relname)).toEqual([`${t}_a_v_idx`, `${t}_b_by_v`, `${t}_new_v_idx`, `${t}_v`]);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid IN (SELECT relid FROM pg_partition_tree($1::regclass)) AND NOT tgisinternal`, [t])).rows[0].n).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it('running the same alter again takes the interrupted migration over', async () => {
    const t = 'crash_again';
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, v int NOT NULL); INSERT INTO ${t} SELECT g, g FROM generate_series(1, ${ROWS}) g;`);
    const alter = ['alter', '--strategy', 'copy', `ALTER TABLE ${t} ALTER COLUMN v TYPE bigint`, '--execute', '--chunk-time', '20ms', '--url', db.url];
    const killed = await runCli(alter, { PGSHIFT_FAILPOINT: 'mid-copy' });
    expect(killed.signal).toBe('SIGKILL');
    const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = $1 AND outcome IS NULL`, [t])).rows[0].id;
    const again = await runCli(alter);
    expect(again.status, again.stderr).toBe(0);
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].outcome).toBe('done');
    expect((await db.query(`SELECT count(*)::int AS n FROM pgshift.migrations WHERE table_name = $1`, [t])).rows[0].n).toBe(1);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${t} WHERE v <> id`)).rows[0].n).toBe(0);
  });

  it('refuses to resume a migration that ended, or that does not exist', () => {
    const r = spawnSync(process.execPath, [CLI, 'resume', '999999', '--url', db.url], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no migration 999999/);
  });
});
