import { parseSync } from 'libpg-query';
import { describe, expect, it } from 'vitest';
import { loadParser } from '../../src/plan/parse.js';
import { inverseOf } from '../../src/migrate/inverse.js';

async function inverse(sql: string, indexName?: string): Promise<string[] | null> {
  await loadParser();
  return inverseOf(parseSync(sql).stmts[0].stmt, indexName);
}

describe('the inverse of a migration statement (--rollback automatic)', () => {
  it.each([
    ['CREATE TABLE app.t (id int)', ['DROP TABLE "app"."t"']],
    ['CREATE INDEX t_v_idx ON t (v)', ['DROP INDEX CONCURRENTLY "t_v_idx"']],
    ['ALTER TABLE t RENAME COLUMN a TO b', ['ALTER TABLE "t" RENAME COLUMN "b" TO "a"']],
    ['ALTER TABLE t ADD COLUMN a int, ADD CONSTRAINT c CHECK (a > 0)', ['ALTER TABLE "t" DROP CONSTRAINT "c"', 'ALTER TABLE "t" DROP COLUMN "a"']],
    // none pgshift can be sure of from the statement alone
    ['CREATE TABLE IF NOT EXISTS t (id int)', null],
    ['ALTER TABLE t ADD COLUMN IF NOT EXISTS a int', null],
    ['ALTER TABLE t ADD CHECK (a > 0)', null],
    ['ALTER TABLE t ALTER COLUMN a SET NOT NULL', null],
    ['ALTER TABLE t ALTER COLUMN a TYPE bigint USING a::bigint', null],
    ['UPDATE t SET a = 1', null],
    ['DROP TABLE t', null],
  ])('%s', async (sql, expected) => {
    expect(await inverse(sql)).toEqual(expected);
  });

  it('an unnamed CREATE INDEX is undone by the name its route gave it', async () => {
    expect(await inverse('CREATE INDEX ON t (v)')).toBeNull();
    expect(await inverse('CREATE INDEX ON t (v)', 't_v_idx')).toEqual(['DROP INDEX CONCURRENTLY "t_v_idx"']);
  });
});
