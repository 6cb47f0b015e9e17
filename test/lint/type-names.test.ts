import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModule, parseSync } from 'libpg-query';
import { BINARY_CASTS, NOT_VOLATILE, OIDS, VOLATILE, castMethodOf, defaultVolatility, typeRefOf } from '../../src/lint/type-names.js';
import { createTestDatabase, type TestDatabase } from '../support/test-db.js';

/**
 * Lint judges type changes and defaults without a catalog, from tables of built-in types, casts
 * and function volatilities. These tests hold those tables against a real server's catalog, as
 * strategy/facts.test.ts holds coercion.ts's rules against a real probe.
 */
const TYPES = [
  'varchar(20)', 'character varying', 'char(3)', 'character', 'numeric(10,2)', 'numeric(5)', 'numeric', 'decimal(7,3)',
  'timestamp(3)', 'timestamp', 'timestamptz', 'timestamp(2) with time zone', 'time(1)', 'timetz', 'interval', 'interval(3)',
  'interval day', 'interval day to second(2)', 'bit(5)', 'varbit(7)', 'bit varying', 'int', 'integer', 'bigint', 'smallint',
  'real', 'float8', 'double precision', 'boolean', 'text', 'uuid', 'jsonb', 'json', 'bytea', 'date', 'inet', 'cidr', 'money', 'xml', 'oid',
];

function typeName(type: string) {
  return parseSync(`ALTER TABLE t ALTER COLUMN c TYPE ${type}`).stmts[0].stmt.AlterTableStmt.cmds[0].AlterTableCmd.def.ColumnDef.typeName;
}

function expr(sql: string) {
  return parseSync(`SELECT ${sql}`).stmts[0].stmt.SelectStmt.targetList[0].ResTarget.val;
}

describe('type names, casts and volatilities lint knows, against the server catalog', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    await loadModule();
    db = await createTestDatabase('lint_types');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('each type name gives the oid, typmod and format_type name PostgreSQL stores', async () => {
    await db.query(`CREATE TABLE t (${TYPES.map((type, i) => `c${i} ${type}`).join(', ')})`);
    const rows = (await db.query(
      `SELECT attnum, atttypid::int AS oid, atttypmod AS typmod, format_type(atttypid, atttypmod) AS name
         FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 ORDER BY attnum`,
    )).rows;
    const mine = TYPES.map((type) => typeRefOf(typeName(type)));
    const server = rows.map((r) => ({ oid: r.oid, typmod: r.typmod, name: r.name }));
    // intervals with fields: format_type names the fields, lint shows the precision only
    expect(mine.map((m, i) => ({ oid: m?.oid, typmod: m?.typmod, name: /^interval day/.test(TYPES[i]!) ? server[i]!.name : m?.name }))).toEqual(server);
  });

  it('arrays, domains and types that are not built in are unknown to lint', () => {
    expect(typeRefOf(typeName('int[]'))).toBeNull();
    expect(typeRefOf(typeName('citext'))).toBeNull();
    expect(typeRefOf(typeName('public.my_domain'))).toBeNull();
  });

  it('the binary-coercible casts among those types are exactly pg_cast\'s castmethod b', async () => {
    const names = Object.fromEntries(Object.entries(OIDS).map(([n, o]) => [o, n]));
    const rows = (await db.query(
      `SELECT castsource::int AS s, casttarget::int AS t FROM pg_cast
        WHERE castmethod = 'b' AND castsource = ANY($1::oid[]) AND casttarget = ANY($1::oid[])`,
      [Object.values(OIDS)],
    )).rows;
    expect(new Set(rows.map((r) => `${names[r.s]}>${names[r.t]}`))).toEqual(BINARY_CASTS);
    const ref = (oid: number) => ({ oid, typmod: -1, name: '', domainBase: null, domainConstrained: false });
    expect(castMethodOf(ref(OIDS.varchar!), ref(OIDS.text!))).toBe('b');
    expect(castMethodOf(ref(OIDS.int4!), ref(OIDS.int8!))).toBeNull();
  });

  it('the functions lint calls volatile are VOLATILE, the others STABLE or IMMUTABLE (every overload)', async () => {
    const rows = (await db.query(
      `SELECT proname::text AS name, bool_and(provolatile = 'v') AS all_volatile, bool_or(provolatile = 'v') AS any_volatile
         FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace AND proname = ANY($1) GROUP BY proname`,
      [[...VOLATILE, ...NOT_VOLATILE]],
    )).rows;
    const found = new Map(rows.map((r) => [r.name as string, r]));
    for (const fn of VOLATILE) if (found.has(fn)) expect(found.get(fn)!.all_volatile, fn).toBe(true);
    for (const fn of NOT_VOLATILE) expect(found.get(fn)?.any_volatile, fn).toBe(false);
    // uuidv7 (18) and uuid-ossp's functions are not on every server; the rest are
    expect([...VOLATILE].filter((fn) => !found.has(fn)).sort()).toEqual(['uuid_generate_v1', 'uuid_generate_v1mc', 'uuid_generate_v4', 'uuidv4', 'uuidv7'].filter((fn) => !found.has(fn)));
  });

  it('a default is volatile when it calls a volatile function, unknown when it calls one lint does not know', () => {
    expect(defaultVolatility(expr('gen_random_uuid()'))).toEqual({ volatile: true, fn: 'gen_random_uuid' });
    expect(defaultVolatility(expr("nextval('s')::int + 1"))).toEqual({ volatile: true, fn: 'nextval' });
    expect(defaultVolatility(expr('public.uuid_generate_v4()'))).toEqual({ volatile: true, fn: 'uuid_generate_v4' });
    expect(defaultVolatility(expr('now()'))).toEqual({ volatile: false });
    expect(defaultVolatility(expr('CURRENT_TIMESTAMP'))).toEqual({ volatile: false });
    expect(defaultVolatility(expr("'{}'::jsonb"))).toEqual({ volatile: false });
    expect(defaultVolatility(expr('lower(upper(\'x\'))'))).toEqual({ volatile: false });
    expect(defaultVolatility(expr('app.next_code()'))).toEqual({ volatile: 'unknown', fn: 'app.next_code' });
  });
});
