// A small fleet on the default server (the long suite, test/fleet/long, runs twelve databases on
// three servers): three databases, a canary wave and a bounded rest, through the built CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { runCli } from '../support/cli.js';
import { fleetEnv, withoutPassword } from './support.js';

let dbs: TestDatabase[] = [];
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dbs = await Promise.all([1, 2, 3].map((i) => createTestDatabase(`fleet_small_${i}`)));
  for (const db of dbs) await db.query(`CREATE TABLE items (id int PRIMARY KEY, v int); INSERT INTO items SELECT g, g FROM generate_series(1, 1000) g`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-fleet-'));
  env = fleetEnv(dir, [dbs[0]!.url]);
});

afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a fleet of three databases', () => {
  it('runs an ALTER on every target (canary first, then two at once), then a rerun skips them all', async () => {
    const targets = path.join(dir, 'fleet.txt');
    fs.writeFileSync(targets, `# three tenants\n${dbs.map((d, i) => `t${i + 1} ${withoutPassword(d.url)}`).join('\n')}\n`);
    const args = ['alter', 'ALTER TABLE items ADD COLUMN note text', '--targets', targets, '--execute', '--canary', '1', '--concurrency', '2', '--json', '--report-dir', path.join(dir, 'report')];
    const r = await runCli(args, env);
    expect(r.stderr).toContain('fleet ');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.waves.map((w: { name: string; targets: { label: string; outcome: string }[] }) => [w.name, w.targets.map((t) => `${t.label}:${t.outcome}`)])).toEqual([
      ['canary', ['t1:done']],
      ['rest', ['t2:done', 't3:done']],
    ]);
    for (const db of dbs) {
      expect((await db.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'`)).rows[0].n).toBe(1);
      const rec = (await db.query(`SELECT outcome, exit_code, attempts FROM pgshift.fleet_targets WHERE fleet_id = $1`, [report.fleetId])).rows;
      expect(rec).toEqual([{ outcome: 'done', exit_code: 0, attempts: 1 }]);
    }
    expect(fs.readFileSync(path.join(dir, 'report', 'fleet.md'), 'utf8')).toContain('| t2 |');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'report', 'fleet.json'), 'utf8')).fleetId).toBe(report.fleetId);
    // fleet.html: every target in its wave's table, and a bar for each on the timeline
    const html = fs.readFileSync(path.join(dir, 'report', 'fleet.html'), 'utf8');
    for (const label of ['t1', 't2', 't3']) expect(html).toContain(`<tr><td>${label}</td><td>server 1</td>`);
    const timeline = html.match(/<svg class="chart" data-chart="targets".*?<\/svg>/s)?.[0] ?? '';
    expect([...timeline.matchAll(/<rect class="data"[^>]*><title>(t\d): done,/g)].map((m) => m[1])).toEqual(['t1', 't2', 't3']);

    const again = await runCli(args, env);
    expect(again.status).toBe(0);
    const second = JSON.parse(again.stdout);
    expect(second.fleetId).toBe(report.fleetId);
    expect(second.waves.flatMap((w: { targets: { outcome: string }[] }) => w.targets.map((t) => t.outcome))).toEqual(['skipped', 'skipped', 'skipped']);
    for (const db of dbs) expect((await db.query(`SELECT count(*)::int AS n FROM pgshift.migrations`)).rows[0].n).toBe(1);
  });

  it('status --targets shows every target, an unreachable one as such', async () => {
    const targets = path.join(dir, 'status.txt');
    fs.writeFileSync(targets, `${dbs.map((d, i) => `t${i + 1} ${withoutPassword(d.url)}`).join('\n')}\ngone postgres://postgres@127.0.0.1:1/nowhere?connect_timeout=2\n`);
    const r = await runCli(['status', '--targets', targets], env);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^target\tphase\tprogress/);
    expect(lines.slice(1).map((l) => l.split('\t').slice(0, 2))).toEqual([['t1', 'idle'], ['t2', 'idle'], ['t3', 'idle'], ['gone', 'unreachable']]);
    const j = await runCli(['status', '--targets', targets, '--json'], env);
    expect(j.stderr).toBe('');
    const json = JSON.parse(j.stdout);
    expect(json.map((t: { label: string; value: unknown }) => [t.label, t.value === null])).toEqual([['t1', false], ['t2', false], ['t3', false], ['gone', true]]);
  });

  it('refuses a Citus distributed table (pg_dist_partition lists it): the fleet at its preflight, a single alter and plan', async () => {
    // Citus itself cannot run here: its metadata table, as Citus defines it, made by hand.
    const citus = await createTestDatabase('fleet_citus');
    try {
      await citus.query(`CREATE TABLE items (id int PRIMARY KEY, v int);
        SET allow_system_table_mods = on;
        CREATE TABLE pg_catalog.pg_dist_partition (logicalrelid regclass NOT NULL, partmethod "char" NOT NULL);
        INSERT INTO pg_catalog.pg_dist_partition VALUES ('public.items', 'h')`);
      const targets = path.join(dir, 'citus.txt');
      fs.writeFileSync(targets, `coordinator ${withoutPassword(citus.url)}\n`);
      const r = await runCli(['alter', 'ALTER TABLE items ADD COLUMN x int', '--targets', targets, '--report-dir', path.join(dir, 'citus-report')], env);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('refused: public.items is a Citus table (hash-distributed, listed in pg_dist_partition)');
      // a single run too, and plan
      for (const cmd of [['alter', 'ALTER TABLE items ADD COLUMN x int', '--execute'], ['plan', 'CREATE INDEX ON items (v)']]) {
        const one = await runCli([...cmd, '--url', citus.url]);
        expect(one.status).toBe(2);
        expect(one.stderr.trim()).toMatch(/^pgshift: refused: public\.items is a Citus table \(hash-distributed, listed in pg_dist_partition\)/);
      }
      expect((await citus.query(`SELECT to_regnamespace('pgshift') AS n`)).rows[0].n).toBeNull();
    } finally {
      await citus.drop();
    }
  });

  it('refuses a password in the targets file (exit 2, one line, the password not repeated)', async () => {
    const targets = path.join(dir, 'bad.txt');
    fs.writeFileSync(targets, `t1 ${dbs[0]!.url}\n`);
    const r = await runCli(['alter', 'ALTER TABLE items ADD COLUMN x int', '--targets', targets, '--execute'], env);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`pgshift: --targets: bad.txt:1: the URL carries a password; give it through PGPASSFILE (~/.pgpass), PGPASSWORD or the service file, never in the targets file`]);
  });
});
