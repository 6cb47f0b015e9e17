// pgshift migrate on a folder of dbmate files, on a real server: each statement by its strategy,
// the history, status, down, an edited file, a crash during an online step.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDown, migrateOptions, migratePlan, migrateStatus, migrateUp, migrateValidate } from '../../src/migrate/runner.js';
import { readMigrations } from '../../src/migrate/files.js';
import { cloneDatabase, createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { diffSnapshots, snapshotCatalog } from '../support/catalog-snapshot.js';
import { runCli } from '../support/cli.js';
import { dbmate } from '../support/dbmate.js';

const FILES: Record<string, string> = {
  '20260101000001_create_orders.sql': `-- migrate:up
CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL, note text);
INSERT INTO orders SELECT g, g % 50, NULL FROM generate_series(1, 20000) g;
-- migrate:down
DROP TABLE orders;
`,
  '20260101000002_note_default.sql': `-- migrate:up
ALTER TABLE orders ADD COLUMN shipped boolean;
ALTER TABLE orders ALTER COLUMN note SET DEFAULT '';
-- migrate:down
ALTER TABLE orders ALTER COLUMN note DROP DEFAULT;
ALTER TABLE orders DROP COLUMN shipped;
`,
  '20260101000003_qty_index.sql': `-- migrate:up
CREATE INDEX orders_qty_idx ON orders (qty);
ALTER TABLE orders ADD CONSTRAINT qty_nonneg CHECK (qty >= 0);
-- migrate:down
ALTER TABLE orders DROP CONSTRAINT qty_nonneg;
DROP INDEX orders_qty_idx;
`,
  '20260101000004_bigint.sql': `-- migrate:up
-- pgshift:strategy copy
ALTER TABLE orders ALTER COLUMN id TYPE bigint;
-- migrate:down
-- pgshift:strategy direct
ALTER TABLE orders ALTER COLUMN id TYPE int;
`,
  '20260101000005_backfill.sql': `-- migrate:up
-- pgshift:backfill
UPDATE orders SET note = 'n' || id WHERE note IS NULL;
-- migrate:down
UPDATE orders SET note = NULL;
`,
};

/** A file whose last segment fails (a duplicate key) after an instant change and an online build committed. */
const BROKEN: Record<string, string> = {
  '20260101000006_broken.sql': `-- migrate:up
ALTER TABLE orders ADD COLUMN a int;
CREATE INDEX orders_a_idx ON orders (a);
ALTER TABLE orders ADD COLUMN b int;
INSERT INTO orders (id, qty) VALUES (1, 1);
-- migrate:down
SELECT 1;
`,
};

function folder(files: Record<string, string> = FILES): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-migrate-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

let base: TestDatabase;
beforeAll(async () => {
  base = await createTestDatabase('migrate');
});
afterAll(async () => {
  await base?.drop();
});

describe('reading files', () => {
  it('splits sections and statements with the parser, with lines and directives', async () => {
    const { layout, files } = await readMigrations(folder());
    expect(layout).toBe('dbmate');
    expect(files.map((f) => f.version)).toEqual(['20260101000001', '20260101000002', '20260101000003', '20260101000004', '20260101000005']);
    expect(files[0]!.up.statements.map((s) => s.line)).toEqual([2, 3]);
    expect(files[3]!.up.statements[0]).toMatchObject({ line: 3, sql: 'ALTER TABLE orders ALTER COLUMN id TYPE bigint', directives: { strategy: 'copy' } });
    expect(files[4]!.up.statements[0]!.directives).toEqual({ backfill: true });
    expect(files[1]!.down!.statements).toHaveLength(2);
  });
});

describe('pgshift migrate', () => {
  it('applies every file by its strategy, leaving the schema (and with --history-compat dbmate, the dbmate table) dbmate gives for the same folder; status, no-op, down, up again', async () => {
    const dir = folder();
    const online = await cloneDatabase(base, 'migrate_on');
    const offline = await cloneDatabase(base, 'migrate_off');
    try {
      const o = migrateOptions({ url: online.url, dir, historyCompat: 'dbmate' });
      const planned = await migratePlan(o);
      // On an empty database every table is still to be created: each change is decided when it runs.
      expect(planned.map((p) => p.strategy)).toEqual([...Array(7).fill('statement'), 'backfill']);
      const runs = await migrateUp(o);
      expect(runs.map((r) => r.steps.map((s) => s.strategy))).toEqual([
        ['statement', 'statement'], ['instant', 'instant'], ['online', 'online'], ['copy'], ['backfill'],
      ]);
      // Offline: dbmate itself runs the same folder (with --history-compat dbmate both have its table, with the same rows).
      dbmate(offline, dir, 'up');
      expect(diffSnapshots(await snapshotCatalog(offline.pool, ['public']), await snapshotCatalog(online.pool, ['public']))).toEqual([]);
      const versions = async (db: TestDatabase): Promise<string[]> => (await db.query(`SELECT version FROM schema_migrations ORDER BY 1`)).rows.map((r) => r.version);
      expect(await versions(online)).toEqual(await versions(offline));
      expect((await online.query(`SELECT count(*)::int AS n FROM orders WHERE note = 'n' || id`)).rows[0].n).toBe(20000);
      expect((await migrateStatus(o)).map((s) => s.state)).toEqual(['applied', 'applied', 'applied', 'applied', 'applied']);
      expect(await migrateUp(o)).toEqual([]);

      expect((await migrateDown(o, { to: '20260101000003' })).map((r) => r.version)).toEqual(['20260101000005', '20260101000004']);
      expect(await versions(online)).toEqual(['20260101000001', '20260101000002', '20260101000003']);
      expect((await migrateStatus(o)).map((s) => s.state)).toEqual(['applied', 'applied', 'applied', 'pending', 'pending']);
      expect((await online.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'id'`)).rows[0].t).toBe('integer');
      expect((await migrateUp(o)).map((r) => r.version)).toEqual(['20260101000004', '20260101000005']);
    } finally {
      await online.drop();
      await offline.drop();
    }
  });

  it('the dry run: segments, lock, hold, rewrite, and an estimated duration from a sample measured now (a copy, a backfill), read-only', async () => {
    const dir = folder();
    const db = await cloneDatabase(base, 'migrate_plan');
    try {
      const o = migrateOptions({ url: db.url, dir });
      await migrateUp({ ...o, to: '20260101000003' });
      const before = (await db.query(`SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM orders t`)).rows[0].h;
      const planned = await migratePlan(o);
      expect(planned.map((p) => [p.version, p.segment, p.strategy, p.lock, p.rewrites])).toEqual([
        ['20260101000004', 1, 'copy', 'ACCESS EXCLUSIVE', true],
        ['20260101000005', 2, 'backfill', null, false],
      ]);
      for (const p of planned) {
        expect(p.estimate?.seconds, p.sql).toBeGreaterThan(0);
        expect(p.estimate?.basis).toMatch(/^rehearsed on (the whole table \(\d+ rows\)|a sample of 20000 rows of ~\d+) in a transaction rolled back/);
      }
      expect(planned[0]!.estimate!.parts.map((x) => x.what)).toEqual(['shadow and changelog', 'copy', 'index builds', 'ANALYZE', 'validation']);
      expect(planned[1]!.estimate!.parts.map((x) => x.what)).toEqual(['the UPDATE, in batches']);
      expect((await db.query(`SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM orders t`)).rows[0].h).toBe(before);
      const cli = await runCli(['migrate', 'up', '--dry-run', '--dir', dir, '--url', db.url]);
      expect(cli.status, cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/^segment 1 \(alone, online\)\n  20260101000004 line 3: copy: ALTER TABLE orders ALTER COLUMN id TYPE bigint\n.*\n      lock ACCESS EXCLUSIVE, held: .*; rewrites the table: yes\n      estimated duration: [\d.]+(ms|s) \(rehearsed on /m);
      expect(cli.stdout).toMatch(/^        copy: [\d.]+(ms|s) \(\d+ chunk\(s\) of up to 5000 rows by the copier's own statements: \d+ ms\)$/m);
      expect(cli.stdout).toMatch(/^      row locks only, one batch at a time\n      estimated duration: .*\n        the UPDATE, in batches: /m);
      expect(cli.stdout).toMatch(/^estimated duration: [\d.]+(ms|s) in all \(this process's start-up and planning/m);
    } finally {
      await db.drop();
    }
  });

  it('an edited applied file: validate exits 3, up refuses (exit 2) and changes nothing', async () => {
    const dir = folder();
    const db = await cloneDatabase(base, 'migrate_edit');
    try {
      expect((await runCli(['migrate', 'up', '--dir', dir, '--url', db.url])).status).toBe(0);
      fs.appendFileSync(path.join(dir, '20260101000002_note_default.sql'), '\n-- an afterthought\n');
      const validate = await runCli(['migrate', 'validate', '--dir', dir, '--url', db.url]);
      expect(validate.status, validate.stderr).toBe(3);
      expect(validate.stderr).toMatch(/edited after being applied: 20260101000002 note_default/);
      fs.writeFileSync(path.join(dir, '20260101000006_more.sql'), '-- migrate:up\nALTER TABLE orders ADD COLUMN later int;\n-- migrate:down\nALTER TABLE orders DROP COLUMN later;\n');
      const up = await runCli(['migrate', 'up', '--dir', dir, '--url', db.url]);
      expect(up.status, up.stderr).toBe(2);
      expect(up.stderr).toMatch(/20260101000002 note_default was edited after it was applied/);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'later'`)).rows[0].n).toBe(0);
      const status = await runCli(['migrate', 'status', '--dir', dir, '--url', db.url, '--exit-code']);
      expect(status.status).toBe(3);
      expect(status.stdout).toMatch(/^changed\t20260101000002\tnote_default/m);
      expect(status.stdout).toMatch(/^pending\t20260101000006\tmore/m);
    } finally {
      await db.drop();
    }
  });

  it('--rollback automatic: a failing file is undone, newest first, by each statement\'s inverse; the history is as before it', async () => {
    const dir = folder({ ...FILES, ...BROKEN });
    const db = await cloneDatabase(base, 'migrate_undo');
    try {
      const r = await runCli(['migrate', 'up', '--dir', dir, '--url', db.url]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/duplicate key value .*rolled back \(--rollback automatic\): 2 applied statement\(s\) of 20260101000006 broken undone/);
      expect((await db.query(`SELECT count(*)::int AS n FROM pgshift.migration_files WHERE version = '20260101000006'`)).rows[0].n).toBe(0);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname IN ('a', 'b') AND NOT attisdropped`)).rows[0].n).toBe(0);
      expect((await db.query(`SELECT to_regclass('orders_a_idx') AS i`)).rows[0].i).toBeNull();
      expect((await migrateStatus(migrateOptions({ url: db.url, dir }))).map((x) => x.state)).toEqual(['applied', 'applied', 'applied', 'applied', 'applied', 'pending']);
    } finally {
      await db.drop();
    }
  });

  it('--rollback automatic: an online copy in a failing file is swapped back through the revert window it kept; a file that completes closes it', async () => {
    const copyThenFail = (fail: boolean): Record<string, string> => ({
      '20260101000006_qty_bigint.sql': `-- migrate:up
-- pgshift:strategy copy
ALTER TABLE orders ALTER COLUMN qty TYPE bigint;
ALTER TABLE orders ADD COLUMN c int;
CREATE INDEX orders_c_idx ON orders (c);
${fail ? 'INSERT INTO orders (id, qty) VALUES (1, 1);' : 'SELECT 1;'}
-- migrate:down
SELECT 1;
`,
    });
    const db = await cloneDatabase(base, 'migrate_revert');
    try {
      const reverseTriggers = async (): Promise<number> =>
        (await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'orders'::regclass AND tgname LIKE 'pgshift%'`)).rows[0].n;
      const qtyType = async (): Promise<string> =>
        (await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'qty'`)).rows[0].t;
      const dir = folder({ ...FILES, ...copyThenFail(true) });
      expect((await runCli(['migrate', 'up', '--to', '20260101000005', '--dir', dir, '--url', db.url])).status).toBe(0);
      await db.query(`UPDATE orders SET note = 'before' WHERE id = 7`);
      const r = await runCli(['migrate', 'up', '--dir', dir, '--url', db.url]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/duplicate key value .*rolled back \(--rollback automatic\): 3 applied statement\(s\) of 20260101000006 qty_bigint undone/);
      expect((await db.query(`SELECT to_regclass('orders_c_idx') AS i`)).rows[0].i).toBeNull();
      expect(await qtyType()).toBe('integer');
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'c' AND NOT attisdropped`)).rows[0].n).toBe(0);
      expect((await db.query(`SELECT count(*)::int AS n, min(note) AS note FROM orders WHERE id = 7`)).rows[0]).toEqual({ n: 1, note: 'before' });
      expect((await db.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n).toBe(20000);
      const copy = (await db.query(`SELECT id::int, outcome FROM pgshift.migrations WHERE kind = 'alter' AND options->>'strategy' = 'copy' ORDER BY id DESC LIMIT 1`)).rows[0];
      expect(copy.outcome).toBe('reverted');
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`, [`pgshift_${copy.id}`])).rows[0].n).toBe(0);
      expect(await reverseTriggers()).toBe(0);
      expect((await db.query(`SELECT count(*)::int AS n FROM pgshift.migration_files WHERE version = '20260101000006'`)).rows[0].n).toBe(0);

      // Fixed, the same file completes: its copy's window closes with it (no reverse triggers; the old table only with --keep-old).
      fs.writeFileSync(path.join(dir, '20260101000006_qty_bigint.sql'), copyThenFail(false)['20260101000006_qty_bigint.sql']!);
      const ok = await runCli(['migrate', 'up', '--keep-old', '--dir', dir, '--url', db.url]);
      expect(ok.status, ok.stderr).toBe(0);
      expect(await qtyType()).toBe('bigint');
      const done = (await db.query(`SELECT id::int, outcome, revert_until FROM pgshift.migrations WHERE kind = 'alter' AND options->>'strategy' = 'copy' ORDER BY id DESC LIMIT 1`)).rows[0];
      expect(done).toMatchObject({ outcome: 'done', revert_until: null });
      expect((await db.query(`SELECT to_regclass($1) IS NOT NULL AS kept`, [`pgshift_${done.id}.orders`])).rows[0].kept).toBe(true);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = $1::regnamespace`, [`pgshift_${done.id}`])).rows[0].n).toBeGreaterThan(0);
      expect((await db.query(`SELECT to_regclass($1) AS t`, [`pgshift_${done.id}_log.reverse_changelog`])).rows[0].t).toBeNull();
      expect(await reverseTriggers()).toBe(0);
    } finally {
      await db.drop();
    }
  });

  it('--rollback manual: its segment rolls back, the history keeps what committed, and up continues after the fix', async () => {
    const dir = folder({ ...FILES, ...BROKEN });
    const db = await cloneDatabase(base, 'migrate_fail');
    try {
      const r = await runCli(['migrate', 'up', '--rollback', 'manual', '--dir', dir, '--url', db.url]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/20260101000006 broken line 5: duplicate key value .*rolled back.*applied and kept: line 2 \(instant\), line 3 \(online\); fix the cause and run pgshift migrate up/);
      const h = (await db.query(`SELECT success, steps_done FROM pgshift.migration_files WHERE version = '20260101000006'`)).rows[0];
      expect(h).toEqual({ success: false, steps_done: 2 });
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'b'`)).rows[0].n).toBe(0);
      // The data is fixed (the row goes), not the file: up continues at statement 3 and never runs 1 or 2 again.
      await db.query(`DELETE FROM orders WHERE id = 1`);
      // Its progress lines are log records: on stderr here, not in the suite's log file.
      const again = await runCli(['migrate', 'up', '--dir', dir, '--url', db.url], { PGSHIFT_LOG_FILE: '' });
      expect(again.status, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/"msg":"continuing 20260101000006 broken at statement 3"/);
      expect((await db.query(`SELECT success FROM pgshift.migration_files WHERE version = '20260101000006'`)).rows[0].success).toBe(true);
    } finally {
      await db.drop();
    }
  });

  it('kill -9 during the online copy of a file, then up: the copy is taken over and the file completes once', async () => {
    const dir = folder();
    const db = await cloneDatabase(base, 'migrate_kill');
    try {
      const killed = await runCli(['migrate', 'up', '--dir', dir, '--url', db.url], { PGSHIFT_FAILPOINT: 'mid-copy' });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      expect((await db.query(`SELECT version, success FROM pgshift.migration_files ORDER BY version`)).rows.map((r) => `${r.version}:${r.success}`)).toEqual([
        '20260101000001:true', '20260101000002:true', '20260101000003:true', '20260101000004:false',
      ]);
      const again = await runCli(['migrate', 'up', '--dir', dir, '--url', db.url]);
      expect(again.status, again.stderr).toBe(0);
      expect((await db.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE outcome = 'done')::int AS done FROM pgshift.migrations WHERE kind = 'alter' AND options->>'strategy' = 'copy'`)).rows[0]).toEqual({ n: 1, done: 1 });
      expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'id'`)).rows[0].t).toBe('bigint');
      expect((await migrateStatus(migrateOptions({ url: db.url, dir }))).every((s) => s.state === 'applied')).toBe(true);
      await expect(migrateValidate(migrateOptions({ url: db.url, dir }))).resolves.toEqual([]);
    } finally {
      await db.drop();
    }
  });
});
