import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactNames } from '../src/plan/names.js';
import { captureFunctionSql, forwardCapture, reverseCapture } from '../src/capture/install.js';
import { sqlFile } from '../src/db/sql-files.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';

// A migration begun by a pgshift from before pgshift's own tables had a schema of their own
// (pgshift_<id>_log): its changelog, copy_xacts and capture functions in the migration's
// schema beside the shadow, its capture trigger writing there. Made honestly from a migration
// killed mid-copy by this pgshift: its own tables and functions moved into the migration's
// schema, the capture function's body written again by the engine's own template with the
// legacy names (plan/names.ts), the log schema dropped and unregistered. Resume, abort and
// cleanup must each finish or remove it completely.

const CLI = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
const pgshift = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

describe('a migration of the legacy layout (pgshift\'s own tables in the migration\'s schema)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('legacy');
  });
  afterAll(async () => {
    await db.drop();
  });

  /** Starts an online copy of `table` and kills it mid-copy; returns the migration id. */
  async function interrupted(table: string): Promise<number> {
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL); INSERT INTO ${table} SELECT g, g FROM generate_series(1, 40000) g`);
    const killed = pgshift(['alter', '--strategy', 'copy', `ALTER TABLE ${table} ALTER COLUMN v TYPE bigint`, '--execute', '--chunk-time', '20ms', '--drop-old', '--url', db.url], { PGSHIFT_FAILPOINT: 'mid-copy' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    return (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = $1`, [table])).rows[0].id;
  }

  async function toLegacyLayout(id: number, table: string): Promise<void> {
    const mig = `pgshift_${id}`;
    const log = artifactNames(id).logSchema;
    const own = (await db.query(`SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind = 'r' ORDER BY 1`, [log])).rows.map((r) => r.relname as string);
    expect(own).toEqual(['changelog', 'copy_xacts']);
    for (const t of own) await db.query(`ALTER TABLE ${log}.${t} SET SCHEMA ${mig}`);
    for (const f of ['pgshift_capture', 'pgshift_truncated']) await db.query(`ALTER FUNCTION ${log}.${f}() SET SCHEMA ${mig}`);
    // Same function (the trigger keeps it), the body an earlier pgshift gave it: into pgshift_<id>.changelog.
    const legacy = forwardCapture(artifactNames(id, 'legacy'));
    const sql = captureFunctionSql({ schema: 'public', name: table, key: [{ name: 'id', type: 'integer', collation: null }] }, legacy);
    await db.query(sql.replace(/^CREATE FUNCTION/m, 'CREATE OR REPLACE FUNCTION'));
    await db.query(`DROP SCHEMA ${log}`);
    await db.query(`DELETE FROM pgshift.artifacts WHERE migration_id = $1 AND kind = 'schema' AND schema_name = $2`, [id, log]);
    // The table's fingerprint as the earlier pgshift recorded it: its capture triggers calling pgshift_<id>.pgshift_capture().
    await db.query(`UPDATE pgshift.migrations SET resume_state = resume_state || jsonb_build_object('fingerprint', $2::text) WHERE id = $1`, [id, await fingerprint(table)]);
    // The application's writes go on into the legacy changelog.
    await db.query(`UPDATE ${table} SET v = -v WHERE id % 1000 = 0; DELETE FROM ${table} WHERE id = 7; INSERT INTO ${table} VALUES (50001, 1)`);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${mig}.changelog`)).rows[0].n).toBeGreaterThanOrEqual(42);
  }

  async function fingerprint(table: string): Promise<string> {
    return (await db.query(sqlFile('catalog-fingerprint.sql'), [(await db.query(`SELECT $1::regclass::oid::int8::text AS oid`, [table])).rows[0].oid])).rows[0].fp;
  }

  /** A finished migration with its revert window open, made of the legacy layout the same way. */
  async function revertWindowToLegacy(id: number, table: string): Promise<void> {
    const mig = `pgshift_${id}`;
    const log = artifactNames(id).logSchema;
    expect((await db.query(`SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind = 'r'`, [log])).rows).toEqual([{ relname: 'reverse_changelog' }]);
    await db.query(`ALTER TABLE ${log}.reverse_changelog SET SCHEMA ${mig}`);
    for (const f of ['pgshift_reverse_capture', 'pgshift_reverse_truncated']) await db.query(`ALTER FUNCTION ${log}.${f}() SET SCHEMA ${mig}`);
    const sql = captureFunctionSql({ schema: 'public', name: table, key: [{ name: 'id', type: 'integer', collation: null }] }, reverseCapture(artifactNames(id, 'legacy')));
    await db.query(sql.replace(/^CREATE FUNCTION/m, 'CREATE OR REPLACE FUNCTION'));
    await db.query(`DROP SCHEMA ${log}`);
    await db.query(`DELETE FROM pgshift.artifacts WHERE migration_id = $1 AND kind = 'schema' AND schema_name = $2`, [id, log]);
    await db.query(`UPDATE pgshift.migrations SET revert_state = revert_state || jsonb_build_object('fingerprint', $2::text) WHERE id = $1`, [id, await fingerprint(table)]);
    await db.query(`UPDATE ${table} SET v = v + 1 WHERE id % 500 = 0; INSERT INTO ${table} VALUES (60001, 2)`);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${mig}.reverse_changelog`)).rows[0].n).toBe(41);
  }

  async function expectNothingLeft(id: number, table: string): Promise<void> {
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $1 || '\\_%'`, [`pgshift_${id}`])).rows).toEqual([]);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [table])).rows[0].n).toBe(0);
  }

  it('resume finishes it: the capture into the legacy changelog is replayed, the change lands, nothing is left', async () => {
    const id = await interrupted('legacy_resume');
    await toLegacyLayout(id, 'legacy_resume');
    const expected = (await db.query(`SELECT count(*)::int AS n, sum(v)::text AS s FROM legacy_resume`)).rows[0];
    const r = pgshift(['resume', String(id), '--url', db.url, '--chunk-time', '20ms']);
    expect(r.status, r.stderr).toBe(0);
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'legacy_resume'::regclass AND attname = 'v'`)).rows[0].t).toBe('bigint');
    expect((await db.query(`SELECT count(*)::int AS n, sum(v)::text AS s FROM legacy_resume`)).rows[0]).toEqual(expected);
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].outcome).toBe('done');
    await expectNothingLeft(id, 'legacy_resume');
  });

  it('abort removes it completely, and so does cleanup', async () => {
    const aborted = await interrupted('legacy_abort');
    await toLegacyLayout(aborted, 'legacy_abort');
    const a = pgshift(['abort', String(aborted), '--url', db.url]);
    expect(a.status, a.stderr).toBe(0);
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [aborted])).rows[0].outcome).toBe('aborted');
    await expectNothingLeft(aborted, 'legacy_abort');

    const cleaned = await interrupted('legacy_cleanup');
    await toLegacyLayout(cleaned, 'legacy_cleanup');
    const c = pgshift(['cleanup', String(cleaned), '--url', db.url]);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout).toMatch(new RegExp(`tables changelog, copy_xacts, legacy_cleanup in pgshift_${cleaned}`));
    expect((await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [cleaned])).rows[0].outcome).toBe('aborted');
    await expectNothingLeft(cleaned, 'legacy_cleanup');
    expect((await db.query(`SELECT count(*)::int AS n FROM legacy_cleanup`)).rows[0].n).toBe(40000);
  });

  it('a revert window of the legacy layout reverts (the writes since the swap carried back), and cleanup removes another', async () => {
    for (const table of ['legacy_revert', 'legacy_window']) {
      await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL); INSERT INTO ${table} SELECT g, g FROM generate_series(1, 20000) g`);
      const r = pgshift(['alter', '--strategy', 'copy', `ALTER TABLE ${table} ALTER COLUMN v TYPE bigint`, '--execute', '--revert-window', '1h', '--url', db.url]);
      expect(r.status, r.stderr).toBe(0);
    }
    const idOf = async (table: string): Promise<number> => (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = $1`, [table])).rows[0].id;
    const reverted = await idOf('legacy_revert');
    await revertWindowToLegacy(reverted, 'legacy_revert');
    const expected = (await db.query(`SELECT count(*)::int AS n, sum(v)::text AS s FROM legacy_revert`)).rows[0];
    const back = pgshift(['revert', String(reverted), '--url', db.url]);
    expect(back.status, back.stderr).toBe(0);
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'legacy_revert'::regclass AND attname = 'v'`)).rows[0].t).toBe('integer');
    expect((await db.query(`SELECT count(*)::int AS n, sum(v)::text AS s FROM legacy_revert`)).rows[0]).toEqual(expected);
    const after = pgshift(['cleanup', String(reverted), '--url', db.url]);
    expect(after.status, after.stderr).toBe(0);
    await expectNothingLeft(reverted, 'legacy_revert');

    const windowed = await idOf('legacy_window');
    await revertWindowToLegacy(windowed, 'legacy_window');
    const c = pgshift(['cleanup', String(windowed), '--url', db.url]);
    expect(c.status, c.stderr).toBe(0);
    await expectNothingLeft(windowed, 'legacy_window');
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'legacy_window'::regclass AND attname = 'v'`)).rows[0].t).toBe('bigint');
  });
});
