import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { parseAlter } from '../../src/plan/parse.js';
import { readFacts } from '../../src/strategy/facts.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('strategy_facts');
  await db.query(`
    CREATE DOMAIN positive AS int CHECK (VALUE > 0);
    CREATE DOMAIN plain_int AS int;
    CREATE TABLE items (
      id int PRIMARY KEY, qty int NOT NULL, name varchar(20), price numeric(10, 4), ts timestamp(3),
      iv interval(2), code text, b varbit(8), c char(4), CONSTRAINT items_qty_check CHECK (qty >= 0)
    );
    CREATE INDEX items_name_idx ON items (name);
    INSERT INTO items SELECT i, i, 'n' || i, i, now(), '1 day', i::text FROM generate_series(1, 100) i;
    ANALYZE items;
  `);
});
afterAll(async () => db?.drop());

async function factsFor(sql: string) {
  const c = await db.pool.connect();
  try {
    const oid = (await c.query(`SELECT 'items'::regclass::oid::text AS oid`)).rows[0].oid;
    return await readFacts(c, oid, (await parseAlter(sql)).statements);
  } finally {
    c.release();
  }
}

describe('readFacts', () => {
  it('reads the table, key, columns, constraints and indexes', async () => {
    const f = await factsFor('ALTER TABLE items DROP COLUMN code');
    expect(f.serverVersionNum).toBeGreaterThanOrEqual(140000);
    expect(f.table).toMatchObject({ schema: 'public', name: 'items', relkind: 'r', persistence: 'p', estimatedRows: 100 });
    expect(f.table.tableBytes).toBeGreaterThan(0);
    expect(f.key).toEqual({ index: 'items_pkey', columns: ['id'] });
    expect(f.columns.find((c) => c.name === 'name')).toEqual({ name: 'name', attnum: 3, typeOid: 1043, typmod: 24, type: 'character varying(20)', notNull: false });
    expect(f.constraints.find((k) => k.name === 'items_qty_check')).toEqual({ name: 'items_qty_check', type: 'c', validated: true, columns: ['qty'], definition: 'CHECK ((qty >= 0))' });
    expect(f.indexes.map((i) => [i.name, i.unique, i.valid, i.columns, i.constraint])).toEqual([
      ['items_name_idx', false, true, ['name'], null],
      ['items_pkey', true, true, ['id'], 'items_pkey'],
    ]);
    // nothing of the probe survives
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'pgshift_strategy_probe'`)).rows[0].n).toBe(0);
  });

  // The rules of coercion.ts against what PostgreSQL does (the probe's relfilenode).
  it.each([
    ['name TYPE varchar(40)', true],
    ['name TYPE text', true],
    ['name TYPE varchar(10)', false],
    ['code TYPE varchar(10)', false],
    ['price TYPE numeric(14, 4)', true],
    ['price TYPE numeric', true],
    ['price TYPE numeric(12, 2)', false],
    ['ts TYPE timestamp(6)', true],
    ['ts TYPE timestamp(1)', false],
    ['iv TYPE interval(4)', true],
    ['iv TYPE interval(1)', false],
    ['b TYPE varbit(16)', true],
    ['c TYPE char(8)', false],
    ['qty TYPE bigint', false],
    ['qty TYPE plain_int', true],
    ['qty TYPE positive', false],
    ['code TYPE int USING code::int', false],
  ])('ALTER COLUMN %s: binary coercible = %s, as PostgreSQL measures', async (change, binary) => {
    const f = await factsFor(`ALTER TABLE items ALTER COLUMN ${change}`);
    expect(f.typeChanges).toHaveLength(1);
    const t = f.typeChanges[0]!;
    expect(t.binaryCoercible).toBe(binary);
    expect(t.rewrites).toBe(!binary);
  });

  it('counts indexes rebuilt by a type change and constraints on the column', async () => {
    const f = await factsFor('ALTER TABLE items ALTER COLUMN name TYPE varchar(40), ALTER COLUMN qty TYPE bigint');
    expect(f.typeChanges.map((t) => [t.column, t.rewrites, t.indexesRebuilt, t.constraintsOnColumn])).toEqual([
      ['name', false, 0, []],
      ['qty', true, 2, ['items_qty_check']], // a rewrite rebuilds every index
    ]);
  });

  it('asks PostgreSQL whether an added default is volatile', async () => {
    const f = await factsFor(`ALTER TABLE items ADD COLUMN a int, ADD COLUMN b2 timestamptz DEFAULT now(), ADD COLUMN r float8 DEFAULT random(), ADD COLUMN n text DEFAULT NULL; ALTER TABLE items ADD COLUMN s serial`);
    expect(f.addedColumns.map((a) => [a.column, a.hasDefault, a.volatile, a.rewrites])).toEqual([
      ['a', false, false, false],
      ['b2', true, false, false],
      ['r', true, true, true],
      ['n', false, false, false],
      ['s', false, true, true],
    ]);
  });
});
