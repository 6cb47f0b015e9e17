// The library API from the package root (package.json "exports"), as another Node tool imports it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
    for (const name of ['onlineAlter', 'alterOptions', 'plan', 'backfill', 'lint', 'migrate', 'migrateUp', 'migrateDown', 'migrateStatus', 'migrateValidate', 'migratePlan', 'migrateOptions']) {
      expect(typeof (api as Record<string, unknown>)[name], name).toBe('function');
    }
    const preview = await api.plan({ url: db.url, statements: 'CREATE INDEX ON t (v); ALTER TABLE t ADD COLUMN w int' });
    expect(preview.changes[0]!.decisions.map((d) => d.strategy)).toEqual(['concurrent', 'instant']);
    expect(preview.changes[0]!.strategy).toBe('online');
  });

  it('migrate({ url, dir }) applies a folder with every other option at its default', async () => {
    const { migrate } = await import('pgshift');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-library-'));
    fs.writeFileSync(path.join(dir, '20260101000001_w.sql'), '-- migrate:up\nALTER TABLE t ADD COLUMN w int;\nCREATE INDEX t_w_idx ON t (w);\n-- migrate:down\nALTER TABLE t DROP COLUMN w;\n');
    const runs = await migrate({ url: db.url, dir });
    expect(runs.map((r) => [r.version, r.steps.map((s) => s.strategy)])).toEqual([['20260101000001', ['instant', 'online']]]);
    expect(await migrate({ url: db.url, dir })).toEqual([]);
  });
});
