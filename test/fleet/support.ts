import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';

/** A URL without its password: targets files never carry one. */
export function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

/**
 * The environment a fleet's CLI runs with: a password file (0600) holding the test servers'
 * passwords, as an operator's ~/.pgpass would, so that the targets file has none.
 */
export function fleetEnv(dir: string, urls: string[]): Record<string, string> {
  const file = path.join(dir, 'pgpass');
  const lines = urls.map((url) => {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}:*:${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  });
  fs.writeFileSync(file, `${[...new Set(lines)].join('\n')}\n`, { mode: 0o600 });
  return { PGPASSFILE: file };
}

/**
 * Databases of the test server for a fleet test (`seed` fills each), a scratch folder, the
 * environment fleetEnv gives, and a plain targets file naming them t1, t2, ... without passwords.
 */
export async function fleetOfDatabases(prefix: string, count: number, seed: (db: TestDatabase, i: number) => Promise<void>): Promise<{ dbs: TestDatabase[]; dir: string; env: Record<string, string>; targets: string }> {
  const dbs = await Promise.all(Array.from({ length: count }, (_, i) => createTestDatabase(`${prefix}_${i + 1}`)));
  for (const [i, db] of dbs.entries()) await seed(db, i);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pgshift-${prefix.replace(/_/g, '-')}-`));
  const targets = path.join(dir, 'fleet.txt');
  fs.writeFileSync(targets, `${dbs.map((d, i) => `t${i + 1} ${withoutPassword(d.url)}`).join('\n')}\n`);
  return { dbs, dir, env: fleetEnv(dir, [dbs[0]!.url]), targets };
}
