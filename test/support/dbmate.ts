import { spawnSync } from 'node:child_process';
import type { TestDatabase } from './test-db.js';

const DBMATE = new URL('../../node_modules/.bin/dbmate', import.meta.url).pathname;

/** dbmate (npm `dbmate`, a devDependency) on a database: the tool teams already run, for comparisons. */
export function dbmate(db: TestDatabase, dir: string, ...args: string[]): string {
  const url = new URL(db.url);
  url.searchParams.set('sslmode', 'disable');
  const r = spawnSync(DBMATE, ['--url', url.toString(), '--migrations-dir', dir, '--no-dump-schema', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dbmate ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}
