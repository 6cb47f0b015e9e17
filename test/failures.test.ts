import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions, DEFAULTS } from '../src/index.js';
import { createTestDatabase, untilMigration, type TestDatabase } from './support/test-db.js';
import { tableDigest } from './support/table-digest.js';

/**
 * Run-time failures (DESIGN.md exit code 1): whatever goes wrong before the swap, the run
 * removes what it created and the origin keeps its schema and data.
 */
const FAST_GIVE_UP = { ...DEFAULTS.retry, attempts: 3, backoffMs: 10, maxBackoffMs: 50 };

async function expectNothingLeft(db: TestDatabase, table: string): Promise<void> {
  const triggers = await db.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [table]);
  expect(triggers.rows).toEqual([]);
  const schemas = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`);
  expect(schemas.rows).toEqual([]);
}

async function columnType(db: TestDatabase, table: string, column: string): Promise<string> {
  const r = await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`, [table, column]);
  return r.rows[0].t;
}

describe('run-time failures', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('fail');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('gives up cleanly when the cutover lock never comes, without blocking readers for long', async () => {
    await db.query(`CREATE TABLE locked (id int PRIMARY KEY, v int);
      INSERT INTO locked SELECT g, g FROM generate_series(1, 20000) g;
      CREATE TABLE locked_child (id int PRIMARY KEY, locked_id int REFERENCES locked (id));
      INSERT INTO locked_child VALUES (1, 1);`);
    const before = await tableDigest(db.pool, 'public.locked', { orderBy: ['id'] });
    // A session that keeps a lock on a table the cutover must lock exclusively.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE locked_child IN ACCESS SHARE MODE');
    // A reader of the origin: while the cutover waits for its locks, its queued ACCESS
    // EXCLUSIVE request makes readers wait too, but never longer than one attempt's timeout.
    const reader = new pg.Client({ connectionString: db.url });
    await reader.connect();
    let reading = true;
    let worstReadMs = 0;
    const reads = (async () => {
      while (reading) {
        const t0 = performance.now();
        await reader.query('SELECT count(*) FROM locked WHERE id < 100');
        worstReadMs = Math.max(worstReadMs, performance.now() - t0);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      const err = await onlineAlter(
        alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE locked ALTER COLUMN v TYPE bigint', execute: true, retry: FAST_GIVE_UP }),
      ).catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(/lock timeout/);
    } finally {
      reading = false;
      await reads;
      await reader.end();
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect(worstReadMs).toBeLessThan(FAST_GIVE_UP.maxLockTimeoutMs + 250);
    expect(await tableDigest(db.pool, 'public.locked', { orderBy: ['id'] })).toEqual(before);
    expect(await columnType(db, 'locked', 'v')).toBe('integer');
    const fk = await db.query(`SELECT confrelid::regclass::text AS t FROM pg_constraint WHERE conrelid = 'locked_child'::regclass AND contype = 'f'`);
    expect(fk.rows).toEqual([{ t: 'locked' }]);
    await expectNothingLeft(db, 'locked');
  });

  it('stops and cleans up when the engine loses its connection mid-copy', async () => {
    await db.query(`CREATE TABLE severed (id int PRIMARY KEY, v int, pad text);
      INSERT INTO severed SELECT g, g, repeat('x', 200) FROM generate_series(1, 200000) g;`);
    const before = await tableDigest(db.pool, 'public.severed', { orderBy: ['id'] });
    const run = onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE severed ALTER COLUMN v TYPE bigint', execute: true, chunkTimeMs: 10 }));
    const outcome = run.then(() => null, (e: unknown) => e);
    // Wait until the copy runs, then cut the engine's sessions as a network failure would.
    let killed = 0;
    for (let i = 0; i < 400 && killed === 0; i++) {
      const phase = await db.query(`SELECT phase FROM pgshift.migrations WHERE table_name = 'severed'`).catch(() => ({ rows: [] }));
      if (phase.rows[0]?.phase === 'copy') {
        const r = await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'pgshift:%:copy' AND query LIKE 'INSERT INTO%'`);
        killed = r.rowCount ?? 0;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(killed).toBeGreaterThan(0);
    const err = await outcome;
    expect((err as { exitCode?: number } | null)?.exitCode, String(err)).toBe(1);
    expect(await tableDigest(db.pool, 'public.severed', { orderBy: ['id'] })).toEqual(before);
    expect(await columnType(db, 'severed', 'v')).toBe('integer');
    await expectNothingLeft(db, 'severed');
  });

  it('stops without a swap when the table is truncated during the migration', async () => {
    await db.query(`CREATE TABLE emptied (id int PRIMARY KEY, v int);
      INSERT INTO emptied SELECT g, g FROM generate_series(1, 200000) g;`);
    const run = onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE emptied ALTER COLUMN v TYPE bigint', execute: true, chunkTimeMs: 10 }));
    const outcome = run.then(() => null, (e: unknown) => e);
    await untilMigration(db, 'emptied', 'copy');
    await db.query('TRUNCATE emptied');
    const err = await outcome;
    expect((err as { exitCode?: number } | null)?.exitCode, String(err)).toBe(1);
    expect(String(err)).toMatch(/truncated/);
    expect(await columnType(db, 'emptied', 'v')).toBe('integer');
    await expectNothingLeft(db, 'emptied');
  });

  it('refuses a second migration of a table that already has one running', async () => {
    await db.query(`CREATE TABLE busy (id int PRIMARY KEY, v int);
      INSERT INTO busy SELECT g, g FROM generate_series(1, 200000) g;`);
    const first = onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE busy ALTER COLUMN v TYPE bigint', execute: true, chunkTimeMs: 10 }));
    await untilMigration(db, 'busy');
    const err = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE busy ADD COLUMN x int', execute: true })).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(2);
    expect(String(err)).toMatch(/already has a migration in progress/);
    const report = await first;
    expect(report.status).toBe('done');
    expect(await columnType(db, 'busy', 'v')).toBe('bigint');
  });
});
