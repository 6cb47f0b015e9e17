import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';

/**
 * The report of a command run (src/report), through the built CLI: alter --execute, backfill
 * --execute and migrate up each write report.md, report.json and report.html; --no-report writes
 * none; a folder that cannot be written is a warning; pgshift report <id> rebuilds the same files
 * from the state schema.
 */
let db: TestDatabase;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-report-'));
const FILES = ['report.html', 'report.json', 'report.md'];
/** The engine's log lines on stderr (the suite sends them to a file otherwise). */
const STDERR_LOGS = { PGSHIFT_LOG_FILE: '' };

const read = (dir: string, file: string): string => fs.readFileSync(path.join(dir, file), 'utf8');
const json = (dir: string): Record<string, any> => JSON.parse(read(dir, 'report.json'));
const runs = async (): Promise<number> => Number((await db.query(`SELECT count(*) AS n FROM pgshift.runs`)).rows[0].n);

beforeAll(async () => {
  db = await createTestDatabase('report');
  // Where the server preloads it (the test servers do), the report measures statement times.
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').catch(() => undefined);
  await db.query(`CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, note text);
                  INSERT INTO t SELECT g, g, 'n' || g FROM generate_series(1, 20000) g; ANALYZE t`);
});

afterAll(async () => {
  await db?.drop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('pgshift reports', () => {
  it('alter --execute writes the three files into --report-dir, and pgshift report <id> rebuilds them equal', async () => {
    const dir = path.join(tmp, 'alter');
    const r = await runCli(['alter', 'ALTER TABLE t ALTER COLUMN v TYPE bigint', '--url', db.url, '--execute', '--copy-threshold', '0MB', '--report-dir', dir, '--json'], STDERR_LOGS);
    expect(r.status, r.stderr).toBe(0);
    const migrationId = JSON.parse(r.stdout).migrationId as number;
    expect(fs.readdirSync(dir).sort()).toEqual(FILES);

    const m = json(dir);
    expect(m).toMatchObject({ format: 'pgshift-report/1', run: { command: 'alter', outcome: 'done', exitCode: 0, migrationIds: [migrationId] } });
    expect(m.steps[0].phases.map((p: { label: string }) => p.label)).toEqual(expect.arrayContaining(['capture', 'copy', 'index', 'catch-up', 'checksum', 'cutover', 'validate']));
    expect(m.cutovers).toEqual([expect.objectContaining({ migrationId, attempts: 1 })]);
    expect(m.cutovers[0].holdMs).toBeGreaterThan(0);
    expect(m.validations).toEqual([expect.objectContaining({ migrationId, level: 'thorough', passed: true, rowsOrigin: 20000, rowsShadow: 20000 })]);
    expect(m.charts.rowsPerSecond.series[0].points.length).toBeGreaterThanOrEqual(2);
    expect(m.charts.transactions.missing).toBeNull();
    expect(m.result).toMatchObject({ status: 'done', migrationId });
    expect(read(dir, 'report.md')).toContain(`| ${migrationId} | thorough | passed | 20,000 / 20,000 |`);
    expect(read(dir, 'report.html')).toContain('data-chart="timeline"');
    // the run is kept, its samples bounded
    const samples = Number((await db.query(`SELECT count(*) AS n FROM pgshift.run_samples WHERE run_id = $1`, [m.run.id])).rows[0].n);
    expect(samples).toBeGreaterThan(5);
    expect(samples).toBeLessThan(5000);
    expect(r.stderr).toContain('"msg":"report written"');

    const again = path.join(tmp, 'again');
    const rebuilt = await runCli(['report', String(m.run.id), '--url', db.url, '--report-dir', again]);
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toContain(`report of run ${m.run.id} (pgshift alter, done)`);
    for (const f of FILES) expect(read(again, f), f).toBe(read(dir, f));

    const listed = await runCli(['report', '--url', db.url]);
    expect(listed.stdout).toMatch(new RegExp(`^${m.run.id}\talter\t.*\tdone\tmigrations ${migrationId}$`, 'm'));
    expect((await runCli(['report', '999999', '--url', db.url])).status).toBe(2);
  });

  it('writes into ./pgshift-reports/<id>/ by default, and nothing with --no-report', async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, 'cwd-'));
    const first = await runCli(['alter', 'ALTER TABLE t ADD COLUMN a1 int', '--url', db.url, '--execute'], {}, cwd);
    expect(first.status, first.stderr).toBe(0);
    const [id] = fs.readdirSync(path.join(cwd, 'pgshift-reports'));
    expect(fs.readdirSync(path.join(cwd, 'pgshift-reports', id!)).sort()).toEqual(FILES);
    // a change without a copy: its lock reported as the cutover's (autovacuum may cost it an attempt)
    const [lock] = json(path.join(cwd, 'pgshift-reports', id!)).cutovers;
    expect(lock).toMatchObject({ lockWaitMs: null });
    expect(lock.attempts).toBeGreaterThanOrEqual(1);

    const before = await runs();
    const none = await runCli(['alter', 'ALTER TABLE t ADD COLUMN a2 int', '--url', db.url, '--execute', '--no-report'], STDERR_LOGS, cwd);
    expect(none.status, none.stderr).toBe(0);
    expect(fs.readdirSync(path.join(cwd, 'pgshift-reports'))).toEqual([id]);
    expect(await runs()).toBe(before);
    expect(none.stderr).not.toContain('report');

    // a dry run has no report
    const dry = await runCli(['alter', 'ALTER TABLE t ADD COLUMN a3 int', '--url', db.url], {}, cwd);
    expect(dry.status, dry.stderr).toBe(0);
    expect(await runs()).toBe(before);
  });

  it('a --report-dir that cannot be written is a warning, and the run still exits 0', async () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'not a folder');
    const r = await runCli(['alter', 'ALTER TABLE t ADD COLUMN a4 int', '--url', db.url, '--execute', '--report-dir', path.join(file, 'sub'), '--log-format', 'json'], STDERR_LOGS);
    expect(r.status, r.stderr).toBe(0);
    const warning = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.msg === 'report not written');
    expect(warning).toMatchObject({ level: 40 });
    expect(warning.reason).toMatch(/ENOTDIR|EEXIST|not a directory/i);
    expect((await db.query(`SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 't' AND column_name = 'a4'`)).rows[0].n).toBe('1');
  });

  it('a run that fails writes its report too, saying how it ended', async () => {
    const dir = path.join(tmp, 'failed');
    const r = await runCli(['alter', 'ALTER TABLE t ALTER COLUMN note TYPE varchar(100)', '--url', db.url, '--execute', '--strategy', 'copy', '--critical-query', 'SELECT 1', '--report-dir', dir]);
    expect(r.status, r.stderr).toBe(1);
    const m = json(dir);
    expect(m.run).toMatchObject({ command: 'alter', outcome: 'failed', exitCode: 1 });
    expect(m.run.error).toMatch(/--critical-query returned 1/);
    expect(m.steps[0].outcome).toBe('failed');
    expect(read(dir, 'report.html')).toContain('class="outcome bad"');
  });

  it('backfill --execute writes one', async () => {
    const dir = path.join(tmp, 'backfill');
    const r = await runCli(['backfill', '--table', 't', '--set', "note = 'x'", '--where', "note IS DISTINCT FROM 'x'", '--url', db.url, '--execute', '--report-dir', dir]);
    expect(r.status, r.stderr).toBe(0);
    const m = json(dir);
    expect(m.run.command).toBe('backfill');
    expect(m.steps).toEqual([expect.objectContaining({ kind: 'backfill', outcome: 'done' })]);
    expect(m.steps[0].phases.map((p: { label: string }) => p.label)).toContain('copy');
    expect(m.charts.rowsPerSecond.missing).toBeNull();
    expect(m.result).toMatchObject({ status: 'done', rowsUpdated: 20000 });
  });

  it('migrate up writes one report for the command run, its files marked', async () => {
    const files = path.join(tmp, 'migrations');
    fs.mkdirSync(files);
    fs.writeFileSync(path.join(files, '20260101000001_add_c.sql'), '-- migrate:up\nALTER TABLE t ADD COLUMN c int;\n\n-- migrate:down\nALTER TABLE t DROP COLUMN c;\n');
    fs.writeFileSync(path.join(files, '20260101000002_retype_v.sql'), '-- migrate:up\nALTER TABLE t ALTER COLUMN v TYPE int;\n\n-- migrate:down\nALTER TABLE t ALTER COLUMN v TYPE bigint;\n');
    const dir = path.join(tmp, 'migrate');
    const before = await runs();
    const r = await runCli(['migrate', 'up', '--dir', files, '--url', db.url, '--copy-threshold', '0MB', '--report-dir', dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(await runs()).toBe(before + 1);
    const m = json(dir);
    expect(m.run.command).toBe('migrate up');
    expect(m.notes.map((n: { text: string }) => n.text)).toEqual(['applying 20260101000001 add_c', 'applying 20260101000002 retype_v']);
    expect(m.steps.some((s: { phases: { label: string }[] }) => s.phases.some((p) => p.label === 'copy'))).toBe(true);
    expect(m.cutovers.length).toBeGreaterThanOrEqual(1);
    expect(m.result.map((f: { version: string }) => f.version)).toEqual(['20260101000001', '20260101000002']);
  });
});
