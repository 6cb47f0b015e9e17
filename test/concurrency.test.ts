import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions } from '../src/index.js';
import { startWorkload } from '../src/demo/workload.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { fillWithMirrorAndAppRole, mirrorDifferences } from './support/mirror.js';

/**
 * No lost writes (DESIGN.md section 5): an application role with DML privileges only writes
 * the table and, in the same transaction, a mirror that is not migrated; after the swap the
 * migrated table must equal the mirror row for row, and no application transaction failed.
 */
const ROWS = 60_000;

async function setUp(db: TestDatabase, role: string): Promise<string> {
  await db.query(`
    CREATE SCHEMA app;
    CREATE TABLE app.acct (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
    CREATE INDEX acct_v_idx ON app.acct (v);
  `);
  return fillWithMirrorAndAppRole(db, role, ROWS);
}


describe.each([
  { name: 'an application role', replica: false },
  { name: 'a writer with session_replication_role = replica', replica: true },
])('concurrent writes by $name', ({ replica }) => {
  let db: TestDatabase;
  let appUrl: string;
  const role = `app_${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    db = await createTestDatabase('conc');
    appUrl = await setUp(db, role);
    if (replica) await db.query(`GRANT SET ON PARAMETER session_replication_role TO ${role}`);
  });
  afterAll(async () => {
    await db.drop();
    await db.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  });

  it('loses no write: inserts, updates, deletes, key updates and unique swaps during the migration', async () => {
    const workload = await startWorkload({
      url: appUrl,
      schema: 'app',
      table: 'acct',
      mirror: 'acct_mirror',
      workers: 3,
      initialRows: ROWS,
      sessionOptions: replica ? '-c session_replication_role=replica' : undefined,
    });
    await new Promise((r) => setTimeout(r, 300));
    const before = workload.stats().transactions;
    const report = await onlineAlter(
      alterOptions({ strategy: 'copy',
        url: db.url,
        statements: 'ALTER TABLE app.acct ALTER COLUMN id TYPE bigint, ALTER COLUMN v TYPE bigint, ADD COLUMN extra int DEFAULT 7',
        execute: true,
        chunkTimeMs: 20,
        // Paused as long as each chunk ran: more of the application's writes meet the copy's gaps.
        nice: 1,
        dropOld: true,
      }),
    );
    const during = workload.stats().transactions - before;
    await new Promise((r) => setTimeout(r, 300));
    const stats = await workload.stop();

    expect(report.status).toBe('done');
    // The default validation looked up the rows written during the run, on both sides, one by one.
    expect(report.validation!.rowsLookedUp!.origin).toBeGreaterThan(0);
    expect(report.validation!.rowsLookedUp!.shadow).toBeGreaterThan(0);
    expect(stats.errors).toEqual([]);
    expect(stats.failures).toBe(0);
    // The workload really ran while the engine copied and swapped.
    expect(during).toBeGreaterThan(50);
    expect(await mirrorDifferences(db)).toEqual([]);
    const types = await db.query(
      `SELECT attname, format_type(atttypid, atttypmod) AS t FROM pg_attribute
        WHERE attrelid = 'app.acct'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    expect(types.rows.map((r) => `${r.attname} ${r.t}`)).toEqual(['id bigint', 'u integer', 'v bigint', 'note text', 'extra integer']);
    const extra = await db.query(`SELECT count(*)::int AS n FROM app.acct WHERE extra IS DISTINCT FROM 7`);
    expect(extra.rows[0].n).toBe(0);
    const leftovers = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`);
    expect(leftovers.rows).toEqual([]);
  });
});
