import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, onlineAlter } from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { tableDigest } from '../support/table-digest.js';

/**
 * A change that fails offline fails before the swap, never after it (issue 11, defect 3): a
 * foreign key with orphans, or a NOT VALID check made valid over rows that break it, ends the
 * migration with the old table in place, including when the offending row is written after the
 * engine's check of the whole table.
 */
async function nothingLeft(db: TestDatabase, tables: string[]): Promise<void> {
  for (const t of tables) {
    expect((await db.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [t])).rows, t).toEqual([]);
  }
  expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
}

const ADD_FK = (t: string) => `ALTER TABLE ${t} ALTER COLUMN v TYPE bigint, ADD CONSTRAINT ${t}_p_fk FOREIGN KEY (p) REFERENCES parents (id)`;

describe('constraints that fail offline fail before the swap', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('prove');
    await db.query(`CREATE TABLE parents (id int PRIMARY KEY); INSERT INTO parents SELECT g FROM generate_series(1, 100) g;`);
  });
  afterAll(async () => {
    await db.drop();
  });

  const child = async (t: string, extra = ''): Promise<void> => {
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, p int, v int); INSERT INTO ${t} SELECT g, 1 + g % 100, g FROM generate_series(1, 20000) g; ${extra}`);
  };

  async function failsBeforeSwap(t: string, statements: string, during?: (phase: string) => Promise<void>): Promise<string> {
    const before = await tableDigest(db.pool, `public.${t}`, { orderBy: ['id'] });
    const beforeParents = await tableDigest(db.pool, 'public.parents', { orderBy: ['id'] });
    let changedParents = false;
    const err = await onlineAlter(
      alterOptions({ strategy: 'copy',
        url: db.url, statements, execute: true, dropOld: true,
        onPhase: async (phase) => {
          if (during && phase === 'cutover') {
            await during(phase);
            changedParents = true;
          }
        },
      }),
    ).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
    expect(String(err)).toMatch(/nothing was swapped/);
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'v'`, [t])).rows[0].t).toBe('integer');
    if (!during) {
      expect(await tableDigest(db.pool, `public.${t}`, { orderBy: ['id'] })).toEqual(before);
      expect(await tableDigest(db.pool, 'public.parents', { orderBy: ['id'] })).toEqual(beforeParents);
    }
    expect(changedParents || !during).toBe(true);
    await nothingLeft(db, [t, 'parents']);
    return String(err);
  }

  it('a new foreign key with orphans among the existing rows', async () => {
    await child('orph_a', `UPDATE orph_a SET p = 1000 + id WHERE id IN (7, 8)`);
    const err = await failsBeforeSwap('orph_a', ADD_FK('orph_a'));
    expect(err).toMatch(/foreign key orph_a_p_fk would be violated: 2 row\(s\) reference no row of/);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'orph_a_p_fk'`)).rows[0].n).toBe(0);
  });

  it('an orphan made after the check of the whole table by deleting a parent row', async () => {
    await child('orph_b');
    await db.query(`INSERT INTO parents VALUES (500); UPDATE orph_b SET p = 500 WHERE id = 3`);
    const err = await failsBeforeSwap('orph_b', ADD_FK('orph_b'), async () => {
      await db.query(`DELETE FROM parents WHERE id = 500`);
    });
    expect(err).toMatch(/foreign key orph_b_p_fk would be violated: 1 row\(s\).*keys 3\b/);
  });

  it('an orphan written into the table after the check of the whole table', async () => {
    await child('orph_c');
    const err = await failsBeforeSwap('orph_c', ADD_FK('orph_c'), async () => {
      await db.query(`INSERT INTO orph_c VALUES (999999, 12345, 1)`);
    });
    expect(err).toMatch(/foreign key orph_c_p_fk would be violated: 1 row\(s\).*keys 999999/);
  });

  it('a NOT VALID check made valid by the statements over rows that break it', async () => {
    await child('chk_d', `UPDATE chk_d SET v = -5 WHERE id = 11; ALTER TABLE chk_d ADD CONSTRAINT chk_d_v CHECK (v > 0) NOT VALID`);
    const err = await failsBeforeSwap('chk_d', 'ALTER TABLE chk_d ALTER COLUMN v TYPE bigint; ALTER TABLE chk_d VALIDATE CONSTRAINT chk_d_v');
    expect(err).toMatch(/check constraint chk_d_v would be violated by 1 row\(s\) \(keys 11\)/);
  });

  it('goes through, foreign key valid, when parents and children change without orphaning anything', async () => {
    await child('fine_e');
    const report = await onlineAlter(
      alterOptions({ strategy: 'copy',
        url: db.url, statements: ADD_FK('fine_e'), execute: true, dropOld: true,
        onPhase: async (phase) => {
          if (phase === 'cutover') await db.query(`INSERT INTO parents VALUES (600); INSERT INTO fine_e VALUES (888888, 600, 1); UPDATE fine_e SET p = 2 WHERE id = 5`);
        },
      }),
    );
    expect(report.status).toBe('done');
    expect(report.validated).toContain('fine_e_p_fk');
    expect((await db.query(`SELECT convalidated FROM pg_constraint WHERE conname = 'fine_e_p_fk'`)).rows[0].convalidated).toBe(true);
    await nothingLeft(db, ['fine_e', 'parents']);
  });

  it.each([
    ['an added column whose UNIQUE the rows break, dropped by the next statement', 'ALTER TABLE seq_f ADD COLUMN x smallint DEFAULT 7 UNIQUE; ALTER TABLE seq_f DROP COLUMN x', /statement 2 drops column x, which statement 1/],
    ['a CHECK the rows break, dropped by the next statement', 'ALTER TABLE seq_f ADD CONSTRAINT c CHECK (v < 0); ALTER TABLE seq_f DROP CONSTRAINT c', /statement 2 drops constraint c/],
    ['SET NOT NULL over a NULL, dropped by the next statement', 'ALTER TABLE seq_f ALTER COLUMN v SET NOT NULL; ALTER TABLE seq_f ALTER COLUMN v DROP NOT NULL', /statement 2 drops NOT NULL on v/],
    ['a narrowing conversion that overflows, widened again by the next statement', 'ALTER TABLE seq_f ALTER COLUMN w TYPE int; ALTER TABLE seq_f ALTER COLUMN w TYPE bigint', /statement 2 converts w again/],
  ])('refuses a statement that takes back a check an earlier one makes on the rows: %s', async (_name, statements, message) => {
    await db.query(`CREATE TABLE IF NOT EXISTS seq_f (id int PRIMARY KEY, v int, w bigint);
      INSERT INTO seq_f VALUES (1, 1, 5000000000), (2, NULL, 1) ON CONFLICT DO NOTHING;`);
    const before = await tableDigest(db.pool, 'public.seq_f', { orderBy: ['id'] });
    const err = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements, execute: true })).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(2);
    expect(String(err)).toMatch(message);
    expect(await tableDigest(db.pool, 'public.seq_f', { orderBy: ['id'] })).toEqual(before);
    await nothingLeft(db, ['seq_f']);
  });
});
