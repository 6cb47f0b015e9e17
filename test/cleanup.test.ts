import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { tableDigest } from './support/table-digest.js';

const CLI = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
const pgshift = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

describe('the kept old table and pgshift cleanup', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('cleanup');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('keeps the old table without its foreign keys until cleanup, which says what it drops', async () => {
    await db.query(`CREATE TABLE parent (id int PRIMARY KEY);
      INSERT INTO parent SELECT g FROM generate_series(1, 100) g;
      CREATE TABLE kid (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id), v int);
      INSERT INTO kid SELECT g, 1 + g % 100, g FROM generate_series(1, 5000) g;`);
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE kid ALTER COLUMN v TYPE bigint', execute: true }));
    const id = report.migrationId!;
    const kept = await db.query(`SELECT count(*)::int AS n FROM pgshift_${id}.kid`);
    expect(kept.rows[0].n).toBe(5000);
    // The new table has the foreign key; the kept one has none, so it blocks no parent delete.
    const fks = await db.query(`SELECT conrelid::regclass::text AS t FROM pg_constraint WHERE contype = 'f' AND confrelid = 'parent'::regclass`);
    expect(fks.rows).toEqual([{ t: 'kid' }]);
    await db.query(`DELETE FROM kid WHERE parent_id = 7; DELETE FROM parent WHERE id = 7`);

    const first = pgshift(['cleanup', String(id), '--url', db.url]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`migration ${id} on public.kid \\(done\\): dropping tables kid in pgshift_${id}; schema pgshift_${id}`));
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname = $1`, [`pgshift_${id}`])).rows).toEqual([]);
    const again = pgshift(['cleanup', String(id), '--url', db.url]);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/nothing to clean up/);
  });

  it('cleanup --all finds what an interrupted migration left behind once its process is gone', async () => {
    await db.query(`CREATE TABLE orphaned (id int PRIMARY KEY, v int); INSERT INTO orphaned SELECT g, g FROM generate_series(1, 40000) g;`);
    const before = await tableDigest(db.pool, 'public.orphaned', { orderBy: ['id'] });
    await new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, 'alter', '--strategy', 'copy', 'ALTER TABLE orphaned ALTER COLUMN v TYPE bigint', '--execute', '--chunk-time', '20ms', '--url', db.url], {
        env: { ...process.env, PGSHIFT_FAILPOINT: 'mid-copy' },
        stdio: 'ignore',
      });
      child.on('close', resolve);
    });
    const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = 'orphaned'`)).rows[0].id;
    const r = pgshift(['cleanup', '--all', '--url', db.url]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`migration ${id} on public.orphaned \\(interrupted in phase copy, its process is gone\\): dropping triggers pgshift_capture_${id} on public.orphaned, pgshift_truncate_${id} on public.orphaned`));
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'orphaned'::regclass AND NOT tgisinternal`)).rows[0].n).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
    expect(await tableDigest(db.pool, 'public.orphaned', { orderBy: ['id'] })).toEqual(before);
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].outcome).toBe('aborted');
    expect(pgshift(['cleanup', '--url', db.url]).status).toBe(2);
  });

  it('cleanup --all removes what a stopped backfill left on the table (its key-move trigger and job tables)', async () => {
    await db.query(`CREATE TABLE filled (id int PRIMARY KEY, v int NOT NULL); INSERT INTO filled SELECT g, g FROM generate_series(1, 200000) g;`);
    const stopped = pgshift(['backfill', '--table', 'filled', '--set', 'v = v + 1', '--execute', '--batch-time', '10ms', '--max-runtime', '300ms', '--url', db.url]);
    expect(stopped.status, stopped.stderr).toBe(4);
    const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE kind = 'backfill' AND table_name = 'filled'`)).rows[0].id;
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'filled'::regclass AND NOT tgisinternal`)).rows[0].n).toBe(1);
    const r = pgshift(['cleanup', '--all', '--url', db.url]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`backfill ${id} on public.filled \\(interrupted in phase \\w+, its process is gone\\): dropping triggers pgshift_backfill_${id} on public.filled`));
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'filled'::regclass AND NOT tgisinternal`)).rows[0].n).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname = $1`, [`pgshift_${id}`])).rows).toEqual([]);
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].outcome).toBe('aborted');
  });
});
