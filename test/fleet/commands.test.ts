// The fleet's other commands on two small databases of the test server: backfill --targets (a dry
// run, then executed, then a rerun skipping both), cleanup --all --targets, migrate validate
// --targets and status --targets --dir. The long suite (test/fleet/long) runs alter and migrate up.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, onlineAlter } from '../../src/index.js';
import type { TestDatabase } from '../support/test-db.js';
import { runCli } from '../support/cli.js';
import { fleetOfDatabases } from './support.js';

let dbs: TestDatabase[] = [];
let dir: string;
let env: Record<string, string>;
let targets: string;

beforeAll(async () => {
  ({ dbs, dir, env, targets } = await fleetOfDatabases('fleet_cmds', 2, async (db) => {
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, v int, doubled int); INSERT INTO items SELECT g, g FROM generate_series(1, 2000) g; ANALYZE items`);
  }));
});

afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const outcomes = (report: { waves: { targets: { label: string; outcome: string }[] }[] }): string[] => report.waves.flatMap((w) => w.targets.map((t) => `${t.label}:${t.outcome}`));
const doubled = async (db: TestDatabase): Promise<number> => (await db.query(`SELECT count(*)::int AS n FROM items WHERE doubled = v * 2`)).rows[0].n;

describe('the fleet\'s other commands', () => {
  it('backfill --targets: without --execute the preflight alone; with it every target filled, each with its own report; a rerun skips them', async () => {
    const args = ['backfill', '--table', 'items', '--set', 'doubled = v * 2', '--where', 'doubled IS NULL', '--targets', targets, '--concurrency', '2', '--json', '--report-dir', path.join(dir, 'backfill')];
    const dry = await runCli(args, env);
    expect(dry.status, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout);
    expect(planned.executed).toBe(false);
    expect(planned.waves[0].targets.map((t: { plan: string; heavy: boolean }) => [t.plan, t.heavy])).toEqual([['backfill of items (~2000 rows)', true], ['backfill of items (~2000 rows)', true]]);
    for (const db of dbs) expect(await doubled(db)).toBe(0);

    const run = await runCli([...args, '--execute'], env);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(outcomes(report)).toEqual(['t1:done', 't2:done']);
    // one server, and a backfill is heavy: never both at once
    expect(report.figures.maxConcurrent).toBe(1);
    for (const db of dbs) {
      expect(await doubled(db)).toBe(2000);
      expect((await db.query(`SELECT kind, outcome FROM pgshift.migrations`)).rows).toEqual([{ kind: 'backfill', outcome: 'done' }]);
    }
    // backfill writes a report of its own: each target's in targets/<label>/
    for (const t of ['t1', 't2']) expect(fs.readdirSync(path.join(dir, 'backfill', 'targets', t)).sort()).toEqual(['report.html', 'report.json', 'report.md']);
    expect(fs.readdirSync(path.join(dir, 'backfill')).filter((f) => f.startsWith('fleet.')).sort()).toEqual(['fleet.html', 'fleet.json', 'fleet.md']);

    const again = await runCli([...args, '--execute'], env);
    expect(again.status, again.stderr).toBe(0);
    expect(outcomes(JSON.parse(again.stdout))).toEqual(['t1:skipped', 't2:skipped']);
  });

  it('cleanup --all --targets drops the old tables kept on every target; without --all it is refused', async () => {
    const ids: number[] = [];
    for (const db of dbs) ids.push((await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE items ALTER COLUMN v TYPE bigint', execute: true }))).migrationId!);
    for (const [i, db] of dbs.entries()) expect((await db.query(`SELECT to_regclass($1) AS t`, [`pgshift_${ids[i]}.items`])).rows[0].t).not.toBeNull();

    const refused = await runCli(['cleanup', '--targets', targets], env);
    expect(refused.status).toBe(2);
    expect(refused.stderr.trim()).toBe('pgshift: cleanup --targets cleans up every migration of each target: give --all, not an id (ids differ between targets)');

    const r = await runCli(['cleanup', '--all', '--targets', targets, '--concurrency', '2', '--json', '--report-dir', path.join(dir, 'cleanup')], env);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(outcomes(report)).toEqual(['t1:done', 't2:done']);
    // light: no server slot, so both may run at once
    expect(report.waves[0].targets.map((t: { heavy: boolean }) => t.heavy)).toEqual([false, false]);
    for (const [i, db] of dbs.entries()) {
      expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname = $1`, [`pgshift_${ids[i]}`])).rows).toEqual([]);
      expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'v'`)).rows[0].t).toBe('bigint');
    }
    const log = fs.readFileSync(path.join(dir, 'cleanup', 'targets', 't1.log'), 'utf8');
    expect(log).toContain(`dropping tables items in pgshift_${ids[0]}`);
  });

  it('migrate validate --targets: a file edited after one target applied it is a difference there (exit 3); status --targets --dir counts pending files', async () => {
    const folder = path.join(dir, 'migrations');
    fs.mkdirSync(folder);
    const file = path.join(folder, '20260101000000_note.sql');
    fs.writeFileSync(file, '-- migrate:up\nALTER TABLE items ADD COLUMN note text;\n\n-- migrate:down\nALTER TABLE items DROP COLUMN note;\n');
    const up = await runCli(['migrate', 'up', '--dir', folder, '--url', dbs[0]!.url, '--no-report']);
    expect(up.status, up.stderr).toBe(0);

    const valid = await runCli(['migrate', 'validate', '--dir', folder, '--targets', targets], env);
    expect(valid.status, valid.stderr).toBe(0);
    expect(valid.stdout.trim().split('\n').map((l) => l.split('\t')[0])).toEqual(['t1', 't2']);
    expect(valid.stdout).toMatch(/^t1\tvalid/m);

    const status = await runCli(['status', '--targets', targets, '--dir', folder], env);
    expect(status.status, status.stderr).toBe(0);
    const rows = status.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(rows[0]!.at(-1)).toBe('pending files');
    expect(rows.slice(1).map((r) => [r[0], r.at(-1)])).toEqual([['t1', '0'], ['t2', '1']]);

    fs.appendFileSync(file, '-- edited after t1 applied it\n');
    const changed = await runCli(['migrate', 'validate', '--dir', folder, '--targets', targets], env);
    expect(changed.status).toBe(3);
    expect(changed.stdout).toMatch(/^t1\t.*20260101000000/m);
    expect(changed.stdout).toMatch(/^t2\tvalid/m);
    expect(changed.stderr.trim()).toMatch(/^pgshift: 1 of 2 target\(s\): t1: /);
  });
});
