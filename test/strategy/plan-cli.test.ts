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
    expect(json.overall.strategy).toBe('instant');
    expect(json.decisions[0]).toMatchObject({ strategy: 'instant', lock: 'ACCESS EXCLUSIVE', rewrites: false });
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0`)).rows[0].n).toBe(before);
    const bad = await runCli(['plan', 'ALTER TABLE orders ADD COLUMN x int', '--strategy', 'fast', '--url', db.url]);
    expect(bad.status).toBe(2);
  });
});
