// Adopting another tool's history, repairing and marking by hand, Flyway's checksum.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flywayChecksum } from '../../src/migrate/adopt.js';
import { migrateOptions, migrateStatus } from '../../src/migrate/runner.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { runCli } from '../support/cli.js';
import { dbmate } from '../support/dbmate.js';

describe("Flyway's checksum", () => {
  // CRC-32's published check value: "123456789" gives 0xCBF43926 (-873187034 as Java's int).
  // Flyway feeds the lines without their endings, so these files all give it.
  it.each([
    ['123456789', -873187034],
    ['123\n456\n789', -873187034],
    ['123\r\n456\r\n789\r\n', -873187034],
    ['\uFEFF123\n456\n789\n', -873187034],
  ])('%j gives %i', (text, value) => {
    expect(flywayChecksum(text)).toBe(value);
  });
  it('differs when a line changes', () => {
    expect(flywayChecksum('123\n456\n780')).not.toBe(-873187034);
  });
});

const FILES: Record<string, string> = {
  '20260201000001_create_t.sql': '-- migrate:up\nCREATE TABLE t (id int PRIMARY KEY, v int);\n-- migrate:down\nDROP TABLE t;\n',
  '20260201000002_add_w.sql': '-- migrate:up\nALTER TABLE t ADD COLUMN w int;\n-- migrate:down\nALTER TABLE t DROP COLUMN w;\n',
  '20260201000003_index.sql': '-- migrate:up\nCREATE INDEX t_v_idx ON t (v);\n-- migrate:down\nDROP INDEX t_v_idx;\n',
};

describe('baseline, repair, mark', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase('adopt');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-adopt-'));
    const first = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-adopt-first-'));
    for (const [name, text] of Object.entries(FILES)) fs.writeFileSync(path.join(dir, name), text);
    for (const name of Object.keys(FILES).slice(0, 2)) fs.copyFileSync(path.join(dir, name), path.join(first, name));
    // dbmate migrated the first two files.
    dbmate(db, first, 'up');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('baseline --from dbmate: what dbmate applied is applied, nothing re-runs; up runs only the rest', async () => {
    const b = await runCli(['migrate', 'baseline', '--from', 'dbmate', '--dir', dir, '--url', db.url]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/2 version\(s\) adopted from dbmate/);
    expect((await migrateStatus(migrateOptions({ url: db.url, dir }))).map((s) => s.state)).toEqual(['applied', 'applied', 'pending']);
    const up = await runCli(['migrate', 'up', '--dir', dir, '--url', db.url]);
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^applied 20260201000003 index/m);
    expect(up.stdout).not.toMatch(/20260201000001|20260201000002/);
    const events = (await db.query(`SELECT version, action FROM pgshift.migration_file_events ORDER BY at, version`)).rows;
    expect(events).toEqual([{ version: '20260201000001', action: 'baseline' }, { version: '20260201000002', action: 'baseline' }]);
  });

  it('up --dry-run prints each pending statement with its strategy and the lint findings, and changes nothing', async () => {
    const extra = path.join(dir, '20260201000004_rename.sql');
    fs.writeFileSync(extra, '-- migrate:up\nALTER TABLE t RENAME COLUMN w TO w2;\n-- migrate:down\nALTER TABLE t RENAME COLUMN w2 TO w;\n');
    try {
      const r = await runCli(['migrate', 'up', '--dry-run', '--dir', dir, '--url', db.url]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^segment 1 \(one transaction\)\n  20260201000004 line 2: instant: ALTER TABLE t RENAME COLUMN w TO w2\n.*\n      lock ACCESS EXCLUSIVE, held: catalog only \(milliseconds\); rewrites the table: no$/m);
      expect(r.stdout).toMatch(/^lint rename-column 20260201000004_rename\.sql:2: .*\(not made safe by pgshift/m);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'w2'`)).rows[0].n).toBe(0);
    } finally {
      fs.unlinkSync(extra);
    }
  });

  it('repair needs --yes, then accepts an edited file; mark pending and applied change the history only', async () => {
    fs.appendFileSync(path.join(dir, '20260201000002_add_w.sql'), '-- reviewed\n');
    expect((await runCli(['migrate', 'status', '--dir', dir, '--url', db.url])).stdout).toMatch(/^changed\t20260201000002/m);
    const refused = await runCli(['migrate', 'repair', '20260201000002', '--dir', dir, '--url', db.url]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/confirm with --yes/);
    expect((await runCli(['migrate', 'repair', '20260201000002', '--yes', '--dir', dir, '--url', db.url])).status).toBe(0);
    expect((await runCli(['migrate', 'validate', '--dir', dir, '--url', db.url])).status).toBe(0);
    expect((await runCli(['migrate', 'mark', 'pending', '20260201000003', '--dir', dir, '--url', db.url])).status).toBe(0);
    expect((await migrateStatus(migrateOptions({ url: db.url, dir }))).map((s) => s.state)).toEqual(['applied', 'applied', 'pending']);
    // The index is still there (mark runs nothing): marking it applied again is how the history is put right.
    expect((await runCli(['migrate', 'mark', 'applied', '20260201000003', '--dir', dir, '--url', db.url])).status).toBe(0);
    expect((await migrateStatus(migrateOptions({ url: db.url, dir }))).map((s) => s.state)).toEqual(['applied', 'applied', 'applied']);
    const actions = (await db.query(`SELECT action FROM pgshift.migration_file_events WHERE action <> 'baseline' ORDER BY at`)).rows.map((r) => r.action);
    expect(actions).toEqual(['repair', 'mark pending', 'mark applied']);
  });
});

describe('Flyway folders: versioned, undo and repeatable files', () => {
  const FLYWAY: Record<string, string> = {
    'V1__create_t.sql': 'CREATE TABLE t (id int PRIMARY KEY, v int);\n',
    'V1_1__add_w.sql': 'ALTER TABLE t ADD COLUMN w int;\n',
    'U1_1__add_w.sql': 'ALTER TABLE t DROP COLUMN w;\n',
    'R__t_view.sql': 'CREATE OR REPLACE VIEW t_view AS SELECT id, v FROM t;\n',
  };
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase('flyway');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-flyway-'));
    for (const [name, text] of Object.entries(FLYWAY)) fs.writeFileSync(path.join(dir, name), text);
    // What Flyway leaves after running V1 and the repeatable file (twice: the view was edited once), as its own table holds it.
    await db.query(FLYWAY['V1__create_t.sql']!);
    await db.query(FLYWAY['R__t_view.sql']!);
    await db.query(`CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL, type varchar(20) NOT NULL,
      script varchar(1000) NOT NULL, checksum int, installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT now(), execution_time int NOT NULL, success boolean NOT NULL)`);
    await db.query(
      `INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES
        (1, '1', 'create t', 'SQL', 'V1__create_t.sql', $1, 'app', 5, true),
        (2, NULL, 't view', 'SQL', 'R__t_view.sql', 12345, 'app', 3, true),
        (3, NULL, 't view', 'SQL', 'R__t_view.sql', $2, 'app', 3, true)`,
      [flywayChecksum(FLYWAY['V1__create_t.sql']!), flywayChecksum(FLYWAY['R__t_view.sql']!)],
    );
  });
  afterAll(async () => {
    await db.drop();
  });

  it('baseline --from flyway adopts versions and the latest run of each repeatable file; up runs V1.1, and a repeatable file again only once it changed', async () => {
    const opts = migrateOptions({ url: db.url, dir });
    const b = await runCli(['migrate', 'baseline', '--from', 'flyway', '--dir', dir, '--url', db.url]);
    expect(b.status, b.stderr).toBe(0);
    expect((await migrateStatus(opts)).map((s) => `${s.state} ${s.version}`)).toEqual(['applied 1', 'pending 1.1', 'applied R__t_view']);
    const up = await runCli(['migrate', 'up', '--dir', dir, '--url', db.url]);
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout.trim().split('\n').map((l) => l.split(' in ')[0])).toEqual(['applied 1.1 add w']);

    // Edited, the repeatable file is pending again (not "changed": Flyway re-runs it), and runs after the versions.
    fs.writeFileSync(path.join(dir, 'V2__add_x.sql'), 'ALTER TABLE t ADD COLUMN x int;\n');
    fs.writeFileSync(path.join(dir, 'R__t_view.sql'), 'CREATE OR REPLACE VIEW t_view AS SELECT id, v, w, x FROM t;\n');
    expect((await migrateStatus(opts)).map((s) => `${s.state} ${s.version}`)).toEqual(['applied 1', 'applied 1.1', 'pending 2', 'pending R__t_view']);
    expect((await runCli(['migrate', 'validate', '--dir', dir, '--url', db.url])).status).toBe(0);
    const again = await runCli(['migrate', 'up', '--dir', dir, '--url', db.url]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout.trim().split('\n').map((l) => l.split(' in ')[0])).toEqual(['applied 2 add x', 'applied R__t_view t view']);
    expect((await db.query(`SELECT string_agg(attname, ',' ORDER BY attnum) AS cols FROM pg_attribute WHERE attrelid = 't_view'::regclass`)).rows[0].cols).toBe('id,v,w,x');
    expect((await runCli(['migrate', 'up', '--dir', dir, '--url', db.url])).stdout.trim()).toBe('nothing to do');

    // Down runs U files, never a repeatable one; V2 has no undo file.
    const down = await runCli(['migrate', 'down', '--to', '1', '--dir', dir, '--url', db.url]);
    expect(down.status).toBe(2);
    expect(down.stderr).toMatch(/2 add x has no down section/);
  });
});
