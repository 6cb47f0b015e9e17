// The routes without a copy, on a real server: each gives the catalog the same statement gives
// offline, and a route that fails removes what it added, with exit 1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, DEFAULTS, onlineAlter, type AlterReport } from '../../src/index.js';
import { onFailpoint } from '../../src/failpoints.js';
import { StoppedError } from '../../src/errors.js';
import { createPool } from '../../src/db/session.js';
import { abortMigration } from '../../src/migration/abort.js';
import { cloneDatabase, createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { diffSnapshots, snapshotCatalog } from '../support/catalog-snapshot.js';

const SETUP = `
  CREATE TABLE cats (id int PRIMARY KEY, name text);
  INSERT INTO cats SELECT g, 'c' || g FROM generate_series(1, 20) g;
  CREATE TABLE items (id int PRIMARY KEY, cat int, qty int, name text, code text);
  INSERT INTO items SELECT g, 1 + g % 20, g % 97, 'n' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'k' || g END FROM generate_series(1, 5000) g;
  CREATE INDEX items_qty_idx ON items (qty);
  CREATE TABLE keyless (a int, b text);
  INSERT INTO keyless SELECT g, 'b' || g FROM generate_series(1, 1000) g;`;

let base: TestDatabase;
beforeAll(async () => {
  base = await createTestDatabase('routes');
  await base.query(SETUP);
});
afterAll(async () => {
  await base?.drop();
});

async function alter(db: TestDatabase, statements: string, extra: Partial<Parameters<typeof alterOptions>[0]> = {}): Promise<AlterReport> {
  return onlineAlter(alterOptions({ url: db.url, statements, execute: true, ...extra }));
}

/** The same statements offline on one clone and through pgshift (auto) on another: the same catalog. */
async function sameAsOffline(statements: string, strategy: string): Promise<AlterReport> {
  const offline = await cloneDatabase(base, 'routes_off');
  const online = await cloneDatabase(base, 'routes_on');
  try {
    await offline.query(statements);
    const report = await alter(online, statements);
    expect(report.strategy).toBe(strategy);
    const a = await snapshotCatalog(offline.pool, ['public']);
    const b = await snapshotCatalog(online.pool, ['public']);
    expect(diffSnapshots(a, b)).toEqual([]);
    const leftovers = await online.query(`SELECT relname FROM pg_class WHERE relname LIKE 'pgshift%' AND relnamespace = 'public'::regnamespace`);
    expect(leftovers.rows).toEqual([]);
    return report;
  } finally {
    await offline.drop();
    await online.drop();
  }
}

describe('routes without a copy give the catalog offline gives', () => {
  it.each([
    ['ADD COLUMN and SET DEFAULT, instant', 'ALTER TABLE items ADD COLUMN note text DEFAULT \'x\', ALTER COLUMN qty SET DEFAULT 0', 'instant'],
    ['CREATE INDEX, unnamed', 'CREATE INDEX ON items (name)', 'online'],
    ['CREATE INDEX on an expression, unnamed, where the first name is taken', 'CREATE INDEX ON items ((qty + 1)); CREATE INDEX ON items ((qty + 1))', 'online'],
    ['CREATE UNIQUE INDEX, partial', 'CREATE UNIQUE INDEX items_code_u ON items (code) WHERE code IS NOT NULL', 'online'],
    ['DROP INDEX', 'DROP INDEX items_qty_idx', 'online'],
    ['ADD CHECK, unnamed', 'ALTER TABLE items ADD CHECK (qty >= 0)', 'online'],
    ['ADD FOREIGN KEY, unnamed', 'ALTER TABLE items ADD FOREIGN KEY (cat) REFERENCES cats', 'online'],
    ['SET NOT NULL', 'ALTER TABLE items ALTER COLUMN name SET NOT NULL', 'online'],
    ['ADD UNIQUE, unnamed', 'ALTER TABLE items ADD UNIQUE (name)', 'online'],
    ['ADD PRIMARY KEY to a keyless table', 'ALTER TABLE keyless ADD PRIMARY KEY (a)', 'online'],
    ['instant and online mixed, in order', 'ALTER TABLE items ADD COLUMN flag boolean; CREATE INDEX ON items (flag); ALTER TABLE items ALTER COLUMN flag SET DEFAULT false', 'online'],
    ['a small rewrite, direct', 'ALTER TABLE items ALTER COLUMN qty TYPE bigint', 'direct'],
    ['a rewrite on a keyless table below the threshold, direct', 'ALTER TABLE keyless ALTER COLUMN a TYPE bigint', 'direct'],
  ])('%s', async (_name, statements, strategy) => {
    await sameAsOffline(statements, strategy);
  });

  it('a rewrite above the threshold goes through the copy, with the index statement built on the shadow', async () => {
    const offline = await cloneDatabase(base, 'routes_off');
    const online = await cloneDatabase(base, 'routes_on');
    try {
      const sql = 'ALTER TABLE items ALTER COLUMN qty TYPE bigint; CREATE INDEX ON items (code)';
      await offline.query(sql);
      const report = await alter(online, sql, { copyThresholdBytes: 0 });
      expect(report.strategy).toBe('copy');
      expect(report.rowsCopied).toBe(5000);
      expect(diffSnapshots(await snapshotCatalog(offline.pool, ['public']), await snapshotCatalog(online.pool, ['public']))).toEqual([]);
    } finally {
      await offline.drop();
      await online.drop();
    }
  });
});

describe('a route that fails', () => {
  it('CREATE UNIQUE INDEX over duplicates: exit 1 before anything is built, no invalid index; a retry with the data fixed succeeds', async () => {
    const db = await cloneDatabase(base, 'routes_dup');
    try {
      await db.query(`UPDATE items SET code = 'same' WHERE id IN (1, 2)`);
      const err = await alter(db, 'CREATE UNIQUE INDEX items_code_key ON items (code)').catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(/duplicate values of \("code"\)/);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_index WHERE indrelid = 'items'::regclass`)).rows[0].n).toBe(2);
      await db.query(`UPDATE items SET code = 'other' WHERE id = 2`);
      const ok = await alter(db, 'CREATE UNIQUE INDEX items_code_key ON items (code)');
      expect(ok.strategy).toBe('online');
      const idx = (await db.query(`SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = 'items_code_key'::regclass`)).rows[0];
      expect(idx).toEqual({ indisvalid: true, indisunique: true });
    } finally {
      await db.drop();
    }
  });

  it('a duplicate written during the build: the build fails, its invalid index is dropped, exit 1, the origin as before', async () => {
    const db = await cloneDatabase(base, 'routes_dup2');
    let step = 0;
    try {
      // Before the build (after the read-only check), a duplicate arrives.
      onFailpoint('in-route', async () => {
        if (++step === 2) await db.query(`UPDATE items SET code = 'k1' WHERE id = 2`);
      });
      const err = await alter(db, 'CREATE UNIQUE INDEX items_code_key ON items (code)').catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(/failed: .*could not create unique index.*removed what it had added/);
      const indexes = (await db.query(`SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE indrelid = 'items'::regclass ORDER BY 1`)).rows;
      expect(indexes.map((r) => r.relname)).toEqual(['items_pkey', 'items_qty_idx']);
      expect((await db.query(`SELECT outcome FROM pgshift.migrations ORDER BY id DESC LIMIT 1`)).rows[0].outcome).toBe('failed');
    } finally {
      onFailpoint('in-route', null);
      await db.drop();
    }
  });

  it('ADD CHECK that a write breaks between the check and VALIDATE: the NOT VALID constraint is removed, exit 1', async () => {
    const db = await cloneDatabase(base, 'routes_chk');
    let step = 0;
    try {
      // step 1: the read-only check; 2: the NOT VALID add; 3: VALIDATE. A violating row slips in before the add.
      onFailpoint('in-route', async () => {
        if (++step === 2) await db.query(`UPDATE items SET qty = -1 WHERE id = 3`);
      });
      const err = await alter(db, 'ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty >= 0)').catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(/is violated by some row.*removed what it had added\. While it was in place, writes that violated it were rejected/);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'qty_positive'`)).rows[0].n).toBe(0);
    } finally {
      onFailpoint('in-route', null);
      await db.drop();
    }
  });

  it('a foreign key the rows break is refused by the read-only check: nothing is added', async () => {
    const db = await cloneDatabase(base, 'routes_fk');
    try {
      await db.query(`UPDATE items SET cat = 999 WHERE id = 7`);
      const err = await alter(db, 'ALTER TABLE items ADD FOREIGN KEY (cat) REFERENCES cats').catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(/foreign key items_cat_fkey is violated: some row references no row of "cats"; offline the same ALTER fails the same way; nothing was added/);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'f'`)).rows[0].n).toBe(0);
    } finally {
      await db.drop();
    }
  });

  it('a later unit fails: the units before it stay applied and are named', async () => {
    const db = await cloneDatabase(base, 'routes_later');
    try {
      const err = await alter(db, 'ALTER TABLE items ADD COLUMN flag boolean; ALTER TABLE items ALTER COLUMN code SET NOT NULL').catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(/column code contains null values.*Already applied .*ADD COLUMN flag boolean/);
    } finally {
      await db.drop();
    }
  });
});

describe('an interrupted change without a copy', () => {
  it('pgshift abort removes what its unit in progress added (the pgshift-named build) and keeps the units applied before', async () => {
    const db = await cloneDatabase(base, 'routes_abort');
    let hits = 0;
    try {
      // The second step of ADD UNIQUE is its build: a build left behind by a process that stopped there.
      onFailpoint('in-route', async () => {
        if (++hits < 2) return;
        const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE outcome IS NULL`)).rows[0].id;
        await db.query(`CREATE INDEX pgshift_${id}_index_1 ON items (code)`);
        throw new StoppedError('stopped');
      });
      const err = await alter(db, 'ALTER TABLE items ADD COLUMN flag int; ALTER TABLE items ADD UNIQUE (code)').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoppedError);
      onFailpoint('in-route', null);
      const m = (await db.query(`SELECT id::int, outcome FROM pgshift.migrations ORDER BY id DESC LIMIT 1`)).rows[0];
      expect(m.outcome).toBeNull();
      const pool = createPool({ url: db.url, role: 'abort', lockTimeoutMs: 100, maxClients: 3 });
      try {
        const said = await abortMigration(pool, String(m.id), DEFAULTS.retry);
        expect(said.join('; ')).toMatch(/removed what ALTER TABLE items ADD UNIQUE \(code\) had added; kept, already applied: ALTER TABLE items ADD COLUMN flag int/);
      } finally {
        await pool.end();
      }
      expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [m.id])).rows[0].outcome).toBe('aborted');
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'pgshift%' AND relnamespace = 'public'::regnamespace`)).rows[0].n).toBe(0);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'flag'`)).rows[0].n).toBe(1);
    } finally {
      onFailpoint('in-route', null);
      await db.drop();
    }
  });
});

describe('choosing', () => {
  it('--strategy copy refuses a keyless table; auto runs what needs no copy', async () => {
    const db = await cloneDatabase(base, 'routes_choose');
    try {
      const err = await alter(db, 'ALTER TABLE keyless ADD COLUMN c int', { strategy: 'copy' }).catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode).toBe(2);
      expect(String(err)).toMatch(/has no primary key/);
      expect((await alter(db, 'ALTER TABLE keyless ADD COLUMN c int')).strategy).toBe('instant');
    } finally {
      await db.drop();
    }
  });

  it('a copy-only option makes auto copy; with --strategy direct it is a usage error', async () => {
    const plan = await onlineAlter(alterOptions({ url: base.url, statements: 'ALTER TABLE items ADD COLUMN z int', revertWindowMs: 60_000 }));
    expect(plan.strategy).toBe('copy');
    expect(plan.plan.join('\n')).toMatch(/--revert-window needs the online copy/);
    const err = await onlineAlter(alterOptions({ url: base.url, statements: 'ALTER TABLE items ADD COLUMN z int', revertWindowMs: 60_000, strategy: 'direct' })).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode).toBe(2);
    expect(String(err)).toMatch(/--revert-window only means something for an online copy: not with --strategy direct/);
  });

  it('the dry run changes nothing and says what each subcommand would do', async () => {
    const r = await onlineAlter(alterOptions({ url: base.url, statements: 'CREATE INDEX ON items (code); ALTER TABLE items ADD COLUMN y int', retry: DEFAULTS.retry }));
    expect(r.status).toBe('planned');
    expect(r.decisions!.map((d) => d.strategy)).toEqual(['concurrent', 'instant']);
    expect(r.plan.join('\n')).toMatch(/step: CREATE INDEX CONCURRENTLY items_code_idx ON items \(code\)/);
    expect((await base.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'items'`)).rows[0].n).toBe(2);
  });
});
