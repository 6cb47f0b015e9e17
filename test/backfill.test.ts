import { spawn, spawnSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions } from '../src/index.js';
import { createTestDatabase, cloneDatabase, type TestDatabase } from './support/test-db.js';
import { tableDigest } from './support/table-digest.js';
import { CLI, runCli } from './support/cli.js';
import { diffSnapshots, snapshotCatalog } from './support/catalog-snapshot.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pgshift = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });

describe('pgshift backfill', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('backfill');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('updates 500,000 rows under concurrent updates of the same rows; the application never fails nor waits on it for long', async () => {
    await db.query(`CREATE TABLE ledger (id int PRIMARY KEY, v int NOT NULL, doubled int);
      INSERT INTO ledger SELECT g, g, NULL FROM generate_series(1, 500000) g;`);
    // The application already writes the new column for the rows it touches.
    let running = true;
    let failures = 0;
    let worst = 0;
    let transactions = 0;
    const apps = await Promise.all([1, 2].map(async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      return c;
    }));
    const loops = apps.map(async (c) => {
      while (running) {
        const t0 = performance.now();
        try {
          await c.query('UPDATE ledger SET v = v + 1, doubled = (v + 1) * 2 WHERE id = $1', [1 + Math.floor(Math.random() * 500000)]);
          transactions++;
        } catch {
          failures++;
        }
        worst = Math.max(worst, performance.now() - t0);
      }
    });
    // Spawned asynchronously: the application's loops must go on while the backfill runs.
    const run = await runCli(['backfill', '--table', 'ledger', '--set', 'doubled = v * 2', '--where', 'doubled IS NULL', '--execute', '--url', db.url]);
    running = false;
    await Promise.all(loops);
    await Promise.all(apps.map((c) => c.end()));
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/done: \d+ rows updated/);
    expect(transactions).toBeGreaterThan(100);
    expect(failures).toBe(0);
    // Batches of ~50ms hold their rows that long at most; the backfill itself never waits (SKIP LOCKED).
    expect(worst).toBeLessThan(300);
    const wrong = await db.query(`SELECT count(*)::int AS n FROM ledger WHERE doubled IS DISTINCT FROM v * 2`);
    expect(wrong.rows[0].n).toBe(0);
  });

  it('a dry run changes nothing and shows the plan, a sample, and the idempotency warning', async () => {
    await db.query(`CREATE TABLE dry (id int PRIMARY KEY, v int); INSERT INTO dry SELECT g, g FROM generate_series(1, 1000) g;`);
    const before = await tableDigest(db.pool, 'public.dry', { orderBy: ['id'] });
    const r = pgshift(['backfill', '--table', 'dry', '--set', 'v = v + 1', '--url', db.url]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1000 rows match/);
    expect(r.stdout).toMatch(/key 1: \{"v":"1"\} -> \{"v":"2"\}/);
    expect(r.stdout).toMatch(/warning: the predicate does not exclude rows already done/);
    expect(await tableDigest(db.pool, 'public.dry', { orderBy: ['id'] })).toEqual(before);
  });

  it('after kill -9 a rerun finishes without applying any batch twice (a non-idempotent update)', async () => {
    await db.query(`CREATE TABLE killed (id int PRIMARY KEY, v int NOT NULL); INSERT INTO killed SELECT g, g FROM generate_series(1, 300000) g;`);
    const args = ['backfill', '--table', 'killed', '--set', 'v = v + 1000', '--execute', '--batch-time', '10ms', '--url', db.url];
    const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
    for (;;) {
      const r = await db.query(`SELECT rows_copied::int AS n FROM pgshift.migrations WHERE kind = 'backfill' AND table_name = 'killed'`).catch(() => ({ rows: [] }));
      if ((r.rows[0]?.n ?? 0) > 30000) break;
      await sleep(5);
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const mid = (await db.query(`SELECT count(*) FILTER (WHERE v <> id)::int AS done FROM killed`)).rows[0].done;
    expect(mid).toBeGreaterThan(0);
    expect(mid).toBeLessThan(300000);
    const rerun = pgshift(args);
    expect(rerun.status, rerun.stderr).toBe(0);
    const wrong = await db.query(`SELECT count(*)::int AS n FROM killed WHERE v <> id + 1000`);
    expect(wrong.rows[0].n).toBe(0);
  });

  it('stops cleanly when the window closes (exit 4), and a later run finishes', async () => {
    await db.query(`CREATE TABLE windowed (id int PRIMARY KEY, v int NOT NULL); INSERT INTO windowed SELECT g, g FROM generate_series(1, 400000) g;`);
    const now = (await db.query(`SELECT to_char(localtime - interval '1 minute', 'HH24:MI:SS') AS a, to_char(localtime + interval '1.5 seconds', 'HH24:MI:SS') AS b`)).rows[0];
    const args = ['backfill', '--table', 'windowed', '--set', 'v = v + 1000', '--execute', '--batch-time', '10ms', '--url', db.url];
    const stopped = pgshift([...args, '--window', `${now.a}-${now.b}`]);
    expect(stopped.status, stopped.stderr).toBe(4);
    expect(stopped.stderr).toMatch(/outside the --window/);
    // How far it got depends on how fast this machine started it (a loaded box may do nothing
    // before the window closes): what matters is that it stopped before the end, cleanly.
    const mid = (await db.query(`SELECT count(*) FILTER (WHERE v <> id)::int AS done FROM windowed`)).rows[0].done;
    expect(mid).toBeLessThan(400000);
    const status = pgshift(['status', '--url', db.url]);
    expect(status.stdout).toMatch(/public\.windowed/);
    const finished = pgshift(args);
    expect(finished.status, finished.stderr).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM windowed WHERE v <> id + 1000`)).rows[0].n).toBe(0);
  });

  it('--max-runtime stops with exit 4 and the same command continues', async () => {
    await db.query(`CREATE TABLE timed (id int PRIMARY KEY, v int NOT NULL); INSERT INTO timed SELECT g, g FROM generate_series(1, 300000) g;`);
    const args = ['backfill', '--table', 'timed', '--set', 'v = v + 1000', '--execute', '--batch-time', '10ms', '--url', db.url];
    const stopped = pgshift([...args, '--max-runtime', '400ms']);
    expect(stopped.status, stopped.stderr).toBe(4);
    const finished = pgshift(args);
    expect(finished.status, finished.stderr).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM timed WHERE v <> id + 1000`)).rows[0].n).toBe(0);
  });

  it('refuses a bad window, a second statement, and an unknown table with exit 2', () => {
    expect(pgshift(['backfill', '--table', 'dry', '--set', 'v = 1', '--window', '25:00-01:00', '--url', db.url]).status).toBe(2);
    expect(pgshift(['backfill', '--table', 'dry', '--set', 'v = 1; DROP TABLE dry', '--url', db.url]).status).toBe(2);
    expect(pgshift(['backfill', '--table', 'nope', '--set', 'v = 1', '--url', db.url]).status).toBe(2);
  });
});

describe('--transform during an online ALTER', () => {
  it('gives the same result as the ALTER followed by an UPDATE offline', async () => {
    const a = await createTestDatabase('transform');
    try {
      await a.query(`CREATE TABLE people (id int PRIMARY KEY, first text, last text, born date);
        INSERT INTO people SELECT g, 'f' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'l' || g END, date '1950-01-01' + g FROM generate_series(1, 5000) g;`);
      const b = await cloneDatabase(a, 'transform_b');
      try {
        await a.query(`ALTER TABLE people ADD COLUMN full_name text, ADD COLUMN decade int; ALTER TABLE people RENAME COLUMN last TO surname;
          UPDATE people SET full_name = first || ' ' || coalesce(surname, '?'), decade = extract(year FROM born)::int / 10 * 10;`);
        const report = await onlineAlter(
          alterOptions({ strategy: 'copy',
            url: b.url,
            statements: 'ALTER TABLE people ADD COLUMN full_name text, ADD COLUMN decade int; ALTER TABLE people RENAME COLUMN last TO surname',
            transforms: [`full_name = first || ' ' || coalesce(surname, '?')`, 'decade = extract(year FROM born)::int / 10 * 10'],
            execute: true,
          }),
        );
        expect(report.status).toBe('done');
        expect(diffSnapshots(await snapshotCatalog(a.pool, ['public']), await snapshotCatalog(b.pool, ['public']))).toEqual([]);
        expect(await tableDigest(b.pool, 'public.people', { orderBy: ['id'] })).toEqual(await tableDigest(a.pool, 'public.people', { orderBy: ['id'] }));
      } finally {
        await b.drop();
      }
    } finally {
      await a.drop();
    }
  });
});
