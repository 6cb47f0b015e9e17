/**
 * The copy-throughput benchmark: online ALTER against offline ALTER and against the copy's lower
 * bound, idle and under a fixed-rate write load, plus the capture trigger's cost. Every scenario
 * runs on its own identical copy of one template database, rounds interleaved, medians reported:
 * only ratios measured in the same run mean anything on storage that drifts.
 *
 *   npm run bench -- [--rows N] [--load-tps R] [--rounds K] [--json FILE] [--url URL] [--pg-repack PATH]
 *
 * With a server that has the pg_repack extension (and its client binary here), pg_repack's full
 * online rewrite of the same table runs in the same rounds, and the targets against it are judged.
 */
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import pg from 'pg';
import { onlineAlter, alterOptions, type AlterOptions, type AlterReport } from '../src/index.js';
import { startEmbeddedServer } from '../src/demo/embedded-server.js';
import { createLedger, INDEX_DDL } from './table.js';
import { lostWrites, percentileIn, startLoad } from './load.js';
import { measureTriggerOverhead } from './trigger-overhead.js';
import { log } from '../src/log.js';
import { sqlFile } from '../src/db/sql-files.js';
import { benchArg, withClientAt } from './client.js';
import { findPgRepack, runPgRepack } from './repack.js';

const arg = benchArg;
const rows = Number(arg('--rows', '3000000'));
const loadTps = Number(arg('--load-tps', '500'));
const rounds = Number(arg('--rounds', '3'));
const jsonFile = arg('--json');
const ALTER = 'ALTER TABLE ledger ALTER COLUMN account_id TYPE bigint';
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
log.level = process.env.PGSHIFT_LOG_LEVEL ?? 'warn';

const server = arg('--url') ? null : await startEmbeddedServer();
const baseUrl = arg('--url') ?? server!.url();
const urlOf = (db: string): string => {
  const u = new URL(baseUrl);
  u.pathname = `/${db}`;
  return u.toString();
};
const admin = new pg.Client({ connectionString: baseUrl });
await admin.connect();

const say = (s: string): void => void process.stderr.write(`${s}\n`);
type Sample = Record<string, number>;
let cloneStrategy = '';
const samples: Sample[] = [];

try {
  const version = (await admin.query('SHOW server_version')).rows[0].server_version as string;
  const repack = await findPgRepack(admin, arg('--pg-repack'));
  say(repack.path ? `pg_repack: ${repack.path}` : `pg_repack: not measured: ${repack.reason}`);
  say(`PostgreSQL ${version}; building the template: ${rows.toLocaleString('en')} rows ...`);
  await admin.query('DROP DATABASE IF EXISTS bench_template');
  await admin.query('CREATE DATABASE bench_template');
  const sizes = await withDb('bench_template', async (c) => {
    await createLedger(c, rows);
    if (repack.path) await c.query('CREATE EXTENSION pg_repack');
    // pgshift's own state schema, as pg_repack's extension: installed once per database, before
    // the first run, not part of any run's time.
    await c.query(sqlFile('state-schema.sql'));
    const r = await c.query(`SELECT pg_table_size('ledger') AS heap, pg_indexes_size('ledger') AS idx`);
    return { heap: Number(r.rows[0].heap), indexes: Number(r.rows[0].idx) };
  });
  // FILE_COPY (15+) clones by copying files instead of writing every page to the WAL.
  if (Number((await admin.query(`SELECT current_setting('server_version_num')::int AS v`)).rows[0].v) >= 150000) cloneStrategy = ' STRATEGY FILE_COPY';

  for (let round = 1; round <= rounds; round++) {
    const s: Sample = {};
    s.offline_alter_s = await onCopy('offline', async (c) => timed(() => c.query(ALTER)));
    if (repack.path) s.pg_repack_s = await onCopy('repack', async (_c, url) => runPgRepack(repack.path!, url, 'public.ledger'));
    // The copy's own yardstick: one INSERT ... SELECT of the same rows into a table without indexes.
    s.insert_select_s = await onCopy('insert-select', async (c) => {
      await c.query(`CREATE TABLE copy (LIKE ledger INCLUDING DEFAULTS); ALTER TABLE copy ALTER COLUMN account_id TYPE bigint`);
      return timed(() => c.query('INSERT INTO copy SELECT * FROM ledger'));
    });
    s.lower_bound_s = await onCopy('lower', async (c) =>
      timed(async () => {
        await c.query(`CREATE TABLE copy (LIKE ledger INCLUDING DEFAULTS); ALTER TABLE copy ALTER COLUMN account_id TYPE bigint, ADD PRIMARY KEY (id)`);
        await c.query('INSERT INTO copy SELECT * FROM ledger');
        for (const sql of INDEX_DDL) await c.query(sql.replace(/ledger/g, 'copy'));
      }),
    );
    const idle = await onCopy('online-idle', async (c, url) => {
      // The copy's WAL volume, for the profile of what the application shares with it.
      let walFrom = '';
      return online(url, 'basic', async (phase) => {
        if (phase === 'copy') walFrom = (await c.query('SELECT pg_current_wal_lsn() AS l')).rows[0].l;
        if (phase === 'index') s.copy_wal_bytes = Number((await c.query('SELECT pg_current_wal_lsn() - $1::pg_lsn AS b', [walFrom])).rows[0].b);
      });
    });
    s.online_idle_s = idle.wallS;
    s.copy_s = idle.durationsMs!.copy / 1000;
    // Where the basic run's time goes, beside pg_repack's: planning (before the registration),
    // the shadow's build and capture, the index builds, the catch-up with the validation and
    // ANALYZE, and the cutover with what follows it.
    const d = idle.durationsMs!;
    s.basic_planning_s = idle.wallS - d.total / 1000;
    s.basic_build_s = d.build / 1000;
    s.basic_index_s = d.index / 1000;
    s.basic_settle_s = (d.catchUp + d.checksum) / 1000;
    s.cutover_retries_idle = idle.cutover!.attempts - 1;
    s.basic_cutover_and_after_s = (d.total - d.build - d.copy - d.index - d.catchUp - d.checksum) / 1000;
    const thorough = await onCopy('online-thorough', async (_c, url) => online(url, 'thorough'));
    s.online_thorough_s = thorough.wallS;
    // What a command adds to the call: node's start and pgshift's modules (`pgshift --version`).
    s.cli_start_s = await timed(() => runCommand(process.execPath, [CLI, '--version']));
    s.validation_thorough_s = thorough.durationsMs!.checksum / 1000;
    s.validation_vs_copy = thorough.durationsMs!.checksum / thorough.durationsMs!.copy;
    s.validation_writes_held_ms = thorough.validation!.writesHeldMs;
    Object.assign(s, await onCopy('online-load', (_c, url) => underLoad(url)));
    samples.push(s);
    say(`round ${round}: ${Object.entries(s).map(([k, v]) => `${k}=${v.toFixed(3)}`).join(' ')}`);
  }
  const trigger = await onCopy('trigger', (_c, url) => measureTriggerOverhead(url, rows));

  const med = (k: string): number => stat(k).median;
  const result = {
    rows,
    table_bytes: sizes.heap + sizes.indexes,
    heap_bytes: sizes.heap,
    index_bytes: sizes.indexes,
    rounds,
    offline_alter_s: med('offline_alter_s'),
    lower_bound_s: med('lower_bound_s'),
    online_idle_s: med('online_idle_s'),
    online_load_s: med('online_load_s'),
    ratio_vs_offline: med('online_idle_s') / med('offline_alter_s'),
    ratio_vs_lower_bound: med('online_idle_s') / med('lower_bound_s'),
    insert_select_s: med('insert_select_s'),
    copy_s: med('copy_s'),
    copy_vs_insert_select: med('copy_s') / med('insert_select_s'),
    online_thorough_s: med('online_thorough_s'),
    ...(repack.path
      ? {
          pg_repack_s: med('pg_repack_s'),
          basic_vs_pg_repack: med('online_idle_s') / med('pg_repack_s'),
          thorough_vs_pg_repack: med('online_thorough_s') / med('pg_repack_s'),
          // As commands: pg_repack's time is its whole process's; pgshift's call plus its start.
          basic_cli_vs_pg_repack: (med('online_idle_s') + med('cli_start_s')) / med('pg_repack_s'),
          thorough_cli_vs_pg_repack: (med('online_thorough_s') + med('cli_start_s')) / med('pg_repack_s'),
        }
      : { pg_repack: `not measured: ${repack.reason}` }),
    basic_planning_s: med('basic_planning_s'),
    basic_build_s: med('basic_build_s'),
    basic_index_s: med('basic_index_s'),
    basic_settle_s: med('basic_settle_s'),
    basic_cutover_and_after_s: med('basic_cutover_and_after_s'),
    copy_rows_per_s: rows / med('copy_s'),
    copy_mb_per_s: sizes.heap / 1024 / 1024 / med('copy_s'),
    load_tps: loadTps,
    achieved_tps: med('achieved_tps'),
    app_p50_ms_before: med('app_p50_ms_before'),
    app_p99_ms_before: med('app_p99_ms_before'),
    app_p99_ms_during: med('app_p99_ms_during'),
    app_p99_ms_during_copy: med('app_p99_ms_during_copy'),
    app_p99_ms_during_index: med('app_p99_ms_during_index'),
    app_max_ms_during: Math.max(...samples.map((x) => x.app_max_ms_during!)),
    app_failed_transactions: samples.reduce((n, x) => n + x.app_failed!, 0),
    lost_writes: samples.reduce((n, x) => n + x.lost_writes!, 0),
    cutover_lock_wait_ms: med('cutover_lock_wait_ms'),
    cutover_hold_ms: med('cutover_hold_ms'),
    // Attempts beyond the first lock attempt, summed over the rounds (idle and under load).
    cutover_retries: samples.reduce((n, x) => n + x.cutover_retries_idle! + x.cutover_retries!, 0),
    trigger_overhead_pct: trigger.overheadPct,
    max_tps_without_trigger: trigger.withoutTps,
    max_tps_with_trigger: trigger.withTps,
    cli_start_s: med('cli_start_s'),
    validation_thorough_s: med('validation_thorough_s'),
    validation_vs_copy: med('validation_vs_copy'),
    validation_writes_held_ms: med('validation_writes_held_ms'),
    copy_wal_bytes: med('copy_wal_bytes'),
    postgres_version: version,
    cpu_count: os.cpus().length,
    spread: Object.fromEntries(Object.keys(samples[0]!).map((k) => [k, stat(k)])),
  };
  printTable(result);
  printTargets(result);
  if (jsonFile) fs.writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await admin.query('DROP DATABASE IF EXISTS bench_template').catch(() => undefined);
  await admin.end();
  await server?.stop();
}

function withDb<T>(db: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClientAt(urlOf(db), fn);
}

async function onCopy<T>(name: string, fn: (c: pg.Client, url: string) => Promise<T>): Promise<T> {
  const db = `bench_${name.replace(/-/g, '_')}`;
  await admin.query(`DROP DATABASE IF EXISTS ${db}`);
  await admin.query(`CREATE DATABASE ${db} TEMPLATE bench_template${cloneStrategy}`);
  try {
    return await withDb(db, async (c) => {
      await c.query('CHECKPOINT');
      return fn(c, urlOf(db));
    });
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
}

/** The whole call, planning included, timed around it (the report's total starts at the migration's registration). */
async function online(url: string, validation: 'basic' | 'thorough', onPhase?: AlterOptions['onPhase']): Promise<AlterReport & { wallS: number }> {
  const t0 = performance.now();
  const report = await onlineAlter(alterOptions({ url, statements: ALTER, execute: true, validation, onPhase }));
  return { ...report, wallS: (performance.now() - t0) / 1000 };
}

function runCommand(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err) => (err ? reject(err) : resolve()));
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** The online ALTER under a fixed-rate load: latency before, during the copy, during the run. */
async function underLoad(url: string): Promise<Sample> {
  const load = await startLoad(url, { tps: loadTps, workers: 8, firstNewId: rows + 1, maxId: rows });
  await new Promise((r) => setTimeout(r, 3000));
  const start = load.now();
  let copyFrom = 0;
  let copyTo = 0;
  let indexTo = 0;
  const phases: [string, number][] = [['start', start]];
  const report = await online(url, 'basic', async (phase) => {
    phases.push([phase, load.now()]);
    if (phase === 'copy') copyFrom = load.now();
    if (phase === 'index') copyTo = load.now();
    if (phase === 'catch-up') indexTo = load.now();
  });
  const end = load.now();
  await new Promise((r) => setTimeout(r, 1000));
  const stats = await load.stop();
  const lost = await withClientAt(url, (c) => lostWrites(c, stats));
  const during = stats.completedAt.filter((t) => t >= start && t < end).length;
  say(`  worst application transaction: ${worstIn(stats, start, end, phases)}`);
  return {
    online_load_s: report.durationsMs!.total / 1000,
    achieved_tps: (during * 1000) / (end - start),
    // The first second is the connections' warm-up (catalog caches, first plans), not the baseline.
    app_p50_ms_before: percentileIn(stats, 50, 1000, start),
    app_p99_ms_before: percentileIn(stats, 99, 1000, start),
    app_p99_ms_during: percentileIn(stats, 99, start, end),
    app_p99_ms_during_copy: percentileIn(stats, 99, copyFrom, copyTo),
    app_p99_ms_during_index: percentileIn(stats, 99, copyTo, indexTo),
    app_max_ms_during: percentileIn(stats, 100, start, end),
    app_failed: stats.failures,
    lost_writes: lost,
    cutover_lock_wait_ms: report.cutover!.lockWaitMs,
    cutover_hold_ms: report.cutover!.holdMs,
    cutover_retries: report.cutover!.attempts - 1,
  };
}

/** The slowest transaction of [from, to): its latency and the phase it began in (where to look for what held it). */
function worstIn(stats: { latencies: number[]; completedAt: number[] }, from: number, to: number, phases: [string, number][]): string {
  let worst = -1;
  stats.latencies.forEach((ms, i) => {
    const t = stats.completedAt[i]!;
    if (t >= from && t < to && (worst < 0 || ms > stats.latencies[worst]!)) worst = i;
  });
  if (worst < 0) return 'none';
  const began = stats.completedAt[worst]! - stats.latencies[worst]!;
  const phase = [...phases].reverse().find(([, at]) => at <= began)?.[0] ?? 'before';
  return `${stats.latencies[worst]!.toFixed(1)} ms, begun ${((began - from) / 1000).toFixed(2)} s into the run, in phase ${phase}`;
}

function stat(k: string): { median: number; min: number; max: number } {
  const xs = samples.map((x) => x[k]).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  return { median: xs[Math.floor(xs.length / 2)]!, min: xs[0]!, max: xs[xs.length - 1]! };
}

function printTable(r: Record<string, unknown>): void {
  const rowsOut: [string, string][] = Object.entries(r)
    .filter(([k]) => k !== 'spread')
    .map(([k, v]) => [k, typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v)]);
  const spread = r.spread as Record<string, { median: number; min: number; max: number }>;
  const width = Math.max(...rowsOut.map(([k]) => k.length));
  for (const [k, v] of rowsOut) {
    const sp = spread[k];
    process.stdout.write(`${k.padEnd(width)}  ${v}${sp && sp.min !== sp.max ? `  (min ${sp.min.toFixed(3)}, max ${sp.max.toFixed(3)})` : ''}\n`);
  }
}

/** Issue 16's targets, each met or missed with its measured figure. */
function printTargets(r: Record<string, unknown>): void {
  const n = (k: string): number | undefined => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
  const targets: [string, number | undefined, number, string][] = [
    ['online idle (--validation basic) / pg_repack', n('basic_vs_pg_repack'), 1.0, 'x'],
    ['online idle (thorough validation) / pg_repack', n('thorough_vs_pg_repack'), 1.15, 'x'],
    ['as a command, --validation basic (node start added) / pg_repack', n('basic_cli_vs_pg_repack'), 1.0, 'x'],
    ['as a command, thorough (node start added) / pg_repack', n('thorough_cli_vs_pg_repack'), 1.15, 'x'],
    ['copy phase / one INSERT ... SELECT', n('copy_vs_insert_select'), 1.15, 'x'],
    ['worst app transaction under load', n('app_max_ms_during'), 100, ' ms'],
    ['cutover hold under load', n('cutover_hold_ms'), 50, ' ms'],
    ['capture trigger cost on max write throughput', n('trigger_overhead_pct'), 15, '%'],
    ['failed app transactions', n('app_failed_transactions'), 0, ''],
    ['writes lost (committed by the load, not in the new table)', n('lost_writes'), 0, ''],
  ];
  process.stdout.write('\ntargets:\n');
  for (const [what, value, bound, unit] of targets) {
    const verdict = value === undefined ? 'not measured' : value <= bound ? 'met' : 'missed';
    process.stdout.write(`  ${what}: ${value === undefined ? '-' : `${value.toFixed(unit === 'x' ? 2 : 1)}${unit}`} (<= ${bound}${unit}): ${verdict}\n`);
  }
}
