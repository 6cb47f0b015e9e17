import { runCli } from './support/cli.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions, DEFAULTS } from '../src/index.js';
import { createTestDatabase, untilMigration, type TestDatabase } from './support/test-db.js';
import { tableDigest } from './support/table-digest.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('throttling and lock safety', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('throttle');
  });
  afterAll(async () => {
    await db.drop();
  });

  const migration = async (table: string) =>
    (await db.query(`SELECT id::int, phase, rows_copied::int AS rows, throttle_reason, outcome FROM pgshift.migrations WHERE table_name = $1`, [table]).catch(() => ({ rows: [] })))
      .rows[0] as { id: number; phase: string; rows: number; throttle_reason: string | null; outcome: string | null } | undefined;
  const untilPhase = (table: string, phase: string): Promise<number> => untilMigration(db, table, phase);
  const bigTable = async (table: string, rows = 200_000): Promise<void> => {
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int, pad text);
      INSERT INTO ${table} SELECT g, g, repeat('x', 50) FROM generate_series(1, ${rows}) g; ANALYZE ${table};`);
  };
  /** The copy stands still while throttled: same row count over a second, reason recorded. */
  const expectHeld = async (table: string, reason: RegExp): Promise<void> => {
    let m = await migration(table);
    for (let i = 0; i < 50 && !m?.throttle_reason; i++) {
      await sleep(100);
      m = await migration(table);
    }
    expect(m?.throttle_reason).toMatch(reason);
    // A chunk another lane had begun before the throttle was seen still commits: wait until the
    // count settles (bounded), then it must stay still.
    let before = (await migration(table))!.rows;
    for (let i = 0; i < 20; i++) {
      await sleep(300);
      const now = (await migration(table))!.rows;
      if (now === before) break;
      before = now;
    }
    await sleep(1000);
    const after = (await migration(table))!;
    expect(after.rows).toBe(before);
    expect(after.phase, 'held in the copy, not finished').toBe('copy');
  };

  it('pause and unpause from another process, with status showing why', async () => {
    await bigTable('paused_t');
    let pause: Awaited<ReturnType<typeof runCli>> | undefined;
    const run = onlineAlter(
      alterOptions({ strategy: 'copy',
        url: db.url,
        statements: 'ALTER TABLE paused_t ALTER COLUMN v TYPE bigint',
        execute: true,
        chunkTimeMs: 10,
        // The operator pauses it from another process as the copy begins (the hook waits for it).
        onPhase: async (phase, m) => {
          if (phase === 'copy') pause = await runCli(['pause', String(m.id), '--url', db.url]);
        },
      }),
    );
    const outcome = run.then(() => null, (e: unknown) => e);
    const id = await untilPhase('paused_t', 'copy');
    while (!pause) await sleep(20);
    expect(pause.status, pause.stderr).toBe(0);
    await expectHeld('paused_t', /paused by the operator/);
    const status = await runCli(['status', String(id), '--url', db.url]);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/copy \(paused\).*throttled: paused by the operator/);
    const unpause = await runCli(['unpause', String(id), '--url', db.url]);
    expect(unpause.status, unpause.stderr).toBe(0);
    expect(await outcome).toBeNull();
    expect((await migration('paused_t'))?.outcome).toBe('done');
  });

  it('a throttle query that flips holds the copy, then lets it finish', async () => {
    await bigTable('flipped_t');
    await db.query(`CREATE TABLE busy_flag (v int); INSERT INTO busy_flag VALUES (0);`);
    const run = onlineAlter(
      alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE flipped_t ALTER COLUMN v TYPE bigint', execute: true, chunkTimeMs: 10, throttle: { throttleQuery: 'SELECT v FROM busy_flag' } }),
    );
    const outcome = run.then(() => null, (e: unknown) => e);
    await untilPhase('flipped_t', 'copy');
    await db.query('UPDATE busy_flag SET v = 1');
    await expectHeld('flipped_t', /--throttle-query returned 1/);
    await db.query('UPDATE busy_flag SET v = 0');
    expect(await outcome).toBeNull();
  });

  it('a critical query stops the migration safely, origin intact', async () => {
    await bigTable('critical_t');
    const before = await tableDigest(db.pool, 'public.critical_t', { orderBy: ['id'] });
    await db.query(`CREATE TABLE alarm (v int); INSERT INTO alarm VALUES (0);`);
    const run = onlineAlter(
      alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE critical_t ALTER COLUMN v TYPE bigint', execute: true, chunkTimeMs: 10, throttle: { criticalQuery: 'SELECT v FROM alarm' } }),
    );
    const outcome = run.then(() => null, (e: unknown) => e);
    await untilPhase('critical_t', 'copy');
    await db.query('UPDATE alarm SET v = 1');
    const err = await outcome;
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
    expect(String(err)).toMatch(/stopped safely: --critical-query returned 1/);
    expect(await tableDigest(db.pool, 'public.critical_t', { orderBy: ['id'] })).toEqual(before);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname IN (SELECT s FROM pgshift.migrations, unnest(ARRAY[artifact_schema, artifact_schema || '_log']) s WHERE table_name = 'critical_t')`)).rows).toEqual([]);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'critical_t'::regclass AND NOT tgisinternal`)).rows[0].n).toBe(0);
  });

  it('shrinks the chunk size when rows become much more expensive', async () => {
    await db.query(`CREATE TABLE wide_t (id int PRIMARY KEY, v int, body text);
      INSERT INTO wide_t SELECT g, g, CASE WHEN g > 5000 THEN (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 160) i) END
        FROM generate_series(1, 35000) g;`);
    const sizes: { rows: number; chunk: number }[] = [];
    await onlineAlter(
      alterOptions({ strategy: 'copy',
        url: db.url,
        statements: 'ALTER TABLE wide_t ALTER COLUMN v TYPE bigint',
        execute: true,
        chunkTimeMs: 50,
        onProgress: (p) => sizes.push({ rows: p.rowsCopied, chunk: p.chunkRows ?? 0 }),
      }),
    );
    const narrow = Math.max(...sizes.filter((s) => s.rows <= 5000).map((s) => s.chunk));
    const wide = sizes.filter((s) => s.rows > 10000).map((s) => s.chunk);
    expect(wide.length).toBeGreaterThan(2);
    // Each wide row carries ~5KB of toasted text: the chunker comes down, at most 2x a step.
    expect(Math.min(...wide)).toBeLessThanOrEqual(narrow / 4);
  });

  it('retries the cutover around a blocking transaction without making readers wait longer than one attempt', async () => {
    await db.query(`CREATE TABLE blocked_t (id int PRIMARY KEY, v int); INSERT INTO blocked_t SELECT g, g FROM generate_series(1, 20000) g;`);
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    const reader = new pg.Client({ connectionString: db.url });
    await reader.connect();
    let reading = true;
    let worst = 0;
    const reads = (async () => {
      while (reading) {
        const t0 = performance.now();
        await reader.query('SELECT v FROM blocked_t WHERE id = 7');
        worst = Math.max(worst, performance.now() - t0);
        await sleep(5);
      }
    })();
    try {
      const run = onlineAlter(
        alterOptions({ strategy: 'copy',
          url: db.url,
          statements: 'ALTER TABLE blocked_t ALTER COLUMN v TYPE bigint',
          execute: true,
          onPhase: async (phase) => {
            // Just before the cutover, an application transaction takes a lock and sits on it.
            if (phase === 'cutover') {
              await blocker.query('BEGIN');
              await blocker.query('SELECT count(*) FROM blocked_t');
            }
          },
        }),
      );
      const outcome = run.then((r) => r, (e: unknown) => e);
      await untilPhase('blocked_t', 'cutover');
      await sleep(2500);
      expect((await migration('blocked_t'))?.outcome).toBeNull(); // still waiting for its lock
      await blocker.query('COMMIT');
      const report = await outcome;
      expect((report as { status?: string }).status, String(report)).toBe('done');
      expect((report as { cutover: { attempts: number } }).cutover.attempts).toBeGreaterThan(1);
    } finally {
      reading = false;
      await reads;
      await reader.end();
      await blocker.end().catch(() => undefined);
    }
    expect(worst).toBeLessThan(DEFAULTS.retry.maxLockTimeoutMs + 250);
  });

  it('--terminate-blockers ends a transaction that blocks the cutover for longer than the grace period', async () => {
    await db.query(`CREATE TABLE idle_t (id int PRIMARY KEY, v int); INSERT INTO idle_t SELECT g, g FROM generate_series(1, 20000) g;`);
    const blocker = new pg.Client({ connectionString: db.url });
    blocker.on('error', () => undefined);
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT count(*) FROM idle_t');
    const report = await onlineAlter(
      alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE idle_t ALTER COLUMN v TYPE bigint', execute: true, throttle: { blockers: 'terminate', blockerGraceMs: 500 } }),
    );
    expect(report.status).toBe('done');
    const err = await blocker.query('SELECT 1').then(() => null, (e: unknown) => e);
    expect(err).not.toBeNull(); // its session was terminated
    await blocker.end().catch(() => undefined);
  });
});
