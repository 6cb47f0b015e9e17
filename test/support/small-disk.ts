import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * A tablespace on a small tmpfs, for a disk that fills up under a migration. Needs root (mount)
 * and the test server on this host (its data directory here, to know the server's OS user).
 * Everything made here is undone by stop(), whatever state the test left.
 */
export interface SmallDisk {
  tablespace: string;
  /** the tablespace's directory (on the tmpfs) */
  location: string;
  /** fills the tmpfs with a file pgshift does not know about, leaving about `bytes` free */
  leaveFree(bytes: number): void;
  freeBytes(): number;
  stop(): Promise<void>;
}

/** Why a small disk cannot be made here, or null when it can (probed with a real mount). */
export async function whyNoSmallDisk(adminUrl: string): Promise<string | null> {
  if (process.platform !== 'linux') return `tmpfs mounts need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root, and these tests do not run as root';
  const dataDir = await serverDataDirectory(adminUrl);
  if (dataDir === null || !fs.existsSync(dataDir)) return 'the test server is not on this host (its tablespace directory must be)';
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe', timeout: 10_000 });
    execFileSync('umount', [probe], { stdio: 'pipe', timeout: 10_000 });
    return null;
  } catch (err) {
    const text = String((err as { stderr?: Buffer }).stderr ?? err).trim();
    return `this machine does not allow a tmpfs mount (${text.split('\n')[0]})`;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}

export async function mountSmallDisk(adminUrl: string, sizeMb: number): Promise<SmallDisk> {
  const dataDir = await serverDataDirectory(adminUrl);
  if (dataDir === null) throw new Error('the data directory of the test server is not readable');
  const owner = fs.statSync(dataDir);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-small-disk-'));
  // The server's OS user must reach the tablespace through this root-owned directory.
  fs.chmodSync(base, 0o711);
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(mnt);
  const tablespace = `pgshift_small_disk_${process.pid}`;
  const location = path.join(mnt, 'ts');
  let mounted = false;
  let created = false;
  const stop = async (): Promise<void> => {
    const errors: string[] = [];
    if (created) {
      await withAdmin(adminUrl, (c) => c.query(`DROP TABLESPACE IF EXISTS ${pg.escapeIdentifier(tablespace)}`)).catch((e) => errors.push(`drop tablespace: ${String(e)}`));
    }
    if (mounted) {
      try {
        execFileSync('umount', [mnt], { stdio: 'pipe', timeout: 30_000 });
      } catch (e) {
        errors.push(`umount ${mnt}: ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
      }
    }
    if (errors.length === 0) fs.rmSync(base, { recursive: true, force: true });
    if (errors.length) throw new Error(`small disk not fully removed: ${errors.join('; ')}`);
  };
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755`, 'tmpfs', mnt], { stdio: 'pipe', timeout: 10_000 });
    mounted = true;
    fs.mkdirSync(location, { mode: 0o700 });
    fs.chownSync(location, owner.uid, owner.gid);
    await withAdmin(adminUrl, (c) => c.query(`CREATE TABLESPACE ${pg.escapeIdentifier(tablespace)} LOCATION ${pg.escapeLiteral(location)}`));
    created = true;
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  const freeBytes = (): number => {
    const s = fs.statfsSync(mnt);
    return s.bavail * s.bsize;
  };
  return {
    tablespace,
    location,
    freeBytes,
    leaveFree(bytes: number) {
      const fill = freeBytes() - bytes;
      if (fill <= 0) return;
      const chunk = Buffer.alloc(1024 * 1024, 1);
      const fd = fs.openSync(path.join(mnt, 'ballast'), 'a');
      try {
        for (let left = fill; left > 0; left -= chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, left));
      } finally {
        fs.closeSync(fd);
      }
    },
    stop,
  };
}

async function serverDataDirectory(adminUrl: string): Promise<string | null> {
  return withAdmin(adminUrl, async (c) => (await c.query(`SELECT setting FROM pg_settings WHERE name = 'data_directory'`)).rows[0]?.setting ?? null);
}

async function withAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
