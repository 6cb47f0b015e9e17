import pg from 'pg';
import { onlineAlter, alterOptions } from '../../src/index.js';
import { startWorkload, type WorkloadStats } from '../../src/demo/workload.js';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from './test-db.js';
import { fillWithMirrorAndAppRole, mirrorDifferences } from './mirror.js';

/**
 * The mirrored workload (src/demo/workload.ts) on a table partitioned by range of its key: the
 * initial rows spread over `partitions - 1` ranges, and every id the workload makes (inserts,
 * key updates, which start above initialRows + 1,000,000) lands in the last, open-ended one, so
 * each key update moves a row from one partition to another (DELETE there, INSERT here). `u`
 * is not UNIQUE: a unique index on a partitioned table must include the partition key.
 */
/**
 * A partitioned database per call (setUpPartitioned, each with its own application role), for a
 * describe whose tests each need a fresh one: all are dropped, with their roles, after it.
 */
export function partitionedDatabasePerTest(prefix: string, rows: number, partitions: number): () => Promise<TestDatabase> {
  const dbs: TestDatabase[] = [];
  const roles: string[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.drop();
    for (const role of roles) await dbs[0]?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  });
  return async () => {
    const db = await createTestDatabase(prefix);
    dbs.push(db);
    const role = `app_${Math.random().toString(36).slice(2, 8)}`;
    roles.push(role);
    await setUpPartitioned(db, role, rows, partitions);
    return db;
  };
}

export async function setUpPartitioned(db: TestDatabase, role: string, rows: number, partitions: number): Promise<string> {
  const ranges = partitions - 1;
  const width = Math.ceil(rows / ranges);
  const parts = Array.from({ length: ranges }, (_, i) =>
    `CREATE TABLE app.acct_p${i} PARTITION OF app.acct FOR VALUES FROM (${i === 0 ? 'MINVALUE' : i * width + 1}) TO (${(i + 1) * width + 1});`,
  ).join('\n');
  await db.query(`
    CREATE SCHEMA app;
    CREATE TABLE app.acct (id int PRIMARY KEY, u int NOT NULL, v int NOT NULL, note text) PARTITION BY RANGE (id);
    ${parts}
    CREATE TABLE app.acct_new PARTITION OF app.acct FOR VALUES FROM (${ranges * width + 1}) TO (MAXVALUE);
    CREATE INDEX acct_v_idx ON app.acct (v);
  `);
  return fillWithMirrorAndAppRole(db, role, rows);
}

export interface PartitionedRun {
  status: string;
  stats: WorkloadStats;
  during: number;
  differences: string[];
  movedRows: number;
  /** the validation's one-by-one look-ups (verify/validate.ts), absent when it read every row */
  rowsLookedUp: { origin: number; shadow: number } | undefined;
  /** the copy's lanes as the index build found them: how many, how many done, the partitions they read */
  lanes: { n: number; done: number; sources: string[] } | null;
}

/** The workload runs while pgshift changes the partitioned table; then table and mirror are compared. */
export async function migrateUnderLoad(db: TestDatabase, appUrl: string, rows: number): Promise<PartitionedRun> {
  const workload = await startWorkload({ url: appUrl, schema: 'app', table: 'acct', mirror: 'acct_mirror', workers: 3, initialRows: rows });
  await new Promise((r) => setTimeout(r, 300));
  const before = workload.stats().transactions;
  let lanes: PartitionedRun['lanes'] = null;
  const report = await onlineAlter(
    alterOptions({
      strategy: 'copy',
      url: db.url,
      statements: 'ALTER TABLE app.acct ALTER COLUMN v TYPE bigint, ADD COLUMN extra int DEFAULT 7',
      execute: true,
      chunkTimeMs: 20,
      dropOld: true,
      onPhase: async (phase, m) => {
        if (phase !== 'index') return;
        const r = await db.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE done)::int AS done, array_agg(source ORDER BY source) AS sources FROM "${m.logSchema}".copy_lanes`);
        lanes = r.rows[0];
      },
    }),
  );
  const during = workload.stats().transactions - before;
  await new Promise((r) => setTimeout(r, 300));
  const stats = await workload.stop();
  const moved = await db.query(`SELECT count(*)::int AS n FROM app.acct_new`);
  return { status: report.status, stats, during, differences: await mirrorDifferences(db), movedRows: moved.rows[0].n, rowsLookedUp: report.validation?.rowsLookedUp, lanes };
}

/**
 * Inside a describe: a database of its own holding setUpPartitioned's table (12 partitions), its
 * mirror and application role, handed to `use` before the tests; dropped after them.
 */
export function partitionedDatabase(name: string, rows: number, use: (db: TestDatabase, appUrl: string) => void, timeoutMs?: number): void {
  const role = `app_${Math.random().toString(36).slice(2, 8)}`;
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(name);
    use(db, await setUpPartitioned(db, role, rows, 12));
  }, timeoutMs);
  afterAll(async () => {
    await db?.drop();
    await db?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  });
}

/** Writers of a referencing table, running until stopped: how many rows they inserted, and their errors. */
export interface ReferencingWriter {
  inserted(): number;
  stop(): Promise<string[]>;
}

/**
 * Two writers inserting into `table (acct_id)` rows that reference a row of `source` (the
 * partitioned table or one partition) with a key in [lo, hi]: each insert takes that row FOR KEY
 * SHARE first (as the foreign key's check does), so a row the workload deletes or moves meanwhile
 * is skipped or retried (40001, 40P01), never an error of the migration's making.
 */
export function referencingWriter(url: string, x: { table: string; source: string; lo: number; hi: number }): ReferencingWriter {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const errors: string[] = [];
  let inserted = 0;
  let stopping = false;
  const write = async (): Promise<void> => {
    while (!stopping) {
      const from = x.lo + Math.floor(Math.random() * (x.hi - x.lo));
      try {
        const r = await pool.query(`INSERT INTO ${x.table} (acct_id) SELECT id FROM (SELECT id FROM ${x.source} WHERE id >= $1 AND id <= $2 ORDER BY id LIMIT 1 FOR KEY SHARE) k`, [from, x.hi]);
        inserted += r.rowCount ?? 0;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== '40001' && code !== '40P01') errors.push(String(err));
      }
    }
  };
  const writers = [write(), write()];
  return {
    inserted: () => inserted,
    stop: async () => {
      stopping = true;
      await Promise.all(writers);
      await pool.end();
      return errors;
    },
  };
}
