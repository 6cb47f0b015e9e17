// The fleet's long suite (npm run test:fleet): twelve databases on three PostgreSQL servers (the
// test run's server and two more of this file's own), an online copy rolled out in waves:
// a canary that fails, a rerun with one target refused by the preflight and one killed
// mid-copy, a last rerun that finishes only what was left; the concurrency bound and the
// one-copy-per-server rule read back from the targets' own state tables. Then pause / resume /
// abort, and migrate up / status --targets with drift.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_SERVER_SETTINGS, type TestServer } from '../../../src/demo/embedded-server.js';
import { adminUrl } from '../../support/test-db.js';
import { runCli, CLI } from '../../support/cli.js';
import { fleetEnv, withoutPassword } from '../support.js';
import { maxOverlap } from '../../../src/fleet/report.js';
import { spawn } from 'node:child_process';

const ROWS = 50_000;
const PER_SERVER = 4;
const PARALLEL = 2;
const ALTER = 'ALTER TABLE items ALTER COLUMN v TYPE bigint';

interface Db {
  label: string;
  server: number;
  name: string;
  url: string;
}

let extra: TestServer[] = [];
let serverUrls: string[] = [];
const dbs: Db[] = [];
let dir: string;
let env: Record<string, string>;

function urlOn(serverUrl: string, db: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

async function withDb<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const MISSING = 's2-db2'; // its table does not exist: the preflight refuses it
const CANARY = 's1-db1';
const KILLED = 's3-db3'; // killed mid-copy in the second run

beforeAll(async () => {
  extra = await Promise.all([startTestServer({ settings: TEST_SERVER_SETTINGS }), startTestServer({ settings: TEST_SERVER_SETTINGS })]);
  serverUrls = [adminUrl(), ...extra.map((s) => s.url)];
  const stamp = Date.now().toString(36);
  for (const [s, serverUrl] of serverUrls.entries()) {
    for (let i = 1; i <= PER_SERVER; i++) {
      const name = `fleet_${stamp}_${s + 1}_${i}`;
      await withDb(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
      dbs.push({ label: `s${s + 1}-db${i}`, server: s, name, url: urlOn(serverUrl, name) });
    }
  }
  await Promise.all(
    dbs.filter((d) => d.label !== MISSING).map((d) =>
      withDb(d.url, (c) => c.query(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text); INSERT INTO items SELECT g, g * 7, 'row ' || g FROM generate_series(1, ${ROWS}) g; ANALYZE items`)),
    ),
  );
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-fleet-long-'));
  env = fleetEnv(dir, serverUrls);
}, 600_000);

afterAll(async () => {
  for (const d of dbs) await withDb(serverUrls[d.server]!, (c) => c.query(`DROP DATABASE IF EXISTS ${d.name} WITH (FORCE)`)).catch(() => undefined);
  await Promise.all(extra.map((s) => s.stop()));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function wavesFile(): string {
  const t = (d: Db): string => `      - { label: ${d.label}, url: "${withoutPassword(d.url)}" }`;
  const file = path.join(dir, 'fleet.yaml');
  fs.writeFileSync(
    file,
    [
      '# twelve tenants on three servers: a canary, then the rest two at a time',
      'waves:',
      '  - name: canary',
      '    parallel: 1',
      '    on_error: stop',
      '    targets:',
      t(dbs.find((d) => d.label === CANARY)!),
      '  - name: rest',
      `    parallel: ${PARALLEL}`,
      '    on_error: continue',
      '    targets:',
      ...dbs.filter((d) => d.label !== CANARY).map(t),
      '',
    ].join('\n'),
  );
  return file;
}

interface Report {
  fleetId: string;
  ms: number;
  exitCode: number;
  figures: { sumMs: number; maxConcurrent: number; ran: number };
  waves: { name: string; targets: { label: string; outcome: string; exitCode: number | null; error: string | null; ms: number | null; detail: string | null }[] }[];
}

const outcomes = (r: Report): Record<string, string> => Object.fromEntries(r.waves.flatMap((w) => w.targets.map((t) => [t.label, t.outcome])));

/** Every migration of every target as an interval (an unfinished one ends at its last progress write). */
async function intervals(): Promise<{ label: string; server: number; start: number; end: number; outcome: string | null }[]> {
  const out = [];
  for (const d of dbs) {
    const rows = await withDb(d.url, async (c) => {
      if ((await c.query(`SELECT to_regclass('pgshift.migrations') AS t`)).rows[0].t === null) return [];
      return (await c.query(`SELECT started_at, coalesce(finished_at, updated_at) AS ended_at, outcome FROM pgshift.migrations`)).rows;
    });
    for (const r of rows) out.push({ label: d.label, server: d.server, start: r.started_at.getTime(), end: r.ended_at.getTime(), outcome: r.outcome });
  }
  return out;
}

function columnType(d: Db): Promise<string | null> {
  return withDb(d.url, async (c) => (await c.query(`SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'items' AND column_name = 'v'`)).rows[0]?.data_type ?? null);
}

describe('a fleet of twelve databases on three servers', { timeout: 900_000 }, () => {
  let targets: string;
  const args = (): string[] => ['alter', ALTER, '--targets', targets, '--execute', '--strategy', 'copy', '--json', '--report-dir', path.join(dir, 'reports')];

  it('a failing canary stops the fleet: nothing else is touched', async () => {
    targets = wavesFile();
    const r = await runCli(args(), { ...env, PGSHIFT_FAILPOINT: `mid-copy@${CANARY}` });
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    const o = outcomes(report);
    expect(o[CANARY]).toBe('failed');
    expect(report.waves[0]!.targets[0]!.error).toBe('killed by SIGKILL');
    expect(o[MISSING]).toBe('refused');
    for (const d of dbs.filter((x) => x.label !== CANARY && x.label !== MISSING)) expect(o[d.label]).toBe('not started');
    // nothing of pgshift's on any other target: the preflight only read
    for (const d of dbs.filter((x) => x.label !== CANARY)) {
      expect(await withDb(d.url, async (c) => (await c.query(`SELECT to_regnamespace('pgshift') AS n`)).rows[0].n), d.label).toBeNull();
    }
    expect(r.stderr).toMatch(/pgshift: fleet [0-9a-f]{12}: failed; /);
  });

  let second: Report;
  it('with on_error: continue, the failed targets are listed with their reasons and every other one is migrated and validated', async () => {
    const r = await runCli(args(), { ...env, PGSHIFT_FAILPOINT: `mid-copy@${KILLED}` });
    expect(r.status, r.stderr).toBe(1);
    second = JSON.parse(r.stdout) as Report;
    const o = outcomes(second);
    const rest = second.waves[1]!.targets;
    expect(rest.find((t) => t.label === MISSING)).toMatchObject({ outcome: 'refused', exitCode: 2, error: expect.stringMatching(/items.* does not exist/) });
    expect(rest.find((t) => t.label === KILLED)).toMatchObject({ outcome: 'failed', exitCode: 1, error: 'killed by SIGKILL' });
    expect(fs.readFileSync(path.join(dir, 'reports', 'fleet.md'), 'utf8')).toMatch(new RegExp(`## failures[\\s\\S]*- ${MISSING}: refused \\(exit 2\\)[\\s\\S]*- ${KILLED}: failed \\(exit 1\\): killed by SIGKILL`));
    const why = (label: string): string => `${label}: ${JSON.stringify(rest.find((t) => t.label === label))}`;
    for (const d of dbs.filter((x) => x.label !== MISSING && x.label !== KILLED)) {
      expect(o[d.label], why(d.label)).toBe('done');
      expect(await columnType(d), d.label).toBe('bigint');
      const t = second.waves.flatMap((w) => w.targets).find((x) => x.label === d.label)!;
      expect(t.detail, d.label).toMatch(/validation thorough passed/);
    }
    expect(await columnType(dbs.find((d) => d.label === KILLED)!)).toBe('integer');
    // fleet.html: every target, and a bar on the timeline for each of the eleven that ran (not the refused one)
    const html = fs.readFileSync(path.join(dir, 'reports', 'fleet.html'), 'utf8');
    for (const d of dbs) expect(html, d.label).toContain(`<td>${d.label}</td>`);
    const timeline = html.match(/<svg class="chart" data-chart="targets".*?<\/svg>/s)?.[0] ?? '';
    expect(timeline.match(/<rect class="data"/g)).toHaveLength(11);
    // kept for README's screenshot of a twelve-target fleet
    const kept = new URL('../../../test-artifacts/fleet/long-second-run/', import.meta.url).pathname;
    fs.mkdirSync(kept, { recursive: true });
    for (const f of ['fleet.html', 'fleet.md', 'fleet.json']) fs.copyFileSync(path.join(dir, 'reports', f), path.join(kept, f));

    // The bound, from the targets' own state tables: never more than PARALLEL migrations at once
    // in the rest wave, never two on one server at once (every one is a copy, heavy).
    const all = (await intervals()).filter((i) => i.label !== CANARY);
    const observed = maxOverlap(all);
    expect(observed).toBeLessThanOrEqual(PARALLEL);
    for (const s of [0, 1, 2]) expect(maxOverlap(all.filter((i) => i.server === s)), `server ${s + 1}`).toBeLessThanOrEqual(1);
    console.log(
      `[fleet] second run: ${second.figures.ran} targets run in ${(second.ms / 1000).toFixed(1)} s, their times added up ${(second.figures.sumMs / 1000).toFixed(1)} s; ` +
        `at most ${second.figures.maxConcurrent} at once (parent), ${observed} (pgshift.migrations across targets); exit ${second.exitCode}`,
    );
  });

  it('a rerun finishes only what was left: the killed target resumed, the fixed one run, the rest skipped', async () => {
    const missing = dbs.find((d) => d.label === MISSING)!;
    await withDb(missing.url, (c) => c.query(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text); INSERT INTO items SELECT g, g * 7, 'row ' || g FROM generate_series(1, ${ROWS}) g; ANALYZE items`));
    const before = await intervals();
    const r = await runCli(args(), env);
    expect(r.status, r.stderr).toBe(0);
    const third = JSON.parse(r.stdout) as Report;
    expect(third.fleetId).toBe(second.fleetId);
    const o = outcomes(third);
    for (const d of dbs) expect(o[d.label], d.label).toBe(d.label === MISSING || d.label === KILLED ? 'done' : 'skipped');
    for (const d of dbs) expect(await columnType(d), d.label).toBe('bigint');
    const after = await intervals();
    // one migration per target: the killed one was taken over, not started again
    for (const d of dbs) expect(after.filter((i) => i.label === d.label).map((i) => i.outcome), d.label).toEqual(['done']);
    expect(after.length - before.length).toBe(1); // only the table created since has a new migration
    const attempts = await withDb(dbs.find((d) => d.label === KILLED)!.url, async (c) => (await c.query(`SELECT attempts, outcome FROM pgshift.fleet_targets WHERE fleet_id = $1`, [third.fleetId])).rows[0]);
    expect(attempts).toEqual({ attempts: 2, outcome: 'done' });
    console.log(`[fleet] rerun: ${third.figures.ran} targets run in ${(third.ms / 1000).toFixed(1)} s (their times ${(third.figures.sumMs / 1000).toFixed(1)} s), ${dbs.length - third.figures.ran} skipped`);
  });

  it('--pause-after-wave waits for pgshift fleet resume; pgshift fleet abort stops the fleet cleanly (exit 4)', async () => {
    const list = path.join(dir, 'plain.txt');
    fs.writeFileSync(list, `${dbs.slice(0, 3).map((d) => `${d.label} ${withoutPassword(d.url)}`).join('\n')}\n`);
    const run = (statement: string) => {
      const child = spawn(process.execPath, [CLI, 'alter', statement, '--targets', list, '--execute', '--canary', '1', '--concurrency', '2', '--pause-after-wave', '--json', '--report-dir', path.join(dir, 'pause-report')], { env: { ...process.env, ...env } });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.resume();
      return { child, done: new Promise<{ status: number | null; stdout: string }>((res) => child.on('close', (status) => res({ status, stdout }))) };
    };
    const control = `${list}.pgshift-fleet.json`;
    const untilPaused = async (): Promise<void> => {
      for (let i = 0; i < 600; i++) {
        if (fs.existsSync(control) && JSON.parse(fs.readFileSync(control, 'utf8')).state === 'paused') return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error('the fleet never paused');
    };
    const a = run('ALTER TABLE items ADD COLUMN tag text');
    await untilPaused();
    const resumed = await runCli(['fleet', 'resume', '--targets', list], env);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resume requested; wave rest starts/);
    const ra = await a.done;
    expect(ra.status).toBe(0);
    expect(Object.values(outcomes(JSON.parse(ra.stdout)))).toEqual(['done', 'done', 'done']);

    const b = run('ALTER TABLE items ADD COLUMN tag2 text');
    await untilPaused();
    expect((await runCli(['fleet', 'abort', '--targets', list], env)).status).toBe(0);
    const rb = await b.done;
    expect(rb.status).toBe(4);
    expect(Object.values(outcomes(JSON.parse(rb.stdout)))).toEqual(['done', 'not started', 'not started']);
    expect((await runCli(['fleet', 'resume', '--targets', list], env)).status).toBe(2); // nothing is running any more
    // leave the schemas as the rest of the fleet's for the drift test below
    for (const d of dbs.slice(0, 3)) await withDb(d.url, (c) => c.query(`ALTER TABLE items DROP COLUMN IF EXISTS tag, DROP COLUMN IF EXISTS tag2`));
  });

  it('migrate up --targets runs a folder on every target; migrate status --targets lists a target that drifts', async () => {
    const folder = path.join(dir, 'migrations');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, '20250101000000_note_index.sql'), '-- migrate:up\nCREATE INDEX items_note_idx ON items (note);\n\n-- migrate:down\nDROP INDEX items_note_idx;\n');
    const list = path.join(dir, 'all.txt');
    fs.writeFileSync(list, `${dbs.map((d) => `${d.label} ${withoutPassword(d.url)}`).join('\n')}\n`);
    const up = await runCli(['migrate', 'up', '--dir', folder, '--targets', list, '--concurrency', '3', '--continue-on-error', '--json', '--report-dir', path.join(dir, 'migrate-report')], env);
    expect(up.status, up.stderr).toBe(0);
    expect(Object.values(outcomes(JSON.parse(up.stdout))).every((x) => x === 'done')).toBe(true);

    // One target drifts: a file applied there only, and an index made by hand.
    const odd = dbs[5]!;
    await withDb(odd.url, (c) => c.query(`CREATE INDEX items_v_idx ON items (v)`));
    const status = await runCli(['migrate', 'status', '--dir', folder, '--targets', list, '--exit-code'], env);
    expect(status.status, status.stderr).toBe(3);
    expect(status.stdout).toContain(`drift: 1 target(s) differ from the rest:\n  ${odd.label}: schema differs`);
    const json = JSON.parse((await runCli(['migrate', 'status', '--dir', folder, '--targets', list, '--json'], env)).stdout);
    expect(json.drift).toEqual([{ label: odd.label, extra: [], missing: [], changed: [], schemaDiffers: true }]);
  });
});
