import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPool, withClient, type Pool } from '../src/db/session.js';
import { createReplayer } from '../src/capture/replayer.js';
import type { Tables } from '../src/copy/sql.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';

/**
 * The replayer on its own, on a real PostgreSQL: the watermark rule, unique conflicts whose
 * other side is still pending, and values of added volatile columns that must survive.
 */
const tables: Tables = {
  origin: '"public"."o"',
  shadow: '"public"."s"',
  changelog: '"public"."cl"',
  mapping: {
    targets: ['id', 'u'],
    expressions: ['"id"', '"u"'],
    constants: [],
    preserved: ['r'],
    overriding: false,
    narrowedKey: [],
    originKey: [{ name: 'id', type: 'integer', collation: null }],
    shadowKey: ['id'],
  },
  shadowKeyTypes: ['integer'],
};

describe('replayer', () => {
  let db: TestDatabase;
  let pool: Pool;
  const rows = async (table: string): Promise<string[]> =>
    (await db.query(`SELECT id || ':' || u AS r FROM ${table} ORDER BY id`)).rows.map((r) => r.r);

  beforeAll(async () => {
    db = await createTestDatabase('replay');
    pool = createPool({ url: db.url, role: 'test', lockTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });
  beforeEach(async () => {
    await db.query(`DROP TABLE IF EXISTS o, s, cl;
      CREATE TABLE o (id int PRIMARY KEY, u int UNIQUE);
      CREATE TABLE s (id int PRIMARY KEY, u int, r float8 DEFAULT random());
      CREATE UNIQUE INDEX s_u_key ON s (u);
      CREATE TABLE cl (id int NOT NULL);
      INSERT INTO o VALUES (1, 10), (2, 20), (3, 30);
      INSERT INTO s (id, u) SELECT id, u FROM o;`);
  });

  const replayer = () => {
    const r = createReplayer({ tables, preservedTypes: ['double precision'], lockKey: [1, 1] });
    r.enableUniqueResolution([['u']]);
    return r;
  };

  it('resolves a unique conflict with a row whose own change is still pending', async () => {
    // The application swaps u between rows 1 and 2; replay sees key 1 first.
    await db.query(`UPDATE o SET u = -u WHERE id = 1; UPDATE o SET u = 10 WHERE id = 2; UPDATE o SET u = 20 WHERE id = 1;
      INSERT INTO cl VALUES (1), (2);`);
    const before = await db.query(`SELECT id, r FROM s ORDER BY id`);
    const n = await withClient(pool, (c) => replayer().replayBatch(c, null, 1));
    expect(n).toBe(1);
    expect(await rows('s')).toEqual(await rows('o'));
    // Both rows were rewritten, and their volatile-default values survived.
    const after = await db.query(`SELECT id, r FROM s ORDER BY id`);
    expect(after.rows).toEqual(before.rows);
    // The entry of key 2 is still there, and replaying it changes nothing.
    expect(await withClient(pool, (c) => replayer().replayBatch(c, null, 10))).toBe(1);
    expect(await rows('s')).toEqual(await rows('o'));
  });

  it('takes only entries at or below the watermark', async () => {
    await db.query(`UPDATE o SET u = 11 WHERE id = 1; UPDATE o SET u = 31 WHERE id = 3; INSERT INTO cl VALUES (1), (3);`);
    expect(await withClient(pool, (c) => replayer().replayBatch(c, ['2'], 100))).toBe(1);
    expect(await rows('s')).toEqual(['1:11', '2:20', '3:30']);
    expect((await db.query(`SELECT id FROM cl`)).rows).toEqual([{ id: 3 }]);
  });

  it('deletes shadow rows whose origin row is gone and inserts new ones', async () => {
    await db.query(`DELETE FROM o WHERE id = 2; INSERT INTO o VALUES (4, 40); INSERT INTO cl VALUES (2), (4), (4);`);
    expect(await withClient(pool, (c) => replayer().replayBatch(c, null, 100))).toBe(2);
    expect(await rows('s')).toEqual(['1:10', '3:30', '4:40']);
    expect((await db.query(`SELECT count(*)::int AS n FROM cl`)).rows[0].n).toBe(0);
  });
});
