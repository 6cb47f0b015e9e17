import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/db/session.js';
import { ensureStateSchema, STATE_SCHEMA_VERSION } from '../src/state/store.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';

/**
 * The state schema's upgrade to version 9 (pgshift.fleet_targets, issue 17), from a database a
 * version-8 pgshift left: sql/state-schema.sql up to its version 9 block, run as that build ran
 * it. A database where an earlier build of the fleet had already made the table on first use
 * keeps it and its rows.
 */
const SQL = fs.readFileSync(new URL('../sql/state-schema.sql', import.meta.url), 'utf8');
const V9 = SQL.indexOf('-- Version 9:');
const UP_TO_V8 = SQL.slice(0, V9);
const FLEET_TABLE = SQL.slice(V9).match(/CREATE TABLE IF NOT EXISTS pgshift\.fleet_targets \([\s\S]*?\n\);/)![0];

describe('the state schema upgrade to version 9', () => {
  let dbs: TestDatabase[] = [];
  beforeAll(async () => {
    dbs = await Promise.all([1, 2].map((i) => createTestDatabase(`state_upgrade_${i}`)));
  });
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  const version = async (db: TestDatabase): Promise<number> => (await db.query(`SELECT max(version)::int AS v FROM pgshift.schema_version`)).rows[0].v;

  it('a version-8 state schema is brought to 9: the fleet table made, the migrations kept; a fleet table made on first use by an earlier build is kept with its rows', async () => {
    expect(STATE_SCHEMA_VERSION).toBe(9);
    const [plain, firstUse] = dbs as [TestDatabase, TestDatabase];
    for (const db of dbs) {
      await db.query(UP_TO_V8);
      expect(await version(db)).toBe(8);
      await db.query(`CREATE TABLE items (id int PRIMARY KEY)`);
      await db.query(`INSERT INTO pgshift.migrations (table_oid, table_schema, table_name, statements, artifact_schema, phase, outcome) VALUES ('items'::regclass, 'public', 'items', 'ALTER TABLE items ADD COLUMN x int', 'pgshift_1', 'done', 'done')`);
    }
    expect((await plain.query(`SELECT to_regclass('pgshift.fleet_targets') AS t`)).rows[0].t).toBeNull();
    await firstUse.query(FLEET_TABLE);
    await firstUse.query(`INSERT INTO pgshift.fleet_targets (fleet_id, label, command, wave, outcome, exit_code) VALUES ('c70c47395a07', 't1', 'alter ...', 'all', 'done', 0)`);

    for (const db of dbs) {
      const pool = createPool({ url: db.url, role: 'test', lockTimeoutMs: 1000, maxClients: 1 });
      try {
        await ensureStateSchema(pool);
      } finally {
        await pool.end();
      }
      expect(await version(db)).toBe(9);
      expect((await db.query(`SELECT table_name, outcome FROM pgshift.migrations`)).rows).toEqual([{ table_name: 'items', outcome: 'done' }]);
      const columns = (await db.query(`SELECT attname FROM pg_attribute WHERE attrelid = 'pgshift.fleet_targets'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`)).rows.map((r) => r.attname);
      expect(columns).toEqual(['fleet_id', 'label', 'command', 'wave', 'outcome', 'exit_code', 'error', 'result', 'attempts', 'pid', 'host', 'started_at', 'finished_at']);
    }
    expect((await plain.query(`SELECT count(*)::int AS n FROM pgshift.fleet_targets`)).rows[0].n).toBe(0);
    expect((await firstUse.query(`SELECT fleet_id, label, outcome FROM pgshift.fleet_targets`)).rows).toEqual([{ fleet_id: 'c70c47395a07', label: 't1', outcome: 'done' }]);
    // one version row, not one per upgrade
    expect((await plain.query(`SELECT count(*)::int AS n FROM pgshift.schema_version`)).rows[0].n).toBe(1);
  });
});
