/**
 * The lint rules: what each flags, the safe alternative (by server version), and whether
 * `pgshift migrate up` makes the statement safe by itself. Data only; check.ts decides which rule
 * a statement breaks, from the classifier's decisions (strategy/classify.ts).
 */

/** PostgreSQL's table lock modes, weakest first. */
export const LOCK_MODES = ['ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'] as const;
export type LockMode = (typeof LOCK_MODES)[number];

/** SHARE and stronger conflict with ROW EXCLUSIVE: writers wait while it is held. */
export function blocksWrites(lock: LockMode): boolean {
  return LOCK_MODES.indexOf(lock) >= LOCK_MODES.indexOf('SHARE');
}

export function stronger(a: LockMode | undefined, b: LockMode): LockMode {
  return a && LOCK_MODES.indexOf(a) >= LOCK_MODES.indexOf(b) ? a : b;
}

export interface Rule {
  id: string;
  what: string;
  /** the lock the flagged statement takes, for the rules table */
  lock: string;
  alternative: (version: number) => string;
  /** whether `pgshift migrate up` runs the statement the safe way by itself (PostgreSQL 14+, the servers pgshift supports) */
  madeSafe: boolean;
}

const major = (v: number): number => Math.floor(v / 10000);

export const RULES = [
  {
    id: 'require-concurrent-index',
    what: 'CREATE INDEX without CONCURRENTLY on an existing table',
    lock: 'SHARE for the whole build (writes wait)',
    alternative: (v) => (v >= 140000 && v < 140004
      ? 'upgrade to 14.4 or later first (CONCURRENTLY can corrupt indexes on 14.0-14.3), then CREATE INDEX CONCURRENTLY'
      : 'CREATE INDEX CONCURRENTLY, outside a transaction block'),
    madeSafe: true,
  },
  {
    id: 'require-concurrent-index-drop',
    what: 'DROP INDEX without CONCURRENTLY',
    lock: 'ACCESS EXCLUSIVE (reads and writes wait)',
    alternative: () => 'DROP INDEX CONCURRENTLY, one index per statement, outside a transaction block',
    madeSafe: true,
  },
  {
    id: 'constraint-missing-not-valid',
    what: 'ADD CHECK or FOREIGN KEY (also inline in ADD COLUMN) without NOT VALID on an existing table',
    lock: 'ACCESS EXCLUSIVE (CHECK) or SHARE ROW EXCLUSIVE on both tables (FOREIGN KEY) during a full scan',
    alternative: () => 'ADD CONSTRAINT ... NOT VALID (catalog only), then VALIDATE CONSTRAINT in a later transaction (SHARE UPDATE EXCLUSIVE: reads and writes continue)',
    madeSafe: true,
  },
  {
    id: 'validate-in-same-transaction',
    what: 'VALIDATE CONSTRAINT in the transaction that already locked the table (e.g. by ADD ... NOT VALID)',
    lock: 'the earlier statement\'s lock, held through the validating scan',
    alternative: () => 'VALIDATE CONSTRAINT in its own transaction: a later migration file, or a section with transaction:false',
    madeSafe: true,
  },
  {
    id: 'adding-volatile-default',
    what: 'ADD COLUMN whose value is computed per row: a volatile DEFAULT (random(), clock_timestamp(), gen_random_uuid(), nextval()), serial, identity or a stored generated column; before PostgreSQL 11 any DEFAULT',
    lock: 'ACCESS EXCLUSIVE during a table rewrite',
    alternative: (v) => (v >= 110000
      ? 'add the column without a default (or with a constant one: catalog only on 11+), SET DEFAULT for new rows, then backfill existing rows in batches'
      : 'add the column without a default, SET DEFAULT for new rows, then backfill in batches (PostgreSQL 11+ keeps a constant default in the catalog)'),
    madeSafe: true,
  },
  {
    id: 'adding-required-column',
    what: 'ADD COLUMN ... NOT NULL without a DEFAULT on an existing table',
    lock: 'ACCESS EXCLUSIVE; fails on a table with rows',
    alternative: (v) => (v >= 110000
      ? 'give it a constant DEFAULT (catalog only on 11+), or add it nullable, backfill, then SET NOT NULL the safe way'
      : 'add it nullable, backfill in batches, then enforce with a CHECK constraint (NOT VALID, VALIDATE)'),
    madeSafe: false,
  },
  {
    id: 'set-not-null-without-check',
    what: 'SET NOT NULL on an existing column that no validated CHECK (column IS NOT NULL) covers',
    lock: 'ACCESS EXCLUSIVE during a full scan',
    alternative: (v) => (v >= 180000
      ? 'ADD CONSTRAINT <name> NOT NULL <column> NOT VALID, then VALIDATE CONSTRAINT in a later transaction (18+)'
      : v >= 120000
        ? 'ADD CONSTRAINT <name> CHECK (<column> IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later transaction, then SET NOT NULL (12+ skips the scan) and DROP the CHECK'
        : `no online route before PostgreSQL 12 (this is ${major(v)}): keep a validated CHECK (<column> IS NOT NULL) instead of NOT NULL, or upgrade`),
    madeSafe: true,
  },
  {
    id: 'unique-without-index',
    what: 'ADD UNIQUE or PRIMARY KEY (also inline in ADD COLUMN) that builds its index under the ALTER\'s lock',
    lock: 'ACCESS EXCLUSIVE for the whole index build',
    alternative: (v) => (v >= 140000 && v < 140004
      ? 'upgrade to 14.4 or later first (CONCURRENTLY can corrupt indexes on 14.0-14.3)'
      : 'CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE / PRIMARY KEY USING INDEX (catalog only)'),
    madeSafe: true,
  },
  {
    id: 'rewriting-type-change',
    what: 'ALTER COLUMN TYPE that rewrites the table (not a binary-coercible change), or may (old type unknown to the files)',
    lock: 'ACCESS EXCLUSIVE during a table rewrite and index rebuild',
    alternative: () => 'a binary-coercible change where one fits (varchar(n) to varchar(m >= n) or text, numeric precision up at the same scale); otherwise a new column, writes to both, a batched backfill and a switch; or pgshift\'s online copy',
    madeSafe: true,
  },
  {
    id: 'table-rewrite',
    what: 'another change that rewrites or scans the table under its lock: SET LOGGED/UNLOGGED, SET TABLESPACE, SET ACCESS METHOD, SET EXPRESSION, ADD EXCLUDE',
    lock: 'ACCESS EXCLUSIVE during a rewrite or scan',
    alternative: () => 'pgshift\'s online copy (pgshift alter, or migrate up), or a maintenance window',
    madeSafe: true,
  },
  {
    id: 'drop-column',
    what: 'DROP COLUMN of a column the files did not add in the same file',
    lock: 'ACCESS EXCLUSIVE (brief); breaks running code that names the column',
    alternative: () => 'first deploy code that neither reads nor writes the column (ORMs: mark it ignored), then drop it in a later migration',
    madeSafe: false,
  },
  {
    id: 'rename-column',
    what: 'RENAME COLUMN',
    lock: 'ACCESS EXCLUSIVE (brief); breaks running code that names the column',
    alternative: () => 'add the new column, write both, backfill, move reads, then drop the old one in a later migration',
    madeSafe: false,
  },
  {
    id: 'rename-table',
    what: 'ALTER TABLE ... RENAME TO',
    lock: 'ACCESS EXCLUSIVE (brief); breaks running code that names the table',
    alternative: () => 'rename it and create a view under the old name (a simple view is updatable) until no code uses the old name',
    madeSafe: false,
  },
  {
    id: 'drop-table',
    what: 'DROP TABLE of a table the same file did not create',
    lock: 'ACCESS EXCLUSIVE (brief); breaks running code that uses the table',
    alternative: () => 'first deploy code that no longer uses the table, then drop it in a later migration',
    madeSafe: false,
  },
  {
    id: 'update-without-backfill',
    what: 'UPDATE of an existing table, not marked -- pgshift:backfill, whose WHERE does not pin a column to constants (col = value, col IN (...))',
    lock: 'ROW EXCLUSIVE plus a row lock on every updated row until the file commits',
    alternative: () => 'mark it -- pgshift:backfill (migrate up runs it as a throttled, batched backfill), or update in key-range batches, each its own transaction',
    madeSafe: false,
  },
  {
    id: 'missing-lock-timeout',
    what: 'the first statement of a file section that takes ACCESS EXCLUSIVE on an existing table with no lock_timeout set before it (once per section)',
    lock: 'ACCESS EXCLUSIVE: while it waits, every later query on the table queues behind it',
    alternative: () => 'SET lock_timeout = \'2s\' (or less) at the top of the file, and retry the migration when it times out',
    madeSafe: true,
  },
  {
    id: 'unsupported-on-version',
    what: 'syntax the PostgreSQL version linted for does not have (SET EXPRESSION before 17, SET ACCESS METHOD and NULLS NOT DISTINCT before 15)',
    lock: 'none: the statement fails',
    alternative: () => 'upgrade the server, or write it without that syntax',
    madeSafe: false,
  },
] as const satisfies readonly Rule[];

export type RuleId = (typeof RULES)[number]['id'];

export function ruleById(id: string): Rule | undefined {
  return RULES.find((r) => r.id === id);
}

/** pgshift runs on PostgreSQL 14 to 18: below that, migrate up makes nothing safe. */
export function madeSafeByMigrateUp(rule: RuleId, version: number): boolean {
  return ruleById(rule)!.madeSafe && version >= 140000;
}
