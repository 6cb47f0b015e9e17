// Tables without a primary key, keyed by a unique index over NOT NULL columns (issue 15): the
// catalog reading, no lost writes under live writes, the refusals (exit 2, nothing created), and
// the revert window and a resume on such a table. The differential cases are in
// differential-cases.ts ("no primary key, keyed by ...").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, onlineAlter } from '../src/index.js';
import { startWorkload } from '../src/demo/workload.js';
import { onFailpoint } from '../src/failpoints.js';
import { chooseRowIdentity, readUniqueIndexes, unusableBecause } from '../src/catalog/row-identity.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { diffSnapshots, snapshotCatalog } from './support/catalog-snapshot.js';
import { mirrorDifferences } from './support/mirror.js';
import { runCli } from './support/cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('row_identity');
});
afterAll(async () => {
  await db?.drop();
});

const indexesOf = async (table: string): Promise<string[]> =>
  (await db.query(`SELECT pg_get_indexdef(indexrelid) AS d FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1`, [table])).rows.map((r) => r.d);

/** The workload's table (id, u, v, note) and its mirror, in schema `schema`, keyed as `keyed` says. */
async function workloadTable(schema: string, rows: number, keyed: string): Promise<void> {
  await db.query(`
    CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.acct (id int NOT NULL, u int NOT NULL, v int NOT NULL, note text);
    ${keyed}
    CREATE TABLE ${schema}.acct_mirror (id int, u int, v int, note text);
    CREATE INDEX ON ${schema}.acct_mirror (id);
    INSERT INTO ${schema}.acct SELECT g, g, g % 100, 'row ' || g FROM generate_series(1, ${rows}) g;
    INSERT INTO ${schema}.acct_mirror SELECT * FROM ${schema}.acct;
    ANALYZE ${schema}.acct;`);
}

describe('reading the unique indexes', () => {
  it('the row identity is built first after the copy, before any other index (the replay needs it)', async () => {
    await db.query(`CREATE TABLE build_order (id int PRIMARY KEY, a int NOT NULL, b int);
      CREATE UNIQUE INDEX build_order_a_key ON build_order (a); CREATE INDEX build_order_b_idx ON build_order (b);
      INSERT INTO build_order SELECT g, g, g FROM generate_series(1, 1000) g;`);
    let order: { name: string; identity: boolean }[] = [];
    const report = await onlineAlter(alterOptions({
      strategy: 'copy', url: db.url, execute: true, dropOld: true, statements: 'ALTER TABLE build_order ALTER COLUMN b TYPE bigint',
      onPhase: async (phase, m) => {
        if (phase === 'copy') order = (await db.query(`SELECT resume_state->'indexes' AS i FROM pgshift.migrations WHERE id = $1`, [m.id])).rows[0].i;
      },
    }));
    expect(report.status).toBe('done');
    expect(order.map((i) => [i.name, Boolean(i.identity)])).toEqual([['build_order_pkey', true], ['build_order_a_key', false], ['build_order_b_idx', false]]);
  });

  it('tells each one that cannot be the row identity, and why', async () => {
    await db.query(`
      CREATE TABLE kinds (a int NOT NULL, b text NOT NULL, c int, d int NOT NULL, e int NOT NULL, f text COLLATE "C" NOT NULL, g int NOT NULL);
      INSERT INTO kinds VALUES (1, 'x', 1, 1, 1, 'f', 1), (2, 'y', 2, 2, 1, 'g', 2);
      CREATE UNIQUE INDEX kinds_c ON kinds (c);
      CREATE UNIQUE INDEX kinds_part ON kinds (a) WHERE a > 0;
      CREATE UNIQUE INDEX kinds_expr ON kinds ((a + 1));
      CREATE UNIQUE INDEX kinds_pattern ON kinds (b text_pattern_ops);
      CREATE UNIQUE INDEX kinds_coll ON kinds (f COLLATE "POSIX");
      ALTER TABLE kinds ADD CONSTRAINT kinds_d_key UNIQUE (d) DEFERRABLE;
      CREATE UNIQUE INDEX kinds_g_incl ON kinds (g) INCLUDE (c);`);
    // A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an invalid index behind.
    await db.query(`CREATE UNIQUE INDEX CONCURRENTLY kinds_e ON kinds (e)`).catch(() => undefined);
    const c = await db.pool.connect();
    try {
      const oid = (await c.query(`SELECT 'kinds'::regclass::oid::text AS oid`)).rows[0].oid;
      const indexes = await readUniqueIndexes(c, oid);
      expect(Object.fromEntries(indexes.map((i) => [i.name, unusableBecause(i)]))).toEqual({
        kinds_c: ['has nullable column c'],
        kinds_coll: ["compares f by another operator class or collation than the column's"],
        kinds_d_key: ['is deferrable'],
        kinds_e: ['is not valid'],
        kinds_expr: ['is on an expression'],
        kinds_g_incl: [],
        kinds_part: ['is partial'],
        kinds_pattern: ["compares b by another operator class or collation than the column's"],
      });
      // INCLUDE columns are not part of the key.
      expect(chooseRowIdentity(indexes)?.columns).toEqual([{ name: 'g', type: 'integer', collation: null, notNull: true, notNullConstraint: null, plain: true }]);
    } finally {
      c.release();
    }
  });
});

describe('no lost writes on a table keyed by a unique index', () => {
  const ROWS = 40_000;
  it.each([
    // id changes are non-key updates here; the swaps of u move the identity between rows.
    ['a UNIQUE constraint (u)', 'ident_con', 'ALTER TABLE ident_con.acct ADD CONSTRAINT acct_u_key UNIQUE (u); CREATE INDEX acct_id_idx ON ident_con.acct (id);', 'acct_u_key'],
    // Both kinds of key update change a part of a composite identity.
    ['a composite bare unique index (id, u)', 'ident_idx', 'CREATE UNIQUE INDEX acct_id_u_idx ON ident_idx.acct (id, u); CREATE INDEX acct_v_idx ON ident_idx.acct (v);', 'acct_id_u_idx'],
  ])('keyed by %s: inserts, updates, deletes, key updates and swaps during the copy; table = mirror', async (_what, schema, keyed, identity) => {
    await workloadTable(schema, ROWS, keyed);
    const before = await indexesOf(`${schema}.acct`);
    // The shadow has no index during the copy, the identity neither: it is built first after the copy, before any replay.
    let shadowIndexes: string[] = [];
    onFailpoint('mid-copy', async (c) => {
      shadowIndexes = (await c!.query(`SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname LIKE 'pgshift\\_%' AND i.indrelid = (SELECT oid FROM pg_class WHERE relname = 'acct' AND relnamespace = n.oid)`)).rows.map((r) => r.relname);
    });
    const workload = await startWorkload({ url: db.url, schema, table: 'acct', mirror: 'acct_mirror', workers: 3, initialRows: ROWS });
    try {
      await sleep(300);
      const started = workload.stats().transactions;
      const report = await onlineAlter(alterOptions({
        strategy: 'copy', url: db.url, execute: true, chunkTimeMs: 20, dropOld: true,
        statements: `ALTER TABLE ${schema}.acct ALTER COLUMN u TYPE bigint, ALTER COLUMN v TYPE bigint, ADD COLUMN extra int DEFAULT 7`,
      }));
      expect(report.status).toBe('done');
      expect(report.plan.join('\n')).toMatch(new RegExp(`key [a-z, ]+ by [a-z ]+ ${identity}: the table has no primary key`));
      expect(workload.stats().transactions - started, 'the workload ran during the migration').toBeGreaterThan(50);
      await sleep(300);
    } finally {
      onFailpoint('mid-copy', null);
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
      expect(stats.failures).toBe(0);
    }
    expect(shadowIndexes).toEqual([]);
    expect(await mirrorDifferences(db, `${schema}.acct`, `${schema}.acct_mirror`)).toEqual([]);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${schema}.acct WHERE extra IS DISTINCT FROM 7`)).rows[0].n).toBe(0);
    // The same indexes, by name, as before (the key's type changed underneath).
    expect(await indexesOf(`${schema}.acct`)).toEqual(before);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });
});

describe('refusals (exit 2, nothing created)', () => {
  beforeAll(async () => {
    await db.query(`
      CREATE SCHEMA refuse;
      CREATE TABLE refuse.nullable (id int UNIQUE, v int);
      CREATE TABLE refuse.partial (id int NOT NULL, v int);
      CREATE UNIQUE INDEX partial_id_idx ON refuse.partial (id) WHERE id > 0;
      CREATE TABLE refuse.nothing (id int, v int);
      CREATE TABLE refuse.keyed (id int NOT NULL CONSTRAINT keyed_id_key UNIQUE, w bigint NOT NULL, v int);
      CREATE UNIQUE INDEX keyed_w_v_idx ON refuse.keyed (w, v);
      CREATE TABLE refuse.indexed (id int NOT NULL, v int);
      CREATE UNIQUE INDEX indexed_id_idx ON refuse.indexed (id);
      INSERT INTO refuse.nullable SELECT g, g FROM generate_series(1, 100) g;
      INSERT INTO refuse.partial SELECT g, g FROM generate_series(1, 100) g;
      INSERT INTO refuse.nothing SELECT g, g FROM generate_series(1, 100) g;
      INSERT INTO refuse.keyed SELECT g, g, g FROM generate_series(1, 100) g;
      INSERT INTO refuse.indexed SELECT g, g FROM generate_series(1, 100) g;`);
  });

  const refused = async (statements: string, message: RegExp): Promise<void> => {
    const before = await snapshotCatalog(db.pool, ['refuse']);
    const err = await onlineAlter(alterOptions({ url: db.url, statements, execute: true, strategy: 'copy' })).then(() => null, (e: unknown) => e);
    expect(err, 'onlineAlter must refuse').not.toBeNull();
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(2);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toMatch(/\n/);
    expect(diffSnapshots(before, await snapshotCatalog(db.pool, ['refuse']))).toEqual([]);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  };

  it.each([
    ['only a nullable unique constraint', 'ALTER TABLE refuse.nullable ALTER COLUMN v TYPE bigint',
      /refused: refuse\.nullable has no primary key and no unique index over NOT NULL columns \(nullable_id_key has nullable column id\); .*fix: make nullable_id_key's columns NOT NULL and it becomes the row identity \(no copy needed\): pgshift alter 'ALTER TABLE "refuse"\."nullable" ALTER COLUMN "id" SET NOT NULL' --execute$/],
    ['only a partial unique index', 'ALTER TABLE refuse.partial ALTER COLUMN v TYPE bigint',
      /\(partial_id_idx is partial\); .*fix: add a primary key first \(no copy needed\): pgshift alter 'ALTER TABLE "refuse"\."partial" ADD PRIMARY KEY \(<columns>\)' --execute$/],
    ['no unique index at all', 'ALTER TABLE refuse.nothing ALTER COLUMN v TYPE bigint',
      /has no primary key and no unique index over NOT NULL columns; the online copy needs one .*fix: add a primary key first/],
  ])('a table with %s', async (_what, statements, message) => {
    await refused(statements, message);
  });

  it.each([
    ['DROP CONSTRAINT of the identity', 'ALTER TABLE refuse.keyed DROP CONSTRAINT keyed_id_key, ALTER COLUMN v TYPE bigint', /dropping unique constraint keyed_id_key \(the row identity of the online copy: the table has no primary key\) is not supported online/],
    ['DROP INDEX of the identity', 'ALTER TABLE refuse.indexed ALTER COLUMN v TYPE bigint; DROP INDEX refuse.indexed_id_idx', /dropping unique index indexed_id_idx \(the row identity/],
    ['DROP NOT NULL on an identity column', 'ALTER TABLE refuse.keyed ALTER COLUMN id DROP NOT NULL, ALTER COLUMN v TYPE bigint', /dropping NOT NULL on column "id" of unique constraint keyed_id_key/],
    ['dropping an identity column', 'ALTER TABLE refuse.indexed DROP COLUMN id, ALTER COLUMN v TYPE bigint', /column "id" is part of unique index indexed_id_idx/],
    ['a USING expression on an identity column', 'ALTER TABLE refuse.keyed ALTER COLUMN id TYPE bigint USING id * 2', /USING expression on column "id" of unique constraint keyed_id_key \(the row identity of the online copy: the table has no primary key\) may map two keys to one/],
  ])('an ALTER that changes the identity: %s', async (_what, statements, message) => {
    await refused(statements, message);
  });

  it('the CLI says it in one line on stderr, exit 2', async () => {
    const r = await runCli(['alter', 'ALTER TABLE refuse.nothing ALTER COLUMN v TYPE bigint', '--strategy', 'copy', '--execute', '--url', db.url]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/has no primary key and no unique index over NOT NULL columns; .*fix: add a primary key first/);
  });

  it('auto still runs what needs no copy on a table without any key', async () => {
    expect((await onlineAlter(alterOptions({ url: db.url, statements: 'ALTER TABLE refuse.nothing ADD COLUMN x int', execute: true }))).strategy).toBe('instant');
  });
});

describe('revert window and resume', () => {
  it('reverts under concurrent writes: every write comes back to the old table through the unique key', async () => {
    const ROWS = 20_000;
    await workloadTable('ident_rv', ROWS, 'ALTER TABLE ident_rv.acct ADD CONSTRAINT acct_u_key UNIQUE (u);');
    const workload = await startWorkload({ url: db.url, schema: 'ident_rv', table: 'acct', mirror: 'acct_mirror', workers: 2, initialRows: ROWS, ratePerSecond: 200 });
    try {
      const report = await onlineAlter(alterOptions({
        strategy: 'copy', url: db.url, execute: true, revertWindowMs: 3_600_000,
        statements: 'ALTER TABLE ident_rv.acct ALTER COLUMN u TYPE bigint, ADD COLUMN extra int DEFAULT 5',
      }));
      await sleep(1000); // the application writes to the new table; the reverse capture follows
      const r = await runCli(['revert', String(report.migrationId), '--url', db.url]);
      expect(r.status, r.stderr).toBe(0);
      await sleep(300);
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect((await db.query(`SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS c FROM pg_attribute
      WHERE attrelid = 'ident_rv.acct'::regclass AND attnum > 0 AND NOT attisdropped`)).rows[0].c).toBe('id integer, u integer, v integer, note text');
    expect(await mirrorDifferences(db, 'ident_rv.acct', 'ident_rv.acct_mirror')).toEqual([]);
    expect(await indexesOf('ident_rv.acct')).toEqual(['CREATE UNIQUE INDEX acct_u_key ON ident_rv.acct USING btree (u)']);
  });

  it('resumes after kill -9 mid-copy, with the same identity: table = mirror', async () => {
    const ROWS = 40_000;
    await workloadTable('ident_crash', ROWS, 'CREATE UNIQUE INDEX acct_id_u_idx ON ident_crash.acct (id, u);');
    const workload = await startWorkload({ url: db.url, schema: 'ident_crash', table: 'acct', mirror: 'acct_mirror', workers: 2, initialRows: ROWS, ratePerSecond: 300 });
    try {
      const alter = ['alter', '--strategy', 'copy', 'ALTER TABLE ident_crash.acct ALTER COLUMN v TYPE bigint, ADD COLUMN flag boolean DEFAULT true', '--execute', '--chunk-time', '20ms', '--drop-old', '--url', db.url];
      const killed = await runCli(alter, { PGSHIFT_FAILPOINT: 'mid-copy' });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const m = (await db.query(`SELECT id::int, resume_state->>'identity' AS identity FROM pgshift.migrations WHERE table_name = 'acct' AND table_schema = 'ident_crash' AND outcome IS NULL`)).rows[0];
      expect(m.identity).toBe('acct_id_u_idx');
      const resumed = await runCli(['resume', String(m.id), '--url', db.url, '--chunk-time', '20ms', '--drop-old']);
      expect(resumed.status, resumed.stderr).toBe(0);
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(await mirrorDifferences(db, 'ident_crash.acct', 'ident_crash.acct_mirror')).toEqual([]);
    expect((await db.query(`SELECT count(*)::int AS n FROM ident_crash.acct WHERE flag IS NOT TRUE`)).rows[0].n).toBe(0);
    expect(await indexesOf('ident_crash.acct')).toEqual(['CREATE UNIQUE INDEX acct_id_u_idx ON ident_crash.acct USING btree (id, u)']);
  });

  it('a resume refuses when the table has another row identity than its changelog was made for', async () => {
    await db.query(`CREATE TABLE moved (a int NOT NULL, b int NOT NULL, v int); CREATE UNIQUE INDEX moved_a_b_idx ON moved (a, b);
      INSERT INTO moved SELECT g, g, g FROM generate_series(1, 20000) g;`);
    const killed = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE moved ALTER COLUMN v TYPE bigint', '--execute', '--chunk-time', '20ms', '--url', db.url], { PGSHIFT_FAILPOINT: 'mid-copy' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = 'moved' AND outcome IS NULL`)).rows[0].id;
    // Someone adds a narrower unique index meanwhile: it would now be chosen.
    await db.query(`ALTER TABLE moved ADD CONSTRAINT moved_a_key UNIQUE (a)`);
    const resumed = await runCli(['resume', String(id), '--url', db.url]);
    expect(resumed.status, resumed.stderr).toBe(2);
    expect(resumed.stderr).toMatch(new RegExp(`migration ${id} cannot continue: its changelog is keyed by index moved_a_b_idx, but the table's row identity is now moved_a_key .*pgshift abort ${id}`));
    const aborted = await runCli(['abort', String(id), '--url', db.url]);
    expect(aborted.status, aborted.stderr).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'moved'::regclass AND NOT tgisinternal`)).rows[0].n).toBe(0);
  });
});
