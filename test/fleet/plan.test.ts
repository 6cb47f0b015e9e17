// Plans across a fleet (plan --targets, migrate up --dry-run --targets): each target's plan is the
// one plan model a single run prints, under the target's label, then the fleet's summary.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../support/test-db.js';
import { runCli } from '../support/cli.js';
import { fleetOfDatabases } from './support.js';

let dbs: TestDatabase[] = [];
let dir: string;
let env: Record<string, string>;
let targets: string;

beforeAll(async () => {
  ({ dbs, dir, env, targets } = await fleetOfDatabases('fleet_plan', 3, async (db, i) => {
    // t3 has no table: a single run refuses it, so its plan across the fleet is a refusal
    if (i < 2) await db.query(`CREATE TABLE items (id int PRIMARY KEY, v int); INSERT INTO items SELECT g, g FROM generate_series(1, 2000) g; ANALYZE items`);
  }));
});

afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const ALTER = 'ALTER TABLE items ALTER COLUMN v TYPE bigint';

describe('plan --targets', () => {
  it('prints each target\'s plan as a single run prints it, under its label, then the fleet summary; a refusing target exits 2', async () => {
    const one = await runCli(['plan', ALTER, '--url', dbs[0]!.url, '--strategy', 'copy']);
    expect(one.status, one.stderr).toBe(0);
    const r = await runCli(['plan', ALTER, '--targets', targets, '--strategy', 'copy'], env);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('pgshift: 1 of 3 target(s): t3: refused: table items does not exist');
    const parts = r.stdout.split(/^=== /m).slice(1);
    expect(parts.map((p) => p.split('\n')[0])).toEqual(['target t1 ===', 'target t2 ===', 'target t3 ===', 'fleet: 3 target(s), 2 planned, 1 refused ===']);
    // the same sections, in the same order, as the single run's plan (figures measured now differ)
    const shape = (text: string): string[] => text.split('\n').filter((l) => /^(pgshift plan|table |the call|overall|blockers now|estimated duration|runbook)/.test(l)).map((l) => l.replace(/[:(].*/, ''));
    expect(shape(parts[0]!)).toEqual(shape(one.stdout));
    expect(parts[0]).toContain('strategy copy');
    expect(parts[2]).toContain('refused: table items does not exist (exit 2)');
    const summary = parts[3]!.split('\n');
    expect(summary[1]).toBe('target\tplan\testimate\tblockers now\tdisk');
    expect(summary.slice(2, 5).map((l) => l.split('\t').slice(0, 2))).toEqual([['t1', 'public.items: copy'], ['t2', 'public.items: copy'], ['t3', 'refused: table items does not exist']]);
    expect(summary[5]).toMatch(/^estimated duration: .+ one target after another, .+ for the longest/);
  });

  it('--json is --format json: every target\'s plan model, the errors, the summary; --format md demotes each plan under its target', async () => {
    const two = path.join(dir, 'two.txt');
    fs.writeFileSync(two, fs.readFileSync(targets, 'utf8').split('\n').slice(0, 2).join('\n'));
    const j = await runCli(['plan', ALTER, '--targets', two, '--json', '--runbook-dir', path.join(dir, 'runbooks')], env);
    expect(j.status, j.stderr).toBe(0);
    const p = JSON.parse(j.stdout);
    expect(p.format).toBe('pgshift-fleet-plan/1');
    expect(p.targets.map((t: { label: string; value: { format: string; command: string } }) => [t.label, t.value.format, t.value.command])).toEqual([['t1', 'pgshift-plan/1', 'plan'], ['t2', 'pgshift-plan/1', 'plan']]);
    expect(p.summary).toMatchObject({ targets: 2, planned: 2, refused: 0 });
    // each target's runbook in its own folder
    for (const t of ['t1', 't2']) expect(fs.readdirSync(path.join(dir, 'runbooks', t)).sort()).toEqual(['abort.sql', 'cleanup.sql', 'forward.sql', 'revert.sql']);

    const md = await runCli(['plan', ALTER, '--targets', two, '--format', 'md'], env);
    expect(md.status, md.stderr).toBe(0);
    const heads = md.stdout.split('\n').filter((l) => /^#+ /.test(l));
    expect(heads[0]).toBe('# pgshift plan across 2 target(s): plans');
    expect(heads).toContain('## Target t1');
    expect(heads).toContain('### Table public.items');
    expect(heads.filter((l) => l.startsWith('# '))).toHaveLength(1);
    expect(md.stdout).toContain('| target | plan | estimate | blockers now | disk |');

    const both = await runCli(['plan', ALTER, '--targets', two, '--json', '--format', 'md'], env);
    expect(both.status).toBe(2);
    expect(both.stderr.trim()).toBe('pgshift: --json is --format json: not with --format md');
  });

  it('migrate up --dry-run --targets: each target\'s migrate plan, nothing applied anywhere', async () => {
    const folder = path.join(dir, 'migrations');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, '20260101000000_note.sql'), '-- migrate:up\nALTER TABLE items ADD COLUMN note text;\nCREATE INDEX items_v ON items (v);\n\n-- migrate:down\nDROP INDEX items_v;\nALTER TABLE items DROP COLUMN note;\n');
    const two = path.join(dir, 'two-m.txt');
    fs.writeFileSync(two, fs.readFileSync(targets, 'utf8').split('\n').slice(0, 2).join('\n'));
    const r = await runCli(['migrate', 'up', '--dry-run', '--targets', two, '--dir', folder], env);
    expect(r.status, r.stderr).toBe(0);
    for (const t of ['t1', 't2']) expect(r.stdout).toMatch(new RegExp(`=== target ${t} ===\\npgshift migrate up: the plan`));
    expect(r.stdout).toContain('20260101000000 line 2: instant');
    expect(r.stdout).toMatch(/^t1\t2 statement\(s\): 1 instant, 1 online/m);
    for (const db of dbs.slice(0, 2)) expect((await db.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'`)).rows[0].n).toBe(0);
  });
});
