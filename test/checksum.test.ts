import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions } from '../src/index.js';
import { createPool, type Pool } from '../src/db/session.js';
import { compareTables } from '../src/verify/tables.js';
import { DEFAULT_COMPARE } from '../src/verify/compare.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { tableDigest } from './support/table-digest.js';

const CLI = new URL('../dist/src/cli/main.js', import.meta.url).pathname;

describe('pgshift checksum: two tables compared chunk by chunk', () => {
  let db: TestDatabase;
  let pool: Pool;
  beforeAll(async () => {
    db = await createTestDatabase('checksum');
    pool = createPool({ url: db.url, role: 'test', lockTimeoutMs: 1000, maxClients: 6 });
    await db.query(`
      CREATE TABLE a (id int PRIMARY KEY, n numeric, t text, at timestamptz);
      INSERT INTO a SELECT g, g * 1.5, CASE WHEN g % 10 = 0 THEN NULL ELSE 'v' || g END, '2024-01-01'::timestamptz + g * interval '1 minute'
        FROM generate_series(1, 100000) g;
      CREATE TABLE b AS TABLE a; ALTER TABLE b ADD PRIMARY KEY (id);
      CREATE TABLE planted AS TABLE a; ALTER TABLE planted ADD PRIMARY KEY (id);
      UPDATE planted SET n = n + 0.01 WHERE id = 777;          -- a changed value
      DELETE FROM planted WHERE id = 50001;                    -- a missing row
      INSERT INTO planted VALUES (100001, 1, 'extra', now());  -- an extra row
      UPDATE planted SET t = '' WHERE id = 20;                 -- NULL in a, '' in planted
      UPDATE planted SET t = t || ' ' WHERE id = 99999;        -- a trailing space`);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('finds equal tables equal', async () => {
    const r = await compareTables(pool, 'a', 'b', DEFAULT_COMPARE);
    expect(r.rowsA).toBe(100000);
    expect(r.rowsB).toBe(100000);
    expect(r.mismatchedChunks).toBe(0);
    expect(r.differences).toEqual([]);
    expect(r.columns).toEqual(['id', 'n', 't', 'at']);
  });

  it('finds and names every planted difference by key', async () => {
    const r = await compareTables(pool, 'a', 'planted', { ...DEFAULT_COMPARE, chunkRows: 10_000 });
    expect(r.differences).toEqual([
      { key: ['20'], kind: 'different' },
      { key: ['777'], kind: 'different' },
      { key: ['50001'], kind: 'only in a' },
      { key: ['99999'], kind: 'different' },
      { key: ['100001'], kind: 'only in b' },
    ]);
    expect(r.differenceCount).toBe(5);
  });

  it('compares only the columns asked for', async () => {
    const r = await compareTables(pool, 'a', 'planted', { ...DEFAULT_COMPARE, columns: ['at'] });
    expect(r.differences.map((d) => d.key[0])).toEqual(['50001', '100001']);
  });

  it('reads large tables by page ranges in parallel; rows are matched by content, not place', async () => {
    await db.query(`
      CREATE TABLE wide (id int PRIMARY KEY, pad text);
      INSERT INTO wide SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, 40000) g;
      CREATE TABLE wide_reversed AS SELECT * FROM wide ORDER BY id DESC; ALTER TABLE wide_reversed ADD PRIMARY KEY (id);
      CREATE TABLE wide_planted AS SELECT * FROM wide ORDER BY id DESC; ALTER TABLE wide_planted ADD PRIMARY KEY (id);
      UPDATE wide_planted SET pad = pad || '.' WHERE id = 3;
      DELETE FROM wide_planted WHERE id = 39000;`);
    expect(Number((await db.query(`SELECT pg_relation_size('wide') / 8192 AS p`)).rows[0].p)).toBeGreaterThanOrEqual(1000);
    const same = await compareTables(pool, 'wide', 'wide_reversed', DEFAULT_COMPARE);
    expect(same).toMatchObject({ rowsA: 40000, rowsB: 40000, chunks: 2, mismatchedChunks: 0, differenceCount: 0 });
    const diff = await compareTables(pool, 'wide', 'wide_planted', { ...DEFAULT_COMPARE, chunkRows: 5000 });
    expect(diff.rowsB).toBe(39999);
    expect(diff.mismatchedChunks).toBe(2);
    expect(diff.differences).toEqual([
      { key: ['3'], kind: 'different' },
      { key: ['39000'], kind: 'only in a' },
    ]);
  });

  it('compares a view with a table (read whole, without page ranges)', async () => {
    await db.query(`CREATE VIEW a_view AS SELECT * FROM a`);
    const same = await compareTables(pool, 'a_view', 'b', { ...DEFAULT_COMPARE, key: ['id'] });
    expect(same).toMatchObject({ rowsA: 100000, rowsB: 100000, mismatchedChunks: 0 });
    const diff = await compareTables(pool, 'a_view', 'planted', { ...DEFAULT_COMPARE, key: ['id'] });
    expect(diff.differences.map((d) => d.key[0])).toEqual(['20', '777', '50001', '99999', '100001']);
  });

  it('exits 0 when equal and 3 when different, printing the differing keys', () => {
    const run = (x: string, y: string) => spawnSync(process.execPath, [CLI, 'checksum', x, y, '--url', db.url], { encoding: 'utf8' });
    const same = run('a', 'b');
    expect(same.status, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/100000 rows.*0 differ/);
    const diff = run('a', 'planted');
    expect(diff.status, diff.stderr).toBe(3);
    expect(diff.stdout.split('\n').filter((l) => l.includes('\t'))).toEqual([
      'different\t20', 'different\t777', 'only in a\t50001', 'different\t99999', 'only in b\t100001',
    ]);
    const missing = run('a', 'nope');
    expect(missing.status).toBe(2);
  });
});

describe('validation of an online ALTER', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('validate');
  });
  afterAll(async () => {
    await db.drop();
  });

  const setUp = async (table: string): Promise<void> => {
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL, t text);
      INSERT INTO ${table} SELECT g, g, 't' || g FROM generate_series(1, 30000) g;`);
  };
  const corrupt = async (phase: string, m: { schema: string; table: string }): Promise<void> => {
    // A shadow row changed behind the engine's back: no changelog entry will repair it.
    if (phase === 'checksum') await db.query(`UPDATE "${m.schema}"."${m.table}" SET v = -v WHERE id = 1234`);
  };

  it('aborts before the cutover when the shadow was corrupted, leaving the origin intact (automatic)', async () => {
    await setUp('corrupted');
    const before = await tableDigest(db.pool, 'public.corrupted', { orderBy: ['id'] });
    const err = await onlineAlter(
      alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE corrupted ALTER COLUMN v TYPE bigint', execute: true, validation: 'comprehensive', onPhase: corrupt }),
    ).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
    expect(String(err)).toMatch(/1234 different/);
    expect(await tableDigest(db.pool, 'public.corrupted', { orderBy: ['id'] })).toEqual(before);
    const type = await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'corrupted'::regclass AND attname = 'v'`);
    expect(type.rows[0].t).toBe('integer');
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it('keeps everything for inspection with --rollback manual (exit 3), and abort removes it', async () => {
    await setUp('inspected');
    const err = await onlineAlter(
      alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE inspected ALTER COLUMN v TYPE bigint', execute: true, rollback: 'manual', onPhase: corrupt }),
    ).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(3);
    const id = Number(/pgshift abort (\d+)/.exec(String(err))?.[1]);
    expect(id).toBeGreaterThan(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'inspected'::regclass AND NOT tgisinternal`)).rows[0].n).toBe(2);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`, [`pgshift_${id}`])).rows[0].n).toBe(1);
    const abort = spawnSync(process.execPath, [CLI, 'abort', String(id), '--url', db.url], { encoding: 'utf8' });
    expect(abort.status, abort.stderr).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'inspected'::regclass AND NOT tgisinternal`)).rows[0].n).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].outcome).toBe('aborted');
    expect(spawnSync(process.execPath, [CLI, 'abort', String(id), '--url', db.url]).status).toBe(2);
  });

  it.each([
    ['an update', (t: string) => `UPDATE ${t} SET v = v + 1000000 WHERE id = 777`],
    ['a deletion', (t: string) => `DELETE FROM ${t} WHERE id = 777`],
    ['an insertion', (t: string) => `INSERT INTO ${t} VALUES (40000, 1, 'x')`],
  ])('finds %s the capture did not log (thorough, the default): nothing swapped', async (_what, write) => {
    const table = `missed_${Math.random().toString(36).slice(2, 8)}`;
    await setUp(table);
    const err = await onlineAlter(
      alterOptions({
        strategy: 'copy', url: db.url, statements: `ALTER TABLE ${table} ALTER COLUMN v TYPE bigint`, execute: true,
        // Written after the copy, its changelog entry then removed: a change the capture never saw.
        onPhase: async (phase, m) => {
          if (phase === 'checksum') await db.query(`${write(table)}; DELETE FROM "${m.logSchema}".changelog`);
        },
      }),
    ).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
    expect(String(err)).toMatch(/validation \(thorough\) found differences before the cutover/);
    const type = await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'v'`, [table]);
    expect(type.rows[0].t).toBe('integer');
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it.each(['basic', 'thorough', 'comprehensive'] as const)('passes a clean migration at level %s and reports it', async (level) => {
    await setUp(`clean_${level}`);
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: `ALTER TABLE clean_${level} ALTER COLUMN v TYPE bigint`, execute: true, validation: level }));
    const v = report.validation!;
    expect(v.passed).toBe(true);
    expect(v.level).toBe(level);
    expect(v.rowsOrigin).toBe(30000);
    expect(v.rowsShadow).toBe(30000);
    expect(v.writesHeldMs).toBeGreaterThan(0);
    expect(v.columns).toEqual(level === 'basic' ? [] : ['id', 'v', 't']);
    expect(v.constraintChecks.length > 0).toBe(level === 'comprehensive');
    // thorough looks up only what was written since the capture began; the others read every row.
    if (level === 'thorough') expect(v.rowsLookedUp?.shadow).toBe(0);
    else expect(v.rowsLookedUp).toBeUndefined();
    expect(report.cutover!.check.passed).toBe(true);
    // The count inside the cutover has a 20ms budget of lock time: a loaded machine may skip it, never get it wrong.
    const counts = report.cutover!.check.counts;
    if (typeof counts === 'string') expect(counts).toBe('skipped: over the time budget');
    else expect(counts).toEqual({ origin: 30000, shadow: 30000 });
  });
});
