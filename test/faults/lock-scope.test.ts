import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, DEFAULTS, onlineAlter } from '../../src/index.js';
import { onFailpoint } from '../../src/failpoints.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';

/**
 * The cutover locks only what it changes, with one deadline for the whole transaction (issue
 * 11, defect 7).
 */
const FAST_GIVE_UP = { ...DEFAULTS.retry, attempts: 4, backoffMs: 10, maxBackoffMs: 50 };

describe('cutover lock scope and deadline', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('lockscope');
  });
  afterEach(() => onFailpoint('in-cutover', null));
  afterAll(async () => {
    await db.drop();
  });

  it("does not lock a view's other base tables: a reader holding one of them does not block the cutover", async () => {
    await db.query(`CREATE TABLE orders (id int PRIMARY KEY, customer int, v int); INSERT INTO orders SELECT g, g % 10, g FROM generate_series(1, 5000) g;
      CREATE TABLE customers (id int PRIMARY KEY, name text); INSERT INTO customers SELECT g, 'c' || g FROM generate_series(0, 9) g;
      CREATE VIEW order_names AS SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer;`);
    const reader = new pg.Client({ connectionString: db.url });
    await reader.connect();
    try {
      // A long report holding customers (ACCESS SHARE) for the whole migration.
      await reader.query('BEGIN; SELECT count(*) FROM customers');
      const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE orders ALTER COLUMN v TYPE bigint', execute: true, dropOld: true, retry: FAST_GIVE_UP }));
      expect(report.status).toBe('done');
      expect(report.cutover?.attempts).toBe(1);
    } finally {
      await reader.query('ROLLBACK');
      await reader.end();
    }
    expect((await db.query(`SELECT count(*)::int AS n FROM order_names`)).rows[0].n).toBe(5000);
  });

  it('one deadline covers the whole cutover transaction, not each statement: a stall between statements rolls the attempt back', async () => {
    await db.query(`CREATE TABLE stall (id int PRIMARY KEY, v int); INSERT INTO stall SELECT g, g FROM generate_series(1, 5000) g;`);
    let stalls = 0;
    onFailpoint('in-cutover', async () => {
      if (stalls++ === 0) await new Promise((r) => setTimeout(r, 1500));
    });
    const t0 = performance.now();
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE stall ALTER COLUMN v TYPE bigint', execute: true, dropOld: true, cutoverDeadlineMs: 500 }));
    expect(report.status).toBe('done');
    // The stalled attempt rolled back; a loaded machine may need more than one more within 500 ms.
    expect(report.cutover?.attempts).toBeGreaterThanOrEqual(2);
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'stall'::regclass AND attname = 'v'`)).rows[0].t).toBe('bigint');
  });

  it('a statement still running at the deadline is cancelled, and the attempt rolled back', async () => {
    await db.query(`CREATE TABLE slowstmt (id int PRIMARY KEY, v int); INSERT INTO slowstmt SELECT g, g FROM generate_series(1, 5000) g;`);
    let slow = 0;
    onFailpoint('in-cutover', async (c) => {
      if (slow++ === 0) await c!.query('SELECT pg_sleep(30)');
    });
    const t0 = performance.now();
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE slowstmt ALTER COLUMN v TYPE bigint', execute: true, dropOld: true, cutoverDeadlineMs: 500 }));
    expect(report.status).toBe('done');
    // The stalled attempt rolled back; a loaded machine may need more than one more within 500 ms.
    expect(report.cutover?.attempts).toBeGreaterThanOrEqual(2);
    // Cancelled at the deadline, not after the 30 s statement (or its 500 ms statement_timeout... which it also is: both bound it).
    expect(performance.now() - t0).toBeLessThan(25_000);
  });
});
