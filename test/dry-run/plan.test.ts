// The plan of a representative ALTER (a type change that needs the online copy, plus an ADD
// CONSTRAINT) in each format: every step with its SQL, lock and hold; the table's size, rows,
// indexes and dependents; the blockers now (a long transaction, a prepared one); the disk and
// WAL line; the estimated duration. Nothing is changed by any of it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { runCli } from '../support/cli.js';
import { diffSnapshots, snapshotCatalog } from '../support/catalog-snapshot.js';
import { tableDigest } from '../support/table-digest.js';
import type { PlanModel } from '../../src/dry-run/model.js';

const ALTER = 'ALTER TABLE orders ALTER COLUMN qty TYPE bigint, ADD CONSTRAINT orders_qty_nonneg CHECK (qty >= 0)';
const STEPS = [
  'build the shadow table and the changelog',
  'install the capture triggers',
  'copy in keyset chunks',
  "build the shadow's key, then its other indexes",
  'replay the captured keys',
  "validate: both tables' checksums",
  'cutover: lock, replay the rest, swap',
  'after the swap: validate the constraints',
];

describe('the plan of a representative ALTER', () => {
  let db: TestDatabase;
  let holder: pg.Client;
  let prepared: string | null = null;
  beforeAll(async () => {
    db = await createTestDatabase('plan_formats');
    await db.query(`CREATE TABLE parent (id int PRIMARY KEY); INSERT INTO parent SELECT generate_series(1, 10);
      CREATE TABLE orders (id int PRIMARY KEY, parent_id int REFERENCES parent, qty int NOT NULL, note text, code int UNIQUE);
      CREATE INDEX orders_qty_idx ON orders (qty);
      INSERT INTO orders SELECT g, g % 10 + 1, g % 50, 'n' || g, g FROM generate_series(1, 30000) g;
      CREATE TABLE lines (id int PRIMARY KEY, order_id int REFERENCES orders);
      CREATE VIEW coded AS SELECT id, code FROM orders;
      CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();
      CREATE POLICY orders_coded ON orders USING (code > 0);
      CREATE PUBLICATION orders_pub FOR TABLE orders;
      CREATE TABLE unrelated (id int);
      ANALYZE`);
    // Blockers: a session in a transaction that has read the table (it holds ACCESS SHARE), and a
    // prepared transaction (on an unrelated table: one holding a lock on this table or a table
    // whose foreign keys point at it fails the preflight, exit 2).
    holder = new pg.Client({ connectionString: db.url, application_name: 'plan-test-holder' });
    await holder.connect();
    await holder.query('BEGIN; SELECT count(*) FROM orders');
    const max = Number((await db.query(`SELECT current_setting('max_prepared_transactions') AS n`)).rows[0].n);
    if (max > 0) {
      prepared = `pgshift_plan_test_${process.pid}`;
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query(`BEGIN; LOCK TABLE unrelated IN ROW EXCLUSIVE MODE; PREPARE TRANSACTION '${prepared}'`);
      await c.end();
    } else {
      console.warn('[plan.test] max_prepared_transactions = 0 on the test server: the prepared-transaction blocker is not checked');
    }
    await new Promise((r) => setTimeout(r, 1200)); // older than the 1 s the plan lists as long
  });
  afterAll(async () => {
    await holder.query('ROLLBACK').catch(() => undefined);
    await holder.end();
    if (prepared) await db.query(`ROLLBACK PREPARED '${prepared}'`);
    await db.drop();
  });

  it('json: the one plan model, with every step, lock, table fact, blocker, disk line and estimate; and nothing changed', async () => {
    const before = await snapshotCatalog(db.pool, ['public']);
    const rows = await tableDigest(db.pool, 'public.orders', { orderBy: ['id'] });
    const r = await runCli(['plan', ALTER, '--copy-threshold', '0B', '--json', '--url', db.url]);
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as PlanModel;
    expect(m).toMatchObject({ format: 'pgshift-plan/1', command: 'plan' });
    const [ch] = m.changes;
    expect(ch!.strategy).toBe('copy');
    expect(ch!.decisions.map((d) => d.subcommand)).toEqual(['ALTER TABLE orders ALTER COLUMN qty TYPE bigint', 'ALTER TABLE orders ADD CONSTRAINT orders_qty_nonneg CHECK (qty >= 0)']);
    STEPS.forEach((name, i) => expect(ch!.steps[i]!.name, `step ${i + 1}`).toContain(name));
    for (const s of ch!.steps) {
      expect(s.lock, s.name).toMatch(/^(ACCESS SHARE|ROW EXCLUSIVE|SHARE UPDATE EXCLUSIVE|SHARE|SHARE ROW EXCLUSIVE|ACCESS EXCLUSIVE)$/);
      expect(s.on, s.name).toMatch(/orders/);
      expect(s.hold.length, s.name).toBeGreaterThan(5);
      expect(s.sql.length, s.name).toBeGreaterThan(0);
    }
    expect(ch!.steps[0]!.sql.join('\n')).toMatch(/ALTER TABLE "?pgshift_runbook_\d+"?\.orders ALTER COLUMN qty TYPE bigint, ADD CONSTRAINT orders_qty_nonneg CHECK \(qty >= 0\)/);
    expect(ch!.steps[2]!.sql[1]).toMatch(/^INSERT INTO .* SELECT .* FROM "public"\."orders" WHERE "id" > \$1::integer AND "id" <= \$2::integer ORDER BY "id"$/);
    // The view over the table it re-binds first (a reader takes the view before the table), then the table.
    expect(ch!.steps[6]!.sql.slice(0, 2).join('\n')).toMatch(/^ALTER VIEW "?public"?\."?coded"? OWNER TO \S+\nLOCK TABLE "public"\."orders", .* IN ACCESS EXCLUSIVE MODE$/);
    const [t] = m.tables;
    expect(t!.name).toBe('public.orders');
    expect(t!.rows).toBeGreaterThan(25_000);
    expect(t!.tableBytes).toBeGreaterThan(0);
    expect(t!.indexes.map((i) => i.name)).toEqual(['orders_code_key', 'orders_pkey', 'orders_qty_idx']);
    expect(t!.dependents).toMatchObject({
      foreignKeysOut: [{ name: 'orders_parent_id_fkey', references: 'public.parent' }],
      foreignKeysIn: [{ name: 'lines_order_id_fkey', from: 'public.lines' }],
      views: [{ name: 'public.coded', materialized: false }],
      triggers: [{ name: 'orders_touch', enabled: 'enabled' }],
      policies: [{ name: 'orders_coded', command: 'ALL' }],
      publications: ['orders_pub'],
    });
    const pid = (await holder.query('SELECT pg_backend_pid() AS p')).rows[0].p;
    expect(m.blockers.lockHolders).toContainEqual(expect.objectContaining({ pid, mode: 'AccessShareLock', granted: true, table: 'public.orders', application: 'plan-test-holder' }));
    expect(m.blockers.longTransactions.map((l) => l.pid)).toContain(pid);
    if (prepared) expect(m.blockers.prepared).toContainEqual(expect.objectContaining({ gid: prepared, locksTables: false, end: `COMMIT PREPARED '${prepared}' or ROLLBACK PREPARED '${prepared}'` }));
    expect(ch!.disk!.text).toMatch(/^disk: the copy needs about \d+\.\d MB \(shadow .*, WAL .*\); free /);
    expect(ch!.disk!.freeKnown.length).toBeGreaterThan(10);
    expect(ch!.estimate!.seconds).toBeGreaterThan(0);
    expect(ch!.estimate!.basis).toMatch(/^rehearsed on a sample of 20000 rows of ~\d+ in a transaction rolled back/);
    expect(ch!.estimate!.parts.map((p) => p.what)).toEqual(['shadow and changelog', 'copy', 'index builds', 'ANALYZE', 'validation']);
    expect(m.estimate.seconds).toBeGreaterThan(ch!.estimate!.seconds);
    expect(m.runbook.scripts.map((s) => s.file)).toEqual(['forward.sql', 'abort.sql', 'revert.sql', 'cleanup.sql']);
    // Nothing changed: the catalog, the rows, and no schema of pgshift's left.
    expect(diffSnapshots(before, await snapshotCatalog(db.pool, ['public']))).toEqual([]);
    expect(await tableDigest(db.pool, 'public.orders', { orderBy: ['id'] })).toEqual(rows);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname LIKE 'pgshift%'`)).rows[0].n).toBe(0);
  });

  it('text and md name every step and lock, the table, blockers, disk and the estimated duration; alter --format and migrate up --dry-run print the same model', async () => {
    const text = await runCli(['plan', ALTER, '--copy-threshold', '0B', '--url', db.url]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^table public\.orders: ~\d+ rows, \d+\.\d MB \+ \d+\.\d MB of indexes$/m);
    expect(text.stdout).toMatch(/^ {2}index orders_qty_idx \(.*\): CREATE INDEX orders_qty_idx ON public\.orders USING btree \(qty\)$/m);
    expect(text.stdout).toMatch(/^ {2}foreign keys in: public\.lines\.lines_order_id_fkey$/m);
    STEPS.forEach((name, i) => expect(text.stdout).toMatch(new RegExp(`^ {4}${i + 1}\\. ${name.replace(/[()]/g, '\\$&')}.*: lock [A-Z ]+ on \\S+, held: `, 'm')));
    expect(text.stdout).toMatch(/^ {2}disk: the copy needs about /m);
    expect(text.stdout).toMatch(/^ {2}estimated duration: [\d.]+(ms|s) \(rehearsed on a sample of 20000 rows/m);
    expect(text.stdout).toMatch(/^blockers now: {2}\(lock holders/m);
    expect(text.stdout).toMatch(/^ {2}pid \d+ \(plan-test-holder, idle in transaction\) holds AccessShareLock on public\.orders, transaction open [\d.]+s$/m);
    if (prepared) expect(text.stdout).toContain(`prepared transaction '${prepared}'`);
    expect(text.stdout).toMatch(/^estimated duration: [\d.]+(ms|s) in all \(/m);
    expect(text.stdout).toMatch(/^runbook: forward\.sql .*abort\.sql .*revert\.sql .*cleanup\.sql/m);

    const md = await runCli(['alter', ALTER, '--copy-threshold', '0B', '--format', 'md', '--url', db.url]);
    expect(md.status, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^# pgshift alter: plan$/m);
    expect(md.stdout).toMatch(/^\*\*Estimated duration:\*\* [\d.]+(ms|s) \(/m);
    expect(md.stdout).toMatch(/^## Table public\.orders$/m);
    expect(md.stdout).toMatch(/^\| foreign keys in \| public\.lines\.lines_order_id_fkey \|$/m);
    expect(md.stdout).toMatch(/^## Blockers now$/m);
    expect(md.stdout).toMatch(/^\| # \| step \| lock \| on \| held \|$/m);
    STEPS.forEach((name, i) => expect(md.stdout).toMatch(new RegExp(`^\\| ${i + 1} \\| ${name.replace(/[()]/g, '\\$&')}.* \\| [A-Z ]+ \\| `, 'm')));
    expect(md.stdout).toMatch(/^\*\*Disk:\*\* the copy needs about/m);
    expect(md.stdout).toMatch(/^### forward\.sql\n\n.*\n\n```sql\n-- pgshift runbook: forward$/m);

    const alterJson = JSON.parse((await runCli(['alter', ALTER, '--copy-threshold', '0B', '--json', '--url', db.url])).stdout) as PlanModel;
    expect(alterJson.command).toBe('alter');
    expect(alterJson.notes[0]).toMatch(/^preflight: ok\. Dry run/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-plan-migrate-'));
    fs.writeFileSync(path.join(dir, '20260101000001_qty.sql'), `-- migrate:up\n${ALTER};\nCREATE INDEX orders_note_idx ON orders (note);\n-- migrate:down\nDROP INDEX orders_note_idx;\n`);
    const migrate = await runCli(['migrate', 'up', '--dry-run', '--format', 'json', '--copy-threshold', '0B', '--dir', dir, '--url', db.url]);
    expect(migrate.status, migrate.stderr).toBe(0);
    const mm = JSON.parse(migrate.stdout) as PlanModel;
    expect(mm.command).toBe('migrate up');
    expect(mm.changes.map((c) => [c.label, c.strategy, c.segment])).toEqual([['20260101000001 line 2', 'copy', 1], ['20260101000001 line 3', 'online', 2]]);
    expect(mm.changes.every((c) => c.estimate !== null && c.estimate.seconds > 0)).toBe(true);
    expect(mm.tables.map((t) => t.name)).toEqual(['public.orders']);
    expect(mm.runbook.scripts.find((s) => s.name === 'revert')!.sql).toMatch(/^DROP INDEX orders_note_idx;$/m);
    const bad = await runCli(['plan', ALTER, '--format', 'md', '--json', '--url', db.url]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--json is --format json: not with --format md/);
  });
});
