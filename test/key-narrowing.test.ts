import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, onlineAlter } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { tableDigest } from './support/table-digest.js';

/**
 * A key type change that narrows (bigint to int, text to varchar(n)) is one-to-one only on data
 * where every key fits and no two merge. Where they do not, the online copy fails before the
 * swap, as offline fails: exit 1, the table unchanged, nothing of pgshift's left.
 * (The narrowings that fit are differential cases.)
 */
describe('a narrowing key change the data does not allow', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('narrow');
  });
  afterAll(async () => {
    await db.drop();
  });

  /** What offline PostgreSQL says to the statement, in a transaction rolled back. */
  async function offlineError(statements: string): Promise<string> {
    const c = await db.pool.connect();
    try {
      await c.query('BEGIN');
      return await c.query(statements).then(() => 'no error', (e: unknown) => String(e));
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  }

  async function failsBeforeSwap(table: string, statements: string, offline: RegExp, message: RegExp, onPhase?: (phase: string) => Promise<void>): Promise<void> {
    const before = await tableDigest(db.pool, `public.${table}`, { orderBy: ['k'] });
    const type = async (): Promise<string> => (await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'k'`, [table])).rows[0].t;
    const typeBefore = await type();
    // The oracle: offline PostgreSQL refuses the same statement on the same rows.
    expect(await offlineError(statements)).toMatch(offline);
    const err = await onlineAlter(alterOptions({ url: db.url, statements, execute: true, copyThresholdBytes: 0, onPhase })).then(() => null, (e: unknown) => e);
    expect(err, 'the change must fail').not.toBeNull();
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
    expect(String((err as Error).message), String(err)).toMatch(message);
    expect(await type()).toBe(typeBefore);
    if (!onPhase) expect(await tableDigest(db.pool, `public.${table}`, { orderBy: ['k'] })).toEqual(before);
    expect((await db.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [table])).rows).toEqual([]);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  }

  it('bigint to int with a key that does not fit', async () => {
    await db.query(`CREATE TABLE big (k bigint PRIMARY KEY, v int);
      INSERT INTO big SELECT i, i FROM generate_series(1, 3000) i;
      INSERT INTO big VALUES (3000000000, 0);`);
    await failsBeforeSwap('big', 'ALTER TABLE big ALTER COLUMN k TYPE int', /integer out of range/, /integer out of range/);
  });

  it('text to varchar(3) where two keys become one (trailing spaces are cut)', async () => {
    await db.query(`CREATE TABLE merged (k text PRIMARY KEY, v int);
      INSERT INTO merged SELECT lpad(i::text, 3, '0'), i FROM generate_series(1, 900) i;
      INSERT INTO merged VALUES ('007  ', -7);`);
    await failsBeforeSwap('merged', 'ALTER TABLE merged ALTER COLUMN k TYPE varchar(3)', /could not create unique index|duplicate key/, /could not create unique index|duplicate key|is duplicated/);
  });

  it('text to varchar(3) where a key written after the validation merges with an older one: the cutover counts both tables', async () => {
    await db.query(`CREATE TABLE late (k text PRIMARY KEY, v int);
      INSERT INTO late SELECT lpad(i::text, 3, '0'), i FROM generate_series(1, 900) i;`);
    let written = false;
    const write = async (phase: string): Promise<void> => {
      if (phase !== 'cutover' || written) return;
      written = true;
      await db.query(`INSERT INTO late VALUES ('007 ', -7)`);
    };
    // Offline, on the rows there by the time of the swap.
    await db.query(`INSERT INTO late VALUES ('007 ', -7)`);
    expect(await offlineError('ALTER TABLE late ALTER COLUMN k TYPE varchar(3)')).toMatch(/could not create unique index/);
    await db.query(`DELETE FROM late WHERE k = '007 '`);
    const err = await onlineAlter(alterOptions({ url: db.url, statements: 'ALTER TABLE late ALTER COLUMN k TYPE varchar(3)', execute: true, copyThresholdBytes: 0, onPhase: write })).then(() => null, (e: unknown) => e);
    expect(written).toBe(true);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
    expect(String((err as Error).message)).toMatch(/maps two keys to one.*nothing was swapped/);
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'late'::regclass AND attname = 'k'`)).rows[0].t).toBe('text');
    expect((await db.query(`SELECT count(*)::int AS n FROM late`)).rows[0].n).toBe(901);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });
});
