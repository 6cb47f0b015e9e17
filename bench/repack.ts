import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type pg from 'pg';

/**
 * pg_repack, the online rewrite a PostgreSQL DBA already trusts, as the benchmark's yardstick: its
 * client binary (`--pg-repack PATH`, else `pg_repack` on PATH, else Debian's
 * /usr/lib/postgresql/<major>/bin/pg_repack) and its extension on the server. Null with the reason
 * when either is missing, so the benchmark says why it has no pg_repack figures.
 */
export async function findPgRepack(c: pg.Client, given: string | undefined): Promise<{ path: string | null; reason: string }> {
  const available = await c.query(`SELECT default_version FROM pg_available_extensions WHERE name = 'pg_repack'`);
  if (available.rowCount === 0) return { path: null, reason: 'the server has no pg_repack extension (e.g. Debian: apt-get install postgresql-15-repack, then --url to that cluster)' };
  const major = Math.floor(Number((await c.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v) / 10000);
  const onPath = spawnSync('sh', ['-c', 'command -v pg_repack'], { encoding: 'utf8' }).stdout.trim();
  for (const p of [given, onPath, `/usr/lib/postgresql/${major}/bin/pg_repack`]) {
    if (p && fs.existsSync(p)) return { path: p, reason: '' };
  }
  return { path: null, reason: `no pg_repack client binary (--pg-repack PATH, PATH, /usr/lib/postgresql/${major}/bin)` };
}

/**
 * One `pg_repack --no-order --table` of the table in the database at `url` (a full online
 * rewrite: a new heap filled by one INSERT ... SELECT, the index builds, the log replay, the
 * swap), with its defaults otherwise. Resolves with its duration in seconds.
 */
export function runPgRepack(binary: string, url: string, table: string): Promise<number> {
  const u = new URL(url);
  const args = ['--no-order', '--table', table, '--dbname', decodeURIComponent(u.pathname.slice(1)), '--host', u.hostname || 'localhost', '--port', u.port || '5432'];
  if (u.username) args.push('--username', decodeURIComponent(u.username));
  const env = { ...process.env, ...(u.password ? { PGPASSWORD: decodeURIComponent(u.password) } : {}) };
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`pg_repack exited ${code}: ${err.trim()}`))));
  });
}
