import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lint } from '../../src/lint/lint.js';
import { RULES } from '../../src/lint/rules.js';
import { folder, lintUp, rules } from './support.js';

// An existing table, created by an earlier file: statements on it are linted (a table created by
// the same file is not: nobody else uses it yet).
const ITEMS = `CREATE TABLE items (id int PRIMARY KEY, qty int, price numeric(10,2), name varchar(20), note text, created timestamp, owner int);`;

/** Lints `up` as the second file of a folder whose first file creates `items`. */
async function onItems(up: string, opts: { version?: string; header?: string; down?: string } = {}) {
  const dir = folder({
    '20240101000000_items.sql': `-- migrate:up\n${ITEMS}\n`,
    '20240102000000_change.sql': `${opts.header ?? '-- migrate:up'}\n${up}\n${opts.down === undefined ? '' : `-- migrate:down\n${opts.down}\n`}`,
  });
  return lint({ paths: [dir], pgVersion: opts.version });
}

const ids = async (up: string, opts: { version?: string; header?: string; down?: string } = {}): Promise<string[]> => rules(await onItems(up, opts));

describe('each rule: a statement it flags and the safe form it does not', () => {
  it.each([
    ['require-concurrent-index', 'CREATE INDEX items_qty ON items (qty);', 'CREATE INDEX CONCURRENTLY items_qty ON items (qty);'],
    ['require-concurrent-index-drop', 'DROP INDEX items_qty;', 'DROP INDEX CONCURRENTLY items_qty;'],
    ['constraint-missing-not-valid', 'ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0);', 'ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID;'],
    ['constraint-missing-not-valid', 'ALTER TABLE items ADD CONSTRAINT owner_fk FOREIGN KEY (owner) REFERENCES users (id);', 'ALTER TABLE items ADD CONSTRAINT owner_fk FOREIGN KEY (owner) REFERENCES users (id) NOT VALID;'],
    ['constraint-missing-not-valid', 'ALTER TABLE items ADD COLUMN buyer int REFERENCES users (id);', 'ALTER TABLE items ADD COLUMN buyer int;'],
    ['adding-volatile-default', 'ALTER TABLE items ADD COLUMN token uuid DEFAULT gen_random_uuid();', 'ALTER TABLE items ADD COLUMN token uuid;'],
    ['adding-volatile-default', 'ALTER TABLE items ADD COLUMN seen timestamptz DEFAULT clock_timestamp();', 'ALTER TABLE items ADD COLUMN seen timestamptz DEFAULT now();'],
    ['adding-volatile-default', 'ALTER TABLE items ADD COLUMN n bigserial;', "ALTER TABLE items ADD COLUMN n bigint DEFAULT 0;"],
    ['adding-volatile-default', 'ALTER TABLE items ADD COLUMN double int GENERATED ALWAYS AS (qty * 2) STORED;', 'ALTER TABLE items ADD COLUMN double int;'],
    ['adding-required-column', 'ALTER TABLE items ADD COLUMN kind text NOT NULL;', "ALTER TABLE items ADD COLUMN kind text NOT NULL DEFAULT 'plain';"],
    ['set-not-null-without-check', 'ALTER TABLE items ALTER COLUMN qty SET NOT NULL;', 'ALTER TABLE items ALTER COLUMN id SET NOT NULL;'],
    ['unique-without-index', 'ALTER TABLE items ADD CONSTRAINT items_name_key UNIQUE (name);', 'ALTER TABLE items ADD CONSTRAINT items_name_key UNIQUE USING INDEX items_name_idx;'],
    ['unique-without-index', 'ALTER TABLE items ADD COLUMN code text UNIQUE;', 'ALTER TABLE items ADD COLUMN code text;'],
    ['rewriting-type-change', 'ALTER TABLE items ALTER COLUMN qty TYPE bigint;', 'ALTER TABLE items ALTER COLUMN name TYPE varchar(40);'],
    ['table-rewrite', 'ALTER TABLE items SET UNLOGGED;', 'ALTER TABLE items SET (fillfactor = 70);'],
    ['table-rewrite', 'ALTER TABLE items SET TABLESPACE fast;', 'ALTER TABLE items ALTER COLUMN qty SET STATISTICS 500;'],
    ['drop-column', 'ALTER TABLE items DROP COLUMN note;', 'ALTER TABLE items ALTER COLUMN note DROP DEFAULT;'],
    ['rename-column', 'ALTER TABLE items RENAME COLUMN note TO remark;', 'ALTER TABLE items RENAME CONSTRAINT items_pkey TO items_pk;'],
    ['rename-table', 'ALTER TABLE items RENAME TO goods;', 'ALTER INDEX items_pkey RENAME TO items_pk;'],
    ['drop-table', 'DROP TABLE items;', 'DROP VIEW IF EXISTS items_view;'],
    ['update-without-backfill', 'UPDATE items SET note = name;', "UPDATE items SET note = 'x' WHERE id = 5;"],
    ['update-without-backfill', 'UPDATE items SET note = name WHERE note IS NULL;', '-- pgshift:backfill\nUPDATE items SET note = name WHERE note IS NULL;'],
    ['unsupported-on-version', 'ALTER TABLE items SET ACCESS METHOD heap;', 'ALTER TABLE items SET WITHOUT CLUSTER;'],
  ])('%s: %s', async (rule, bad, good) => {
    expect(await ids(bad)).toEqual([rule]);
    expect(await ids(good)).toEqual([]);
  });

  it('validate-in-same-transaction: VALIDATE after ADD ... NOT VALID in one transaction scans under the ADD\'s lock', async () => {
    const both = 'ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID;\nALTER TABLE items VALIDATE CONSTRAINT qty_positive;';
    const r = await onItems(both);
    expect(rules(r)).toEqual(['validate-in-same-transaction']);
    expect(r.findings.find((f) => f.rule === 'validate-in-same-transaction')).toMatchObject({ line: 3, lock: 'ACCESS EXCLUSIVE', table: 'items', madeSafeByMigrateUp: true });
    // dbmate's transaction:false runs each statement in its own transaction; VALIDATE alone is the safe form
    expect(await ids(both, { header: '-- migrate:up transaction:false' })).toEqual([]);
    expect(await ids('ALTER TABLE items VALIDATE CONSTRAINT qty_positive;')).toEqual([]);
    // a foreign key's SHARE ROW EXCLUSIVE blocks writes too
    expect(await ids('ALTER TABLE items ADD CONSTRAINT f FOREIGN KEY (owner) REFERENCES users (id) NOT VALID;\nALTER TABLE items VALIDATE CONSTRAINT f;')).toEqual(['validate-in-same-transaction']);
  });

  it('missing-lock-timeout: once per section, at its first ACCESS EXCLUSIVE statement, unless lock_timeout is set', async () => {
    const two = 'ALTER TABLE items ADD COLUMN a int;\nALTER TABLE items ADD COLUMN b int;';
    const r = await onItems(two);
    expect(r.findings).toEqual([expect.objectContaining({ rule: 'missing-lock-timeout', line: 2, lock: 'ACCESS EXCLUSIVE', table: 'items', madeSafeByMigrateUp: true })]);
    expect((await onItems(`SET lock_timeout = '2s';\n${two}`)).findings).toEqual([]);
    expect((await onItems(`SELECT set_config('lock_timeout', '1s', false);\n${two}`)).findings).toEqual([]);
    expect((await onItems(`SET LOCAL lock_timeout = '2s';\n${two}`)).findings).toEqual([]);
    // 0 turns the timeout off; SET LOCAL outside a transaction block does nothing
    expect((await onItems(`SET lock_timeout = 0;\n${two}`)).findings.map((f) => f.rule)).toEqual(['missing-lock-timeout']);
    expect((await onItems(`SET LOCAL lock_timeout = '2s';\n${two}`, { header: '-- migrate:up transaction:false' })).findings.map((f) => f.rule)).toEqual(['missing-lock-timeout']);
    // SHARE UPDATE EXCLUSIVE does not queue readers
    expect((await onItems('ALTER TABLE items SET (fillfactor = 70);')).findings).toEqual([]);
  });

  it('every rule has a test case above', () => {
    // guards this file against a rule added without its cases
    expect(RULES.map((r) => r.id).sort()).toEqual([
      'adding-required-column', 'adding-volatile-default', 'constraint-missing-not-valid', 'drop-column', 'drop-table',
      'missing-lock-timeout', 'rename-column', 'rename-table', 'require-concurrent-index', 'require-concurrent-index-drop',
      'rewriting-type-change', 'set-not-null-without-check', 'table-rewrite', 'unique-without-index', 'unsupported-on-version',
      'update-without-backfill', 'validate-in-same-transaction',
    ]);
  });
});

describe('README', () => {
  it('the README\'s lint rules table (under "Migration files") lists every rule with its made-safe value', () => {
    const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('#### Lint ');
    const section = readme.slice(start, readme.indexOf('\n### ', start));
    const rows = [...section.matchAll(/^\| `([a-z-]+)` \|.*\| (yes|no)[^|]*\|$/gm)].map((m) => [m[1], m[2] === 'yes']);
    expect(rows).toEqual(RULES.map((r) => [r.id, r.madeSafe]));
  });
});

describe('each finding says where, which lock, the safe way and whether migrate up makes it safe', () => {
  it('names rule, file, line, lock, alternative and migrate up', async () => {
    const r = await onItems("SET lock_timeout = '1s';\n\nCREATE INDEX items_qty ON items (qty);\nALTER TABLE items DROP COLUMN note;");
    expect(r.findings).toEqual([
      {
        rule: 'require-concurrent-index', file: expect.stringMatching(/20240102000000_change\.sql$/), section: 'up', line: 4,
        statement: 'CREATE INDEX items_qty ON items (qty)', table: 'items', lock: 'SHARE',
        message: 'CREATE INDEX takes SHARE on items for the whole build: writes wait',
        alternative: 'CREATE INDEX CONCURRENTLY, outside a transaction block', madeSafeByMigrateUp: true,
      },
      expect.objectContaining({ rule: 'drop-column', line: 5, lock: 'ACCESS EXCLUSIVE', madeSafeByMigrateUp: false }),
    ]);
    expect(r).toMatchObject({ pgVersion: 140099, versionFrom: 'default', files: 2, statements: 4, suppressed: [], warnings: [] });
  });

  it('ADD FOREIGN KEY names both tables and its SHARE ROW EXCLUSIVE lock', async () => {
    const r = await onItems("SET lock_timeout = '1s';\nALTER TABLE items ADD CONSTRAINT f FOREIGN KEY (owner) REFERENCES app.users (id);");
    expect(r.findings[0]).toMatchObject({ rule: 'constraint-missing-not-valid', lock: 'SHARE ROW EXCLUSIVE', message: expect.stringContaining('on items and on app.users') });
  });
});

describe('type changes: judged from the type names, with no blanket rule', () => {
  it.each([
    ['varchar(20) to varchar(40)', 'ALTER TABLE items ALTER COLUMN name TYPE varchar(40)'],
    ['varchar(20) to unlimited varchar', 'ALTER TABLE items ALTER COLUMN name TYPE varchar'],
    ['varchar to text', 'ALTER TABLE items ALTER COLUMN name TYPE text'],
    ['numeric(10,2) to numeric(12,2)', 'ALTER TABLE items ALTER COLUMN price TYPE numeric(12,2)'],
    ['numeric(10,2) to numeric', 'ALTER TABLE items ALTER COLUMN price TYPE numeric'],
    ['text to varchar (unlimited)', 'ALTER TABLE items ALTER COLUMN note TYPE varchar'],
    ['the same type', 'ALTER TABLE items ALTER COLUMN qty TYPE integer'],
  ])('%s is fine', async (_, sql) => {
    expect(await ids(`${sql};`)).toEqual([]);
  });

  it.each([
    ['int to bigint', 'ALTER TABLE items ALTER COLUMN qty TYPE bigint', 'integer to bigint: no binary-coercible cast from integer to bigint'],
    ['varchar(20) to varchar(10)', 'ALTER TABLE items ALTER COLUMN name TYPE varchar(10)', 'varchar length shrinks'],
    ['numeric(10,2) to numeric(10,3)', 'ALTER TABLE items ALTER COLUMN price TYPE numeric(10,3)', 'numeric scale changes'],
    ['text to varchar(50)', 'ALTER TABLE items ALTER COLUMN note TYPE varchar(50)', 'a length check'],
    ['timestamp to timestamptz (depends on the session TimeZone)', 'ALTER TABLE items ALTER COLUMN created TYPE timestamptz', 'only when the session TimeZone is UTC'],
    ['a USING expression', 'ALTER TABLE items ALTER COLUMN name TYPE varchar(40) USING upper(name)', 'USING expression'],
  ])('%s rewrites', async (_, sql, why) => {
    const r = await onItems(`${sql};`);
    expect(rules(r)).toEqual(['rewriting-type-change']);
    expect(r.findings[0]!.message).toContain(why);
    expect(r.findings[0]!.message).not.toMatch(/^may/);
  });

  it('says "may rewrite" when the files do not tell the old type, or the new type is not built in', async () => {
    const unknownOld = await lintUp("SET lock_timeout = '1s';\nALTER TABLE accounts ALTER COLUMN email TYPE text;");
    expect(unknownOld.findings).toEqual([expect.objectContaining({ rule: 'rewriting-type-change', message: expect.stringMatching(/^may rewrite: the files do not say what type accounts.email had/) })]);
    const unknownNew = await onItems("SET lock_timeout = '1s';\nALTER TABLE items ALTER COLUMN name TYPE citext;");
    expect(unknownNew.findings[0]!.message).toMatch(/^may rewrite: items.name becomes a type lint does not know/);
  });

  it('follows earlier type changes and renames of the files', async () => {
    const r = await onItems('ALTER TABLE items ALTER COLUMN name TYPE varchar(30);\nALTER TABLE items RENAME COLUMN name TO title;\nALTER TABLE items ALTER COLUMN title TYPE varchar(60);');
    expect(rules(r)).toEqual(['rename-column']);
  });
});

describe('version awareness', () => {
  it('a constant default rewrites before PostgreSQL 11 only', async () => {
    expect(await ids('ALTER TABLE items ADD COLUMN flag boolean DEFAULT false;', { version: '10' })).toEqual(['adding-volatile-default']);
    expect(await ids('ALTER TABLE items ADD COLUMN flag boolean DEFAULT false;', { version: '11' })).toEqual([]);
  });

  it('SET NOT NULL after a validated CHECK (column IS NOT NULL) skips its scan on 12+, not before', async () => {
    const dir = folder({
      '20240101000000_items.sql': `-- migrate:up\n${ITEMS}\n`,
      '20240102000000_check.sql': '-- migrate:up\nALTER TABLE items ADD CONSTRAINT qty_nn CHECK (qty IS NOT NULL) NOT VALID;\n',
      '20240103000000_validate.sql': '-- migrate:up\nALTER TABLE items VALIDATE CONSTRAINT qty_nn;\n',
      '20240104000000_not_null.sql': '-- migrate:up\nALTER TABLE items ALTER COLUMN qty SET NOT NULL;\nALTER TABLE items DROP CONSTRAINT qty_nn;\n',
    });
    const at = async (version: string) => rules(await lint({ paths: [dir], pgVersion: version }));
    expect(await at('12')).toEqual([]);
    expect(await at('17')).toEqual([]);
    expect(await at('11')).toEqual(['set-not-null-without-check']);
    // not validated yet: the scan is still there
    const unvalidated = folder({
      '20240101000000_items.sql': `-- migrate:up\n${ITEMS}\nALTER TABLE items ADD CONSTRAINT qty_nn CHECK (qty IS NOT NULL) NOT VALID;\n`,
      '20240104000000_not_null.sql': '-- migrate:up\nALTER TABLE items ALTER COLUMN qty SET NOT NULL;\n',
    });
    expect(rules(await lint({ paths: [unvalidated] }))).toEqual(['set-not-null-without-check']);
  });

  it('the SET NOT NULL alternative follows the version: CHECK route on 12-17, NOT NULL NOT VALID on 18, none before 12', async () => {
    const alt = async (version: string) => (await onItems('ALTER TABLE items ALTER COLUMN qty SET NOT NULL;', { version })).findings.find((f) => f.rule === 'set-not-null-without-check')!.alternative;
    expect(await alt('14')).toMatch(/^ADD CONSTRAINT <name> CHECK \(<column> IS NOT NULL\) NOT VALID/);
    expect(await alt('18')).toMatch(/^ADD CONSTRAINT <name> NOT NULL <column> NOT VALID/);
    expect(await alt('11')).toMatch(/^no online route before PostgreSQL 12 \(this is 11\)/);
  });

  it('syntax newer than the version is flagged; on a version that has it, its own rule applies', async () => {
    expect(await ids('ALTER TABLE items SET ACCESS METHOD heap;', { version: '14' })).toEqual(['unsupported-on-version']);
    expect(await ids('ALTER TABLE items SET ACCESS METHOD heap;', { version: '15' })).toEqual(['table-rewrite']);
    expect(await ids('CREATE UNIQUE INDEX CONCURRENTLY u ON items (name) NULLS NOT DISTINCT;', { version: '14' })).toEqual(['unsupported-on-version']);
  });

  it('on 14.0-14.3 the index alternatives say to upgrade first (CONCURRENTLY can corrupt indexes there)', async () => {
    const r = await onItems('CREATE INDEX i ON items (qty);\nALTER TABLE items ADD CONSTRAINT k UNIQUE (name);', { version: '14.2' });
    expect(r.findings.filter((f) => f.rule !== 'missing-lock-timeout').map((f) => [f.rule, f.alternative.slice(0, 28)])).toEqual([
      ['require-concurrent-index', 'upgrade to 14.4 or later fir'],
      ['unique-without-index', 'upgrade to 14.4 or later fir'],
    ]);
  });

  it('below 14 pgshift does not run, so migrate up makes nothing safe', async () => {
    expect((await onItems('CREATE INDEX i ON items (qty);', { version: '13' })).findings[0]).toMatchObject({ rule: 'require-concurrent-index', madeSafeByMigrateUp: false });
    expect((await onItems('CREATE INDEX i ON items (qty);', { version: '16' })).findings[0]).toMatchObject({ rule: 'require-concurrent-index', madeSafeByMigrateUp: true });
  });
});

describe('what a file does to its own tables is not flagged', () => {
  it('a table created by the same file, and what its down section undoes', async () => {
    const r = await lintUp(
      'CREATE TABLE orders (id bigint PRIMARY KEY, total int);\nCREATE INDEX orders_total ON orders (total);\nALTER TABLE orders ADD CONSTRAINT t CHECK (total > 0);\nALTER TABLE orders RENAME COLUMN total TO amount;\nUPDATE orders SET amount = 0;',
      { down: 'DROP TABLE orders;' },
    );
    expect(r.findings).toEqual([]);
  });

  it('a column the file added may be dropped by its down section; any other is flagged there too', async () => {
    expect(await ids("SET lock_timeout = '1s';\nALTER TABLE items ADD COLUMN extra int;", { down: "SET lock_timeout = '1s';\nALTER TABLE items DROP COLUMN extra;" })).toEqual([]);
    const r = await onItems("SET lock_timeout = '1s';\nALTER TABLE items ADD COLUMN extra int;", { down: "SET lock_timeout = '1s';\nALTER TABLE items DROP COLUMN note;" });
    expect(r.findings).toEqual([expect.objectContaining({ rule: 'drop-column', section: 'down', line: 6 })]);
  });
});

describe('suppression', () => {
  it('-- pgshift-lint-ignore <rule> before a statement moves its finding to suppressed', async () => {
    const r = await onItems("SET lock_timeout = '1s';\n-- pgshift-lint-ignore require-concurrent-index\nCREATE INDEX i ON items (qty);\n-- pgshift-lint-ignore drop-column, rename-column\nALTER TABLE items DROP COLUMN note;");
    expect(r.findings).toEqual([]);
    expect(r.suppressed.map((f) => [f.rule, f.line])).toEqual([['require-concurrent-index', 4], ['drop-column', 6]]);
  });

  it('suppresses only the rules it names', async () => {
    const r = await onItems("SET lock_timeout = '1s';\n-- pgshift-lint-ignore drop-column\nCREATE INDEX i ON items (qty);");
    expect(rules(r)).toEqual(['require-concurrent-index']);
    expect(r.suppressed).toEqual([]);
  });

  it('an ignore comment naming no rule is a warning (a typo would otherwise silence nothing unnoticed)', async () => {
    const r = await onItems("SET lock_timeout = '1s';\n-- pgshift-lint-ignore require-concurent-index\nCREATE INDEX i ON items (qty);");
    expect(rules(r)).toEqual(['require-concurrent-index']);
    expect(r.warnings).toEqual([expect.stringMatching(/:4: pgshift-lint-ignore names no rule: require-concurent-index$/)]);
  });

  it('suppressing missing-lock-timeout at the first statement silences the section', async () => {
    const r = await onItems('-- pgshift-lint-ignore missing-lock-timeout\nALTER TABLE items ADD COLUMN a int;\nALTER TABLE items ADD COLUMN b int;');
    expect(r.findings).toEqual([]);
    expect(r.suppressed.map((f) => f.rule)).toEqual(['missing-lock-timeout']);
  });
});

describe('files', () => {
  it('a plain .sql file is one up section run statement by statement (no transaction)', async () => {
    const dir = folder({ 'change.sql': 'ALTER TABLE items ADD CONSTRAINT c CHECK (qty > 0) NOT VALID;\nALTER TABLE items VALIDATE CONSTRAINT c;\n' });
    const r = await lint({ paths: [`${dir}/change.sql`] });
    expect(r.findings.map((f) => [f.rule, f.line, f.section])).toEqual([['missing-lock-timeout', 1, 'up']]);
  });

  it('an explicit BEGIN in a plain file opens the transaction that VALIDATE then runs in', async () => {
    const dir = folder({ 'change.sql': "SET lock_timeout = '1s';\nBEGIN;\nALTER TABLE items ADD CONSTRAINT c CHECK (qty > 0) NOT VALID;\nALTER TABLE items VALIDATE CONSTRAINT c;\nCOMMIT;\n" });
    expect(rules(await lint({ paths: [`${dir}/change.sql`] }))).toEqual(['validate-in-same-transaction']);
  });

  it('node-pg-migrate and Flyway files', async () => {
    const npm = folder({ '1700000000000_x.sql': '-- Up Migration\nCREATE INDEX i ON items (qty);\n-- Down Migration\nDROP INDEX i;\n' });
    expect((await lint({ paths: [npm] })).findings.map((f) => [f.rule, f.section])).toEqual([
      ['require-concurrent-index', 'up'], ['require-concurrent-index-drop', 'down'],
    ]);
    const flyway = folder({ 'V1__items.sql': `${ITEMS}\n`, 'V2__index.sql': 'CREATE INDEX i ON items (qty);\n' });
    expect((await lint({ paths: [flyway] })).findings.map((f) => [f.rule, f.line])).toEqual([['require-concurrent-index', 1]]);
  });

  it('an empty section has no statements (libpg-query refuses text that is only whitespace)', async () => {
    const r = await lintUp("SET lock_timeout = '1s';", { down: '' });
    expect(r).toMatchObject({ files: 1, statements: 1, findings: [] });
    expect((await lint({ paths: [folder({ '20240101000000_blank.sql': '-- migrate:up\n\n-- migrate:down\n' })] })).statements).toBe(0);
  });

  it('a file that does not parse is a UserError naming its line', async () => {
    await expect(lintUp('ALTER TABLE items ADD COLUMN;')).rejects.toThrow(/20240101000000_test\.sql: line 2: cannot parse: syntax error at or near ";"/);
  });

  it('--pg-version takes a major or major.minor, 10 or later', async () => {
    await expect(lint({ paths: [folder({})], pgVersion: '9' })).rejects.toThrow('--pg-version: "9" is not a PostgreSQL version');
    await expect(lint({ paths: [folder({})], pgVersion: 'x' })).rejects.toThrow('--pg-version');
    expect((await lint({ paths: [folder({})], pgVersion: '16.2' })).pgVersion).toBe(160002);
  });
});
