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
      expect(r.stdout).toMatch(/^20260201000004 line 2: instant: ALTER TABLE t RENAME COLUMN w TO w2/m);
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
