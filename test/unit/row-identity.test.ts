import { describe, expect, it } from 'vitest';
import { chooseRowIdentity, noRowIdentity, unusableBecause, type UniqueIndex } from '../../src/catalog/row-identity.js';

function index(name: string, columns: string[], over: Partial<UniqueIndex> = {}, nullable: string[] = []): UniqueIndex {
  return {
    name, constraint: null, primary: false, valid: true, immediate: true, partial: false, expressions: false,
    columns: columns.map((c) => ({ name: c, type: 'integer', collation: null, notNull: !nullable.includes(c), notNullConstraint: null, plain: true })),
    ...over,
  };
}

describe('chooseRowIdentity', () => {
  it('takes the primary key whatever else there is', () => {
    const pk = index('t_pkey', ['a', 'b'], { primary: true, constraint: 't_pkey' });
    expect(chooseRowIdentity([index('t_c_key', ['c'], { constraint: 't_c_key' }), pk])).toBe(pk);
  });

  it('without one: fewest columns, then a UNIQUE constraint before a bare index, then the name', () => {
    const two = index('a_two', ['a', 'b'], { constraint: 'a_two' });
    const bareZ = index('z_bare', ['c']);
    const bareY = index('y_bare', ['d']);
    const con = index('zz_con', ['e'], { constraint: 'zz_con' });
    expect(chooseRowIdentity([two, bareZ, bareY, con])?.name).toBe('zz_con');
    expect(chooseRowIdentity([two, bareZ, bareY])?.name).toBe('y_bare');
    expect(chooseRowIdentity([bareZ, two])?.name).toBe('z_bare');
    // The order the catalog lists them in does not matter.
    expect(chooseRowIdentity([bareY, bareZ, two].reverse())?.name).toBe('y_bare');
  });

  it.each([
    ['a nullable column', index('i', ['a', 'b'], {}, ['b']), 'has nullable column b'],
    ['a partial index', index('i', ['a'], { partial: true }), 'is partial'],
    ['an expression', index('i', ['a'], { expressions: true }), 'is on an expression'],
    ['a deferrable constraint', index('i', ['a'], { immediate: false, constraint: 'i' }), 'is deferrable'],
    ['an invalid index (a failed CREATE INDEX CONCURRENTLY)', index('i', ['a'], { valid: false }), 'is not valid'],
    ['another operator class or collation', { ...index('i', ['a']), columns: [{ name: 'a', type: 'text', collation: null, notNull: true, notNullConstraint: null, plain: false }] }, "compares a by another operator class or collation than the column's"],
  ])('passes over %s', (_what, i, why) => {
    expect(unusableBecause(i)).toEqual([why]);
    expect(chooseRowIdentity([i])).toBeNull();
  });
});

describe('noRowIdentity', () => {
  it('without a unique index: add a primary key (no copy needed)', () => {
    expect(noRowIdentity('public', 'events', [])).toEqual({
      reason: 'has no primary key and no unique index over NOT NULL columns',
      fix: `fix: add a primary key first (no copy needed): pgshift alter 'ALTER TABLE "public"."events" ADD PRIMARY KEY (<columns>)' --execute`,
    });
  });

  it('names every unique index and why it does not serve; the fix makes the nearest miss NOT NULL', () => {
    const r = noRowIdentity('app', 'events', [
      index('events_lower_idx', ['email'], { expressions: true }),
      index('events_a_b_key', ['a', 'b'], { constraint: 'events_a_b_key' }, ['a', 'b']),
      index('events_c_key', ['c', 'd'], { constraint: 'events_c_key' }, ['d']),
      index('events_e_idx', ['e'], { partial: true }, ['e']),
    ]);
    expect(r.reason).toBe(
      'has no primary key and no unique index over NOT NULL columns (events_lower_idx is on an expression; events_a_b_key has nullable columns a, b; ' +
        'events_c_key has nullable column d; events_e_idx is partial and has nullable column e)',
    );
    expect(r.fix).toBe(`fix: make events_c_key's columns NOT NULL and it becomes the row identity (no copy needed): pgshift alter 'ALTER TABLE "app"."events" ALTER COLUMN "d" SET NOT NULL' --execute`);
  });

  it('quotes a name with a single quote for the shell', () => {
    expect(noRowIdentity('public', "o'brien", []).fix).toContain(`pgshift alter 'ALTER TABLE "public"."o'\\''brien" ADD PRIMARY KEY (<columns>)' --execute`);
  });
});
