import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { runCli } from '../support/cli.js';

/** `pgshift plan` shows each subcommand's strategy, lock and steps, and changes nothing. */
describe('pgshift plan', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('plan_cli');
    await db.query(`CREATE TABLE orders (id int PRIMARY KEY, qty int, note varchar(20));
      INSERT INTO orders SELECT g, g, 'n' FROM generate_series(1, 1000) g;`);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('names the cheapest safe path of each subcommand, and changes nothing', async () => {
    const before = (await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0`)).rows[0].n;
    const plan = async (statements: string, ...more: string[]): Promise<string> => {
      const r = await runCli(['plan', statements, '--url', db.url, ...more]);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const instant = await plan('ALTER TABLE orders ADD COLUMN shipped boolean, ALTER COLUMN note TYPE varchar(40)');
    expect(instant).toMatch(/ADD COLUMN shipped boolean\n\s+strategy instant/);
    expect(instant).toMatch(/TYPE varchar\(40\)\n\s+strategy instant/);
    expect(instant).toMatch(/^overall: instant/m);
    expect(await plan('ALTER TABLE orders ALTER COLUMN qty SET NOT NULL')).toMatch(/SET NOT NULL\n\s+strategy not-valid-validate/);
    // Above the copy threshold a rewrite takes every subcommand of the call into one copy; below it, all run directly.
    const mixed = await plan('ALTER TABLE orders ADD COLUMN later int; ALTER TABLE orders ALTER COLUMN qty TYPE bigint', '--copy-threshold', '0B');
    expect(mixed).toMatch(/TYPE bigint\n\s+strategy copy/);
    expect(mixed).toMatch(/^overall: copy/m);
    const small = await plan('ALTER TABLE orders ADD COLUMN later int; ALTER TABLE orders ALTER COLUMN qty TYPE bigint');
    expect(small).toMatch(/TYPE bigint\n\s+strategy direct: .*below the copy threshold \(2097152 bytes\)/);
    const json = JSON.parse((await runCli(['plan', 'ALTER TABLE orders ADD COLUMN x int', '--json', '--url', db.url])).stdout);
    expect(json.changes[0].strategy).toBe('instant');
    expect(json.changes[0].decisions[0]).toMatchObject({ strategy: 'instant', lock: 'ACCESS EXCLUSIVE', rewrites: false });
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0`)).rows[0].n).toBe(before);
    const bad = await runCli(['plan', 'ALTER TABLE orders ADD COLUMN x int', '--strategy', 'fast', '--url', db.url]);
    expect(bad.status).toBe(2);
  });

  it('alter runs an online change, names the copy options it did not use, and status shows the migration', async () => {
    const r = await runCli(['alter', 'CREATE INDEX ON orders (qty)', '--execute', '--chunk-time', '1s', '--max-lag', '2s', '--url', db.url]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/strategy concurrent: CREATE INDEX CONCURRENTLY/);
    expect(r.stdout).toMatch(/unused \(nothing is copied\): --chunk-time, --max-lag/);
    const id = Number(/done: migration (\d+) \(online\)/.exec(r.stdout)?.[1]);
    expect(id).toBeGreaterThan(0);
    const status = await runCli(['status', String(id), '--json', '--url', db.url]);
    expect(status.status, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)[0]).toMatchObject({ id, table: 'public.orders', strategy: 'online', state: 'done' });
    expect((await runCli(['status', String(id), '--url', db.url])).stdout).toMatch(new RegExp(`^${id}\tpublic\.orders \\(online\\)\tdone`));
    expect((await db.query(`SELECT outcome, phase, options->>'strategy' AS s FROM pgshift.migrations WHERE id = $1`, [id])).rows[0]).toEqual({ outcome: 'done', phase: 'done', s: 'online' });
    expect((await db.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_qty_idx'::regclass`)).rows[0].indisvalid).toBe(true);
  });
});
