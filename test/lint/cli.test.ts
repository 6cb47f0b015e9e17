import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { folder } from './support.js';

/** `pgshift lint`: exit 0 when clean, 3 with unsuppressed findings, 2 for bad input (DESIGN.md's exit table). Needs the build. */
describe('pgshift lint', () => {
  const risky = folder({
    '20240101000000_items.sql': '-- migrate:up\nCREATE TABLE items (id int PRIMARY KEY, qty int);\n-- migrate:down\nDROP TABLE items;\n',
    '20240102000000_index.sql': "-- migrate:up\nSET lock_timeout = '2s';\nCREATE INDEX items_qty ON items (qty);\n-- migrate:down\nDROP INDEX CONCURRENTLY items_qty;\n",
  });

  it('exits 3 and prints each finding with its line, lock, safe form and whether migrate up makes it safe', async () => {
    const r = await runCli(['lint', risky]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stdout).toContain('20240102000000_index.sql:3: require-concurrent-index: CREATE INDEX items_qty ON items (qty)\n');
    expect(r.stdout).toContain('  CREATE INDEX takes SHARE on items for the whole build: writes wait [SHARE on items]\n');
    expect(r.stdout).toContain('  safe: CREATE INDEX CONCURRENTLY, outside a transaction block\n');
    expect(r.stdout).toContain('  made safe by pgshift migrate up: yes\n');
    expect(r.stdout).toMatch(/^1 finding in 5 statements of 2 files, for PostgreSQL 14$/m);
    expect(r.stderr).toBe('pgshift: lint: 1 finding in 2 files\n');
  });

  it('exits 0 when every finding is suppressed, and with --json prints the report', async () => {
    const clean = folder({
      '20240101000000_index.sql': "-- migrate:up\nSET lock_timeout = '2s';\n-- pgshift-lint-ignore require-concurrent-index\nCREATE INDEX items_qty ON items (qty);\n",
    });
    const r = await runCli(['lint', '--dir', clean, '--json', '--pg-version', '16']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ pgVersion: 160099, versionFrom: '--pg-version', files: 1, findings: [], suppressed: [{ rule: 'require-concurrent-index', line: 4 }] });
  });

  it('lints single files given on the command line, in the order given', async () => {
    const r = await runCli(['lint', `${risky}/20240101000000_items.sql`, `${risky}/20240102000000_index.sql`, '--json']);
    expect(r.status).toBe(3);
    expect(JSON.parse(r.stdout).findings.map((f: { rule: string }) => f.rule)).toEqual(['require-concurrent-index']);
  });

  it.each([
    ['a file that does not parse', () => ['lint', folder({ '20240101000000_bad.sql': '-- migrate:up\nALTER TABLE items ADD COLUMN;\n' })], /^pgshift: 20240101000000_bad\.sql: line 2: cannot parse: syntax error at or near ";"\n$/],
    ['a path that does not exist', () => ['lint', '/nonexistent/pgshift-lint'], /^pgshift: \/nonexistent\/pgshift-lint: cannot read it \(ENOENT\)\n$/],
    ['no path and no migrations folder', () => ['lint', '--dir', '/nonexistent/pgshift-migrations'], /^pgshift: no migrations folder \/nonexistent\/pgshift-migrations: name files or folders, or --dir\n$/],
    ['a bad --pg-version', () => ['lint', risky, '--pg-version', 'fourteen'], /^pgshift: --pg-version: "fourteen" is not a PostgreSQL version/],
    ['a bad --layout', () => ['lint', risky, '--layout', 'rails'], /^pgshift: --layout: "rails" is not one of dbmate, node-pg-migrate, flyway\n$/],
    ['an unknown directive', () => ['lint', folder({ '20240101000000_d.sql': '-- migrate:up\n-- pgshift:fast\nSELECT 1;\n' })], /unknown directive -- pgshift:fast/],
  ])('exits 2 for %s, with one line on stderr', async (_, args, message) => {
    const r = await runCli(args());
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  describe('with --url', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase('lint_cli');
    });
    afterAll(async () => {
      await db.drop();
    });

    it('lints for the server\'s version, read-only', async () => {
      const version = Number((await db.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v);
      const r = await runCli(['lint', risky, '--json', '--url', db.url]);
      expect(r.status, r.stderr).toBe(3);
      expect(JSON.parse(r.stdout)).toMatchObject({ pgVersion: version, versionFrom: 'server' });
      const both = await runCli(['lint', risky, '--url', db.url, '--pg-version', '14']);
      expect(both.status).toBe(2);
      expect(both.stderr).toMatch(/--pg-version and --url exclude each other/);
    });
  });
});
