// The differential oracle (DESIGN.md section 5): for each case, the same ALTER is run offline
// (plain SQL) on database A and online (pgshift, --execute) on an identical database B; the two
// catalogs must then be indistinguishable and every table must hold the same rows.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, onlineAlter } from '../src/index.js';
import { diffSnapshots, snapshotCatalog, type CatalogSnapshot } from './support/catalog-snapshot.js';
import { tableDigest } from './support/table-digest.js';
import { adminUrl, cloneDatabase, createTestDatabase, type TestDatabase } from './support/test-db.js';
import { CASES, type DiffCase } from './differential-cases.js';

// Roles are cluster-wide and test files run in parallel: a unique name, dropped at the end.
const role = `pgshift_diff_${randomBytes(4).toString('hex')}`;
const quotedRole = pg.escapeIdentifier(role);

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  await admin(`CREATE ROLE ${quotedRole} NOLOGIN`);
});

afterAll(async () => {
  // Every database a case made is dropped by the case itself; the role holds nothing any more.
  await admin(`DROP ROLE IF EXISTS ${quotedRole}`);
});

/** Every database made through here is dropped at the end of its case, pass or fail. */
async function withDatabases<T>(fn: (track: (db: TestDatabase) => TestDatabase) => Promise<T>): Promise<T> {
  const dbs: TestDatabase[] = [];
  try {
    return await fn((db) => {
      dbs.push(db);
      return db;
    });
  } finally {
    for (const db of dbs) await db.drop();
  }
}

interface UserTable {
  qualified: string;
  key: string[];
}

/** Ordinary tables and populated materialized views of the schemas, each with its primary key columns (or all columns). */
async function userTables(db: TestDatabase, schemas: string[]): Promise<UserTable[]> {
  const res = await db.query(
    `SELECT n.nspname || '.' || c.relname AS qualified,
            COALESCE(
              (SELECT array_agg(a.attname::text ORDER BY k.ord)
                 FROM pg_index i
                 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                WHERE i.indrelid = c.oid AND i.indisprimary),
              (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)) AS key
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated))
      ORDER BY 1`,
    [schemas],
  );
  return res.rows.map((r: { qualified: string; key: string[] }) => ({ qualified: r.qualified, key: r.key }));
}

function quoteQualified(qualified: string): string {
  return qualified.split('.').map((p) => pg.escapeIdentifier(p)).join('.');
}

async function distinctValues(db: TestDatabase, table: string, column: string): Promise<{ distinct: number; nulls: number }> {
  const col = pg.escapeIdentifier(column);
  const res = await db.query(
    `SELECT count(DISTINCT ${col})::int AS distinct, count(*) FILTER (WHERE ${col} IS NULL)::int AS nulls
       FROM ${quoteQualified(table)}`,
  );
  return res.rows[0] as { distinct: number; nulls: number };
}

async function serverMajor(db: TestDatabase): Promise<number> {
  return Math.floor(Number((await db.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v) / 10000);
}

/** Schemas pgshift leaves behind that are not its state schema: must be none after a run. */
async function leftoverSchemas(db: TestDatabase): Promise<string[]> {
  const res = await db.query(
    `SELECT nspname::text AS n FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%' ORDER BY 1`,
  );
  return res.rows.map((r: { n: string }) => r.n);
}

/** Skips the running test, saying why, on a server older than `since` (DiffCase.since). */
async function skipBelow(db: TestDatabase, since: number | undefined, skip: (note: string) => void): Promise<void> {
  const major = await serverMajor(db);
  if (since !== undefined && major < since) skip(`needs PostgreSQL ${since} or later; this server is ${major}`);
}

async function runCase(c: DiffCase, strategy: 'auto' | 'copy', skip: (note: string) => void): Promise<void> {
  const schemas = c.schemas ?? ['public'];
  await withDatabases(async (track) => {
    const offline = track(await createTestDatabase('diff_a'));
    await skipBelow(offline, c.since, skip);
    await offline.query(c.setup(quotedRole));
    let online: TestDatabase;
    if (c.rebuild) {
      online = track(await createTestDatabase('diff_b'));
      await online.query(c.setup(quotedRole));
    } else {
      online = track(await cloneDatabase(offline, 'diff_b'));
    }
    // The two starting points are identical, or the comparison below would mean nothing.
    const before = await snapshotCatalog(offline.pool, schemas);
    expect(diffSnapshots(before, await snapshotCatalog(online.pool, schemas))).toEqual([]);
    if (c.refusedBelow && (await serverMajor(online)) < c.refusedBelow.major) {
      const err = await onlineAlter(alterOptions({ url: online.url, statements: c.alter, execute: true, dropOld: true, copyThresholdBytes: 0, strategy })).catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(2);
      expect(String(err)).toMatch(c.refusedBelow.message);
      expect(diffSnapshots(before, await snapshotCatalog(online.pool, schemas)), 'nothing changed').toEqual([]);
      expect(await leftoverSchemas(online)).toEqual([]);
      return;
    }

    await offline.query(c.alter);
    // Through auto with a threshold of 0: every rewrite is "above the threshold" and must copy;
    // what needs no rewrite must not copy.
    const report = await onlineAlter(alterOptions({ url: online.url, statements: c.alter, execute: true, dropOld: true, copyThresholdBytes: 0, strategy }));
    expect(report.status).toBe('done');
    expect(report.strategy, 'the strategy chosen').toBe(strategy === 'copy' ? 'copy' : (c.strategy ?? 'copy'));

    if (c.after !== undefined) {
      await offline.query(c.after);
      await online.query(c.after);
    }
    if (c.afterAsRole !== undefined) {
      const asRole = `SET ROLE ${quotedRole}; ${c.afterAsRole}; RESET ROLE`;
      await offline.query(asRole);
      await online.query(asRole);
    }

    const a: CatalogSnapshot = await snapshotCatalog(offline.pool, schemas);
    const b: CatalogSnapshot = await snapshotCatalog(online.pool, schemas);
    const differences = diffSnapshots(a, b);
    const none = (c.differencesBelow !== undefined && (await serverMajor(online)) >= c.differencesBelow) || (c.differencesThroughCopy === true && report.strategy !== 'copy');
    const expected = none ? [] : (c.differences ?? []);
    expect(differences.filter((d) => !expected.some((re) => re.test(d))), 'catalog differences (a = offline, b = online)').toEqual([]);
    for (const re of expected) expect(differences.some((d) => re.test(d)), `the known difference ${re}`).toBe(true);

    const tables = await userTables(offline, schemas);
    expect(tables.length).toBeGreaterThan(0);
    for (const t of tables) {
      const opts = { orderBy: t.key, nullnessOnly: c.nullnessOnly?.[t.qualified] ?? [] };
      const [da, db] = [await tableDigest(offline.pool, t.qualified, opts), await tableDigest(online.pool, t.qualified, opts)];
      expect(db, `rows of ${t.qualified}`).toEqual(da);
    }
    for (const { table, column } of c.singleValue ?? []) {
      expect(await distinctValues(offline, table, column), `offline ${table}.${column}`).toEqual({ distinct: 1, nulls: 0 });
      expect(await distinctValues(online, table, column), `online ${table}.${column}`).toEqual({ distinct: 1, nulls: 0 });
    }
    for (const { table, column } of c.manyValues ?? []) {
      expect((await distinctValues(offline, table, column)).distinct, `offline ${table}.${column}`).toBeGreaterThan(1);
      expect((await distinctValues(online, table, column)).distinct, `online ${table}.${column}`).toBeGreaterThan(1);
    }
    expect(await leftoverSchemas(online), 'pgshift_<id> schemas left behind').toEqual([]);
  });
}

describe('differential: offline ALTER = online pgshift', () => {
  it('has enough cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(32);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  for (const c of CASES) {
    it(c.name, (ctx) => runCase(c, 'auto', (note) => ctx.skip(note)));
    // What auto runs without a copy also goes through the copy once, so the engine stays proven on it.
    if (c.strategy && c.strategy !== 'copy' && !c.copyRefused) it(`${c.name} (--strategy copy)`, (ctx) => runCase(c, 'copy', (note) => ctx.skip(note)));
  }
});

// ---------------------------------------------------------------------------------------------
// Refusals: exit code 2, and nothing changed.

const REFUSAL_SETUP = `
  CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, name text);
  INSERT INTO items SELECT i, i % 10, 'n' || i FROM generate_series(1, 500) i;
  CREATE TABLE other (id int PRIMARY KEY, v int);
  CREATE TABLE nokey (id int, v int);
  INSERT INTO nokey SELECT i, i FROM generate_series(1, 100) i;
  CREATE TABLE parted (id int, at date, v int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
  CREATE TABLE parted_2024 PARTITION OF parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  INSERT INTO parted SELECT i, date '2024-01-01' + (i % 300), i FROM generate_series(1, 100) i;
  CREATE TABLE parted2 (id int, at date, v int, code text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
  CREATE TABLE parted2_a PARTITION OF parted2 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  ALTER TABLE parted2_a ADD CONSTRAINT parted2_a_code_key UNIQUE (code);
  CREATE TABLE parted2_ref (id int, at date, code text, FOREIGN KEY (id, at) REFERENCES parted2_a (id, at), FOREIGN KEY (code) REFERENCES parted2_a (code));
  CREATE TABLE viewed (id int PRIMARY KEY, shown text, hidden text);
  CREATE VIEW viewed_v AS SELECT id, shown FROM viewed;
  CREATE TABLE pubbed (id int PRIMARY KEY, v int, w int);
  CREATE TABLE ruled (id int PRIMARY KEY, v int);
  CREATE TABLE ruled_log (lid serial PRIMARY KEY, id int);
  CREATE RULE ruled_log_insert AS ON INSERT TO ruled DO ALSO INSERT INTO ruled_log (id) VALUES (NEW.id);
  CREATE TABLE snapped (id int PRIMARY KEY, v int);
  CREATE MATERIALIZED VIEW snapped_mv AS SELECT s AS snap FROM snapped s;
  CREATE TABLE atomic (id int PRIMARY KEY, v int);
  CREATE FUNCTION atomic_count() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(v) FROM atomic; END;
  CREATE TABLE parent_t (id int PRIMARY KEY, v int);
  CREATE TABLE child_t (extra int) INHERITS (parent_t);
  CREATE TABLE kid_t (extra int) INHERITS (parent_t);
  CREATE TABLE chk_p (id int PRIMARY KEY, v int, CONSTRAINT chk_p_v_check CHECK (v > 0));
  CREATE TABLE chk_c () INHERITS (chk_p);
  ALTER TABLE kid_t ADD PRIMARY KEY (id);
  CREATE TABLE vp (id int PRIMARY KEY, v int);
  CREATE TABLE vc () INHERITS (vp);
  ALTER TABLE vc ADD PRIMARY KEY (id);
  CREATE VIEW vc_v AS SELECT id, v FROM vc;
  CREATE TABLE vc_holder (snap vc);
  CREATE TABLE wp (id int PRIMARY KEY, v int, w int);
  CREATE TABLE wc () INHERITS (wp);
  ALTER TABLE wc ADD PRIMARY KEY (id);
  CREATE VIEW wc_v AS SELECT id, v FROM wc;
  CREATE TABLE gp (id int PRIMARY KEY, v int);
  CREATE TABLE gc (w int) INHERITS (gp);
  ALTER TABLE gc ADD PRIMARY KEY (id);
  CREATE TABLE typed (id int PRIMARY KEY, v int);
  CREATE TABLE typed_holder (id int PRIMARY KEY, snap typed[]);
  CREATE TABLE domained (id int PRIMARY KEY, v int);
  CREATE DOMAIN domained_row AS domained CHECK ((VALUE).v IS NOT NULL);
  CREATE TABLE rowfn (id int PRIMARY KEY, v int);
  CREATE FUNCTION rowfn_v(rowfn) RETURNS int LANGUAGE sql AS 'SELECT $1.v';
  CREATE FUNCTION rowfn_pick(rowfn, rowfn) RETURNS rowfn LANGUAGE sql AS 'SELECT coalesce($1, $2)';
  CREATE AGGREGATE rowfn_first(rowfn) (SFUNC = rowfn_pick, STYPE = rowfn);
  CREATE TABLE policed (id int PRIMARY KEY, v int);
  CREATE FUNCTION policed_ok(policed) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1.v > 0';
  CREATE TABLE policed_by (id int PRIMARY KEY);
  ALTER TABLE policed_by ENABLE ROW LEVEL SECURITY;
  CREATE POLICY policed_by_rows ON policed_by USING (policed_ok(ROW(id, id)::policed));
`;

/** A publication's column list and row filter: PostgreSQL 15 and later (REFUSALS' `since`). */
const PUBLICATION_SETUP = `CREATE PUBLICATION pubbed_pub FOR TABLE pubbed (id, v) WHERE (v > 0);`;

const REFUSALS: { name: string; statements: string; everyStrategy?: boolean; message?: RegExp; since?: number }[] = [
  { name: 'not an ALTER TABLE statement', statements: 'CREATE TABLE sneaky (id int PRIMARY KEY)' },
  { name: 'a DROP TABLE', statements: 'DROP TABLE items' },
  { name: 'two tables in one call', statements: 'ALTER TABLE items ADD COLUMN x int; ALTER TABLE other ADD COLUMN y int' },
  { name: 'a missing table', statements: 'ALTER TABLE nope ADD COLUMN x int' },
  { name: 'a table without a primary key', statements: 'ALTER TABLE nokey ALTER COLUMN v TYPE bigint' },
  // Offline PostgreSQL refuses it too ("cannot alter inherited column"); the copy finds it by attaching its trial shadow.
  { name: 'a type change on a partition', statements: 'ALTER TABLE parted_2024 ALTER COLUMN v TYPE bigint', message: /is a partition of public\.parted, and offline PostgreSQL refuses what would make it unlike its parent: .*different type for column "v"/ },

  // Offline PostgreSQL refuses it too: the ALTER reaches the partition, where the foreign key needs the column.
  {
    name: 'dropping a column another table\'s foreign key into one partition references (the copy)',
    statements: 'ALTER TABLE parted2 DROP COLUMN code, ALTER COLUMN v TYPE bigint',
    message: /cannot drop column code of public\.parted2 because constraint parted2_ref_code_fkey on table parted2_ref depends on it/,
  },
  // Offline PostgreSQL refuses it too; the route stops at its first statement (ON ONLY), before any build.
  {
    name: 'a unique index on a partitioned table without the partition key',
    statements: 'CREATE UNIQUE INDEX parted_v_key ON parted (v)',
    everyStrategy: true,
    message: /unique constraint on partitioned table must include all partitioning columns/,
  },
  { name: 'dropping a column used by a view', statements: 'ALTER TABLE viewed DROP COLUMN shown', everyStrategy: true },
  { name: 'a USING expression on the primary key', statements: 'ALTER TABLE items ALTER COLUMN id TYPE bigint USING id * 2' },
  // Offline PostgreSQL refuses it too: the rule's action reads the column.
  {
    name: 'a type change of a column a rule of the table uses (the copy)',
    statements: 'ALTER TABLE ruled ALTER COLUMN id TYPE bigint, ADD COLUMN w int',
    message: /cannot alter the type of column id of public\.ruled because rule ruled_log_insert on table (public\.)?ruled uses it/,
  },
  {
    name: 'dropping a column a rule of another table writes (the copy)',
    statements: 'ALTER TABLE ruled_log DROP COLUMN id, ADD COLUMN w int DEFAULT 1',
    message: /cannot drop column id of public\.ruled_log because rule ruled_log_insert on table (public\.)?ruled depends on it/,
  },
  // Offline PostgreSQL refuses both: a publication's column list and row filter depend on their columns.
  { name: 'a type change of a column a publication filters on', statements: 'ALTER TABLE pubbed ALTER COLUMN v TYPE bigint', everyStrategy: true, since: 15 },
  {
    name: 'a type change of a column a publication filters on (the copy)',
    since: 15,
    statements: 'ALTER TABLE pubbed ALTER COLUMN v TYPE bigint',
    message: /cannot alter the type of column v of public\.pubbed because publication of table pubbed in publication pubbed_pub uses it/,
  },
  {
    name: 'dropping a column in a publication\'s column list (the copy)',
    since: 15,
    statements: 'ALTER TABLE pubbed DROP COLUMN v, ALTER COLUMN w TYPE bigint',
    message: /cannot drop column v of public\.pubbed because publication of table pubbed in publication pubbed_pub depends on it/,
  },
  // Offline PostgreSQL refuses this one too: the materialized view stores the table's rows.
  {
    name: 'a change that fills every row while a materialized view stores the table\'s rows',
    statements: 'ALTER TABLE snapped ADD COLUMN x int DEFAULT 1',
    message: /cannot alter table public\.snapped because a column of materialized view public\.snapped_mv uses its row type \(offline PostgreSQL refuses it too\)/,
  },
  // Offline PostgreSQL refuses this one itself: the function's body reads the column.
  { name: 'a type change of a column an SQL-standard function body reads', statements: 'ALTER TABLE atomic ALTER COLUMN v TYPE bigint', everyStrategy: true },
  {
    name: 'a type change of a column an SQL-standard function body reads (the copy)',
    statements: 'ALTER TABLE atomic ALTER COLUMN v TYPE bigint',
    message: /cannot alter the type of column v of public\.atomic because function (public\.)?atomic_count\(\) uses it/,
  },
  {
    name: 'dropping a column an SQL-standard function body reads (the copy)',
    statements: 'ALTER TABLE atomic DROP COLUMN v',
    message: /cannot drop column v of public\.atomic because function (public\.)?atomic_count\(\) depends on it/,
  },
  // A tree copied with its parent (shadow/tree.ts): each relation needs a row identity of its own.
  {
    name: 'a tree copied with its parent, one of whose children has no row identity',
    statements: 'ALTER TABLE parent_t ADD COLUMN x int, ALTER COLUMN v TYPE bigint',
    message: /public\.parent_t has inheritance children the change reaches, copied with it as one tree, each relation replayed by a row identity of its own: public\.child_t has no primary key and no unique index over NOT NULL columns; fix: add a primary key first/,
  },
  // What is bound to a descendant is carried, or refused, as what is bound to a plain table (catalog/bound-objects.ts).
  {
    name: 'a tree copied with its parent, a child of which another table stores the row type of',
    statements: 'ALTER TABLE vp ALTER COLUMN v TYPE bigint',
    message: /public\.vp has inheritance children the change reaches, copied with it as one tree: public\.vc cannot be copied online: column snap of table public\.vc_holder is of type public\.vc: PostgreSQL re-points a column at another type only by rewriting its table/,
  },
  // Offline PostgreSQL refuses these in the child, where its ALTER recurses; the tree's preflight the same way.
  { name: 'a tree copied with its parent, a type change of a column a view over a child reads', statements: 'ALTER TABLE wp ALTER COLUMN v TYPE bigint', message: /cannot alter the type of column v of public\.wc because rule _RETURN on view (public\.)?wc_v uses it/ },
  {
    name: 'a tree copied with its parent, dropping a column a view over a child reads',
    statements: 'ALTER TABLE wp DROP COLUMN v, ALTER COLUMN w TYPE bigint',
    message: /cannot drop column v of public\.wc because rule _RETURN on view (public\.)?wc_v depends on it/,
  },
  // Offline PostgreSQL refuses it in a child; the shadow tree refuses it the same way.
  { name: 'a tree copied with its parent, a child of which has the added column with another type', statements: 'ALTER TABLE gp ADD COLUMN w text DEFAULT random()::text', message: /child table "gc" has different type for column "w"/ },
  // Offline PostgreSQL refuses it too: a CHECK of a parent is validated on its children too.
  { name: 'a parent copied alone with ALTER TABLE ONLY ... VALIDATE CONSTRAINT', statements: 'ALTER TABLE ONLY chk_p SET UNLOGGED, VALIDATE CONSTRAINT chk_p_v_check', message: /public\.chk_p has inheritance children \(INHERITS\), and ALTER TABLE ONLY \.\.\. VALIDATE CONSTRAINT chk_p_v_check: constraint must be validated on child tables too/ },
  // A parent's change that needs no copy runs as offline, recursing; so does what offline refuses there.
  { name: 'ALTER TABLE ONLY on a parent adding a column its children lack', statements: 'ALTER TABLE ONLY parent_t ADD COLUMN z int', everyStrategy: true, message: /column must be added to child tables too/ },
  { name: 'ALTER TABLE ONLY on a parent retyping a column its children have', statements: 'ALTER TABLE ONLY parent_t ALTER COLUMN v TYPE bigint', everyStrategy: true, message: /must be changed in child tables too/ },
  // Offline PostgreSQL refuses it too; the trial shadow, inheriting a stand-in of the parent, refuses it the same way.
  { name: 'a type change of an inherited column of an inheritance child', statements: 'ALTER TABLE kid_t ALTER COLUMN v TYPE bigint', message: /cannot alter inherited column "v"/ },
  { name: 'dropping an inherited column of an inheritance child', statements: 'ALTER TABLE kid_t DROP COLUMN v, ADD COLUMN w int', message: /cannot drop inherited column "v"/ },
  { name: 'dropping the primary key', statements: 'ALTER TABLE items DROP CONSTRAINT items_pkey' },
  { name: 'a change of the key column set', statements: 'ALTER TABLE other DROP CONSTRAINT other_pkey, ADD PRIMARY KEY (id, v)' },
  { name: 'dropping a key column', statements: 'ALTER TABLE other DROP COLUMN id' },
  { name: 'a statement PostgreSQL itself rejects (unknown column)', statements: 'ALTER TABLE items ALTER COLUMN nope TYPE bigint', everyStrategy: true },
  { name: 'a syntax error', statements: 'ALTER TABLE items ADD COLUMN', everyStrategy: true },
  // Offline PostgreSQL refuses this one itself: "column typed_holder.snap uses its row type".
  { name: 'a type change where another table stores the row type', statements: 'ALTER TABLE typed ALTER COLUMN v TYPE bigint', everyStrategy: true },
  // What PostgreSQL offers no way to re-point at another row type inside a short cutover (README).
  {
    name: 'a change where another table stores the row type (the copy)',
    statements: 'ALTER TABLE typed ADD COLUMN x int',
    message: /column snap of table public\.typed_holder is of type public\.typed\[\]: PostgreSQL re-points a column at another type only by rewriting its table/,
  },
  {
    name: 'a domain over the row type',
    statements: 'ALTER TABLE domained ADD COLUMN x int',
    message: /type public\.domained_row is based on type public\.domained: PostgreSQL cannot change a domain's base type/,
  },
  {
    name: 'an aggregate over the row type',
    statements: 'ALTER TABLE rowfn ADD COLUMN extra int DEFAULT 1',
    message: /function public\.rowfn_first\(public\.rowfn\) is bound to type public\.rowfn: re-creating an aggregate is not supported/,
  },
  {
    name: 'a policy of another table calling a function of the row type',
    statements: 'ALTER TABLE policed ADD COLUMN x int',
    message: /policy policed_by_rows on table public\.policed_by (uses|depends)/,
  },
];

describe('refusals', () => {
  let base: TestDatabase;
  let baseSnapshot: CatalogSnapshot;

  beforeAll(async () => {
    base = await createTestDatabase('diff_refusals');
    await base.query(REFUSAL_SETUP);
    if ((await serverMajor(base)) >= 15) await base.query(PUBLICATION_SETUP);
    baseSnapshot = await snapshotCatalog(base.pool, ['public']);
  });

  afterAll(async () => {
    await base?.drop();
  });

  async function schemasOf(db: TestDatabase): Promise<string[]> {
    const res = await db.query(`SELECT nspname::text AS n FROM pg_namespace WHERE nspname LIKE 'pgshift%' ORDER BY 1`);
    return res.rows.map((r: { n: string }) => r.n);
  }

  for (const r of REFUSALS) {
    it(`refuses ${r.name} with exit code 2 and changes nothing (${r.everyStrategy ? 'under auto' : '--strategy copy'})`, async (ctx) => {
      await skipBelow(base, r.since, (note) => ctx.skip(note));
      await withDatabases(async (track) => {
        const db = track(await cloneDatabase(base, 'diff_refusal'));
        const err: unknown = await onlineAlter(alterOptions({ url: db.url, statements: r.statements, execute: true, strategy: r.everyStrategy ? 'auto' : 'copy' })).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, 'onlineAlter must refuse').not.toBeNull();
        expect((err as { exitCode?: unknown }).exitCode, String(err)).toBe(2);
        expect(String((err as Error).message)).not.toMatch(/\n/);
        if (r.message) expect(String((err as Error).message)).toMatch(r.message);
        expect(diffSnapshots(baseSnapshot, await snapshotCatalog(db.pool, ['public']))).toEqual([]);
        // Under auto PostgreSQL itself refuses at run time: pgshift's state schema records the attempt, nothing else is left.
        expect((await schemasOf(db)).filter((n) => !(r.everyStrategy && n === 'pgshift'))).toEqual([]);
      });
    });
  }

  it('a dry run (execute: false) changes nothing and creates no pgshift schema', async () => {
    await withDatabases(async (track) => {
      const db = track(await cloneDatabase(base, 'diff_dryrun'));
      const before = await tableDigest(db.pool, 'public.items', { orderBy: ['id'] });
      const report = await onlineAlter(
        alterOptions({ url: db.url, statements: 'ALTER TABLE items ALTER COLUMN qty TYPE bigint, ADD COLUMN x int DEFAULT 1' }),
      );
      expect(report.status).toBe('planned');
      expect(report.plan.length).toBeGreaterThan(0);
      expect(diffSnapshots(baseSnapshot, await snapshotCatalog(db.pool, ['public']))).toEqual([]);
      expect(await schemasOf(db)).toEqual([]);
      expect(await tableDigest(db.pool, 'public.items', { orderBy: ['id'] })).toEqual(before);
    });
  });
});
