// The fleet's schema digest (sql/fleet-schema-digest.sql), which `migrate status --targets` compares
// to find drift: a target in the middle of a migration holds pgshift's schemas (the migration's,
// its own tables', its partitions' and rebuilt materialized views' homes, a plan's trial), which
// are not the user's schema and must not read as drift; a user's table must.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlFile } from '../../src/db/sql-files.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('schema_digest');
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, v int)`);
});
afterAll(async () => {
  await db?.drop();
});

const digest = async (): Promise<string> => (await db.query(sqlFile('fleet-schema-digest.sql'))).rows[0].digest;

describe('the fleet schema digest', () => {
  it("leaves pgshift's schemas out and counts the user's", async () => {
    const before = await digest();
    for (const schema of ['pgshift_7', 'pgshift_7_log', 'pgshift_7_1', 'pgshift_7_m2200', 'pgshift_plan_41_17']) {
      await db.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.items (id int PRIMARY KEY, v bigint)`);
    }
    expect(await digest()).toBe(before);
    await db.query(`CREATE SCHEMA pgshift_notes; CREATE TABLE pgshift_notes.items (id int)`);
    expect(await digest()).not.toBe(before);
  });
});
