import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { deparseStatement, parseAlter } from '../../src/plan/parse.js';

async function refusal(sql: string): Promise<UserError> {
  const err = await parseAlter(sql).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected "${sql}" to be refused`).toBeInstanceOf(UserError);
  expect((err as UserError).exitCode).toBe(2);
  return err as UserError;
}

describe('parseAlter', () => {
  it('accepts one ALTER TABLE with several subcommands', async () => {
    const p = await parseAlter('ALTER TABLE t ADD COLUMN x int, DROP COLUMN y');
    expect(p.relation).toEqual({ schema: undefined, name: 't' });
    expect(p.statements).toHaveLength(1);
    const s = p.statements[0]!;
    expect(s.kind).toBe('alter');
    if (s.kind !== 'alter') throw new Error('unreachable');
    expect(s.cmds.map((c) => c.subtype)).toEqual(['AT_AddColumn', 'AT_DropColumn']);
  });

  it('accepts ALTER TABLE and RENAME COLUMN on one table, qualified in one statement only', async () => {
    const p = await parseAlter('ALTER TABLE app.t ALTER COLUMN a TYPE bigint; ALTER TABLE t RENAME COLUMN a TO b');
    expect(p.relation).toEqual({ schema: 'app', name: 't' });
    expect(p.statements.map((s) => s.kind)).toEqual(['alter', 'rename-column']);
    expect(p.statements[1]).toMatchObject({ kind: 'rename-column', from: 'a', to: 'b' });
  });

  it('takes the schema from a later statement when the first is unqualified', async () => {
    const p = await parseAlter('ALTER TABLE t RENAME COLUMN a TO b; ALTER TABLE app.t ADD COLUMN c int');
    expect(p.relation).toEqual({ schema: 'app', name: 't' });
  });

  it('accepts RENAME CONSTRAINT', async () => {
    const p = await parseAlter('ALTER TABLE t RENAME CONSTRAINT c1 TO c2');
    expect(p.statements[0]).toMatchObject({ kind: 'rename-constraint', from: 'c1', to: 'c2' });
  });

  it('keeps quoted names exactly', async () => {
    const p = await parseAlter('ALTER TABLE "My Schema"."T" RENAME COLUMN "A b" TO "c""d"');
    expect(p.relation).toEqual({ schema: 'My Schema', name: 'T' });
    expect(p.statements[0]).toMatchObject({ from: 'A b', to: 'c"d' });
  });

  it.each([
    ['a SELECT', 'SELECT 1', /only ALTER TABLE, CREATE INDEX and DROP INDEX statements are accepted/],
    ['an UPDATE next to an ALTER', 'ALTER TABLE t ADD COLUMN x int; UPDATE t SET x = 1', /only ALTER TABLE, CREATE INDEX and DROP INDEX statements/],
    ['ALTER INDEX', 'ALTER INDEX i SET (fillfactor = 50)', /not ALTER INDEX/],
    ['ALTER SEQUENCE', 'ALTER SEQUENCE s RESTART', /only ALTER TABLE, CREATE INDEX and DROP INDEX statements/],
    ['RENAME TO', 'ALTER TABLE t RENAME TO u', /renaming a table needs no online migration/],
    ['a view column rename', 'ALTER VIEW v RENAME COLUMN a TO b', /only ALTER TABLE \.\.\. RENAME COLUMN/],
    ['two tables', 'ALTER TABLE t ADD COLUMN x int; ALTER TABLE u ADD COLUMN y int', /same table/],
    ['one name in two schemas', 'ALTER TABLE a.t ADD COLUMN x int; ALTER TABLE b.t ADD COLUMN y int', /same table/],
    ['a database-qualified name', 'ALTER TABLE db.s.t ADD COLUMN x int', /database-qualified/],
    ['a syntax error', 'ALTER TABLE t ADD COLUMN', /cannot parse/],
    ['garbage', 'ALTER TABEL t ADD x int', /cannot parse/],
    ['an empty string', '', /./],
    ['only a comment', '-- nothing', /no statement/],
  ])('refuses %s', async (_what, sql, message) => {
    const err = await refusal(sql);
    expect(err.message).toMatch(message);
  });

  // An unqualified name matches any schema, but two DIFFERENT schemas must never both match it.
  it('refuses one name in two schemas even when an unqualified statement comes first', async () => {
    await refusal('ALTER TABLE t ADD COLUMN x int; ALTER TABLE public.t ADD COLUMN y int; ALTER TABLE other.t ADD COLUMN z int');
  });
});

describe('deparseStatement', () => {
  it('prints an ALTER TABLE retargeted to the shadow schema', async () => {
    const p = await parseAlter('ALTER TABLE public.t ADD COLUMN x integer NOT NULL DEFAULT 0, ALTER COLUMN b TYPE bigint');
    const s = p.statements[0]!;
    s.node.relation.schemaname = 'pgshift_1';
    expect(deparseStatement(s)).toBe('ALTER TABLE pgshift_1.t ADD COLUMN x int NOT NULL DEFAULT 0, ALTER COLUMN b TYPE bigint');
  });

  it('prints a RENAME COLUMN retargeted from an unqualified name', async () => {
    const p = await parseAlter('ALTER TABLE t RENAME COLUMN a TO b');
    const s = p.statements[0]!;
    s.node.relation.schemaname = 'pgshift_1';
    expect(deparseStatement(s)).toBe('ALTER TABLE pgshift_1.t RENAME COLUMN a TO b');
  });

  it('round-trips: the printed statement parses back to the same tree', async () => {
    const sql = 'ALTER TABLE s.t ALTER COLUMN a TYPE int USING length(a) + 1, ADD CONSTRAINT c CHECK (a > 0) NOT VALID; ALTER TABLE s.t RENAME COLUMN "A" TO "b c"';
    const p = await parseAlter(sql);
    const printed = p.statements.map(deparseStatement).join('; ');
    const again = await parseAlter(printed);
    const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'location' ? undefined : x)));
    expect(strip(again.statements.map((s) => s.node))).toEqual(strip(p.statements.map((s) => s.node)));
  });
});
