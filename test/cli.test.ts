import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { tableDigest } from './support/table-digest.js';

/** The command line as users run it: exit codes from DESIGN.md's table, one-line errors. */
const CLI = new URL('../dist/src/cli/main.js', import.meta.url).pathname;

function pgshift(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: '', ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exactly one line on stderr, naming the problem, and no stack trace. */
function expectOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('pgshift alter on the command line', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('cli');
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, note text);
      INSERT INTO t SELECT g, g * 10, 'n' || g FROM generate_series(1, 5000) g;`);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('dry run prints the plan, exits 0 and changes nothing', async () => {
    const before = await tableDigest(db.pool, 'public.t', { orderBy: ['id'] });
    const r = pgshift(['alter', '--strategy', 'copy', 'ALTER TABLE t ALTER COLUMN v TYPE bigint', '--url', db.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/column v bigint: cast to bigint/);
    expect(r.stdout).toMatch(/Dry run: nothing was changed/);
    expect(await tableDigest(db.pool, 'public.t', { orderBy: ['id'] })).toEqual(before);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname LIKE 'pgshift%'`)).rows[0].n).toBe(0);
  });

  it('--execute --json runs the migration and prints one JSON report', async () => {
    const r = pgshift(['alter', '--strategy', 'copy', 'ALTER TABLE t ALTER COLUMN note TYPE varchar(100)', '--url', db.url, '--execute', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.status).toBe('done');
    expect(report.rowsCopied).toBe(5000);
    const t = await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'note'`);
    expect(t.rows[0].t).toBe('character varying(100)');
  });

  it('takes the connection from DATABASE_URL', () => {
    const r = pgshift(['alter', '--strategy', 'copy', 'ALTER TABLE t ADD COLUMN x int'], { DATABASE_URL: db.url });
    expect(r.code, r.stderr).toBe(0);
  });

  it.each([
    ['a statement that is not ALTER TABLE', ['alter', '--strategy', 'copy', 'SELECT 1'], /only ALTER TABLE, CREATE INDEX and DROP INDEX statements/],
    ['a missing table', ['alter', '--strategy', 'copy', 'ALTER TABLE nope ADD COLUMN x int'], /table nope does not exist/],
    ['two tables', ['alter', '--strategy', 'copy', 'ALTER TABLE t ADD COLUMN x int; ALTER TABLE u ADD COLUMN y int'], /same table/],
    ['a duration without unit', ['alter', '--strategy', 'copy', 'ALTER TABLE t ADD COLUMN x int', '--chunk-time', '500'], /not a duration/],
    ['a --nice that is not a ratio', ['alter', '--strategy', 'copy', 'ALTER TABLE t ADD COLUMN x int', '--nice', 'lots'], /^pgshift: --nice: "lots" is not a number from 0 to 10$/],
    ['a bad unit', ['alter', '--strategy', 'copy', 'ALTER TABLE t ADD COLUMN x int', '--lock-timeout', '5 parsecs'], /not a duration/],
    ['a syntax error', ['alter', '--strategy', 'copy', 'ALTER TABLE t ADD COLUMN'], /cannot parse/],
  ])('refuses %s with exit code 2 and one line', (_name, args, pattern) => {
    const r = pgshift([...args, '--url', db.url, '--execute']);
    expect(r.code, r.stderr).toBe(2);
    expectOneLine(r.stderr, pattern);
  });

  it('reports an unreachable server with exit code 2 and never prints the password', () => {
    const r = pgshift(['alter', '--strategy', 'copy', 'ALTER TABLE t ADD COLUMN x int', '--url', 'postgres://someone:s3cretpw@127.0.0.1:1/nowhere']);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /cannot connect/);
    expect(r.stderr + r.stdout).not.toContain('s3cretpw');
  });

  it('exits 2 on usage errors (missing argument, unknown option, unknown command)', () => {
    expect(pgshift(['alter']).code).toBe(2);
    expect(pgshift(['alter', '--strategy', 'copy', 'ALTER TABLE t ADD x int', '--frobnicate']).code).toBe(2);
    expect(pgshift(['frobnicate']).code).toBe(2);
    expect(pgshift(['--help']).code).toBe(0);
  });

  it('exits 1 when the copy fails at run time, leaving the origin untouched and nothing behind', async () => {
    await db.query(`CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL);
      INSERT INTO big SELECT g, CASE WHEN g = 4000 THEN 100000 ELSE g END FROM generate_series(1, 5000) g;`);
    const before = await tableDigest(db.pool, 'public.big', { orderBy: ['id'] });
    // Row 4000 does not fit a smallint; the trial build sees only row 1, so this fails in the copy.
    const r = pgshift(['alter', '--strategy', 'copy', 'ALTER TABLE big ALTER COLUMN v TYPE smallint', '--url', db.url, '--execute']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/smallint out of range/);
    expect(await tableDigest(db.pool, 'public.big', { orderBy: ['id'] })).toEqual(before);
    const type = await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'big'::regclass AND attname = 'v'`);
    expect(type.rows[0].t).toBe('integer');
    const triggers = await db.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'big'::regclass`);
    expect(triggers.rows).toEqual([]);
    const schemas = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname = (SELECT artifact_schema FROM pgshift.migrations WHERE table_name = 'big')`);
    expect(schemas.rows).toEqual([]);
    const state = await db.query(`SELECT outcome FROM pgshift.migrations WHERE table_name = 'big'`);
    expect(state.rows).toEqual([{ outcome: 'failed' }]);
  });
});
