import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, DEFAULTS, onlineAlter } from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { tableDigest } from '../support/table-digest.js';
import { runCli } from '../support/cli.js';

/**
 * Other people's changes while a migration runs (issue 11, defects 4 and 6): whatever someone
 * else changes on the table is never undone by the swap (the migration stops, exit 1, with the
 * change in place and nothing of pgshift's left), and prepared transactions holding locks are
 * named with the statement that ends them.
 */
const FAST_GIVE_UP = { ...DEFAULTS.retry, attempts: 3, backoffMs: 10, maxBackoffMs: 50 };

async function nothingLeft(db: TestDatabase, table: string): Promise<void> {
  expect((await db.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [table])).rows).toEqual([]);
  expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
}

describe('changes made by others during a migration', () => {
  let db: TestDatabase;
  const role = `other_${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(async () => {
    db = await createTestDatabase('others');
    await db.query(`CREATE ROLE ${role}`);
  });
  afterAll(async () => {
    await db.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await db.drop();
    const c = new pg.Client({ connectionString: db.url.replace(/\/[^/?]+(\?|$)/, '/postgres$1') });
    await c.connect().then(() => c.query(`DROP ROLE IF EXISTS ${role}`)).finally(() => c.end());
  });

  const CHANGES: [string, (t: string) => string, (t: string) => string][] = [
    ['ENABLE ROW LEVEL SECURITY', (t) => `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY`, (t) => `SELECT relrowsecurity::text AS x FROM pg_class WHERE oid = '${t}'::regclass`],
    ['REVOKE', (t) => `REVOKE SELECT ON ${t} FROM ${role}`, (t) => `SELECT coalesce(relacl::text, '') LIKE '%${role}%' AS x FROM pg_class WHERE oid = '${t}'::regclass`],
    ['SET DEFAULT', (t) => `ALTER TABLE ${t} ALTER COLUMN note SET DEFAULT 'other'`, (t) => `SELECT pg_get_expr(adbin, adrelid) AS x FROM pg_attrdef WHERE adrelid = '${t}'::regclass`],
    ['reloptions', (t) => `ALTER TABLE ${t} SET (fillfactor = 70)`, (t) => `SELECT reloptions::text AS x FROM pg_class WHERE oid = '${t}'::regclass`],
    ['OWNER TO', (t) => `ALTER TABLE ${t} OWNER TO ${role}`, (t) => `SELECT pg_get_userbyid(relowner)::text AS x FROM pg_class WHERE oid = '${t}'::regclass`],
    ['COMMENT', (t) => `COMMENT ON TABLE ${t} IS 'changed by someone else'`, (t) => `SELECT obj_description('${t}'::regclass, 'pg_class') AS x`],
    ['REPLICA IDENTITY', (t) => `ALTER TABLE ${t} REPLICA IDENTITY FULL`, (t) => `SELECT relreplident::text AS x FROM pg_class WHERE oid = '${t}'::regclass`],
  ];

  it.each(CHANGES.map(([name, change, read], i) => [name, change, read, i] as const))(
    '%s by another session during the copy stops the migration before the swap; the change stays',
    async (_name, change, read, i) => {
      const t = `other_${i}`;
      await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, v int NOT NULL, note text);
        INSERT INTO ${t} SELECT g, g, 'n' FROM generate_series(1, 20000) g; GRANT SELECT ON ${t} TO ${role};`);
      const err = await onlineAlter(
        alterOptions({ strategy: 'copy',
          url: db.url, statements: `ALTER TABLE ${t} ALTER COLUMN v TYPE bigint`, execute: true, dropOld: true,
          onPhase: async (phase) => {
            if (phase === 'index') await db.query(change(t));
          },
        }),
      ).catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(/altered by someone else/);
      const after = (await db.query(read(t))).rows[0].x;
      await db.query(`CREATE TABLE ${t}_ref (id int PRIMARY KEY, v int NOT NULL, note text); GRANT SELECT ON ${t}_ref TO ${role}; ${change(`${t}_ref`)}`);
      expect(after).toEqual((await db.query(read(`${t}_ref`))).rows[0].x);
      expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = '${t}'::regclass AND attname = 'v'`)).rows[0].t).toBe('integer');
      await nothingLeft(db, t);
    },
  );

  it('names a prepared transaction holding a lock on the table in preflight, with the statement that ends it', async () => {
    await db.query(`CREATE TABLE prep (id int PRIMARY KEY, v int); INSERT INTO prep SELECT g, g FROM generate_series(1, 100) g;`);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query(`BEGIN; UPDATE prep SET v = v + 1 WHERE id = 1; PREPARE TRANSACTION 'pgshift_test_prep'`);
      const before = await tableDigest(db.pool, 'public.prep', { orderBy: ['id'] });
      const err = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE prep ALTER COLUMN v TYPE bigint', execute: true })).catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(2);
      expect(String(err)).toMatch(/prepared transaction 'pgshift_test_prep'.*ROLLBACK PREPARED 'pgshift_test_prep'/);
      expect(await tableDigest(db.pool, 'public.prep', { orderBy: ['id'] })).toEqual(before);
    } finally {
      await c.query(`ROLLBACK PREPARED 'pgshift_test_prep'`).catch(() => undefined);
      await c.end();
    }
    await nothingLeft(db, 'prep');
  });

  it('names a prepared transaction that takes a lock during the migration when the cutover gives up', async () => {
    await db.query(`CREATE TABLE prep2 (id int PRIMARY KEY, v int); INSERT INTO prep2 SELECT g, g FROM generate_series(1, 5000) g;`);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const err = await onlineAlter(
        alterOptions({ strategy: 'copy',
          url: db.url, statements: 'ALTER TABLE prep2 ALTER COLUMN v TYPE bigint', execute: true, retry: FAST_GIVE_UP,
          onPhase: async (phase) => {
            if (phase === 'cutover') await c.query(`BEGIN; UPDATE prep2 SET v = v + 1 WHERE id = 1; PREPARE TRANSACTION 'pgshift_test_prep2'`);
          },
        }),
      ).catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(/lock timeout.*prepared transaction 'pgshift_test_prep2'.*COMMIT PREPARED 'pgshift_test_prep2'/);
      // The capture triggers cannot come off while the prepared transaction holds its lock either.
      expect(String(err)).toMatch(/pgshift cleanup \d+ removes them/);
    } finally {
      await c.query(`ROLLBACK PREPARED 'pgshift_test_prep2'`).catch(() => undefined);
      await c.end();
    }
    const cleaned = await runCli(['cleanup', '--all', '--url', db.url]);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    await nothingLeft(db, 'prep2');
  });
});
