import type { Node } from '../plan/parse.js';
import type { TypeRef } from '../strategy/coercion.js';

/**
 * What a migration file's type names and default expressions say without a catalog: the built-in
 * types' oids and typmods (for strategy/coercion.ts binaryCoercion, which holds PostgreSQL's
 * rules), the binary-coercible casts among them, and whether a default is volatile. Anything not
 * built in (domains, enums, extension types, user functions) is unknown here, and callers say
 * "may" rather than guess.
 */

// pg_type oids of the built-in types migrations use (src/include/catalog/pg_type.dat).
export const OIDS: Record<string, number> = {
  bool: 16, bytea: 17, int8: 20, int2: 21, int4: 23, text: 25, oid: 26, json: 114, xml: 142,
  float4: 700, float8: 701, money: 790, cidr: 650, inet: 869, macaddr: 829, bpchar: 1042, varchar: 1043,
  date: 1082, time: 1083, timestamp: 1114, timestamptz: 1184, interval: 1186, timetz: 1266,
  bit: 1560, varbit: 1562, numeric: 1700, uuid: 2950, jsonb: 3802,
};

// What the grammar leaves unqualified and the catalog knows under another name.
const ALIASES: Record<string, string> = {
  integer: 'int4', int: 'int4', smallint: 'int2', bigint: 'int8', boolean: 'bool', real: 'float4',
  decimal: 'numeric', 'character varying': 'varchar', character: 'bpchar', 'bit varying': 'varbit',
};

const VARHDRSZ = 4;
const INTERVAL_FULL_PRECISION = 0xffff;

/** A TypeName node of a built-in, non-array type as the catalog would store it; null when unknown here. */
export function typeRefOf(typeName: Node): TypeRef | null {
  if (!typeName || typeName.arrayBounds?.length || typeName.setof || typeName.pct_type) return null;
  const names: string[] = (typeName.names ?? []).map((n: Node) => n.String?.sval);
  if (names.length === 2 && names[0] !== 'pg_catalog') return null;
  if (names.length === 0 || names.length > 2) return null;
  const written = names.at(-1)!;
  const name = ALIASES[written] ?? written;
  const oid = OIDS[name];
  if (oid === undefined) return null;
  const mods: number[] = [];
  for (const m of typeName.typmods ?? []) {
    const c = m.A_Const;
    if (!c || c.sval || c.fval) return null;
    mods.push(Number(c.ival?.ival ?? 0));
  }
  const typmod = encodeTypmod(name, mods);
  if (typmod === null) return null;
  return { oid, typmod, name: formatType(name, mods), domainBase: null, domainConstrained: false };
}

/** The typmod each type's typmodin function stores (varchar.c, numeric.c, timestamp.c, date.c, varbit.c). */
function encodeTypmod(name: string, mods: number[]): number | null {
  if (mods.length === 0) return -1;
  switch (name) {
    case 'varchar':
    case 'bpchar':
      return mods.length === 1 ? mods[0]! + VARHDRSZ : null;
    case 'numeric':
      if (mods.length > 2) return null;
      return ((mods[0]! << 16) | ((mods[1] ?? 0) & 0x7ff)) + VARHDRSZ;
    case 'timestamp':
    case 'timestamptz':
    case 'time':
    case 'timetz':
      return mods.length === 1 ? mods[0]! : null;
    case 'interval':
      // the grammar gives [range] or [range, precision]
      return mods.length <= 2 ? ((mods[0]! << 16) | (mods[1] ?? INTERVAL_FULL_PRECISION)) : null;
    case 'bit':
    case 'varbit':
      return mods.length === 1 ? mods[0]! : null;
    default:
      return null;
  }
}

// format_type's names (src/backend/utils/adt/format_type.c) where they differ from the catalog's.
const SHOWN: Record<string, [string, string?]> = {
  int2: ['smallint'], int4: ['integer'], int8: ['bigint'], bool: ['boolean'], float4: ['real'], float8: ['double precision'],
  varchar: ['character varying'], bpchar: ['character'], varbit: ['bit varying'],
  timestamp: ['timestamp', ' without time zone'], timestamptz: ['timestamp', ' with time zone'],
  time: ['time', ' without time zone'], timetz: ['time', ' with time zone'],
};

/** As format_type prints it (intervals with fields are shown by their precision only). */
function formatType(name: string, mods: number[]): string {
  const [base, zone] = SHOWN[name] ?? [name];
  const shown = name === 'numeric' && mods.length === 1 ? [...mods, 0] : mods;
  const mod = name === 'interval' ? (mods.length === 2 && mods[0] === 0x7fff ? `(${mods[1]})` : '') : shown.length ? `(${shown.join(',')})` : '';
  return `${base}${mod}${zone ?? ''}`;
}

// pg_cast entries with castmethod 'b' between the types above (src/include/catalog/pg_cast.dat).
export const BINARY_CASTS = new Set(['text>varchar', 'varchar>text', 'text>bpchar', 'varchar>bpchar', 'cidr>inet', 'bit>varbit', 'varbit>bit', 'xml>text', 'xml>varchar', 'xml>bpchar', 'int4>oid', 'oid>int4']);

/** pg_cast.castmethod between two built-in types as far as lint needs it: 'b' or null (not binary). */
export function castMethodOf(from: TypeRef, to: TypeRef): string | null {
  if (from.oid === to.oid) return 'b';
  const name = (oid: number): string | undefined => Object.entries(OIDS).find(([, o]) => o === oid)?.[0];
  return BINARY_CASTS.has(`${name(from.oid)}>${name(to.oid)}`) ? 'b' : null;
}

// Functions marked VOLATILE in pg_proc that defaults use (built in, or uuid-ossp's, in whatever schema).
export const VOLATILE = new Set([
  'random', 'random_normal', 'clock_timestamp', 'timeofday', 'gen_random_uuid', 'uuidv4', 'uuidv7',
  'uuid_generate_v1', 'uuid_generate_v1mc', 'uuid_generate_v4', 'nextval', 'setval',
]);

// Built-in STABLE or IMMUTABLE functions that defaults use (evaluated once by ADD COLUMN on 11+).
export const NOT_VOLATILE = new Set([
  'now', 'transaction_timestamp', 'statement_timestamp', 'current_setting', 'timezone', 'date_trunc', 'make_date',
  'make_time', 'make_timestamp', 'make_timestamptz', 'make_interval', 'to_timestamp', 'to_date', 'to_char', 'lower',
  'upper', 'length', 'concat', 'replace', 'abs', 'round', 'jsonb_build_object', 'json_build_object', 'jsonb_build_array',
  'json_build_array', 'array_fill', 'md5', 'btrim', 'left', 'right', 'substr', 'int4', 'int8', 'text',
]);

export type Volatility = { volatile: false } | { volatile: true; fn: string } | { volatile: 'unknown'; fn: string };

/** Whether a DEFAULT expression is volatile, from the built-in functions it calls. */
export function defaultVolatility(expr: Node): Volatility {
  let unknown: string | null = null;
  let found: string | null = null;
  const visit = (n: Node): void => {
    if (found || !n || typeof n !== 'object') return;
    if (Array.isArray(n)) return n.forEach(visit);
    const call = n.FuncCall;
    if (call) {
      const names: string[] = (call.funcname ?? []).map((f: Node) => f.String?.sval);
      const fn = names.at(-1) ?? '?';
      const builtin = names.length === 1 || names[0] === 'pg_catalog';
      if (VOLATILE.has(fn)) found = fn;
      else if (!builtin || !NOT_VOLATILE.has(fn)) unknown ??= names.join('.');
    }
    Object.values(n).forEach(visit);
  };
  visit(expr);
  if (found) return { volatile: true, fn: found };
  return unknown ? { volatile: 'unknown', fn: unknown } : { volatile: false };
}
