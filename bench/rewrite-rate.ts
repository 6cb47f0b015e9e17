/**
 * How fast this server rewrites a table directly, to set pgshift's default --copy-threshold
 * (issue 12): the size (heap + indexes: pg_table_size + pg_indexes_size, what the classifier
 * compares) whose direct rewrite holds ACCESS EXCLUSIVE no longer than the first lock-timeout
 * attempt. Two rewrites of an OLTP-shaped table at several sizes, rounds interleaved, medians
 * fitted to ms = fixed + bytes / rate (least squares of relative errors); only figures from one
 * run on one machine mean anything, and other work on the machine shows in its load average.
 *
 * Every timed ALTER starts from the same state: its own database cloned from a template database
 * that holds the table at that size, already VACUUM ANALYZEd (hint bits and visibility map set,
 * so the rewrite does not set them); the clone's files are copied and flushed (CREATE DATABASE
 * ... STRATEGY FILE_COPY checkpoints), a CHECKPOINT leaves no dirty page to flush during the
 * ALTER, and pg_prewarm reads the heap and its indexes into shared_buffers (a hot table: as much
 * of it as fits there, the rest in the OS page cache, which the file copy has just filled).
 *
 *   npm run bench:rewrite -- [--sizes 1,4,16,64,256] [--rounds 5] [--json FILE] [--url URL]
 */
import fs from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { startEmbeddedServer } from '../src/demo/embedded-server.js';
import { DEFAULT_RETRY } from '../src/db/retry.js';
import { ident } from '../src/db/quote.js';
import { benchArg, withClientAt } from './client.js';
import { REWRITE_INDEX_DDL, REWRITE_TABLE_DDL } from './rewrite-table.js';

const arg = benchArg;
const MB = 1024 ** 2;
const sizesMb = arg('--sizes', '1,4,16,64,256')!.split(',').map(Number);
const rounds = Number(arg('--rounds', '5'));
const jsonFile = arg('--json');
const TARGETS_MS = [50, DEFAULT_RETRY.lockTimeoutMs, 250];

const CHANGES = [
  { name: 'int->bigint', sql: (table: string) => `ALTER TABLE ${ident(table)} ALTER COLUMN id TYPE bigint` },
  { name: 'uuid default', sql: (table: string) => `ALTER TABLE ${ident(table)} ADD COLUMN x uuid DEFAULT gen_random_uuid()` },
] as const;
const templateDb = (s: number): string => `bench_rewrite_${sizesMb[s]}mb`;

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
const out = (s: string): void => void process.stdout.write(`${s}\n`);
const databases = ['bench_rewrite_sample', 'bench_rewrite_trial', ...sizesMb.map((_, s) => templateDb(s))];
let cloneStrategy = '';

try {
  const settings = (await admin.query(`SELECT current_setting('server_version') AS version, current_setting('shared_buffers') AS shared_buffers,
      current_setting('maintenance_work_mem') AS maintenance_work_mem, current_setting('wal_level') AS wal_level,
      current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit`)).rows[0] as Record<string, string>;
  say(`PostgreSQL ${settings.version}; ${Object.entries(settings).slice(1).map(([k, v]) => `${k}=${v}`).join(' ')}; ${os.cpus().length} CPUs`);
  // FILE_COPY (15+) clones by copying files instead of writing every page to the WAL.
  if (Number((await admin.query(`SELECT current_setting('server_version_num')::int AS v`)).rows[0].v) >= 150000) cloneStrategy = ' STRATEGY FILE_COPY';
  for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`);

  // Rows per size from a sample's bytes per row; the sizes reported are the ones measured.
  const perRow = (await buildTemplate('bench_rewrite_sample', 100_000)) / 100_000;
  await admin.query(`DROP DATABASE bench_rewrite_sample`);
  const rowsFor = sizesMb.map((mb) => Math.max(100, Math.round((mb * MB) / perRow)));
  const bytes: number[] = [];
  for (const s of sizesMb.keys()) bytes.push(await buildTemplate(templateDb(s), rowsFor[s]!));
  say(`templates built (${perRow.toFixed(1)} bytes/row with indexes); ${rounds} rounds x ${sizesMb.length} sizes x ${CHANGES.length} changes`);

  const ms: number[][][] = CHANGES.map(() => sizesMb.map(() => []));
  const coldMs: number[][] = CHANGES.map(() => []);
  const loadBefore = os.loadavg()[0]!;
  for (let round = 1; round <= rounds; round++) {
    // Alternate the order each round, so drift in the machine's storage falls on every cell alike.
    const sizeOrder = [...sizesMb.keys()];
    const changeOrder = [...CHANGES.keys()];
    if (round % 2 === 0) {
      sizeOrder.reverse();
      changeOrder.reverse();
    }
    for (const s of sizeOrder) {
      for (const k of changeOrder) {
        const r = await timedRewrite(s, CHANGES[k]!, bytes[s]!);
        ms[k]![s]!.push(r.ms);
        coldMs[k]!.push(r.coldMs);
      }
    }
    say(`round ${round}: ${sizesMb.map((mb, s) => `${mb}MB ${CHANGES.map((_, k) => ms[k]![s]!.at(-1)!.toFixed(0)).join('/')}ms`).join('  ')}`);
  }
  report(bytes, rowsFor, ms, settings);
  out(`the same ALTER on an empty table as a new session's first statement (median of ${rounds * sizesMb.length}): ` +
    CHANGES.map((ch, k) => `${ch.name} ${median(coldMs[k]!).toFixed(1)}ms`).join(', '));
  out(`load average (1 min) at the start of the rounds ${loadBefore.toFixed(2)}, at the end ${os.loadavg()[0]!.toFixed(2)}: other work on this machine shares its ${os.cpus().length} CPUs`);
} finally {
  for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`).catch(() => undefined);
  await admin.end();
  await server?.stop();
}

function withDb<T>(db: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClientAt(urlOf(db), fn);
}

/** A database holding t with `rows` rows, vacuumed and analyzed; returns its heap + index bytes. */
async function buildTemplate(db: string, rows: number): Promise<number> {
  await admin.query(`CREATE DATABASE ${ident(db)}`);
  return withDb(db, async (c) => {
    await c.query('CREATE EXTENSION pg_prewarm');
    await c.query(REWRITE_TABLE_DDL);
    await c.query(`INSERT INTO t
      SELECT g, (g::bigint * 7919 % 100000)::int, g % 5, 'note ' || md5(g::text),
             timestamptz '2024-01-01' + g * interval '1 second', timestamptz '2024-01-01' + (g + g % 3600) * interval '1 second'
        FROM generate_series(1, $1::int) g`, [rows]);
    for (const sql of REWRITE_INDEX_DDL) await c.query(sql);
    await c.query('VACUUM ANALYZE t');
    await c.query('CREATE TABLE warm (LIKE t INCLUDING ALL)');
    return Number((await c.query(`SELECT pg_table_size('t') + pg_indexes_size('t') AS b`)).rows[0].b);
  });
}

/**
 * One ALTER on a fresh clone of size s's template, in the state the header describes; its
 * milliseconds, and those of the same ALTER on an empty table just before it. That one warms the
 * new session's catalog caches, as pgshift's own catalog reads and probe do before a direct
 * change, so the fixed cost measured is a warm session's.
 */
async function timedRewrite(s: number, change: (typeof CHANGES)[number], expectBytes: number): Promise<{ ms: number; coldMs: number }> {
  await admin.query(`CREATE DATABASE bench_rewrite_trial TEMPLATE ${ident(templateDb(s))}${cloneStrategy}`);
  try {
    return await withDb('bench_rewrite_trial', async (c) => {
      await c.query('CHECKPOINT');
      const b = await c.query(`SELECT pg_table_size('t') + pg_indexes_size('t') AS b,
          (SELECT sum(pg_prewarm(oid)) FROM pg_class WHERE oid = 't'::regclass OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 't'::regclass)) AS pages`);
      if (Number(b.rows[0].b) !== expectBytes) throw new Error(`clone of ${templateDb(s)}: ${b.rows[0].b} bytes, template ${expectBytes}`);
      const t0 = performance.now();
      await c.query(change.sql('warm'));
      const t1 = performance.now();
      await c.query(change.sql('t'));
      return { ms: performance.now() - t1, coldMs: t1 - t0 };
    });
  } finally {
    await admin.query('DROP DATABASE bench_rewrite_trial WITH (FORCE)');
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Fit {
  fixedMs: number;
  msPerByte: number;
}

/**
 * Weighted least squares of ms = fixed + bytes * msPerByte over the sizes' medians. Weights
 * 1/ms^2 fit relative errors: the sizes span 256x, and with equal weights the largest size alone
 * decides the line (and a fixed cost below zero) while the threshold lies among the small ones.
 */
function fit(xs: number[], ys: number[], relative: boolean): Fit {
  const w = ys.map((y) => (relative ? 1 / (y * y) : 1));
  const sum = (f: (i: number) => number): number => xs.reduce((a, _, i) => a + w[i]! * f(i), 0);
  const W = sum(() => 1);
  const mx = sum((i) => xs[i]!) / W;
  const my = sum((i) => ys[i]!) / W;
  const msPerByte = sum((i) => (xs[i]! - mx) * (ys[i]! - my)) / sum((i) => (xs[i]! - mx) ** 2);
  return { fixedMs: my - msPerByte * mx, msPerByte };
}

function mbPerS(f: Fit): number {
  return 1000 / f.msPerByte / MB;
}

/** The size whose predicted time is `ms` (0 if the fixed cost alone exceeds it). */
function sizeAt(f: Fit, ms: number): number {
  return Math.max(0, (ms - f.fixedMs) / f.msPerByte);
}

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)}MB`;
}

function report(bytes: number[], rowsFor: number[], ms: number[][][], settings: Record<string, string>): void {
  const medians = CHANGES.map((_, k) => ms[k]!.map(median));
  const fits = medians.map((ys) => fit(bytes, ys, true));
  const plain = medians.map((ys) => fit(bytes, ys, false));
  out(`\nrewrite time (ms) per size: median of ${rounds} interleaved rounds (min-max), MB/s = size / median, fit = the model's ms; PostgreSQL ${settings.version}, ${os.cpus().length} CPUs`);
  out(`${'size'.padStart(6)} ${'bytes'.padStart(11)} ${'rows'.padStart(9)}  ${CHANGES.map((ch) => `${ch.name.padStart(27)} ${'MB/s'.padStart(6)} ${'fit'.padStart(6)}`).join('  ')}  uuid/bigint`);
  sizesMb.forEach((size, s) => {
    const cells = CHANGES.map((_, k) => {
      const xs = ms[k]![s]!;
      const spread = `${medians[k]![s]!.toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`;
      const predicted = fits[k]!.fixedMs + fits[k]!.msPerByte * bytes[s]!;
      return `${spread.padStart(27)} ${(bytes[s]! / MB / (medians[k]![s]! / 1000)).toFixed(1).padStart(6)} ${predicted.toFixed(0).padStart(6)}`;
    });
    const ratio = medians[1]![s]! / medians[0]![s]!;
    out(`${`${size}MB`.padStart(6)} ${String(bytes[s]).padStart(11)} ${String(rowsFor[s]).padStart(9)}  ${cells.join('  ')}  ${ratio.toFixed(2).padStart(11)}`);
  });
  out('\nms = fixed + bytes / rate, least squares of relative errors over the sizes (equal weights in brackets):');
  CHANGES.forEach((ch, k) => {
    const f = fits[k]!;
    const p = plain[k]!;
    out(`${ch.name.padEnd(12)} fixed ${f.fixedMs.toFixed(1)}ms, rate ${mbPerS(f).toFixed(1)}MB/s; ${TARGETS_MS.map((t) => `${t}ms at ${mb(sizeAt(f, t))}`).join(', ')}` +
      `  [fixed ${p.fixedMs.toFixed(1)}ms, rate ${mbPerS(p).toFixed(1)}MB/s; ${DEFAULT_RETRY.lockTimeoutMs}ms at ${mb(sizeAt(p, DEFAULT_RETRY.lockTimeoutMs))}]`);
  });
  // The default must hold for either rewrite: the smaller size at each target.
  const safe = TARGETS_MS.map((t) => Math.min(...fits.map((f) => sizeAt(f, t))));
  out(`threshold (the slower change): ${TARGETS_MS.map((t, i) => `${t}ms -> ${mb(safe[i]!)}`).join(', ')}; ` +
    `first lock-timeout attempt ${DEFAULT_RETRY.lockTimeoutMs}ms -> --copy-threshold ${mb(safe[TARGETS_MS.indexOf(DEFAULT_RETRY.lockTimeoutMs)]!)}`);
  if (jsonFile) {
    const result = {
      settings, cpus: os.cpus().length, rounds,
      sizes: sizesMb.map((size, s) => ({ mb: size, bytes: bytes[s], rows: rowsFor[s], ms: Object.fromEntries(CHANGES.map((ch, k) => [ch.name, ms[k]![s]])) })),
      fits: CHANGES.map((ch, k) => ({ change: ch.name, fixedMs: fits[k]!.fixedMs, mbPerS: mbPerS(fits[k]!), unweighted: { fixedMs: plain[k]!.fixedMs, mbPerS: mbPerS(plain[k]!) } })),
      thresholdBytes: Object.fromEntries(TARGETS_MS.map((t, i) => [t, Math.round(safe[i]!)])),
    };
    fs.writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  }
}
