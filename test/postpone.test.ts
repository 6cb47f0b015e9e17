import { runCli } from './support/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions } from '../src/index.js';
import { startWorkload } from '../src/demo/workload.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('postponed cutover', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('postpone');
  });
  afterAll(async () => {
    await db.drop();
  });

  const setUp = async (table: string): Promise<void> => {
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
      CREATE TABLE ${table}_mirror (id int, u int, v int, note text); CREATE INDEX ON ${table}_mirror (id);
      INSERT INTO ${table} SELECT g, g, g, 'n' FROM generate_series(1, 20000) g; INSERT INTO ${table}_mirror SELECT * FROM ${table};`);
  };
  const typeOf = async (table: string): Promise<string> =>
    (await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'v'`, [table])).rows[0].t;
  const differences = async (table: string): Promise<number> =>
    (await db.query(`SELECT count(*)::int AS n FROM ((SELECT id, u, v, note FROM ${table} EXCEPT ALL SELECT * FROM ${table}_mirror)
      UNION ALL (SELECT * FROM ${table}_mirror EXCEPT ALL SELECT id, u, v, note FROM ${table})) d`)).rows[0].n;

  it('waits ready to cut over, replaying writes, until pgshift cutover is run from another process', async () => {
    await setUp('waiting');
    const workload = await startWorkload({ url: db.url, schema: 'public', table: 'waiting', mirror: 'waiting_mirror', workers: 2, initialRows: 20000, ratePerSecond: 200 });
    const run = onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE waiting ALTER COLUMN v TYPE bigint', execute: true, postponeCutover: true }));
    const outcome = run.then(() => null, (e: unknown) => e);
    let id = 0;
    for (;;) {
      const r = await db.query(`SELECT id::int, state FROM pgshift.status WHERE "table" = 'public.waiting'`).catch(() => ({ rows: [] }));
      if (r.rows[0]?.state === 'ready to cut over') {
        id = r.rows[0].id;
        break;
      }
      await sleep(20);
    }
    const before = workload.stats().transactions;
    await sleep(1500);
    expect(await typeOf('waiting')).toBe('integer'); // not swapped while waiting
    expect(workload.stats().transactions - before).toBeGreaterThan(50);
    const status = await runCli(['status', String(id), '--url', db.url]);
    expect(status.stdout).toMatch(/ready to cut over.*backlog \d+/);
    const cut = await runCli(['cutover', String(id), '--url', db.url]);
    expect(cut.status, cut.stderr).toBe(0);
    expect(await outcome).toBeNull();
    const stats = await workload.stop();
    expect(stats.failures).toBe(0);
    expect(await typeOf('waiting')).toBe('bigint');
    expect(await differences('waiting')).toBe(0);
  });

  it('cuts over by itself at --cutover-at (server clock)', async () => {
    await setUp('timed');
    // The time is set when the migration is ready (its wait reads it then): a loaded machine may
    // take any time to get there, and a time already past would mean tomorrow.
    const opts = alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE timed ALTER COLUMN v TYPE bigint', execute: true, cutoverAt: '00:00' });
    let t0 = Date.now();
    let shadowOptions: string[] | null = null;
    opts.onPhase = async (phase, m) => {
      // A shadow that waits for its cutover gets its own autovacuum settings back before the swap.
      if (phase === 'cutover') shadowOptions = (await db.query(`SELECT coalesce(reloptions, '{}') AS o FROM pg_class WHERE oid = $1::regclass`, [`"${m.schema}"."${m.table}"`])).rows[0].o;
      if (phase !== 'ready') return;
      opts.cutoverAt = (await db.query(`SELECT to_char(localtime + interval '2 seconds', 'HH24:MI:SS') AS t`)).rows[0].t as string;
      t0 = Date.now();
    };
    const report = await onlineAlter(opts);
    expect(report.status).toBe('done');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(shadowOptions).toEqual([]);
    expect(await typeOf('timed')).toBe('bigint');
    const events = await db.query(`SELECT e.phase FROM pgshift.events e JOIN pgshift.migrations m ON m.id = e.migration_id WHERE m.table_name = 'timed' ORDER BY e.at`);
    expect(events.rows.map((r) => r.phase)).toContain('ready');
  });

  it('--max-runtime while waiting exits 4 with everything kept, and resume cuts over', async () => {
    await setUp('stopped');
    const stopped = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE stopped ALTER COLUMN v TYPE bigint', '--execute', '--postpone-cutover', '--max-runtime', '3s', '--url', db.url]);
    expect(stopped.status, stopped.stderr).toBe(4);
    expect(stopped.stderr).toMatch(/stopped at --max-runtime; pgshift resume (\d+) continues/);
    const id = Number(/pgshift resume (\d+)/.exec(stopped.stderr)![1]);
    expect((await db.query(`SELECT state FROM pgshift.status WHERE id = $1`, [id])).rows[0].state).toBe('ready to cut over');
    expect(await typeOf('stopped')).toBe('integer');
    // The resumed migration keeps --postpone-cutover (stored with it): it cuts over once asked.
    const asked = await runCli(['cutover', String(id), '--url', db.url]);
    expect(asked.status, asked.stderr).toBe(0);
    const resumed = await runCli(['resume', String(id), '--url', db.url]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(await typeOf('stopped')).toBe('bigint');
  });
});
