import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../support/cli.js';
import { cloneDatabase, createTestDatabase, untilMigration, type TestDatabase, withAdmin } from '../support/test-db.js';
import { diffSnapshots, snapshotCatalog } from '../support/catalog-snapshot.js';
import { tableDigest } from '../support/table-digest.js';

/**
 * DESIGN.md section 4: the engine runs as the table's owner (no superuser) end to end; without
 * ownership it refuses naming the missing privilege; every function it creates pins its
 * search_path and is SECURITY DEFINER only where it must be; a password never shows in the
 * process title, the logs, the report or the state tables.
 */
const suffix = randomBytes(4).toString('hex');
const OWNER = `pgshift_sec_owner_${suffix}`;
const APP = `pgshift_sec_app_${suffix}`;
const INTRUDER = `pgshift_sec_intruder_${suffix}`;
const PASSWORD = `Sec_${randomBytes(6).toString('hex')}_pw`;
const q = (name: string): string => pg.escapeIdentifier(name);

const admin = withAdmin;

function urlAs(db: TestDatabase, role: string): string {
  const u = new URL(db.url);
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
}

// Engine logs on the CLI's stderr (debug level: as much as it ever logs), no inherited target.
const ENV = { DATABASE_URL: '', PGSHIFT_LOG_FILE: '', PGSHIFT_LOG_LEVEL: 'debug', PGPASSWORD: '', PGSERVICE: '' };

describe('security', () => {
  let db: TestDatabase;
  let offline: TestDatabase;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-security-'));

  beforeAll(async () => {
    await admin(async (c) => {
      for (const role of [OWNER, APP, INTRUDER]) await c.query(`CREATE ROLE ${q(role)} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD '${PASSWORD}'`);
    });
    db = await createTestDatabase('security');
    // The owner may create schemas (pgshift's state and each migration's), nothing more.
    await db.query(`GRANT CREATE, CONNECT ON DATABASE ${q(db.name)} TO ${q(OWNER)}, ${q(INTRUDER)};
      CREATE SCHEMA app AUTHORIZATION ${q(OWNER)};
      GRANT USAGE ON SCHEMA app TO ${q(APP)}, ${q(INTRUDER)};
      SET ROLE ${q(OWNER)};
      CREATE TABLE app.accounts (id int PRIMARY KEY, balance int NOT NULL, owner_name text UNIQUE, CHECK (balance >= 0));
      CREATE INDEX ON app.accounts (balance);
      CREATE VIEW app.named AS SELECT id, owner_name FROM app.accounts WHERE id > 100;
      GRANT SELECT ON app.named TO ${q(APP)};
      GRANT SELECT, INSERT, UPDATE, DELETE ON app.accounts TO ${q(APP)};
      GRANT SELECT ON app.accounts TO ${q(INTRUDER)};
      INSERT INTO app.accounts SELECT g, g, 'o' || g FROM generate_series(1, 5000) g;
      RESET ROLE;`);
    offline = await cloneDatabase(db, 'security_offline');
  });
  afterAll(async () => {
    await db?.drop();
    await offline?.drop();
    await admin(async (c) => {
      for (const role of [OWNER, APP, INTRUDER]) await c.query(`DROP ROLE IF EXISTS ${q(role)}`);
    });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('runs as the non-superuser owner end to end: functions pinned, password nowhere, result equal to offline', async () => {
    expect((await db.query(`SELECT rolsuper FROM pg_roles WHERE rolname = $1`, [OWNER])).rows[0].rolsuper).toBe(false);
    const statement = 'ALTER TABLE app.accounts ALTER COLUMN balance TYPE bigint, ADD COLUMN note text';
    const child = spawn(process.execPath, [CLI, 'alter', statement, '--url', urlAs(db, OWNER), '--execute', '--postpone-cutover', '--json'], { env: { ...process.env, ...ENV } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      // Fails at once, with the CLI's own words, if it ends instead of waiting ready.
      const id = await Promise.race([
        untilMigration(db, 'accounts', 'ready', 60_000),
        exited.then((c) => {
          throw new Error(`the CLI exited (${c}) before the migration was ready: ${stderr.split('\n').slice(-5).join('\n')}`);
        }),
      ]);

      // ps reads /proc/<pid>/cmdline: the running CLI shows its arguments, the password redacted.
      const cmdline = fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
      expect(cmdline).toContain('--postpone-cutover');
      expect(cmdline).toContain(`${OWNER}:***@`);
      expect(cmdline).not.toContain(PASSWORD);

      // Every function pgshift created, wherever it is: search_path pinned; SECURITY DEFINER
      // only for trigger functions (they write pgshift's schema for the application's role).
      const fns = (
        await db.query(
          `SELECT n.nspname, p.proname, p.prosecdef, p.proconfig, p.prorettype::regtype::text AS returns, pg_get_userbyid(p.proowner) AS owner
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
            ORDER BY 1, 2`,
        )
      ).rows;
      const schema = (await db.query(`SELECT artifact_schema FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].artifact_schema;
      expect(fns.length).toBeGreaterThanOrEqual(2);
      for (const f of fns) {
        expect([schema, `${schema}_log`], `${f.nspname}.${f.proname}`).toContain(f.nspname);
        expect(f.proconfig, `${f.nspname}.${f.proname}`).toContain('search_path=pg_catalog, pg_temp');
        if (f.prosecdef) expect(f.returns, `${f.proname} is SECURITY DEFINER`).toBe('trigger');
        expect(f.owner).toBe(OWNER);
      }
      expect(fns.filter((f) => f.prosecdef).map((f) => f.proname).sort()).toEqual(['pgshift_capture', 'pgshift_truncated']);

      // The application's role writes through the capture trigger without any right on pgshift's schema.
      const app = new pg.Client({ connectionString: urlAs(db, APP) });
      await app.connect();
      try {
        expect((await app.query(`SELECT has_schema_privilege(current_user, $1, 'USAGE') AS u`, [schema])).rows[0].u).toBe(false);
        await app.query(`INSERT INTO app.accounts VALUES (9001, 9001, 'app'); UPDATE app.accounts SET balance = balance + 1 WHERE id <= 10; DELETE FROM app.accounts WHERE id = 20`);
      } finally {
        await app.end();
      }
      await offline.query(`INSERT INTO app.accounts VALUES (9001, 9001, 'app'); UPDATE app.accounts SET balance = balance + 1 WHERE id <= 10; DELETE FROM app.accounts WHERE id = 20`);

      const urlFile = path.join(tmp, 'url');
      fs.writeFileSync(urlFile, `${urlAs(db, OWNER)}\n`, { mode: 0o600 });
      const cutover = await runCli(['cutover', String(id), '--url-file', urlFile], ENV);
      expect(cutover.status, cutover.stderr).toBe(0);
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
      expect(code, stderr).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }

    // The password is in no log line, the report, or pgshift's state.
    expect(JSON.parse(stdout).status).toBe('done');
    expect(stderr.length).toBeGreaterThan(0);
    expect(stderr).not.toContain(PASSWORD);
    expect(stdout).not.toContain(PASSWORD);
    const state = await db.query(
      `SELECT (SELECT coalesce(string_agg(m::text, ' '), '') FROM pgshift.migrations m) || (SELECT coalesce(string_agg(e::text, ' '), '') FROM pgshift.events e) AS text`,
    );
    expect(state.rows[0].text.length).toBeGreaterThan(0);
    expect(state.rows[0].text).not.toContain(PASSWORD);
    const activity = await db.query(`SELECT string_agg(application_name || ' ' || coalesce(query, ''), ' ') AS text FROM pg_stat_activity`);
    expect(activity.rows[0].text ?? '').not.toContain(PASSWORD);

    // Offline, as the owner.
    await offline.query(`SET ROLE ${q(OWNER)}; ${statement}; RESET ROLE;`);
    expect(diffSnapshots(await snapshotCatalog(offline.pool, ['app']), await snapshotCatalog(db.pool, ['app']))).toEqual([]);
    expect(await tableDigest(db.pool, 'app.accounts', { orderBy: ['id'] })).toEqual(await tableDigest(offline.pool, 'app.accounts', { orderBy: ['id'] }));
  });

  it('refuses a role that does not own the table with exit 2, naming the missing privilege, and changes nothing', async () => {
    await db.query(`CREATE TABLE app.ledger (id int PRIMARY KEY, v int); ALTER TABLE app.ledger OWNER TO ${q(OWNER)}; GRANT SELECT ON app.ledger TO ${q(INTRUDER)}`);
    const before = await snapshotCatalog(db.pool, ['app']);
    const schemas = (await db.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname LIKE 'pgshift%'`)).rows[0].n;
    const r = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE app.ledger ALTER COLUMN v TYPE bigint', '--url', urlAs(db, INTRUDER), '--execute'], ENV);
    expect(r.status, r.stderr).toBe(2);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toBe(`pgshift: refused: missing privilege: the engine must run as the owner of app.ledger (${OWNER}) or a superuser`);
    expect(r.stderr).not.toContain(PASSWORD);
    expect(await snapshotCatalog(db.pool, ['app'])).toEqual(before);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname LIKE 'pgshift%'`)).rows[0].n).toBe(schemas);
  });

  it('refuses copying a parent alone when the owner does not own its inheritance child (the cutover moves it), with exit 2, naming the missing privilege', async () => {
    await db.query(`CREATE TABLE app.stock (id int PRIMARY KEY, v int); ALTER TABLE app.stock OWNER TO ${q(OWNER)};
      CREATE TABLE app.stock_c () INHERITS (app.stock); ALTER TABLE app.stock_c OWNER TO ${q(APP)}`);
    const before = await snapshotCatalog(db.pool, ['app']);
    const r = await runCli(['alter', '--strategy', 'copy', 'ALTER TABLE app.stock SET UNLOGGED', '--url', urlAs(db, OWNER), '--execute'], ENV);
    expect(r.status, r.stderr).toBe(2);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^pgshift: refused: app\.stock needs its inheritance children moved .*: missing privilege: ownership of app\.stock_c$/);
    expect(await snapshotCatalog(db.pool, ['app'])).toEqual(before);
  });
});
