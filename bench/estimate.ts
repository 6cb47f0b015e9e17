/**
 * How good is the plan's "estimated duration"? For three table sizes and two changes (an online
 * copy, a concurrent index build) this prints the estimate `pgshift plan` gives (a rehearsal on a
 * sample, src/estimate) beside the wall-clock time of the same `pgshift alter --execute`, and
 * their ratio. Both are whole CLI processes, as a user runs them. Each pair runs on a fresh copy
 * of the same table (CREATE DATABASE ... TEMPLATE), so the plan's estimate is taken on the state
 * the run then starts from.
 *
 *   npm run bench:estimate -- [--rows 100000,300000,1000000] [--rounds 1] [--json FILE] [--url URL]
 */
import fs from 'node:fs';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedServer } from '../src/demo/embedded-server.js';
import { ident } from '../src/db/quote.js';
import { benchArg, urlWithDatabase, withClientAt } from './client.js';
import { REWRITE_INDEX_DDL, REWRITE_TABLE_DDL } from './rewrite-table.js';

const arg = benchArg;
const sizes = arg('--rows', '100000,300000,1000000').split(',').map(Number);
const rounds = Number(arg('--rounds', '1'));
const jsonFile = arg('--json');
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const CHANGES = [
  { name: 'copy', sql: 'ALTER TABLE t ALTER COLUMN status TYPE bigint' },
  { name: 'concurrent index', sql: 'CREATE INDEX ON t (status, account_id)' },
] as const;

const server = arg('--url') ? null : await startEmbeddedServer();
const baseUrl = arg('--url') ?? server!.url();
const urlOf = (db: string): string => urlWithDatabase(baseUrl, db);
const say = (s: string): void => void process.stderr.write(`${s}\n`);
const out = (s: string): void => void process.stdout.write(`${s}\n`);
const admin = new pg.Client({ connectionString: baseUrl });
await admin.connect();
const templates = sizes.map((n) => `bench_estimate_${n}`);
// alter --execute writes its report, as it does for a user; here into a folder of its own.
const reports = fs.mkdtempSync(`${os.tmpdir()}/pgshift-bench-estimate-`);
const results: { round: number; rows: number; change: string; estimatedS: number; actualS: number; ratio: number }[] = [];

try {
  const version = (await admin.query(`SELECT current_setting('server_version') AS v, current_setting('server_version_num')::int AS n`)).rows[0];
  const fileCopy = version.n >= 150000 ? ' STRATEGY FILE_COPY' : '';
  say(`PostgreSQL ${version.v}; ${os.cpus().length} CPUs; load average ${os.loadavg()[0]!.toFixed(2)}`);
  for (const db of templates) await admin.query(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`);
  for (const [s, rows] of sizes.entries()) {
    await admin.query(`CREATE DATABASE ${ident(templates[s]!)}`);
    await withClientAt(urlOf(templates[s]!), async (c) => {
      await c.query(REWRITE_TABLE_DDL);
      await c.query(`INSERT INTO t SELECT g, g % 5000, g % 7, md5(g::text), now() - g * interval '1 second', CASE WHEN g % 3 = 0 THEN now() END FROM generate_series(1, ${rows}) g`);
      for (const ddl of REWRITE_INDEX_DDL) await c.query(ddl);
      await c.query('VACUUM ANALYZE t');
    });
    say(`template with ${rows} rows built`);
  }
  for (let round = 1; round <= rounds; round++) {
    for (const [s, rows] of sizes.entries()) {
      for (const change of CHANGES) {
        const db = `bench_estimate_run`;
        await admin.query(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${ident(db)} TEMPLATE ${ident(templates[s]!)}${fileCopy}`);
        await admin.query('CHECKPOINT');
        const plan = await cli(['plan', change.sql, '--json', '--url', urlOf(db)]);
        const model = JSON.parse(plan.stdout);
        const estimatedS = model.estimate.seconds as number;
        const strategy = model.changes[0].strategy as string;
        const run = await cli(['alter', change.sql, '--execute', '--json', '--report-dir', reports, '--url', urlOf(db)]);
        // Where the time went, beside the estimate's parts: what to look at when the two differ.
        const parts = (model.changes[0].estimate?.parts ?? []) as { what: string; seconds: number }[];
        say(`  estimated: start-up ${model.estimate.startupSeconds.toFixed(1)} s, ${parts.map((p) => `${p.what} ${p.seconds.toFixed(1)} s`).join(', ')}`);
        const phases = JSON.parse(run.stdout).durationsMs as Record<string, number> | null;
        if (phases) say(`  measured: ${Object.entries(phases).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}`);
        const ratio = run.seconds / estimatedS;
        results.push({ round, rows, change: `${change.name} (${strategy})`, estimatedS, actualS: run.seconds, ratio });
        say(`round ${round}: ${rows} rows, ${change.name} (${strategy}): estimated ${estimatedS.toFixed(1)} s, took ${run.seconds.toFixed(1)} s, ratio ${ratio.toFixed(2)}`);
        await admin.query(`DROP DATABASE ${ident(db)} WITH (FORCE)`);
      }
    }
  }
  out('| round | rows | change | estimated (pgshift plan) | measured (alter --execute) | measured / estimated |');
  out('|---|---|---|---|---|---|');
  for (const r of results) out(`| ${r.round} | ${r.rows.toLocaleString('en-US')} | ${r.change} | ${r.estimatedS.toFixed(1)} s | ${r.actualS.toFixed(1)} s | ${r.ratio.toFixed(2)} |`);
  const worst = Math.max(...results.map((r) => Math.max(r.ratio, 1 / r.ratio)));
  out(`worst factor between estimate and measurement: ${worst.toFixed(2)}x (load average at the end ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} CPUs)`);
  if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify({ server: version.v, results }, null, 2));
} finally {
  await admin.query(`DROP DATABASE IF EXISTS bench_estimate_run WITH (FORCE)`).catch(() => undefined);
  for (const db of templates) await admin.query(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`).catch(() => undefined);
  await admin.end();
  await server?.stop();
}

/** The CLI as a user runs it: a new process, timed from its spawn to its exit; a failure stops the benchmark. */
function cli(argv: string[]): Promise<{ stdout: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...argv], { env: { ...process.env, PGSHIFT_LOG_FILE: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0) resolve({ stdout, seconds });
      else reject(new Error(`pgshift ${argv.slice(0, 2).join(' ')} exited ${code}: ${stderr.trim().split('\n').at(-1)}`));
    });
  });
}
