import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { runCli } from '../support/cli.js';
import { alterOptions, onlineAlter } from '../../src/index.js';

/**
 * Taking a migration over after its process died (issue 11, defect 5): only the dead process's
 * own sessions are terminated, a migration whose swap committed is finished (never marked
 * aborted with its change live), and a take-over runs with the options the migration was
 * started with.
 */
async function unfinished(db: TestDatabase, table: string): Promise<{ id: number; phase: string }> {
  const r = await db.query(`SELECT id::int, phase FROM pgshift.migrations WHERE table_name = $1 AND outcome IS NULL`, [table]);
  expect(r.rows.length, `an unfinished migration of ${table}`).toBe(1);
  return r.rows[0];
}

async function typeOf(db: TestDatabase, table: string, column: string): Promise<string> {
  return (await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`, [table, column])).rows[0].t;
}

describe('take-over after a crash', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('takeover');
  });
  afterAll(async () => {
    await db.drop();
  });

  it("resume after the swap does not terminate the application's sessions writing the revert window's changelog", async () => {
    await db.query(`CREATE TABLE rw (id int PRIMARY KEY, v int NOT NULL); INSERT INTO rw SELECT g, g FROM generate_series(1, 5000) g;`);
    const killed = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE rw ALTER COLUMN v TYPE bigint', '--execute', '--revert-window', '1h', '--url', db.url], { PGSHIFT_FAILPOINT: 'after-cutover' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const { id } = await unfinished(db, 'rw');
    const app = new pg.Client({ connectionString: db.url, application_name: 'the-application' });
    await app.connect();
    try {
      // The application writes the new table; its reverse-capture trigger writes pgshift_<id>_log.reverse_changelog.
      await app.query(`BEGIN; UPDATE rw SET v = v + 1 WHERE id = 1`);
      const resumed = await runCli(['resume', String(id), '--url', db.url]);
      expect(resumed.status, resumed.stderr).toBe(0);
      await app.query('COMMIT');
    } finally {
      await app.end().catch(() => undefined);
    }
    expect((await db.query(`SELECT v::int FROM rw WHERE id = 1`)).rows[0].v).toBe(2);
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].outcome).toBe('done');
  });

  it('cleanup of a migration interrupted between its swap and the validation finishes it: done, foreign keys validated', async () => {
    await db.query(`CREATE TABLE parent_c (id int PRIMARY KEY); INSERT INTO parent_c SELECT g FROM generate_series(1, 100) g;
      CREATE TABLE child_c (id int PRIMARY KEY, p int NOT NULL REFERENCES parent_c (id), v int);
      INSERT INTO child_c SELECT g, 1 + g % 100, g FROM generate_series(1, 5000) g;`);
    const killed = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE child_c ALTER COLUMN v TYPE bigint', '--execute', '--url', db.url], { PGSHIFT_FAILPOINT: 'after-cutover' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const { id, phase } = await unfinished(db, 'child_c');
    expect(phase).toBe('validate');
    const aborted = await runCli(['abort', String(id), '--url', db.url]);
    expect(aborted.status).toBe(2);
    expect(aborted.stderr).toMatch(/has swapped the tables already.*pgshift resume/);
    const cleaned = await runCli(['cleanup', String(id), '--url', db.url]);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect(cleaned.stdout).toMatch(/interrupted after its swap: validating child_c_p_fkey/);
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].outcome).toBe('done');
    expect((await db.query(`SELECT convalidated FROM pg_constraint WHERE conname = 'child_c_p_fkey' AND conrelid = 'child_c'::regclass`)).rows[0].convalidated).toBe(true);
    expect(await typeOf(db, 'child_c', 'v')).toBe('bigint');
  });

  it('resume runs with the stored options: a postponed cutover stays postponed, a different --rollback is refused, the same one accepted', async () => {
    await db.query(`CREATE TABLE opts (id int PRIMARY KEY, v int NOT NULL); INSERT INTO opts SELECT g, g FROM generate_series(1, 5000) g;`);
    const killed = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE opts ALTER COLUMN v TYPE bigint', '--execute', '--postpone-cutover', '--rollback', 'manual', '--url', db.url], { PGSHIFT_FAILPOINT: 'after-index' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const { id } = await unfinished(db, 'opts');
    const different = await runCli(['resume', String(id), '--rollback', 'automatic', '--url', db.url]);
    expect(different.status).toBe(2);
    expect(different.stderr).toMatch(/--rollback: migration \d+ was started with manual/);
    // Without --postpone-cutover it still waits, ready, until stopped by --max-runtime (exit 4).
    const resumed = await runCli(['resume', String(id), '--rollback', 'manual', '--max-runtime', '2s', '--url', db.url]);
    expect(resumed.status, resumed.stderr).toBe(4);
    expect((await db.query(`SELECT phase FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].phase).toBe('ready');
    expect(await typeOf(db, 'opts', 'v')).toBe('integer');
    const cutover = await runCli(['cutover', String(id), '--url', db.url]);
    expect(cutover.status, cutover.stderr).toBe(0);
    const done = await runCli(['resume', String(id), '--url', db.url]);
    expect(done.status, done.stderr).toBe(0);
    expect(await typeOf(db, 'opts', 'v')).toBe('bigint');
  });

  it('two take-overs at once: one runs, the other is refused', async () => {
    await db.query(`CREATE TABLE twice (id int PRIMARY KEY, v int NOT NULL); INSERT INTO twice SELECT g, g FROM generate_series(1, 5000) g;`);
    const killed = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE twice ALTER COLUMN v TYPE bigint', '--execute', '--postpone-cutover', '--url', db.url], { PGSHIFT_FAILPOINT: 'after-index' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const { id } = await unfinished(db, 'twice');
    const [a, b] = await Promise.all([
      runCli(['resume', String(id), '--max-runtime', '3s', '--url', db.url]),
      runCli(['resume', String(id), '--max-runtime', '3s', '--url', db.url]),
    ]);
    expect([a.status, b.status].sort()).toEqual([2, 4]);
    expect([a.stderr, b.stderr].join('\n')).toMatch(/being run by another process/);
  });

  it('a run whose owner session ends stops before its next phase (exit 4), and a resume finishes it', async () => {
    await db.query(`CREATE TABLE owned (id int PRIMARY KEY, v int NOT NULL); INSERT INTO owned SELECT g, g FROM generate_series(1, 20000) g;`);
    let id = 0;
    const err = await onlineAlter(
      alterOptions({ strategy: 'copy',
        url: db.url, statements: 'ALTER TABLE owned ALTER COLUMN v TYPE bigint', execute: true, dropOld: true,
        onPhase: async (phase, m) => {
          if (phase !== 'index') return;
          id = m.id;
          const r = await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, [`pgshift:${m.id}:owner`]);
          expect(r.rowCount).toBe(1);
        },
      }),
    ).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(4);
    expect(String(err)).toMatch(/lost its ownership of migration \d+/);
    expect(await typeOf(db, 'owned', 'v')).toBe('integer');
    const resumed = await runCli(['resume', String(id), '--url', db.url]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(await typeOf(db, 'owned', 'v')).toBe('bigint');
  });
});
