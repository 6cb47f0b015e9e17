import { describe, expect, it } from 'vitest';
import type { Column, KeyColumn } from '../../src/catalog/table.js';
import { ident } from '../../src/db/quote.js';
import type { ColumnFlow, ColumnSource } from '../../src/plan/columns.js';
import { deriveMapping, isWideningKeyChange, narrowingMayMerge } from '../../src/plan/mapping.js';

describe('narrowingMayMerge', () => {
  it('an integer narrowing cannot merge keys (a value fits unchanged or fails); a varchar limit or a rounding can', () => {
    expect(narrowingMayMerge({ from: 'bigint', to: 'integer' })).toBe(false);
    expect(narrowingMayMerge({ from: 'integer', to: 'smallint' })).toBe(false);
    expect(narrowingMayMerge({ from: 'text', to: 'character varying(3)' })).toBe(true);
    expect(narrowingMayMerge({ from: 'numeric(10,2)', to: 'numeric(10,0)' })).toBe(true);
    expect(narrowingMayMerge({ from: 'timestamp without time zone', to: 'date' })).toBe(true);
  });
});

describe('isWideningKeyChange', () => {
  it.each([
    ['integer', 'integer', true],
    ['integer', 'bigint', true],
    ['smallint', 'integer', true],
    ['smallint', 'bigint', true],
    ['integer', 'numeric', true],
    ['bigint', 'numeric', true],
    ['bigint', 'integer', false],
    ['integer', 'smallint', false],
    ['numeric', 'bigint', false],
    ['integer', 'numeric(5,0)', false],
    ['character varying(10)', 'character varying(20)', true],
    ['character varying(10)', 'character varying(10)', true],
    ['character varying(20)', 'character varying(10)', false],
    ['character varying(10)', 'character varying', true],
    ['character varying(10)', 'text', true],
    ['character varying', 'text', true],
    ['text', 'character varying', true],
    ['text', 'character varying(10)', false],
    ['text', 'integer', false],
    ['integer', 'text', false],
    ['uuid', 'text', false],
    ['character(10)', 'character varying(20)', false],
  ])('%s -> %s: %s', (from, to, expected) => {
    expect(isWideningKeyChange(from, to)).toBe(expected);
  });
});

function column(name: string, type: string, extra: Partial<Column> = {}): Column {
  return {
    attnum: 0, name, type, notNull: false, identity: '', generated: '', hasMissing: false, missingValue: null,
    collation: null, statTarget: null, options: null, comment: null, acl: null, ...extra,
  };
}

const origin = (name: string, using: string | null = null): ColumnSource => ({ kind: 'origin', origin: name, using, typeChanged: using !== null });

function flow(entries: [string, ColumnSource][]): ColumnFlow {
  return { sources: new Map(entries), renames: [], dropped: [], typeChanged: [], identityIndex: null };
}

const KEY: KeyColumn[] = [{ name: 'id', type: 'integer', collation: null }];

describe('deriveMapping', () => {
  it('maps copied, renamed, converted, generated and added columns', () => {
    const f = flow([
      ['id', origin('id')],
      ['full_name', origin('name')],
      ['amount', origin('amount', '"amount"::numeric(12,2)')],
      ['total', origin('total')],
      ['created', { kind: 'added' }],
      ['note', { kind: 'added' }],
      ['token', { kind: 'added' }],
      ['seq', { kind: 'added' }],
    ]);
    const shadow = [
      column('id', 'bigint'),
      column('full_name', 'text'),
      column('amount', 'numeric(12,2)'),
      column('total', 'numeric', { generated: 's' }),
      column('created', 'timestamp with time zone'),
      column('note', 'text'),
      column('token', 'uuid'),
      column('seq', 'bigint', { identity: 'd' }),
      column('later', 'integer'), // not in the flow at all: treated as added, no once-default
    ];
    const onceDefaults = new Map<string, string | null>([['created', '2024-01-01 00:00:00+00'], ['note', null]]);
    const m = deriveMapping(f, shadow, onceDefaults, KEY, ident);
    expect(m).toEqual({
      targets: ['id', 'full_name', 'amount', 'created', 'note'],
      expressions: ['"id"', '"name"', '("amount"::numeric(12,2))', '$1::timestamp with time zone', '$2::text'],
      constants: ['2024-01-01 00:00:00+00', null],
      preserved: ['token', 'seq', 'later'],
      overriding: false,
      originKey: KEY,
      shadowKey: ['id'],
      narrowedKey: [],
    });
  });

  it('skips a generated column even when it comes from the origin', () => {
    const m = deriveMapping(
      flow([['id', origin('id')], ['g', origin('g')]]),
      [column('id', 'integer'), column('g', 'integer', { generated: 's' })],
      new Map(),
      KEY,
      ident,
    );
    expect(m.targets).toEqual(['id']);
    expect(m.expressions).toEqual(['"id"']);
  });

  it('sets overriding for a copied identity ALWAYS column', () => {
    const m = deriveMapping(
      flow([['id', origin('id')], ['n', origin('n')]]),
      [column('id', 'integer', { identity: 'a' }), column('n', 'text')],
      new Map(),
      KEY,
      ident,
    );
    expect(m.overriding).toBe(true);
    expect(m.targets).toEqual(['id', 'n']);
  });

  it('sets overriding for an added identity ALWAYS column, whose values are preserved', () => {
    const m = deriveMapping(
      flow([['id', origin('id')], ['seq', { kind: 'added' }]]),
      [column('id', 'integer'), column('seq', 'bigint', { identity: 'a' })],
      new Map(),
      KEY,
      ident,
    );
    expect(m.overriding).toBe(true);
    expect(m.preserved).toEqual(['seq']);
    expect(m.targets).toEqual(['id']);
  });

  it('does not set overriding for identity BY DEFAULT', () => {
    const m = deriveMapping(
      flow([['id', origin('id')]]),
      [column('id', 'integer', { identity: 'd' })],
      new Map(),
      KEY,
      ident,
    );
    expect(m.overriding).toBe(false);
  });

  it('names the shadow key after renames, in key order, for a composite key', () => {
    const key: KeyColumn[] = [{ name: 'tenant', type: 'text', collation: null }, { name: 'id', type: 'integer', collation: null }];
    const m = deriveMapping(
      flow([['pk', origin('id')], ['org', origin('tenant')], ['v', origin('v')]]),
      [column('pk', 'bigint'), column('org', 'text'), column('v', 'text')],
      new Map(),
      key,
      ident,
    );
    expect(m.shadowKey).toEqual(['org', 'pk']);
    expect(m.targets).toEqual(['pk', 'org', 'v']);
    expect(m.expressions).toEqual(['"id"', '"tenant"', '"v"']);
  });

  it('uses the quote function it is given', () => {
    const m = deriveMapping(flow([['id', origin('id')]]), [column('id', 'integer')], new Map(), KEY, (n) => `[${n}]`);
    expect(m.expressions).toEqual(['[id]']);
  });

  it('marks a narrowing key change (the data must prove it one-to-one) and not a widening one', () => {
    const key: KeyColumn[] = [{ name: 'id', type: 'bigint', collation: null }];
    expect(deriveMapping(flow([['id', origin('id')]]), [column('id', 'integer')], new Map(), key, ident).narrowedKey).toEqual([{ column: 'id', from: 'bigint', to: 'integer' }]);
    const vkey: KeyColumn[] = [{ name: 'code', type: 'character varying(20)', collation: null }];
    expect(deriveMapping(flow([['code', origin('code')]]), [column('code', 'character varying(10)')], new Map(), vkey, ident).narrowedKey).toHaveLength(1);
    expect(deriveMapping(flow([['code', origin('code')]]), [column('code', 'text')], new Map(), vkey, ident).narrowedKey).toEqual([]);
  });

  it('refuses a key column that does not survive', () => {
    expect(() => deriveMapping(flow([['x', origin('x')]]), [column('x', 'integer')], new Map(), KEY, ident)).toThrow(
      /primary-key column "id" does not survive/,
    );
  });
});
