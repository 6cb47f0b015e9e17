import pg from 'pg';
import { onlineAlter } from '../migration/start.js';
import { alterOptions } from '../config.js';
import { log } from '../log.js';
import { RuntimeError } from '../errors.js';
import { formatDuration } from '../units.js';
import { startEmbeddedServer } from './embedded-server.js';
import { percentile, startWorkload } from './workload.js';

export interface DemoOptions {
  rows: number;
  loadTps?: number;
}

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * The README's "run the main job": an embedded PostgreSQL, a table of `rows` rows under a write
 * workload that mirrors every change into a second table, the online ALTER of its primary key
 * from int to bigint with progress, then the proof (table = mirror) and the figures, next to
 * the same ALTER run offline on an identical copy.
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  if (!Number.isInteger(opts.rows) || opts.rows < 1000) throw new RuntimeError('--rows must be an integer of at least 1000');
  log.level = process.env.PGSHIFT_LOG_LEVEL ?? 'warn';
  say('starting an embedded PostgreSQL ...');
  const server = await startEmbeddedServer();
  try {
    const admin = new pg.Client({ connectionString: server.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE demo');
    await admin.end();
    const url = server.url('demo');
    const db = new pg.Client({ connectionString: url });
    db.on('error', () => undefined); // the server stops under it at the end
    await db.connect();
    const version = (await db.query('SHOW server_version')).rows[0].server_version;
    say(`PostgreSQL ${version}; creating accounts with ${opts.rows.toLocaleString('en')} rows ...`);
    await db.query(`
      CREATE TABLE accounts (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
      CREATE INDEX accounts_v_idx ON accounts (v);
      INSERT INTO accounts SELECT g, g, g % 1000, md5(g::text) FROM generate_series(1, ${opts.rows}) g;
      CREATE TABLE accounts_mirror AS TABLE accounts;
      CREATE INDEX ON accounts_mirror (id);
      CREATE TABLE accounts_offline AS TABLE accounts;
      ALTER TABLE accounts_offline ADD PRIMARY KEY (id), ADD UNIQUE (u);
      CREATE INDEX ON accounts_offline (v);`);
    await db.query('VACUUM ANALYZE accounts, accounts_offline');

    const tps = opts.loadTps ?? 300;
    say(`starting a write workload (${tps} transactions/s: updates, inserts, deletes, key updates, unique swaps) ...`);
    const workload = await startWorkload({ url, schema: 'public', table: 'accounts', mirror: 'accounts_mirror', workers: 8, initialRows: opts.rows, ratePerSecond: tps });
    await new Promise((r) => setTimeout(r, 2000));
    const before = workload.stats();
    const migrationStart = before.completedAt[before.transactions - 1] ?? 0;

    say('online: ALTER TABLE accounts ALTER COLUMN id TYPE bigint');
    let lastPrint = 0;
    const report = await onlineAlter(
      alterOptions({
        url,
        statements: 'ALTER TABLE accounts ALTER COLUMN id TYPE bigint',
        execute: true,
        onProgress: (p) => {
          const now = Date.now();
          if (now - lastPrint < 1000) return;
          lastPrint = now;
          const pct = p.rowsEstimated ? Math.min(100, (100 * p.rowsCopied) / p.rowsEstimated).toFixed(0) : '?';
          say(`  copy ${pct}%  ${p.rowsCopied.toLocaleString('en')} rows  ${Math.round(p.rowsPerSecond).toLocaleString('en')} rows/s`);
        },
      }),
    );
    const migrationEnd = workload.stats().completedAt[workload.stats().transactions - 1] ?? migrationStart;
    await new Promise((r) => setTimeout(r, 1000));
    const stats = await workload.stop();

    const diff = await db.query(`SELECT count(*)::int AS n FROM (
        (SELECT id, u, v, note FROM accounts EXCEPT ALL SELECT id, u, v, note FROM accounts_mirror)
        UNION ALL (SELECT id, u, v, note FROM accounts_mirror EXCEPT ALL SELECT id, u, v, note FROM accounts)) d`);
    const type = (await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'id'`)).rows[0].t;

    say('offline, for comparison (on an identical copy, no workload): ALTER TABLE accounts_offline ALTER COLUMN id TYPE bigint');
    const t0 = performance.now();
    await db.query('ALTER TABLE accounts_offline ALTER COLUMN id TYPE bigint');
    const offlineMs = performance.now() - t0;
    await db.end();

    const d = report.durationsMs!;
    const c = report.cutover!;
    say('');
    say(`result: id is now ${type}; the table ${diff.rows[0].n === 0 ? 'equals' : 'DIFFERS FROM'} its mirror (${diff.rows[0].n} differing rows)`);
    say(`online ALTER: ${formatDuration(d.total)} total; copy ${formatDuration(d.copy)} (${Math.round(report.copyRowsPerSecond ?? 0).toLocaleString('en')} rows/s), indexes ${formatDuration(d.index)}, catch-up ${formatDuration(d.catchUp)}, ${report.validation?.level ?? ''} validation ${formatDuration(d.checksum)}, cutover ${formatDuration(d.cutover)}`);
    say(`cutover: ${c.attempts} attempt(s), lock wait ${c.lockWaitMs.toFixed(1)}ms, lock held ${c.holdMs.toFixed(1)}ms`);
    say(`offline ALTER: ${formatDuration(offlineMs)} (writes blocked throughout); online/offline = ${(d.total / offlineMs).toFixed(2)}x`);
    say(
      `workload: ${stats.transactions} transactions, ${stats.failures} failed; latency before p50 ${percentile(stats, 50, 0, migrationStart).toFixed(1)}ms` +
        ` p99 ${percentile(stats, 99, 0, migrationStart).toFixed(1)}ms; during p50 ${percentile(stats, 50, migrationStart, migrationEnd).toFixed(1)}ms` +
        ` p99 ${percentile(stats, 99, migrationStart, migrationEnd).toFixed(1)}ms, worst ${percentile(stats, 100, migrationStart, migrationEnd).toFixed(1)}ms`,
    );
    if (diff.rows[0].n !== 0 || stats.failures > 0) throw new RuntimeError('the demo found lost writes or failed transactions');
  } finally {
    say('stopping the embedded PostgreSQL');
    await server.stop();
  }
}
