import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';

describe('state, notifications and hooks', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase('state');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-hooks-'));
  });
  afterAll(async () => {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('notifies every phase change on channel pgshift, calls the hook command at each event, and shows the outcome in pgshift.status', async () => {
    await db.query(`CREATE TABLE hooked (id int PRIMARY KEY, v int); INSERT INTO hooked SELECT g, g FROM generate_series(1, 10000) g; ANALYZE hooked;`);
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const phases: string[] = [];
    listener.on('notification', (n) => phases.push(JSON.parse(n.payload ?? '{}').phase));
    await listener.query('LISTEN pgshift');
    const log = path.join(dir, 'events.log');
    const report = await onlineAlter(
      alterOptions({ strategy: 'copy',
        url: db.url,
        statements: 'ALTER TABLE hooked ALTER COLUMN v TYPE bigint',
        execute: true,
        hookCmd: `echo "$PGSHIFT_EVENT $PGSHIFT_MIGRATION_ID $PGSHIFT_TABLE $PGSHIFT_ROWS_COPIED" >> ${log}`,
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    await listener.end();
    const id = report.migrationId;
    expect(phases).toEqual(['capture', 'copy', 'index', 'catch-up', 'checksum', 'cutover', 'validate', 'done']);
    expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      `startup ${id} public.hooked 0`,
      `copy-done ${id} public.hooked 10000`,
      `before-cutover ${id} public.hooked 10000`,
      `after-cutover ${id} public.hooked 10000`,
      `success ${id} public.hooked 10000`,
    ]);
    const status = (await db.query(`SELECT state, progress_pct::float8 AS pct, rows_copied::int AS rows, rows_per_s > 0 AS rate FROM pgshift.status WHERE id = $1`, [id])).rows[0];
    expect(status).toEqual({ state: 'done', pct: 100, rows: 10000, rate: true });
  });

  it('a failing before-cutover hook in --hooks-dir stops the migration before the swap and the failure hook runs', async () => {
    await db.query(`CREATE TABLE vetoed (id int PRIMARY KEY, v int); INSERT INTO vetoed SELECT g, g FROM generate_series(1, 1000) g;`);
    const hooks = path.join(dir, 'hooks');
    fs.mkdirSync(hooks);
    fs.writeFileSync(path.join(hooks, 'before-cutover'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    fs.writeFileSync(path.join(hooks, 'failure'), `#!/bin/sh\necho "$PGSHIFT_ERROR" > ${path.join(dir, 'failure.txt')}\n`, { mode: 0o755 });
    const err = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: 'ALTER TABLE vetoed ALTER COLUMN v TYPE bigint', execute: true, hooksDir: hooks })).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
    expect(fs.readFileSync(path.join(dir, 'failure.txt'), 'utf8')).toMatch(/before-cutover hook failed \(exit 3\)/);
    const type = await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'vetoed'::regclass AND attname = 'v'`);
    expect(type.rows[0].t).toBe('integer');
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname IN (SELECT s FROM pgshift.migrations, unnest(ARRAY[artifact_schema, artifact_schema || '_log']) s WHERE table_name = 'vetoed')`)).rows).toEqual([]);
  });
});
