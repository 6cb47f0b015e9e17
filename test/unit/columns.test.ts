import { describe, expect, it } from 'vitest';
import type { Column } from '../../src/catalog/table.js';
import type { UniqueIndex } from '../../src/catalog/row-identity.js';
import { UserError } from '../../src/errors.js';
import { followColumns, type ColumnFlow } from '../../src/plan/columns.js';
import { parseAlter } from '../../src/plan/parse.js';

function column(name: string, type: string, attnum: number): Column {
  return {
    attnum, name, type, notNull: false, identity: '', generated: '', hasMissing: false, missingValue: null,
    collation: null, statTarget: null, options: null, comment: null, acl: null,
  };
}

// origin: t(id integer primary key (t_pkey), a text, b text, c integer)
const ORIGIN: Column[] = [column('id', 'integer', 1), column('a', 'text', 2), column('b', 'text', 3), column('c', 'integer', 4)];
/** A row identity over integer columns: the primary key t_pkey, or a unique constraint or bare unique index. */
function identity(columns: string[], over: Partial<UniqueIndex> = {}, notNullConstraints: Record<string, string> = {}): UniqueIndex {
  return {
    name: 't_pkey', constraint: 't_pkey', primary: true, valid: true, immediate: true, partial: false, expressions: false,
    columns: columns.map((name) => ({ name, type: 'integer', collation: null, notNull: true, notNullConstraint: notNullConstraints[name] ?? null, plain: true })),
    ...over,
  };
}
const KEY = identity(['id']);
const UNIQUE_KEY = identity(['c'], { name: 't_c_key', constraint: 't_c_key', primary: false });
const UNIQUE_INDEX = identity(['c', 'id'], { name: 't_c_id_idx', constraint: null, primary: false });

async function follow(sql: string, key: UniqueIndex = KEY): Promise<ColumnFlow> {
  const parsed = await parseAlter(sql);
  return followColumns(parsed.statements, ORIGIN, key);
}

async function refusal(sql: string, message: RegExp, key: UniqueIndex = KEY): Promise<void> {
  const err = await follow(sql, key).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected "${sql}" to be refused`).toBeInstanceOf(UserError);
  expect((err as UserError).message).toMatch(message);
}

const same = (name: string): unknown => ({ kind: 'origin', origin: name, using: null, typeChanged: false });

describe('followColumns', () => {
  it('maps every column to itself when nothing touches it', async () => {
    const f = await follow('ALTER TABLE t SET (fillfactor = 70)');
    expect([...f.sources.entries()]).toEqual([['id', same('id')], ['a', same('a')], ['b', same('b')], ['c', same('c')]]);
    expect(f.renames).toEqual([]);
    expect(f.dropped).toEqual([]);
    expect(f.typeChanged).toEqual([]);
  });

  it('follows a rename', async () => {
    const f = await follow('ALTER TABLE t RENAME COLUMN a TO x');
    expect(f.sources.has('a')).toBe(false);
    expect(f.sources.get('x')).toEqual(same('a'));
    expect(f.renames).toEqual([{ from: 'a', to: 'x' }]);
  });

  it('follows a chain of renames a -> b2, b2 -> c2 and a swap of names through a temporary', async () => {
    const f = await follow('ALTER TABLE t RENAME COLUMN a TO b2; ALTER TABLE t RENAME COLUMN b2 TO c2');
    expect(f.sources.get('c2')).toEqual(same('a'));
    expect(f.sources.has('a')).toBe(false);
    expect(f.sources.has('b2')).toBe(false);
    expect(f.renames).toEqual([{ from: 'a', to: 'b2' }, { from: 'b2', to: 'c2' }]);

    const g = await follow('ALTER TABLE t RENAME COLUMN a TO tmp; ALTER TABLE t RENAME COLUMN b TO a; ALTER TABLE t RENAME COLUMN tmp TO b');
    expect(g.sources.get('a')).toEqual(same('b'));
    expect(g.sources.get('b')).toEqual(same('a'));
    expect(g.sources.has('tmp')).toBe(false);
  });

  it('refuses a rename of a missing column or onto an existing one', async () => {
    await refusal('ALTER TABLE t RENAME COLUMN nope TO x', /"nope" does not exist/);
    await refusal('ALTER TABLE t RENAME COLUMN a TO b', /"b" already exists/);
  });

  it('follows drops, by their current name', async () => {
    const f = await follow('ALTER TABLE t DROP COLUMN a; ALTER TABLE t RENAME COLUMN b TO x; ALTER TABLE t DROP COLUMN x');
    expect(f.dropped).toEqual(['a', 'b']);
    expect([...f.sources.keys()]).toEqual(['id', 'c']);
  });

  it('marks added columns, including one that reuses a dropped name', async () => {
    const f = await follow('ALTER TABLE t ADD COLUMN n int DEFAULT 1, DROP COLUMN a; ALTER TABLE t ADD COLUMN a text');
    expect(f.sources.get('n')).toEqual({ kind: 'added' });
    expect(f.sources.get('a')).toEqual({ kind: 'added' });
    expect(f.dropped).toEqual(['a']);
  });

  it('records a type change without USING (the cast is implicit)', async () => {
    const f = await follow('ALTER TABLE t ALTER COLUMN c TYPE bigint');
    expect(f.sources.get('c')).toEqual({ kind: 'origin', origin: 'c', using: null, typeChanged: true });
    expect(f.typeChanged).toEqual(['c']);
  });

  it('records a USING expression', async () => {
    const f = await follow('ALTER TABLE t ALTER COLUMN a TYPE integer USING length(a) + c');
    expect(f.sources.get('a')).toEqual({ kind: 'origin', origin: 'a', using: 'length(a) + c', typeChanged: true });
    expect(f.typeChanged).toEqual(['a']);
  });

  it('rewrites USING column references to origin names after renames', async () => {
    const f = await follow(
      'ALTER TABLE t RENAME COLUMN a TO x; ALTER TABLE t RENAME COLUMN c TO y; ALTER TABLE t ALTER COLUMN x TYPE int USING x::int + y',
    );
    expect(f.sources.get('x')).toEqual({ kind: 'origin', origin: 'a', using: 'a::int + c', typeChanged: true });
    expect(f.typeChanged).toEqual(['a']);
  });

  it('rewrites references through a chain (a -> b2 -> c2)', async () => {
    const f = await follow('ALTER TABLE t RENAME COLUMN a TO b2; ALTER TABLE t RENAME COLUMN b2 TO c2; ALTER TABLE t ALTER COLUMN c2 TYPE int USING c2::int');
    expect(f.sources.get('c2')).toMatchObject({ origin: 'a', using: 'a::int' });
  });

  it('keeps a USING expression when a later statement renames the column', async () => {
    const f = await follow('ALTER TABLE t ALTER COLUMN a TYPE int USING length(a); ALTER TABLE t RENAME COLUMN a TO n');
    expect(f.sources.get('n')).toEqual({ kind: 'origin', origin: 'a', using: 'length(a)', typeChanged: true });
  });

  it('allows a type change without USING on a key column (widening is checked by the mapping)', async () => {
    const f = await follow('ALTER TABLE t ALTER COLUMN id TYPE bigint');
    expect(f.sources.get('id')).toEqual({ kind: 'origin', origin: 'id', using: null, typeChanged: true });
  });

  it('allows dropping a constraint that is not the key', async () => {
    const f = await follow('ALTER TABLE t DROP CONSTRAINT t_a_check');
    expect(f.sources.size).toBe(4);
  });

  it.each([
    ['dropping a key column', 'ALTER TABLE t DROP COLUMN id', /"id" is part of the primary key/],
    ['dropping a renamed key column', 'ALTER TABLE t RENAME COLUMN id TO pk; ALTER TABLE t DROP COLUMN pk', /"pk" is part of the primary key/],
    ['USING on a key column', 'ALTER TABLE t ALTER COLUMN id TYPE bigint USING id::bigint', /USING expression on primary-key column "id"/],
    ['USING on a renamed key column', 'ALTER TABLE t RENAME COLUMN id TO pk; ALTER TABLE t ALTER COLUMN pk TYPE bigint USING pk + 0', /primary-key column "pk"/],
    ['ADD PRIMARY KEY', 'ALTER TABLE t ADD PRIMARY KEY (a)', /primary key's column set/],
    ['ADD CONSTRAINT ... PRIMARY KEY', 'ALTER TABLE t ADD CONSTRAINT pk2 PRIMARY KEY (a, id)', /primary key's column set/],
    ['ADD COLUMN ... PRIMARY KEY', 'ALTER TABLE t ADD COLUMN n serial PRIMARY KEY', /primary key's column set/],
    ['DROP CONSTRAINT of the key', 'ALTER TABLE t DROP CONSTRAINT t_pkey', /dropping the primary key/],
    ['DROP CONSTRAINT IF EXISTS of the key', 'ALTER TABLE t DROP CONSTRAINT IF EXISTS t_pkey CASCADE', /dropping the primary key/],
    ['a qualified column in USING', 'ALTER TABLE t ALTER COLUMN a TYPE int USING t.a::int', /only unqualified/],
    ['a star in USING', 'ALTER TABLE t ALTER COLUMN a TYPE int USING length(t.*::text)', /only unqualified/],
    ['USING that reads an added column', 'ALTER TABLE t ADD COLUMN n int; ALTER TABLE t ALTER COLUMN a TYPE int USING n', /"n", which has no origin value/],
    ['USING that reads a dropped column', 'ALTER TABLE t DROP COLUMN b; ALTER TABLE t ALTER COLUMN a TYPE int USING length(b)', /"b", which has no origin value/],
    ['a type change of a missing column', 'ALTER TABLE t ALTER COLUMN nope TYPE int', /"nope" does not exist/],
  ])('refuses %s', async (_what, sql, message) => {
    await refusal(sql, message);
  });

  it('refuses a composite key column drop and USING on any key column', async () => {
    const key = identity(['id', 'c']);
    await refusal('ALTER TABLE t DROP COLUMN c', /"c" is part of the primary key/, key);
    await refusal('ALTER TABLE t ALTER COLUMN c TYPE bigint USING c * 2', /primary-key column "c"/, key);
  });

  // The docstring of rewriteColumnRefs: "A reference to a column the statements added or already
  // converted has no origin value to read: refused." Rewriting a converted column to its origin
  // name silently drops the first conversion (offline: length(a) * 10; here: a * 10 on the text).
  it('refuses a USING expression that reads a column an earlier statement already converted', async () => {
    await refusal(
      'ALTER TABLE t ALTER COLUMN a TYPE integer USING length(a); ALTER TABLE t ALTER COLUMN a TYPE bigint USING a * 10',
      /no origin value/,
    );
    await refusal(
      'ALTER TABLE t ALTER COLUMN a TYPE integer USING length(a); ALTER TABLE t ALTER COLUMN b TYPE integer USING a + 1',
      /no origin value/,
    );
  });

  // RENAME CONSTRAINT moves the key constraint's name; dropping it under the new name is
  // still dropping the primary key.
  it('refuses dropping the key constraint under a name given by RENAME CONSTRAINT', async () => {
    await refusal('ALTER TABLE t RENAME CONSTRAINT t_pkey TO k; ALTER TABLE t DROP CONSTRAINT k', /dropping the primary key/);
  });

  describe('a unique index as the row identity (no primary key)', () => {
    it.each([
      ['DROP CONSTRAINT of it', 'ALTER TABLE t DROP CONSTRAINT t_c_key', UNIQUE_KEY, /dropping unique constraint t_c_key \(the row identity of the online copy: the table has no primary key\)/],
      ['DROP CONSTRAINT under a name given by RENAME CONSTRAINT', 'ALTER TABLE t RENAME CONSTRAINT t_c_key TO k; ALTER TABLE t DROP CONSTRAINT k', UNIQUE_KEY, /dropping unique constraint t_c_key/],
      ['DROP INDEX of it', 'DROP INDEX t_c_id_idx', UNIQUE_INDEX, /dropping unique index t_c_id_idx \(the row identity/],
      ['DROP INDEX of it, schema-qualified', 'DROP INDEX public.t_c_id_idx', UNIQUE_INDEX, /dropping unique index t_c_id_idx/],
      ['DROP INDEX of it once a constraint USING INDEX renamed it', 'ALTER TABLE t ADD CONSTRAINT u2 UNIQUE USING INDEX t_c_id_idx; ALTER TABLE t DROP CONSTRAINT u2', UNIQUE_INDEX, /dropping unique index t_c_id_idx/],
      ['dropping one of its columns', 'ALTER TABLE t DROP COLUMN id', UNIQUE_INDEX, /"id" is part of unique index t_c_id_idx \(the row identity/],
      ['DROP NOT NULL on one of its columns', 'ALTER TABLE t ALTER COLUMN c DROP NOT NULL', UNIQUE_KEY, /dropping NOT NULL on column "c" of unique constraint t_c_key/],
      ['DROP NOT NULL on a renamed column of it', 'ALTER TABLE t RENAME COLUMN id TO k; ALTER TABLE t ALTER COLUMN k DROP NOT NULL', UNIQUE_INDEX, /dropping NOT NULL on column "k" of unique index t_c_id_idx/],
      ['DROP CONSTRAINT of its NOT NULL constraint (18+)', 'ALTER TABLE t DROP CONSTRAINT t_c_not_null', identity(['c'], { name: 't_c_key', constraint: 't_c_key', primary: false }, { c: 't_c_not_null' }), /dropping NOT NULL on column "c" of unique constraint t_c_key/],
      ['USING on one of its columns', 'ALTER TABLE t ALTER COLUMN c TYPE bigint USING c * 2', UNIQUE_KEY, /USING expression on column "c" of unique constraint t_c_key/],
    ])('refuses %s', async (_what, sql, key, message) => {
      await refusal(sql, message, key);
    });

    it('allows what keeps it: other NOT NULLs, other indexes, a widening type change, a rename; and follows its name', async () => {
      const f = await follow('ALTER TABLE t ALTER COLUMN a DROP NOT NULL, ALTER COLUMN c TYPE bigint; DROP INDEX t_other_idx; ALTER TABLE t RENAME COLUMN c TO k', UNIQUE_KEY);
      expect(f.identityIndex).toBe('t_c_key');
      expect((await follow('ALTER TABLE t RENAME CONSTRAINT t_c_key TO k2', UNIQUE_KEY)).identityIndex).toBe('k2');
      expect((await follow('ALTER TABLE t ADD CONSTRAINT u2 UNIQUE USING INDEX t_c_id_idx', UNIQUE_INDEX)).identityIndex).toBe('u2');
      // A primary key stays on the shadow without being named.
      expect((await follow('ALTER TABLE t ADD COLUMN n int')).identityIndex).toBeNull();
    });
  });
});
