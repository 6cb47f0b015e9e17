import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWNER_NAMESPACE } from '../src/db/advisory-locks.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { CLI, runCli } from './support/cli.js';

// Every test runs a NON-idempotent backfill (n = n + 1, no --where): a row updated twice or never
// shows as n <> 1. Rows are told apart by uid, which no test changes (the key may move).
const QUIET = { PGSHIFT_LOG_LEVEL: 'silent' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value other than undefined; fails after `ms` naming `what`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('pgshift backfill: a job is applied once, whatever stops it and whoever else runs it', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('backfill_safety');
  });
  afterAll(async () => {
    await db.drop();
  });

  const makeTable = (name: string, rows = 20_000) =>
    db.query(`CREATE TABLE ${name} (id int PRIMARY KEY, uid int NOT NULL UNIQUE, n int NOT NULL DEFAULT 0);
      INSERT INTO ${name} (id, uid) SELECT g, g FROM generate_series(1, ${rows}) g;`);
  const args = (table: string) => ['backfill', '--table', table, '--set', 'n = n + 1', '--execute', '--url', db.url];
  const job = async (table: string) =>
    // (no state schema before the first run)
    (await db.query(`SELECT id::int, phase, outcome, pid, host FROM pgshift.migrations WHERE kind = 'backfill' AND table_name = $1`, [table]).catch(() => ({ rows: [] }))).rows[0] as
      | { id: number; phase: string; outcome: string | null; pid: number; host: string }
      | undefined;
  const owned = async (id: number) =>
    (await db.query(`SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_database d ON d.oid = l.database AND d.datname = current_database()
                       WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2 AND l.granted) AS o`, [OWNER_NAMESPACE, id])).rows[0].o as boolean;
  const wrong = async (table: string) => (await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE n <> 1`)).rows[0].n as number;
  /** A session of the application holding some rows locked, so that the backfill has to skip them. */
  const holdRows = async (table: string, ids: number[]) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('BEGIN');
    await c.query(`SELECT FROM ${table} WHERE id = ANY ($1) FOR UPDATE`, [ids]);
    return c;
  };

  it('kill -9 while it retries the skipped keys: the rerun applies nothing twice', async () => {
    await makeTable('killed_retry');
    const holder = await holdRows('killed_retry', [7, 10_007, 19_999]);
    const child = spawn(process.execPath, [CLI, ...args('killed_retry')], { stdio: 'ignore', env: { ...process.env, ...QUIET } });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      // The walk has ended (its last batch committed); the process now retries the three held keys.
      const { id } = await until('the walk to end', async () => ((await job('killed_retry'))?.phase === 'catch-up' ? job('killed_retry') : undefined));
      child.kill('SIGKILL');
      await exited;
      await until('the killed process to let go of the job', async () => ((await owned(id)) ? undefined : true), 10_000);
      const rerun = runCli(args('killed_retry'), QUIET);
      await holder.query('COMMIT');
      const r = await rerun;
      expect(r.status, r.stderr).toBe(0);
      expect(await wrong('killed_retry')).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await holder.end();
    }
  });

  it('--max-runtime while it retries the skipped keys, a key the application moves meanwhile: the rerun applies nothing twice', async () => {
    await makeTable('timed_retry');
    const holder = await holdRows('timed_retry', [3, 12_000]);
    try {
      // As many stopped runs as the walk needs on a slow machine; each continues the last.
      for (let run = 0; (await job('timed_retry'))?.phase !== 'catch-up'; run++) {
        expect(run, 'the walk never ended').toBeLessThan(20);
        const r = await runCli([...args('timed_retry'), '--max-runtime', '2s'], QUIET);
        expect(r.status, r.stderr).toBe(4);
      }
      // The walk has ended: this run stops in the retry of the skipped keys.
      const stopped = await runCli([...args('timed_retry'), '--max-runtime', '300ms'], QUIET);
      expect(stopped.status, stopped.stderr).toBe(4);
      expect(stopped.stderr).toMatch(/--max-runtime/);
      // The application moves a row the backfill skipped (behind the walk): it is still due once.
      await holder.query('UPDATE timed_retry SET id = id + 1000000 WHERE id = 3');
      await holder.query('COMMIT');
      const finished = await runCli(args('timed_retry'), QUIET);
      expect(finished.status, finished.stderr).toBe(0);
      expect(await wrong('timed_retry')).toBe(0);
      expect((await db.query(`SELECT id FROM timed_retry WHERE uid = 3`)).rows[0].id).toBe(1_000_003);
    } finally {
      await holder.end();
    }
  });

  it('two runs of the same job at once: one runs it, the other is refused (exit 2) naming the process that runs it', async () => {
    await makeTable('twice');
    // Held rows keep the winner from finishing before the loser has had its answer.
    const holder = await holdRows('twice', [5, 15_000]);
    try {
      const runs = [runCli(args('twice'), QUIET), runCli(args('twice'), QUIET)];
      const first = await Promise.race([
        ...runs.map((p, i) => p.then((r) => ({ i, r }))),
        sleep(60_000).then(() => ({ i: -1, r: null })),
      ]);
      expect(first.r, 'neither run was refused').not.toBeNull();
      const refused = first.r!;
      expect(refused.status, refused.stderr).toBe(2);
      const owner = (await job('twice'))!;
      expect(refused.stderr.trim().split('\n')).toEqual([
        `pgshift: backfill public.twice (job ${owner.id}) is already running: pid ${owner.pid} on ${owner.host}; wait for it to finish or stop it first`,
      ]);
      expect(await owned(owner.id)).toBe(true);
      await holder.query('COMMIT');
      const winner = await runs[1 - first.i]!;
      expect(winner.status, winner.stderr).toBe(0);
      expect(await wrong('twice')).toBe(0);
    } finally {
      await holder.end();
    }
  });

  /** Three sessions flip rows' keys between two ranges (forward and back across the walk) until stopped. */
  const moveKeys = async (table: string, flip: string, rows: number) => {
    let running = true;
    let moves = 0;
    const failures: string[] = [];
    const clients = await Promise.all([0, 1, 2].map(async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      return c;
    }));
    const loops = clients.map(async (c, i) => {
      while (running) {
        const uid = 1 + Math.floor(Math.random() * rows);
        try {
          if (i < 2) {
            await c.query(flip, [uid]);
          } else {
            // Holds the row a moment before moving it: batches skip it, so pending keys move too.
            await c.query('BEGIN');
            await c.query(`SELECT FROM ${table} WHERE uid = $1 FOR UPDATE`, [uid]);
            await c.query(flip, [uid]);
            await c.query('COMMIT');
          }
          moves++;
        } catch (err) {
          failures.push((err as Error).message);
          await c.query('ROLLBACK').catch(() => undefined);
        }
      }
    });
    await until('the application to move keys', async () => (moves > 50 ? true : undefined));
    return {
      async stop() {
        running = false;
        await Promise.all(loops);
        await Promise.all(clients.map((c) => c.end()));
        return { moves, failures };
      },
    };
  };

  it('the application moves keys forward and backward across the walk: every row is updated exactly once', async () => {
    await makeTable('moving');
    const app = await moveKeys('moving', 'UPDATE moving SET id = CASE WHEN id > 1000000 THEN id - 1000000 ELSE id + 1000000 END WHERE uid = $1', 20_000);
    let r: Awaited<ReturnType<typeof runCli>>;
    let stats: { moves: number; failures: string[] };
    try {
      r = await runCli([...args('moving'), '--batch-time', '5ms'], QUIET);
    } finally {
      stats = await app.stop();
    }
    const { moves, failures } = stats;
    expect(r.status, r.stderr).toBe(0);
    expect(failures).toEqual([]);
    expect(moves).toBeGreaterThan(500);
    // Keys moved to both sides of the walk, and back.
    const sides = (await db.query(`SELECT count(*) FILTER (WHERE id > 1000000)::int AS hi, count(*) FILTER (WHERE id <= 1000000)::int AS lo FROM moving`)).rows[0];
    expect(sides.hi).toBeGreaterThan(0);
    expect(sides.lo).toBeGreaterThan(0);
    expect(await wrong('moving')).toBe(0);
    // The trigger lived for the job only, and was registered for cleanup.
    const { id } = (await job('moving'))!;
    const artifacts = await db.query(`SELECT kind, schema_name, name, on_table FROM pgshift.artifacts WHERE migration_id = $1 ORDER BY kind`, [id]);
    expect(artifacts.rows).toEqual([
      { kind: 'schema', schema_name: `pgshift_${id}`, name: `pgshift_${id}`, on_table: null },
      { kind: 'trigger', schema_name: 'public', name: `pgshift_backfill_${id}`, on_table: 'moving' },
    ]);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = $1`, [`pgshift_backfill_${id}`])).rows[0].n).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`, [`pgshift_${id}`])).rows[0].n).toBe(0);
  });

  it('a composite key of text and timestamp moves across the walk: every row is updated exactly once', async () => {
    // Text keys that sort differently as numbers ('10' < '9'), and timestamps in a session DateStyle the checkpoint does not use.
    await db.query(`CREATE TABLE moving2 (k text, at timestamptz, uid int NOT NULL UNIQUE, n int NOT NULL DEFAULT 0, PRIMARY KEY (k, at));
      INSERT INTO moving2 (k, at, uid) SELECT (g % 97)::text, timestamptz '2024-01-01' + g * interval '1 minute', g FROM generate_series(1, 10000) g;`);
    const app = await moveKeys(
      'moving2',
      `UPDATE moving2 SET k = CASE WHEN k LIKE 'z%' THEN substr(k, 2) ELSE 'z' || k END, at = at + CASE WHEN k LIKE 'z%' THEN interval '-1 year' ELSE interval '1 year' END WHERE uid = $1`,
      10_000,
    );
    let r: Awaited<ReturnType<typeof runCli>>;
    let stats: { moves: number; failures: string[] };
    await db.query(`ALTER DATABASE ${db.name} SET "DateStyle" = 'SQL, DMY'`);
    try {
      r = await runCli(['backfill', '--table', 'moving2', '--set', 'n = n + 1', '--execute', '--batch-time', '5ms', '--url', db.url], QUIET);
    } finally {
      stats = await app.stop();
      await db.query(`ALTER DATABASE ${db.name} RESET "DateStyle"`);
    }
    const { moves, failures } = stats;
    expect(r.status, r.stderr).toBe(0);
    expect(failures).toEqual([]);
    expect(moves).toBeGreaterThan(200);
    expect(await wrong('moving2')).toBe(0);
  });

  it('a REPEATABLE READ transaction whose snapshot predates a batch gets a serialization failure when it moves a key', async () => {
    await makeTable('rr', 5000);
    const holder = await holdRows('rr', [100]);
    const app = new pg.Client({ connectionString: db.url });
    await app.connect();
    const run = runCli(args('rr'), QUIET);
    try {
      const { id } = await until('the walk to end', async () => ((await job('rr'))?.phase === 'catch-up' ? job('rr') : undefined));
      await app.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const seen = (await app.query(`SELECT batches FROM pgshift_${id}.progress`)).rows[0].batches;
      // The retry of the held key commits again and again while the row stays held.
      await until('another retry to commit', async () => ((await db.query(`SELECT batches FROM pgshift_${id}.progress`)).rows[0].batches !== seen ? true : undefined));
      const err = await app.query('UPDATE rr SET id = id + 1000000 WHERE id = 2000').catch((e: { code?: string }) => e);
      expect((err as { code?: string }).code).toBe('40001');
      await app.query('ROLLBACK');
      // The same move in READ COMMITTED goes through, and the row is still updated once.
      await app.query('UPDATE rr SET id = id + 1000000 WHERE id = 2000');
      await holder.query('COMMIT');
      const r = await run;
      expect(r.status, r.stderr).toBe(0);
      expect(await wrong('rr')).toBe(0);
    } finally {
      await holder.end();
      await app.end();
      await run;
    }
  });
});
