import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, DEFAULTS, onlineAlter } from '../src/index.js';
import { startWorkload } from '../src/demo/workload.js';
import { cloneDatabase, createTestDatabase, type TestDatabase } from './support/test-db.js';
import { diffSnapshots, snapshotCatalog } from './support/catalog-snapshot.js';

/**
 * Applying a change to the table itself (the path the strategy classifier chooses for
 * catalog-only changes and small rewrites) keeps pgshift's guarantees: under lock_timeout with
 * retries, registered and owned like a copy, one line and exit 1 with the holders named when
 * the lock never comes, and the result the same ALTER gives offline.
 */
const FAST_GIVE_UP = { ...DEFAULTS.retry, attempts: 3, backoffMs: 10, maxBackoffMs: 50 };

async function direct(db: TestDatabase, statements: string, retry = DEFAULTS.retry) {
  return onlineAlter(alterOptions({ url: db.url, statements, execute: true, retry }));
}

describe('applying a change directly', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('direct');
    await db.query(`CREATE TABLE acct (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
      CREATE TABLE acct_mirror (id int, u int, v int, note text); CREATE INDEX ON acct_mirror (id);
      INSERT INTO acct SELECT g, g, g, 'n' FROM generate_series(1, 50000) g; INSERT INTO acct_mirror SELECT * FROM acct;`);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('adds a column with a default under a mirrored workload: the catalog offline gives, no write lost, registered as done', async () => {
    const offline = await cloneDatabase(db, 'direct_offline');
    try {
      await offline.query(`ALTER TABLE acct ADD COLUMN flag boolean NOT NULL DEFAULT true, ALTER COLUMN note SET DEFAULT 'x'`);
      const workload = await startWorkload({ url: db.url, schema: 'public', table: 'acct', mirror: 'acct_mirror', workers: 2, initialRows: 50000, ratePerSecond: 300 });
      let report;
      try {
        report = await direct(db, `ALTER TABLE acct ADD COLUMN flag boolean NOT NULL DEFAULT true, ALTER COLUMN note SET DEFAULT 'x'`);
      } finally {
        const stats = await workload.stop();
        expect(stats.failures, stats.errors.join('; ')).toBe(0);
      }
      expect(report.status).toBe('done');
      expect(report.strategy).toBe('instant');
      expect(report.direct!.lockHeldMs).toBeLessThan(1000);
      const m = (await db.query(`SELECT outcome, phase, options->>'strategy' AS strategy FROM pgshift.migrations WHERE id = $1`, [report.migrationId])).rows[0];
      expect(m).toEqual({ outcome: 'done', phase: 'done', strategy: 'instant' });
      // The catalog of the migrated table equals offline's (the workload's rows differ by design).
      const a = await snapshotCatalog(offline.pool, ['public']);
      const b = await snapshotCatalog(db.pool, ['public']);
      expect(diffSnapshots(a, b)).toEqual([]);
      const diff = await db.query(`SELECT count(*)::int AS n FROM ((SELECT id, u, v, note FROM acct EXCEPT ALL SELECT * FROM acct_mirror)
        UNION ALL (SELECT * FROM acct_mirror EXCEPT ALL SELECT id, u, v, note FROM acct)) d`);
      expect(diff.rows[0].n).toBe(0);
    } finally {
      await offline.drop();
    }
  });

  it('gives up cleanly, naming the holder, when the lock never comes', async () => {
    const blocker = new pg.Client({ connectionString: db.url, application_name: 'long-report' });
    await blocker.connect();
    try {
      await blocker.query('BEGIN; SELECT count(*) FROM acct');
      const err = await direct(db, 'ALTER TABLE acct ADD COLUMN later int', FAST_GIVE_UP).catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(/could not take the table's lock in 3 attempts .*held by pid \d+ \(long-report, idle in transaction/);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'acct'::regclass AND attname = 'later'`)).rows[0].n).toBe(0);
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE statements LIKE '%later%'`)).rows[0].outcome).toBe('failed');
  });
});
