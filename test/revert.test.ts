import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions } from '../src/index.js';
import { startWorkload } from '../src/demo/workload.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { runCli } from './support/cli.js';

const CLI = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROWS = 20_000;

describe('revert window', () => {
  let db: TestDatabase;
  const role = `rv_${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(async () => {
    db = await createTestDatabase('revert');
  });
  afterAll(async () => {
    await db.drop();
    await db.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  });

  const columns = async (t: string): Promise<string> =>
    (await db.query(`SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, [t])).rows[0].c;

  it('swaps the old table back under concurrent writes, with every write and every dependent', async () => {
    await db.query(`
      CREATE TABLE acct (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text, legacy text NOT NULL DEFAULT 'L', seq_col serial);
      CREATE TABLE acct_mirror (id int, u int, v int, note text); CREATE INDEX ON acct_mirror (id);
      INSERT INTO acct (id, u, v, note) SELECT g, g, g, 'n' FROM generate_series(1, ${ROWS}) g;
      INSERT INTO acct_mirror SELECT id, u, v, note FROM acct;
      CREATE VIEW acct_v AS SELECT id, note FROM acct;
      CREATE TABLE child (id int PRIMARY KEY, acct_id int REFERENCES acct (id) ON DELETE CASCADE ON UPDATE CASCADE);
      INSERT INTO child SELECT g, g FROM generate_series(1, 100) g;
      CREATE ROLE ${role}; GRANT SELECT ON acct TO ${role};`);
    const workload = await startWorkload({ url: db.url, schema: 'public', table: 'acct', mirror: 'acct_mirror', workers: 2, initialRows: ROWS, ratePerSecond: 200 });
    let report;
    try {
      report = await onlineAlter(
        alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE acct ALTER COLUMN v TYPE bigint, ADD COLUMN extra int DEFAULT 5, DROP COLUMN legacy', execute: true, revertWindowMs: 3_600_000 }),
      );
      expect(await columns('acct')).toBe('id integer, u integer, v bigint, note text, seq_col integer, extra integer');
      await sleep(1000); // the application writes to the new table; the reverse capture follows
      // Spawned asynchronously: a synchronous spawn would freeze the workload's transactions
      // mid-flight, holding their locks, and the revert would rightly give up waiting.
      const r = await runCli(['revert', String(report.migrationId), '--url', db.url]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/reverted migration \d+: public.acct is the old table again/);
      await sleep(300);
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(await columns('acct')).toBe('id integer, u integer, v integer, note text, legacy text, seq_col integer');
    const diff = await db.query(`SELECT count(*)::int AS n FROM ((SELECT id, u, v, note FROM acct EXCEPT ALL SELECT * FROM acct_mirror)
      UNION ALL (SELECT * FROM acct_mirror EXCEPT ALL SELECT id, u, v, note FROM acct)) d`);
    expect(diff.rows[0].n).toBe(0);
    // Rows inserted while the new table was live got the dropped column's default.
    expect((await db.query(`SELECT count(*)::int AS n FROM acct WHERE legacy IS DISTINCT FROM 'L'`)).rows[0].n).toBe(0);
    // Every dependent points at the old table again.
    const viewDep = await db.query(`SELECT DISTINCT d.refobjid::regclass::text AS t FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
      WHERE r.ev_class = 'acct_v'::regclass AND d.refobjid <> 'acct_v'::regclass`);
    expect(viewDep.rows).toEqual([{ t: 'acct' }]);
    expect((await db.query(`SELECT confrelid::regclass::text AS t, convalidated FROM pg_constraint WHERE conrelid = 'child'::regclass AND contype = 'f'`)).rows).toEqual([{ t: 'acct', convalidated: true }]);
    expect((await db.query(`SELECT pg_get_serial_sequence('acct', 'seq_col') AS s`)).rows[0].s).toBe('public.acct_seq_col_seq');
    expect((await db.query(`SELECT has_table_privilege($1, 'acct', 'SELECT') AS g`, [role])).rows[0].g).toBe(true);
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [report!.migrationId])).rows[0].outcome).toBe('reverted');
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'acct'::regclass AND tgname LIKE 'pgshift%'`)).rows[0].n).toBe(0);
  });

  it('moves the table\'s rules and re-binds other relations\' rules, policies and constraint triggers at the swap and back at the revert', async () => {
    await db.query(`
      CREATE TABLE led (id int PRIMARY KEY, v int NOT NULL);
      INSERT INTO led SELECT g, g FROM generate_series(1, 1000) g;
      CREATE TABLE led_audit (id int, v int);
      CREATE RULE led_log AS ON INSERT TO led DO ALSO INSERT INTO led_audit VALUES (NEW.id, NEW.v);
      CREATE TABLE led_orders (id int PRIMARY KEY, item int);
      CREATE RULE led_orders_item AS ON INSERT TO led_orders DO ALSO INSERT INTO led (id, v) VALUES (NEW.item, NEW.id);
      CREATE TABLE led_docs (id int PRIMARY KEY, owner int);
      ALTER TABLE led_docs ENABLE ROW LEVEL SECURITY;
      CREATE POLICY led_docs_read ON led_docs USING (owner IN (SELECT id FROM led));
      CREATE FUNCTION led_ct() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER led_ship AFTER INSERT ON led_orders FROM led DEFERRABLE FOR EACH ROW EXECUTE FUNCTION led_ct();`);
    const original = (await db.query(`SELECT 'led'::regclass::oid::int8::text AS o`)).rows[0].o;
    // What the rules, the policy and the trigger are bound to, and the rules the table has.
    const bound = async (): Promise<{ rules: string[]; to: string[] }> => ({
      rules: (await db.query(`SELECT rulename AS r FROM pg_rewrite WHERE ev_class = 'led'::regclass ORDER BY 1`)).rows.map((r) => r.r),
      to: (await db.query(`
        SELECT DISTINCT o.what || ' -> ' || CASE WHEN d.refobjid = 'led'::regclass THEN 'led' ELSE d.refobjid::regclass::text END AS b
          FROM (SELECT 'pg_rewrite'::regclass AS cls, oid, 'rule ' || rulename AS what FROM pg_rewrite WHERE rulename IN ('led_orders_item', 'led_log')
                UNION ALL SELECT 'pg_policy'::regclass, oid, 'policy ' || polname FROM pg_policy WHERE polname = 'led_docs_read'
                UNION ALL SELECT 'pg_trigger'::regclass, oid, 'trigger ' || tgname FROM pg_trigger WHERE tgname = 'led_ship') o
          JOIN pg_depend d ON d.classid = o.cls AND d.objid = o.oid AND d.refclassid = 'pg_class'::regclass
          JOIN pg_class c ON c.oid = d.refobjid WHERE c.relname = 'led' ORDER BY 1`)).rows.map((r) => r.b),
    });
    const expected = { rules: ['led_log'], to: ['policy led_docs_read -> led', 'rule led_log -> led', 'rule led_orders_item -> led', 'trigger led_ship -> led'] };
    expect(await bound()).toEqual(expected);
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE led ADD COLUMN extra int DEFAULT 1', execute: true, revertWindowMs: 3_600_000 }));
    expect((await db.query(`SELECT 'led'::regclass::oid::int8::text AS o`)).rows[0].o).not.toBe(original);
    // Bound to the new table only: the kept old table has no rule (the reverse replay writes into it).
    expect(await bound()).toEqual(expected);
    await db.query(`INSERT INTO led_orders VALUES (1, 5001); INSERT INTO led_docs VALUES (1, 5001)`);
    expect((await db.query(`SELECT count(*)::int AS n FROM led_audit`)).rows[0].n).toBe(1);
    expect((await db.query(`SELECT count(*)::int AS n FROM led_docs`)).rows[0].n).toBe(1);
    const r = await runCli(['revert', String(report.migrationId), '--url', db.url]);
    expect(r.status, r.stderr).toBe(0);
    expect((await db.query(`SELECT 'led'::regclass::oid::int8::text AS o`)).rows[0].o).toBe(original);
    expect(await bound()).toEqual(expected);
    // The reverse replay wrote row 5001 into the old table without its rule firing again; the rule fires there now.
    expect((await db.query(`SELECT count(*)::int AS n FROM led_audit`)).rows[0].n).toBe(1);
    await db.query(`INSERT INTO led_orders VALUES (2, 5002)`);
    expect((await db.query(`SELECT id FROM led_audit ORDER BY id`)).rows.map((x) => x.id)).toEqual([5001, 5002]);
    expect((await db.query(`SELECT count(*)::int AS n FROM led WHERE id IN (5001, 5002)`)).rows[0].n).toBe(2);
  });

  it('moves the rules of a partitioned table and of its partitions to the new tree and back', async () => {
    await db.query(`
      CREATE TABLE pr (id int, at date, v int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE pr_a PARTITION OF pr FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      INSERT INTO pr SELECT g, '2024-03-01', g FROM generate_series(1, 500) g;
      CREATE TABLE pr_audit (id int, tag text);
      CREATE RULE pr_log AS ON INSERT TO pr DO ALSO INSERT INTO pr_audit VALUES (NEW.id, 'tree');
      CREATE RULE pr_a_log AS ON UPDATE TO pr_a DO ALSO INSERT INTO pr_audit VALUES (NEW.id, 'leaf');`);
    const rules = async (): Promise<string[]> =>
      (await db.query(`SELECT ev_class::regclass::text || ':' || rulename AS r FROM pg_rewrite WHERE rulename LIKE 'pr%' ORDER BY 1`)).rows.map((r) => r.r);
    expect(await rules()).toEqual(['pr:pr_log', 'pr_a:pr_a_log']);
    const before = (await db.query(`SELECT 'pr_a'::regclass::oid::int8::text AS o`)).rows[0].o;
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE pr ALTER COLUMN v TYPE bigint', execute: true, revertWindowMs: 3_600_000 }));
    expect(await rules()).toEqual(['pr:pr_log', 'pr_a:pr_a_log']);
    await db.query(`INSERT INTO pr VALUES (9001, '2024-04-01', 1); UPDATE pr_a SET v = v + 1 WHERE id = 1`);
    const r = await runCli(['revert', String(report.migrationId), '--url', db.url]);
    expect(r.status, r.stderr).toBe(0);
    expect((await db.query(`SELECT 'pr_a'::regclass::oid::int8::text AS o`)).rows[0].o).toBe(before);
    expect(await rules()).toEqual(['pr:pr_log', 'pr_a:pr_a_log']);
    await db.query(`UPDATE pr_a SET v = v + 1 WHERE id = 2`);
    expect((await db.query(`SELECT id, tag FROM pr_audit ORDER BY id, tag`)).rows).toEqual([{ id: 1, tag: 'leaf' }, { id: 2, tag: 'leaf' }, { id: 9001, tag: 'tree' }]);
  });

  it('refuses, naming the keys, when the old table cannot hold a value written since the swap', async () => {
    await db.query(`CREATE TABLE wide (id int PRIMARY KEY, v int NOT NULL); INSERT INTO wide SELECT g, g FROM generate_series(1, 1000) g;`);
    const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE wide ALTER COLUMN v TYPE bigint', execute: true, revertWindowMs: 3_600_000 }));
    expect(report.plan.join('\n')).toMatch(/values written after the swap must still fit the old type of v/);
    await db.query(`UPDATE wide SET v = 3000000000 WHERE id = 42`);
    const r = spawnSync(process.execPath, [CLI, 'revert', String(report.migrationId), '--url', db.url], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refused: the old table cannot hold rows written since the swap .*keys: 42/);
    expect(await columns('wide')).toBe('id integer, v bigint');
    const refusal = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE wide ALTER COLUMN v TYPE text USING v::text', revertWindowMs: 60_000 })).catch((e: unknown) => e);
    expect(String(refusal)).toMatch(/USING expression, which has no inverse/);
  });
});
