import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lint } from '../../src/lint/lint.js';

/**
 * pgshift lint against squawk (npm squawk-cli, pinned) on the same dbmate folder
 * (test/lint/squawk-corpus), statement by statement. Every line either tool flags is listed below
 * with both tools' rules, and every difference says why; README's "Lint" (under "Migration files") sums them up.
 *
 * squawk is installed from the npm registry into a cache folder outside node_modules (its binary
 * ships in a registry package, @squawk-cli/<platform>); where that cannot be done the test is
 * skipped and says why, never counted as passing.
 */
const SQUAWK_VERSION = '2.66.0';
const CACHE = process.env.PGSHIFT_SQUAWK_CACHE ?? path.join(os.homedir(), '.cache', 'pgshift', `squawk-cli-${SQUAWK_VERSION}`);
const CORPUS = new URL('./squawk-corpus/', import.meta.url).pathname;

function obtainSquawk(): { bin: string } | { reason: string } {
  const bin = path.join(CACHE, 'node_modules', '.bin', 'squawk');
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(CACHE, { recursive: true });
    const r = spawnSync('npm', ['install', '--prefix', CACHE, `squawk-cli@${SQUAWK_VERSION}`, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--fetch-retries=0', '--fetch-timeout=20000'], { encoding: 'utf8', timeout: 90_000 });
    const said = r.error?.message ?? (r.stderr ?? '').split('\n').filter((l) => l.trim() && !/complete log/.test(l)).slice(0, 2).join(' ');
    if (r.status !== 0) return { reason: `npm could not install squawk-cli@${SQUAWK_VERSION} into ${CACHE}: ${said}` };
  }
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (v.status !== 0 || !v.stdout.includes(SQUAWK_VERSION)) return { reason: `${bin} does not run: ${(v.error?.message ?? v.stderr ?? v.stdout).trim()}` };
  return { bin };
}

const squawk = obtainSquawk();
const skip = 'reason' in squawk ? squawk.reason : null;
if (skip) console.warn(`[pgshift tests] squawk comparison skipped: ${skip}`);

// Why lines differ. Each code is one paragraph of README's comparison.
const WHY = {
  style: 'squawk-only by design: a style rule (int vs bigint, varchar vs text, timestamp vs timestamptz, IF NOT EXISTS) takes no lock and breaks no running code',
  statementTimeout: 'squawk-only by design: require-statement-timeout; pgshift asks for lock_timeout (the lock queue is the outage), a statement_timeout would also kill a legitimate long CONCURRENTLY build',
  ownTable: 'a table the same file created: pgshift does not flag what only the file itself uses (squawk does for timeouts, DROP TABLE in the down section and style)',
  ownColumn: 'columns the same file added, dropped by its down section: pgshift does not flag them as breaking',
  perSection: 'dbmate runs a down section on its own: the up section\'s SET lock_timeout does not cover it, so pgshift flags the down section; squawk reads the file as one script',
  binaryCoercible: 'binary-coercible type change (varchar widening, to unlimited varchar, numeric precision up at the same scale): no rewrite, pgshift stays quiet; squawk flags every type change',
  transactionFalse: 'dbmate\'s "transaction:false" runs each statement alone: pgshift reads it, squawk with --assume-in-transaction assumes one transaction',
  validateInTransaction: 'both flag VALIDATE in the ADD\'s transaction; squawk files it under constraint-missing-not-valid',
  uniqueNotValid: 'both flag ADD UNIQUE; squawk also reports constraint-missing-not-valid, though a UNIQUE constraint cannot be NOT VALID',
  foreignKeyTwice: 'both flag ADD FOREIGN KEY; squawk under two rules',
  dropNotNull: 'squawk-only: ban-drop-not-null; relaxing NOT NULL is catalog only and running code keeps working (it only starts seeing NULLs that new code writes)',
  update: 'pgshift-only: a large UPDATE in one transaction (squawk has no rule for data changes)',
  rewrite: 'pgshift-only: SET LOGGED/UNLOGGED rewrites the table (squawk does not know it)',
  shareTimeout: 'squawk\'s require-lock-timeout also counts SHARE (CREATE INDEX); pgshift\'s missing-lock-timeout counts ACCESS EXCLUSIVE only, which queues readers too',
} as const;

// Squawk's rule and pgshift's for the same hazard.
const SAME: Record<string, string> = {
  'require-concurrent-index-creation': 'require-concurrent-index',
  'require-concurrent-index-deletion': 'require-concurrent-index-drop',
  'constraint-missing-not-valid': 'constraint-missing-not-valid',
  'adding-field-with-default': 'adding-volatile-default',
  'adding-required-field': 'adding-required-column',
  'adding-not-nullable-field': 'set-not-null-without-check',
  'disallowed-unique-constraint': 'unique-without-index',
  'changing-column-type': 'rewriting-type-change',
  'ban-drop-column': 'drop-column',
  'renaming-column': 'rename-column',
  'renaming-table': 'rename-table',
  'ban-drop-table': 'drop-table',
  'require-lock-timeout': 'missing-lock-timeout',
};

type Row = [at: string, pgshift: string[], squawk: string[], why?: (keyof typeof WHY)[]];

// <file version>:<line>, pgshift's rules, squawk's rules, and why they differ (none when they agree).
const EXPECTED: Row[] = [
  ['20240101000000:3', [], ['prefer-bigint-over-int', 'prefer-text-field', 'prefer-timestamp-tz'], ['style']],
  ['20240101000000:4', [], ['require-lock-timeout', 'require-statement-timeout'], ['ownTable', 'statementTimeout']],
  ['20240101000000:7', [], ['ban-drop-table'], ['ownTable']],
  ['20240101000000:8', [], ['ban-drop-table'], ['ownTable']],
  ['20240102000000:3', ['require-concurrent-index'], ['require-concurrent-index-creation', 'require-statement-timeout'], ['statementTimeout']],
  ['20240102000000:6', ['require-concurrent-index-drop'], ['require-concurrent-index-deletion']],
  ['20240103000000:3', ['constraint-missing-not-valid'], ['adding-foreign-key-constraint', 'constraint-missing-not-valid', 'require-statement-timeout'], ['foreignKeyTwice', 'statementTimeout']],
  ['20240103000000:6', ['missing-lock-timeout'], [], ['perSection']],
  ['20240104000000:3', [], ['require-statement-timeout'], ['statementTimeout']],
  ['20240104000000:4', ['validate-in-same-transaction'], ['constraint-missing-not-valid'], ['validateInTransaction']],
  ['20240104000000:7', ['missing-lock-timeout'], [], ['perSection']],
  ['20240105000000:3', [], ['require-statement-timeout'], ['statementTimeout']],
  ['20240105000000:4', ['adding-volatile-default'], ['adding-field-with-default']],
  ['20240105000000:6', ['adding-volatile-default'], ['adding-field-with-default']],
  ['20240105000000:7', ['adding-required-column'], ['adding-required-field']],
  ['20240105000000:10', ['missing-lock-timeout'], ['ban-drop-column'], ['perSection', 'ownColumn']],
  ['20240106000000:3', ['set-not-null-without-check'], ['adding-not-nullable-field', 'require-statement-timeout'], ['statementTimeout']],
  ['20240106000000:6', ['missing-lock-timeout'], ['ban-drop-not-null'], ['perSection', 'dropNotNull']],
  ['20240107000000:3', [], ['require-statement-timeout'], ['statementTimeout']],
  ['20240107000000:4', [], ['constraint-missing-not-valid'], ['transactionFalse']],
  ['20240107000000:9', ['missing-lock-timeout'], ['ban-drop-not-null'], ['perSection', 'dropNotNull']],
  ['20240108000000:3', [], ['changing-column-type', 'prefer-text-field', 'require-statement-timeout'], ['binaryCoercible', 'style', 'statementTimeout']],
  ['20240108000000:4', [], ['changing-column-type'], ['binaryCoercible']],
  ['20240108000000:5', [], ['changing-column-type'], ['binaryCoercible']],
  ['20240108000000:6', ['rewriting-type-change'], ['changing-column-type']],
  ['20240108000000:7', ['rewriting-type-change'], ['changing-column-type', 'prefer-text-field'], ['style']],
  ['20240108000000:10', ['missing-lock-timeout', 'rewriting-type-change'], ['changing-column-type', 'prefer-bigint-over-int'], ['perSection', 'style']],
  ['20240109000000:3', ['unique-without-index'], ['constraint-missing-not-valid', 'disallowed-unique-constraint', 'require-statement-timeout'], ['uniqueNotValid', 'statementTimeout']],
  ['20240109000000:6', ['missing-lock-timeout'], [], ['perSection']],
  ['20240110000000:3', [], ['ban-concurrent-index-creation-in-transaction', 'prefer-robust-stmts', 'require-statement-timeout'], ['transactionFalse', 'style', 'statementTimeout']],
  ['20240110000000:7', ['missing-lock-timeout'], [], ['perSection']],
  ['20240111000000:2', ['update-without-backfill'], [], ['update']],
  ['20240112000000:3', ['table-rewrite'], ['require-statement-timeout'], ['rewrite', 'statementTimeout']],
  ['20240112000000:6', ['missing-lock-timeout', 'table-rewrite'], [], ['perSection', 'rewrite']],
  ['20240113000000:2', ['drop-column', 'missing-lock-timeout'], ['ban-drop-column', 'require-lock-timeout', 'require-statement-timeout'], ['statementTimeout']],
  ['20240113000000:3', ['rename-column'], ['renaming-column']],
  ['20240113000000:4', ['rename-table'], ['renaming-table']],
  ['20240113000000:5', ['require-concurrent-index-drop'], ['require-concurrent-index-deletion']],
  ['20240113000000:8', ['missing-lock-timeout', 'rename-table'], ['renaming-table'], ['perSection']],
  ['20240113000000:9', ['rename-column'], ['renaming-column']],
  ['20240114000000:3', ['drop-table'], ['ban-drop-table', 'require-statement-timeout'], ['statementTimeout']],
  ['20240114000000:6', [], ['prefer-bigint-over-int'], ['style']],
];

describe('pgshift lint compared with squawk on the same files', () => {
  it.skipIf(skip !== null)(`every line either flags is listed with both tools' rules, and every difference says why${skip ? ` (skipped: ${skip})` : ''}`, async () => {
    const files = fs.readdirSync(CORPUS).filter((n) => n.endsWith('.sql')).sort().map((n) => path.join(CORPUS, n));
    // dbmate runs each file in a transaction unless told otherwise: squawk is told so; both lint for 14.
    const run = spawnSync((squawk as { bin: string }).bin, ['--reporter', 'json', '--assume-in-transaction', '--pg-version', '14', ...files], { encoding: 'utf8', timeout: 60_000 });
    const found = new Map<string, [Set<string>, Set<string>]>();
    const at = (file: string, line: number) => {
      const k = `${path.basename(file).slice(0, 14)}:${line}`;
      if (!found.has(k)) found.set(k, [new Set(), new Set()]);
      return found.get(k)!;
    };
    // squawk's lines are 0-based
    for (const v of JSON.parse(run.stdout) as { file: string; line: number; rule_name: string }[]) at(v.file, v.line + 1)[1].add(v.rule_name);
    for (const f of (await lint({ paths: [CORPUS], pgVersion: '14' })).findings) at(f.file, f.line)[0].add(f.rule);

    const actual = [...found].map(([k, [p, s]]) => [k, [...p].sort(), [...s].sort()]).sort(byLine);
    expect(actual).toEqual(EXPECTED.map(([k, p, s]) => [k, p, s]).sort(byLine));

    // Where the two differ beyond SAME's pairs, the row names why; where they agree it names nothing.
    for (const [k, p, s, why] of EXPECTED) {
      const agree = s.map((r) => SAME[r] ?? r).sort().join() === [...p].sort().join();
      expect(Boolean(why?.length), `${k}: ${agree ? 'agrees, so names no reason' : 'differs, so names why'}`).toBe(!agree);
    }
  });
});

function byLine(a: unknown[], b: unknown[]): number {
  const [fa, la] = String(a[0]).split(':');
  const [fb, lb] = String(b[0]).split(':');
  return fa! < fb! ? -1 : fa! > fb! ? 1 : Number(la) - Number(lb);
}
