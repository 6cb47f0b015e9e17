// A random table for the property-based differential test: plain data that fast-check generates
// and shrinks (columns, key, constraints, indexes, rows' parameters), and the SQL that builds it.
// Everything that refers to another part of the model does so by a number taken modulo the
// candidates at render time, so that shrinking one part never makes another part dangle.
import fc from 'fast-check';
import pg from 'pg';

export type ColumnType =
  | { kind: 'smallint' | 'int' | 'bigint' | 'text' | 'boolean' | 'date' | 'timestamptz' | 'jsonb' | 'uuid' }
  | { kind: 'numeric'; precision: number; scale: number }
  | { kind: 'varchar'; length: number };

/** A default: a constant, an immutable expression, now()-like (stable) or volatile. */
export type DefaultKind = 'const' | 'expr' | 'now' | 'volatile';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  notNull: boolean;
  default: DefaultKind | null;
  /** every row's value differs (unique constraints and the key may use the column) or repeats */
  distinct: boolean;
  /** row i holds (i * mul + add), modulo `mod` when not distinct */
  mul: number;
  add: number;
  mod: number;
  /** bigint values are multiplied by 1000003 (so that narrowing to int overflows) */
  wide: boolean;
  /** row i is NULL when i % nullEvery = 0 (0: never); ignored for NOT NULL columns */
  nullEvery: number;
  /** text values: digits only (castable to int), a word, or quotes, spaces and accents */
  textStyle: 'digits' | 'word' | 'odd';
  /** GENERATED ALWAYS AS (this) STORED: no value is inserted */
  generated?: string;
}

export interface CheckSpec {
  column: number;
  name: string | null;
}

export interface UniqueSpec {
  /** the first column is taken among the distinct ones (so the data is unique), the second among all */
  columns: [number] | [number, number];
  name: string | null;
  /** CREATE UNIQUE INDEX rather than a UNIQUE constraint */
  asIndex: boolean;
}

export interface IndexSpec {
  kind: 'plain' | 'multi' | 'partial' | 'expression';
  columns: [number, number];
  name: string | null;
}

export interface TableSpec {
  name: string;
  key: ColumnSpec[];
  /** where each key column goes among the others */
  keyPositions: number[];
  others: ColumnSpec[];
  keyName: string | null;
  checks: CheckSpec[];
  uniques: UniqueSpec[];
  indexes: IndexSpec[];
  /** stored generated columns, each over one other column, added last */
  generated: { name: string; column: number }[];
  rows: number;
}

// ---------------------------------------------------------------------------------------------
// Identifiers: plain first (fast-check shrinks a constantFrom towards its first value), then
// mixed case, spaces, quotes, unicode, reserved words and full 63-byte names. No dots (the
// digest helpers split qualified names on them) and nothing starting with "pgshift".

export const MAX_IDENT_BYTES = 63;

const LONG_NAMES = ['l'.repeat(63), 'é'.repeat(31) + 'x', 'Long Name '.repeat(6) + 'abc', '名'.repeat(21)];

export const identifierArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'c', 'val', 'qty', 'note', 'code', 'price', 'created', 'x1') },
  { weight: 1, arbitrary: fc.constantFrom('MixedCase', 'camelCase', 'UPPER') },
  { weight: 1, arbitrary: fc.constantFrom('with space', ' lead', 'trail ') },
  { weight: 1, arbitrary: fc.constantFrom('dq"uote', "sq'uote", `both"'`) },
  { weight: 1, arbitrary: fc.constantFrom('café', 'naïve', '名前', 'größe', 'emoji 🐘', 'Ünïcödé') },
  { weight: 1, arbitrary: fc.constantFrom('select', 'order', 'user', 'from', 'table', 'check', 'default') },
  { weight: 1, arbitrary: fc.constantFrom(...LONG_NAMES) },
);

export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** `name`, or a variant of it with a numeric suffix (cut to fit 63 bytes) that is not in `used`. */
export function uniqueIdent(name: string, used: Set<string>): string {
  let candidate = name;
  for (let n = 2; used.has(candidate); n++) {
    const suffix = `_${n}`;
    let base = [...name];
    while (byteLength(base.join('') + suffix) > MAX_IDENT_BYTES) base = base.slice(0, -1);
    candidate = base.join('') + suffix;
  }
  used.add(candidate);
  return candidate;
}

export const q = (name: string): string => pg.escapeIdentifier(name);

// ---------------------------------------------------------------------------------------------
// Types, values and defaults.

const KEY_TYPES = ['smallint', 'int', 'bigint', 'numeric', 'text', 'varchar', 'date', 'timestamptz', 'uuid'] as const;
const ALL_TYPES = [...KEY_TYPES, 'boolean', 'jsonb'] as const;

function typeArb(kinds: readonly (typeof ALL_TYPES)[number][]): fc.Arbitrary<ColumnType> {
  return fc.constantFrom(...kinds).chain((kind): fc.Arbitrary<ColumnType> => {
    if (kind === 'numeric') {
      // precision >= 5: every generated value (below 30,400 / 10^scale) fits
      return fc
        .record({ precision: fc.integer({ min: 5, max: 14 }), scale: fc.integer({ min: 0, max: 4 }) })
        .map(({ precision, scale }) => ({ kind, precision, scale: Math.min(scale, precision - 1) }));
    }
    // length >= 11: the longest generated text value is 10 characters
    if (kind === 'varchar') return fc.integer({ min: 11, max: 40 }).map((length) => ({ kind, length }));
    return fc.constant({ kind });
  });
}

export const anyTypeArb = typeArb(ALL_TYPES);

export function typeSql(t: ColumnType): string {
  switch (t.kind) {
    case 'numeric':
      return `numeric(${t.precision}, ${t.scale})`;
    case 'varchar':
      return `varchar(${t.length})`;
    default:
      return t.kind;
  }
}

function columnArb(types: readonly (typeof ALL_TYPES)[number][], key: boolean): fc.Arbitrary<ColumnSpec> {
  return fc
    .record({
      name: identifierArb,
      type: typeArb(types),
      notNull: key ? fc.constant(true) : fc.boolean(),
      default: fc.option(fc.constantFrom<DefaultKind>('const', 'expr', 'now', 'volatile'), { freq: 3 }),
      distinct: key ? fc.constant(true) : fc.boolean(),
      mul: fc.integer({ min: 1, max: 97 }),
      add: fc.integer({ min: 0, max: 999 }),
      mod: fc.integer({ min: 2, max: 20 }),
      wide: fc.boolean(),
      nullEvery: fc.oneof(fc.constant(0), fc.integer({ min: 2, max: 10 })),
      textStyle: fc.constantFrom('digits' as const, 'word' as const, 'odd' as const),
    })
    // two values only: a boolean never holds distinct values
    .map((c) => (c.type.kind === 'boolean' ? { ...c, distinct: false } : c));
}

/** The value of row `i` (an SQL expression over the integer column i). */
export function valueSql(c: ColumnSpec): string {
  const n = c.distinct ? `(i * ${c.mul} + ${c.add})` : `((i * ${c.mul} + ${c.add}) % ${c.mod})`;
  const value = ((): string => {
    switch (c.type.kind) {
      case 'smallint':
      case 'int':
        return n;
      case 'bigint':
        return c.wide ? `${n}::bigint * 1000003` : `${n}::bigint`;
      case 'numeric':
        return `round(${n}::numeric / ${10 ** c.type.scale}, ${c.type.scale})`;
      case 'text':
      case 'varchar':
        return c.textStyle === 'digits' ? `${n}::text` : c.textStyle === 'word' ? `'w' || ${n}` : `'é''"ü ' || ${n}`;
      case 'boolean':
        return `${n} % 2 = 0`;
      case 'date':
        return `date '2020-01-01' + ${n}`;
      case 'timestamptz':
        return `timestamptz '2020-01-01 00:00:00+00' + ${n} * interval '1 hour 1 second'`;
      case 'jsonb':
        return `jsonb_build_object('k', ${n}, 's', 'x' || ${n})`;
      case 'uuid':
        return `md5('u' || ${n})::uuid`;
    }
  })();
  return !c.notNull && c.nullEvery > 0 ? `CASE WHEN i % ${c.nullEvery} = 0 THEN NULL ELSE ${value} END` : `(${value})`;
}

/** A default of the given kind for a column of type `t`. */
export function defaultSql(t: ColumnType, kind: DefaultKind): string {
  const table: Record<ColumnType['kind'], Record<DefaultKind, string>> = {
    smallint: { const: '7', expr: '(2 + 3) * 7', now: `extract(doy FROM now())::smallint`, volatile: '(random() * 100)::smallint' },
    int: { const: '42', expr: '(2 + 3) * 7', now: `extract(doy FROM now())::int`, volatile: '(random() * 1000)::int' },
    bigint: { const: '-1', expr: '2::bigint ^ 40', now: `extract(epoch FROM now())::bigint`, volatile: '(random() * 1e9)::bigint' },
    numeric: { const: '1.5', expr: 'round(10 / 3.0, 2)', now: `extract(doy FROM now())`, volatile: 'round(random()::numeric, 2)' },
    text: { const: `'dflt'`, expr: `lower('ÀB') || 'c'`, now: `now()::text`, volatile: `md5(random()::text)` },
    varchar: { const: `'dflt'`, expr: `lower('ÀB') || 'c'`, now: `to_char(now(), 'YYYY-MM-DD')`, volatile: `left(md5(random()::text), 8)` },
    boolean: { const: 'true', expr: '1 < 2', now: `now() > '2000-01-01'`, volatile: 'random() < 0.5' },
    date: { const: `'2024-02-29'`, expr: `date '2024-01-01' + 10`, now: 'CURRENT_DATE', volatile: 'CURRENT_DATE + (random() * 10)::int' },
    timestamptz: {
      const: `'2024-01-01 12:00:00+00'`,
      expr: `timestamptz '2024-01-01 00:00:00+00' + interval '1 day'`,
      now: 'now()',
      volatile: 'clock_timestamp()',
    },
    jsonb: { const: `'{"a": 1}'`, expr: `jsonb_build_object('k', 1 + 1)`, now: 'to_jsonb(now())', volatile: `jsonb_build_object('r', random())` },
    uuid: {
      const: `'00000000-0000-0000-0000-000000000001'`,
      expr: `md5('x')::uuid`,
      now: 'md5(now()::text)::uuid',
      volatile: 'gen_random_uuid()',
    },
  };
  return table[t.kind][kind];
}

/** A CHECK that the generated rows satisfy (strict: false) or that many of them violate (true). */
export function checkSql(name: string, t: ColumnType, strict: boolean): string {
  const c = q(name);
  switch (t.kind) {
    case 'smallint':
    case 'int':
    case 'bigint':
    case 'numeric':
      return strict ? `${c} < 50` : `${c} >= 0`;
    case 'text':
    case 'varchar':
      return strict ? `${c} LIKE 'w%'` : `length(${c}) < 100`;
    case 'boolean':
      return strict ? c : `${c} IS NOT NULL OR ${c} IS NULL`;
    case 'date':
      return strict ? `${c} < '2020-02-01'` : `${c} > '1999-12-31'`;
    case 'timestamptz':
      return strict ? `${c} < '2020-01-03'` : `${c} > '1999-12-31'`;
    case 'jsonb':
      return strict ? `${c} ? 'missing'` : `jsonb_typeof(${c}) = 'object'`;
    case 'uuid':
      return strict ? `${c}::text LIKE 'a%'` : `${c} IS DISTINCT FROM '00000000-0000-0000-0000-000000000000'`;
  }
}

/** An immutable expression over the column, for a stored generated column, and its type. */
export function generatedSql(name: string, t: ColumnType): { type: ColumnType; expr: string } {
  const c = q(name);
  switch (t.kind) {
    case 'smallint':
    case 'int':
    case 'bigint':
    case 'numeric':
      return { type: { kind: 'numeric', precision: 20, scale: 4 }, expr: `${c} * 2` };
    case 'text':
    case 'varchar':
      return { type: { kind: 'text' }, expr: `upper(${c})` };
    case 'boolean':
      return { type: { kind: 'boolean' }, expr: `NOT ${c}` };
    case 'date':
      return { type: { kind: 'int' }, expr: `${c} - date '2020-01-01'` };
    case 'timestamptz':
      return { type: { kind: 'date' }, expr: `(${c} AT TIME ZONE 'UTC')::date` };
    case 'jsonb':
      return { type: { kind: 'text' }, expr: `${c} ->> 'k'` };
    case 'uuid':
      return { type: { kind: 'text' }, expr: `${c}::text` };
  }
}

/** An expression over the column that can be indexed (immutable) for each type. */
function indexExpressionSql(name: string, t: ColumnType): string {
  const c = q(name);
  switch (t.kind) {
    case 'text':
    case 'varchar':
      return `lower(${c})`;
    case 'smallint':
    case 'int':
    case 'bigint':
    case 'numeric':
      return `(${c} + 1)`;
    case 'boolean':
      return `(NOT ${c})`;
    case 'date':
      return `(${c} + 1)`;
    case 'timestamptz':
      return `(${c} AT TIME ZONE 'UTC')`;
    case 'jsonb':
      return `(${c} ->> 'k')`;
    case 'uuid':
      return `(${c}::text)`;
  }
}

// ---------------------------------------------------------------------------------------------
// The table.

export const tableArb: fc.Arbitrary<TableSpec> = fc
  .record({
    name: identifierArb,
    key: fc.array(columnArb(KEY_TYPES, true), { minLength: 1, maxLength: 2 }),
    keyPositions: fc.array(fc.nat(), { minLength: 2, maxLength: 2 }),
    others: fc.array(columnArb(ALL_TYPES, false), { minLength: 4, maxLength: 8 }),
    keyName: fc.option(identifierArb),
    checks: fc.array(fc.record({ column: fc.nat(), name: fc.option(identifierArb) }), { maxLength: 2 }),
    uniques: fc.array(
      fc.record({
        columns: fc.oneof(fc.tuple(fc.nat()), fc.tuple(fc.nat(), fc.nat())),
        name: fc.option(identifierArb),
        asIndex: fc.boolean(),
      }),
      { maxLength: 2 },
    ),
    indexes: fc.array(
      fc.record({
        kind: fc.constantFrom('plain' as const, 'multi' as const, 'partial' as const, 'expression' as const),
        columns: fc.tuple(fc.nat(), fc.nat()),
        name: fc.option(identifierArb),
      }),
      { maxLength: 3 },
    ),
    generated: fc.array(fc.record({ name: identifierArb, column: fc.nat() }), { maxLength: 1 }),
    rows: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: fc.integer({ min: 1, max: 300 }) }),
  })
  // 5-10 columns in all
  .map((t) => ({ ...t, others: t.others.slice(0, 10 - t.key.length - t.generated.length) }));

/** The table as built: names made unique, key columns in place, references resolved. */
export interface BuiltTable {
  name: string;
  columns: ColumnSpec[];
  key: ColumnSpec[];
  /** constraint names a later ALTER may name (only those given explicitly) */
  constraintNames: string[];
  /** every name in the schema's relation namespace and every constraint name */
  usedNames: Set<string>;
  sql: string;
}

export function buildTable(t: TableSpec): BuiltTable {
  const pick = <T>(list: T[], n: number): T => list[n % list.length]!;
  const used = new Set<string>();
  const columnNames = new Set<string>();
  const name = uniqueIdent(t.name, used);
  const named = (c: ColumnSpec): ColumnSpec => ({ ...c, name: uniqueIdent(c.name, columnNames) });
  const columns = t.others.map(named);
  const key = t.key.map(named);
  key.forEach((k, n) => columns.splice((t.keyPositions[n] ?? 0) % (columns.length + 1), 0, k));
  const stored = [...columns];
  for (const g of t.generated) {
    const source = pick(stored, g.column);
    const { type, expr } = generatedSql(source.name, source.type);
    columns.push({ ...source, name: uniqueIdent(g.name, columnNames), type, notNull: false, default: null, distinct: false, generated: expr });
  }
  const distinct = columns.filter((c) => c.distinct);

  const constraintNames: string[] = [];
  const constraintName = (n: string | null): string => {
    if (n === null) return '';
    const unique = uniqueIdent(n, used);
    constraintNames.push(unique);
    return `CONSTRAINT ${q(unique)} `;
  };

  const defs = columns.map((c) =>
    c.generated !== undefined
      ? `${q(c.name)} ${typeSql(c.type)} GENERATED ALWAYS AS (${c.generated}) STORED`
      : `${q(c.name)} ${typeSql(c.type)}${c.notNull ? ' NOT NULL' : ''}${c.default ? ` DEFAULT ${defaultSql(c.type, c.default)}` : ''}`,
  );
  defs.push(`${constraintName(t.keyName)}PRIMARY KEY (${key.map((k) => q(k.name)).join(', ')})`);
  for (const chk of t.checks) {
    const c = pick(columns, chk.column);
    defs.push(`${constraintName(chk.name)}CHECK (${checkSql(c.name, c.type, false)})`);
  }
  const after: string[] = [];
  for (const u of t.uniques) {
    const cols = [pick(distinct, u.columns[0]).name];
    if (u.columns[1] !== undefined) cols.push(pick(columns, u.columns[1]).name);
    const list = [...new Set(cols)].map(q).join(', ');
    if (u.asIndex) {
      const idx = u.name === null ? '' : `${q(uniqueIdent(u.name, used))} `;
      after.push(`CREATE UNIQUE INDEX ${idx}ON ${q(name)} (${list});`);
    } else {
      defs.push(`${constraintName(u.name)}UNIQUE (${list})`);
    }
  }
  for (const ix of t.indexes) {
    const [a, b] = [pick(columns, ix.columns[0]), pick(columns, ix.columns[1])];
    const idx = ix.name === null ? '' : `${q(uniqueIdent(ix.name, used))} `;
    const body =
      ix.kind === 'plain'
        ? `(${q(a.name)})`
        : ix.kind === 'multi'
          ? `(${[...new Set([a.name, b.name])].map(q).join(', ')})`
          : ix.kind === 'partial'
            ? `(${q(a.name)}) WHERE ${q(b.name)} IS NOT NULL`
            : `(${indexExpressionSql(a.name, a.type)})`;
    after.push(`CREATE INDEX ${idx}ON ${q(name)} ${body};`);
  }
  const sql = [
    `CREATE TABLE ${q(name)} (\n  ${defs.join(',\n  ')}\n);`,
    ...after,
    `INSERT INTO ${q(name)} (${stored.map((c) => q(c.name)).join(', ')})\n  SELECT ${stored.map(valueSql).join(',\n         ')}\n    FROM generate_series(1, ${t.rows}) AS g(i);`,
  ].join('\n');
  return { name, columns, key, constraintNames, usedNames: used, sql };
}
