/**
 * What a run's report costs (issue 14: at most 1 s and 2% of a run): the same `pgshift alter
 * --execute` with its report and with --no-report, each on its own clone of one template database,
 * rounds interleaved (the order alternating), timed as whole CLI processes (start-up to exit, the
 * report's sampling, its save to the state schema, the rendering and the files included). A light
 * application load writes the table throughout, so the sampler has statements to follow in
 * pg_stat_statements (preloaded, as a DBA who wants the latency figures would have it).
 *
 *   npm run bench:report -- [--rows N] [--rounds K] [--load-tps R] [--json FILE] [--url URL]
 *
 * Prints each round, then the medians, their difference and ratio, and whether both bounds are met.
 * Only figures from one run mean anything: this machine's speed drifts.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startTestServer } from '../src/demo/embedded-server.js';
import { ident } from '../src/db/quote.js';
import { benchArg, withClientAt } from './client.js';
import { createLedger } from './table.js';

const arg = benchArg;
const rows = Number(arg('--rows', '1000000'));
const rounds = Number(arg('--rounds', '5'));
const loadTps = Number(arg('--load-tps', '100'));
const jsonFile = arg('--json');
const ALTER = 'ALTER TABLE ledger ALTER COLUMN account_id TYPE bigint';
const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;
const say = (s: string): void => void process.stderr.write(`${s}\n`);
const out = (s: string): void => void process.stdout.write(`${s}\n`);

const server = arg('--url') ? null : await startTestServer({ settings: ['shared_preload_libraries=pg_stat_statements', 'max_wal_size=4GB'] });
const baseUrl = arg('--url') ?? server!.url;
const urlOf = (db: string): string => {
  const u = new URL(baseUrl);
  u.pathname = `/${db}`;
  return u.toString();
};
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-bench-report-'));

try {
  await withClientAt(baseUrl, async (admin) => {
    await admin.query('DROP DATABASE IF EXISTS bench_report_template WITH (FORCE)');
    await admin.query('CREATE DATABASE bench_report_template');
  });
  await withClientAt(urlOf('bench_report_template'), async (c) => {
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await createLedger(c, rows);
  });
  const version = await withClientAt(baseUrl, async (c) => (await c.query(`SELECT current_setting('server_version') AS v`)).rows[0].v as string);
  say(`PostgreSQL ${version}, ${os.cpus().length} CPUs; ledger of ${rows} rows; ${rounds} rounds; load ${loadTps} tx/s; "${ALTER}"`);

  const times: Record<'with' | 'without', number[]> = { with: [], without: [] };
  const sampling: { ticks: number; ms: number }[] = [];
  const writing: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const order: ('with' | 'without')[] = r % 2 === 0 ? ['with', 'without'] : ['without', 'with'];
    for (const variant of order) {
      const db = `bench_report_${r}_${variant}`;
      await withClientAt(baseUrl, async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${ident(db)} TEMPLATE bench_report_template`);
        await admin.query('CHECKPOINT');
      });
      const dir = path.join(work, db);
      const load = applicationLoad(urlOf(db), loadTps);
      await load.warm;
      const flags = variant === 'with' ? ['--report-dir', dir] : ['--no-report'];
      const { ms, stderr } = await timed(['alter', ALTER, '--url', urlOf(db), '--execute', '--copy-threshold', '0MB', '--drop-old', '--log-format', 'json', ...flags]);
      await load.stop();
      times[variant].push(ms);
      if (variant === 'with') {
        sampling.push(JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')).sampling);
        writing.push(Number(stderr.split('\n').find((l) => l.includes('"report written"'))?.match(/"ms":(\d+)/)?.[1] ?? NaN));
      }
      say(`round ${r + 1} ${variant.padEnd(7)} report: ${(ms / 1000).toFixed(2)} s (load average ${os.loadavg()[0]!.toFixed(1)})`);
      await withClientAt(baseUrl, (admin) => admin.query(`DROP DATABASE ${ident(db)} WITH (FORCE)`));
    }
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const withMs = med(times.with);
  const withoutMs = med(times.without);
  const addedMs = withMs - withoutMs;
  const ratio = withMs / withoutMs;
  const paired = times.with.map((w, i) => w - times.without[i]!);
  const verdict = addedMs <= 1000 && ratio <= 1.02 ? 'met' : 'missed';
  out(`without the report: median ${(withoutMs / 1000).toFixed(2)} s (${times.without.map((x) => (x / 1000).toFixed(2)).join(', ')})`);
  out(`with the report:    median ${(withMs / 1000).toFixed(2)} s (${times.with.map((x) => (x / 1000).toFixed(2)).join(', ')})`);
  out(`added: ${addedMs.toFixed(0)} ms, ratio ${ratio.toFixed(4)} (${((ratio - 1) * 100).toFixed(2)}%); per round: ${paired.map((x) => `${x.toFixed(0)} ms`).join(', ')}`);
  out(`sampling per run: ${sampling.map((s) => `${s.ticks} queries ${s.ms} ms`).join('; ')}`);
  out(`the report's end (last sample, kept, read back, written): ${writing.map((x) => `${x} ms`).join(', ')}`);
  out(`target at most 1 s and 2%: ${verdict}; load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
  if (jsonFile) fs.writeFileSync(jsonFile, `${JSON.stringify({ version, rows, rounds, loadTps, times, withMs, withoutMs, addedMs, ratio, paired, sampling, writing, verdict }, null, 2)}\n`);
  await withClientAt(baseUrl, (admin) => admin.query('DROP DATABASE bench_report_template WITH (FORCE)'));
} finally {
  fs.rmSync(work, { recursive: true, force: true });
  await server?.stop();
}

/** The CLI as a whole process, start to exit, in milliseconds, and its stderr; its failure ends the benchmark. */
function timed(cliArgs: string[]): Promise<{ ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...cliArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => (code === 0 ? resolve({ ms: performance.now() - t0, stderr }) : reject(new Error(`pgshift exited ${code}: ${stderr.split('\n').slice(-15).join('\n')}`))));
  });
}

/** The application: single-row updates at a fixed rate on one connection, until stopped. */
function applicationLoad(url: string, tps: number): { warm: Promise<void>; stop: () => Promise<void> } {
  const c = new pg.Client({ connectionString: url, application_name: 'app' });
  c.on('error', () => undefined);
  let running = true;
  let warmed: () => void = () => undefined;
  const warm = new Promise<void>((r) => (warmed = r));
  const loop = (async () => {
    await c.connect().catch((err: Error) => {
      warmed();
      throw err;
    });
    for (let n = 0; running; n++) {
      const t0 = performance.now();
      await c.query('UPDATE ledger SET amount = amount + 1 WHERE id = $1', [1 + ((n * 7919) % rows)]).catch(() => undefined);
      if (n === 50) warmed();
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 / tps - (performance.now() - t0))));
    }
    await c.end();
  })();
  return {
    warm,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
