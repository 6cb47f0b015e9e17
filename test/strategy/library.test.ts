// The library API from the package root (package.json "exports"), as another Node tool imports it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';

describe('import ... from "pgshift"', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('library');
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 100) g;`);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('exports onlineAlter, plan, backfill, lint and the migrate functions, typed', async () => {
    const api = await import('pgshift');
    for (const name of ['onlineAlter', 'alterOptions', 'plan', 'backfill', 'lint', 'migrateUp', 'migrateDown', 'migrateStatus', 'migrateValidate', 'migratePlan', 'migrateOptions']) {
      expect(typeof (api as Record<string, unknown>)[name], name).toBe('function');
    }
    const preview = await api.plan({ url: db.url, statements: 'CREATE INDEX ON t (v); ALTER TABLE t ADD COLUMN w int' });
    expect(preview.decisions.map((d) => d.strategy)).toEqual(['concurrent', 'instant']);
    expect(preview.overall.strategy).toBe('online');
  });
});
