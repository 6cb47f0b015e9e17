// Random ALTER TABLE changes for a generated table (table-model.ts): 1-3 operations, each
// naming its column or constraint by a number resolved against the table as the operations
// before it left it, so that every shrunk list still reads as a meaningful change. Changes that
// PostgreSQL itself rejects (a narrowing that overflows, a unique constraint over duplicates,
// SET NOT NULL over NULLs) are generated on purpose: pgshift must then fail cleanly.
import fc from 'fast-check';
import {
  anyTypeArb,
  checkSql,
  defaultSql,
  generatedSql,
  identifierArb,
  q,
  typeSql,
  uniqueIdent,
  type BuiltTable,
  type ColumnType,
  type DefaultKind,
} from './table-model.js';

export type AlterOp =
  | {
      op: 'addColumn';
      name: string;
      type: ColumnType;
      notNull: boolean;
      default: DefaultKind | null;
      /** name an existing column instead (an error, or a no-op with IF NOT EXISTS) */
      existing: number | null;
      ifNotExists: boolean;
      /** a column constraint written with the column */
      inline: 'unique' | 'check' | null;
      /** GENERATED ALWAYS AS (an expression over this existing column) STORED */
      generatedFrom: number | null;
      separate: boolean;
    }
  | { op: 'dropColumn'; column: number; ifExists: boolean; missing: boolean; separate: boolean }
  | { op: 'alterType'; column: number; target: number; other: number; separate: boolean }
  | { op: 'setDefault'; column: number; default: DefaultKind; separate: boolean }
  | { op: 'dropDefault'; column: number; separate: boolean }
  | { op: 'setNotNull'; column: number; separate: boolean }
  | { op: 'dropNotNull'; column: number; separate: boolean }
  | { op: 'addCheck'; column: number; strict: boolean; name: string | null; notValid: boolean; separate: boolean }
  | { op: 'addUnique'; columns: [number] | [number, number]; name: string | null; separate: boolean }
  | { op: 'dropConstraint'; constraint: number; ifExists: boolean; separate: boolean }
  | { op: 'renameColumn'; column: number; name: string }
  | { op: 'renameConstraint'; constraint: number; name: string };

const defaultKindArb = fc.constantFrom<DefaultKind>('const', 'expr', 'now', 'volatile');
const separate = fc.boolean();
/** true one time in eight, shrinking to false */
const rare = fc.integer({ min: 0, max: 7 }).map((n) => n === 7);
/** null `oneIn - 1` times in `oneIn`, shrinking to null */
const sometimes = <T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

const opArb: fc.Arbitrary<AlterOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('addColumn' as const),
      name: identifierArb,
      type: anyTypeArb,
      notNull: fc.boolean(),
      default: fc.option(defaultKindArb, { freq: 4 }),
      existing: sometimes(fc.nat(), 8),
      ifNotExists: fc.boolean(),
      inline: sometimes(fc.constantFrom('unique' as const, 'check' as const), 4),
      generatedFrom: sometimes(fc.nat(), 6),
      separate,
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('dropColumn' as const), column: fc.nat(), ifExists: fc.boolean(), missing: rare, separate }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('alterType' as const), column: fc.nat(), target: fc.nat(), other: fc.nat(), separate }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('setDefault' as const), column: fc.nat(), default: defaultKindArb, separate }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dropDefault' as const), column: fc.nat(), separate }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('setNotNull' as const), column: fc.nat(), separate }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dropNotNull' as const), column: fc.nat(), separate }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('addCheck' as const), column: fc.nat(), strict: fc.boolean(), name: fc.option(identifierArb), notValid: fc.boolean(), separate }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('addUnique' as const), columns: fc.oneof(fc.tuple(fc.nat()), fc.tuple(fc.nat(), fc.nat())), name: fc.option(identifierArb), separate }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dropConstraint' as const), constraint: fc.nat(), ifExists: fc.boolean(), separate }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('renameColumn' as const), column: fc.nat(), name: identifierArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('renameConstraint' as const), constraint: fc.nat(), name: identifierArb }) },
);

export const alterArb: fc.Arbitrary<AlterOp[]> = fc.array(opArb, { minLength: 1, maxLength: 3 });

interface TypeChange {
  type: ColumnType;
  /** the USING expression over the column and another one */
  using?: (column: string, other: string) => string;
}

/** Type changes for a column of type `t`: widening, narrowing, to text and back, with USING. */
export function typeChanges(t: ColumnType): TypeChange[] {
  return [...ownTypeChanges(t), { type: { kind: 'text' }, using: (c, o) => `${c}::text || '/' || coalesce(${o}::text, '-')` }];
}

function ownTypeChanges(t: ColumnType): TypeChange[] {
  const numeric = (precision: number, scale: number): ColumnType => ({ kind: 'numeric', precision, scale });
  const varchar = (length: number): ColumnType => ({ kind: 'varchar', length });
  const text: ColumnType = { kind: 'text' };
  const int: ColumnType = { kind: 'int' };
  const bigint: ColumnType = { kind: 'bigint' };
  switch (t.kind) {
    case 'smallint':
      return [{ type: int }, { type: bigint }, { type: numeric(8, 2) }, { type: text }, { type: int, using: (c) => `${c} + 1` }];
    case 'int':
      return [
        { type: bigint },
        { type: { kind: 'smallint' } },
        { type: numeric(12, 2) },
        { type: text },
        { type: bigint, using: (c) => `${c} * 2` },
        { type: { kind: 'boolean' }, using: (c) => `${c} % 2 = 0` },
      ];
    case 'bigint':
      return [{ type: numeric(20, 0) }, { type: int }, { type: text }, { type: int, using: (c) => `(${c} % 1000)::int` }];
    case 'numeric':
      return [
        { type: numeric(t.precision + 2, t.scale) },
        { type: numeric(Math.max(1, t.precision - 2), Math.max(0, t.scale - 1)) },
        { type: int },
        { type: text },
        { type: bigint, using: (c) => `round(${c})::bigint` },
      ];
    case 'text':
      return [
        { type: varchar(12) },
        { type: { kind: 'varchar', length: 0 } },
        { type: int, using: (c) => `${c}::int` },
        { type: { kind: 'jsonb' }, using: (c) => `to_jsonb(${c})` },
        { type: text, using: (c) => `upper(${c})` },
      ];
    case 'varchar':
      return [
        { type: text },
        { type: varchar(t.length + 10) },
        { type: varchar(Math.max(1, t.length - 8)) },
        { type: int, using: (c) => `${c}::int` },
      ];
    case 'boolean':
      return [{ type: int, using: (c) => `${c}::int` }, { type: text }];
    case 'date':
      return [{ type: { kind: 'timestamptz' } }, { type: text }, { type: int, using: (c) => `${c} - date '2020-01-01'` }];
    case 'timestamptz':
      return [{ type: { kind: 'date' } }, { type: text }, { type: bigint, using: (c) => `extract(epoch FROM ${c})::bigint` }];
    case 'jsonb':
      return [{ type: text }, { type: int, using: (c) => `(${c} ->> 'k')::int` }];
    case 'uuid':
      return [{ type: text }, { type: varchar(36) }, { type: varchar(8), using: (c) => `left(${c}::text, 8)` }];
  }
}

// varchar with length 0 stands for varchar without a length (typeSql would print varchar(0)).
function alterTypeSql(t: ColumnType): string {
  return t.kind === 'varchar' && t.length === 0 ? 'varchar' : typeSql(t);
}

interface SimColumn {
  name: string;
  type: ColumnType;
  /** holds values that differ between two runs (an added column with a now() or volatile default) */
  nondeterministic: boolean;
  /** added by an earlier operation of this ALTER */
  added?: boolean;
  /** converted, or made NOT NULL, by an earlier operation of this ALTER */
  converted?: boolean;
  madeNotNull?: boolean;
}

export interface RenderedAlter {
  /** the ALTER TABLE statements, one per line, separated by semicolons */
  sql: string;
  /** columns (final names) compared for nullness only */
  nullnessOnly: string[];
}

/**
 * Renders the operations as ALTER TABLE statements. Consecutive operations share one statement
 * unless an operation asks for its own (`separate`) or is a RENAME, which is always alone.
 */
export function renderAlter(table: BuiltTable, ops: AlterOp[]): RenderedAlter {
  const columns: SimColumn[] = table.columns.map((c) => ({ name: c.name, type: c.type, nondeterministic: false }));
  const constraints = [...table.constraintNames];
  // constraints this ALTER added (a later statement dropping one is refused: plan/undone-checks.ts)
  const addedConstraints = new Set<string>();
  const usedNames = new Set(table.usedNames);
  const statements: string[] = [];
  let clauses: string[] = [];
  const prefix = `ALTER TABLE ${q(table.name)}`;
  const flush = (): void => {
    if (clauses.length > 0) statements.push(`${prefix} ${clauses.join(', ')}`);
    clauses = [];
  };
  const column = (n: number): SimColumn => columns[n % columns.length]!;
  // A CHECK or UNIQUE over random values could pass on one side and fail on the other.
  const deterministic = (n: number): SimColumn => {
    const list = columns.filter((c) => !c.nondeterministic);
    return list.length === 0 ? column(n) : list[n % list.length]!;
  };
  const constraint = (n: number): string => (constraints.length === 0 ? 'no_such_constraint' : constraints[n % constraints.length]!);

  for (const op of ops) {
    if (op.op === 'renameColumn' || op.op === 'renameConstraint') {
      flush();
      if (op.op === 'renameColumn') {
        const c = column(op.column);
        const to = uniqueIdent(op.name, new Set(columns.map((x) => x.name)));
        statements.push(`${prefix} RENAME COLUMN ${q(c.name)} TO ${q(to)}`);
        c.name = to;
      } else {
        const from = constraint(op.constraint);
        const to = uniqueIdent(op.name, usedNames);
        statements.push(`${prefix} RENAME CONSTRAINT ${q(from)} TO ${q(to)}`);
        const at = constraints.indexOf(from);
        if (at >= 0) constraints[at] = to;
        if (addedConstraints.has(from)) addedConstraints.add(to);
      }
      continue;
    }
    if (op.separate) flush();
    switch (op.op) {
      case 'addColumn': {
        const clash = op.existing === null ? undefined : column(op.existing);
        const name = clash?.name ?? uniqueIdent(op.name, new Set(columns.map((x) => x.name)));
        const generated = op.generatedFrom === null ? null : deterministic(op.generatedFrom);
        const g = generated ? generatedSql(generated.name, generated.type) : null;
        const type = g?.type ?? op.type;
        const body = g ? ` GENERATED ALWAYS AS (${g.expr}) STORED` : op.default ? ` DEFAULT ${defaultSql(op.type, op.default)}` : '';
        const nondeterministic = !generated && (op.default === 'now' || op.default === 'volatile');
        // UNIQUE over random values could pass on one side and fail on the other
        const inline =
          op.inline === 'unique' && !nondeterministic ? ' UNIQUE' : op.inline === 'check' ? ` CHECK (${checkSql(name, type, false)})` : '';
        clauses.push(
          `ADD COLUMN ${op.ifNotExists ? 'IF NOT EXISTS ' : ''}${q(name)} ${typeSql(type)}${op.notNull ? ' NOT NULL' : ''}${body}${inline}`,
        );
        if (!clash) columns.push({ name, type, nondeterministic, added: true });
        break;
      }
      case 'dropColumn': {
        // A later statement that drops a column an earlier one added was found by this test: offline the
        // first statement checks the rows, the empty shadow never does. pgshift refuses it now
        // (src/plan/undone-checks.ts), so the generator makes it again.
        const origin = columns; // every column: taking back an earlier statement's check is refused (plan/undone-checks.ts)
        const c = op.missing || origin.length === 0 ? undefined : origin[op.column % origin.length];
        clauses.push(`DROP COLUMN ${op.ifExists ? 'IF EXISTS ' : ''}${q(c?.name ?? 'no_such_column')}`);
        if (c && columns.length > 1) columns.splice(columns.indexOf(c), 1);
        break;
      }
      case 'alterType': {
        // A second conversion of one column in a later statement is refused (see dropColumn).
        const fresh = columns; // a second conversion is refused when the first was in an earlier statement
        const c = fresh.length === 0 ? column(op.column) : fresh[op.column % fresh.length]!;
        c.converted = true;
        const changes = typeChanges(c.type);
        const change = changes[op.target % changes.length]!;
        const other = column(op.other);
        const using = change.using ? ` USING ${change.using(q(c.name), q(other.name))}` : '';
        if (change.using && other.nondeterministic) c.nondeterministic = true;
        clauses.push(`ALTER COLUMN ${q(c.name)} TYPE ${alterTypeSql(change.type)}${using}`);
        c.type = change.type.kind === 'varchar' && change.type.length === 0 ? { kind: 'text' } : change.type;
        break;
      }
      case 'setDefault': {
        const c = column(op.column);
        clauses.push(`ALTER COLUMN ${q(c.name)} SET DEFAULT ${defaultSql(c.type, op.default)}`);
        break;
      }
      case 'dropDefault':
        clauses.push(`ALTER COLUMN ${q(column(op.column).name)} DROP DEFAULT`);
        break;
      case 'setNotNull': {
        const c = column(op.column);
        c.madeNotNull = true;
        clauses.push(`ALTER COLUMN ${q(c.name)} SET NOT NULL`);
        break;
      }
      case 'dropNotNull': {
        // SET NOT NULL then DROP NOT NULL in a later statement is refused (see dropColumn).
        const kept = columns; // SET NOT NULL then DROP NOT NULL across statements is refused
        clauses.push(`ALTER COLUMN ${q((kept.length === 0 ? column(op.column) : kept[op.column % kept.length]!).name)} DROP NOT NULL`);
        break;
      }
      case 'addCheck': {
        const c = deterministic(op.column);
        const name = op.name === null ? null : uniqueIdent(op.name, usedNames);
        if (name !== null) {
          constraints.push(name);
          addedConstraints.add(name);
        }
        clauses.push(
          `ADD ${name === null ? '' : `CONSTRAINT ${q(name)} `}CHECK (${checkSql(c.name, c.type, op.strict)})${op.notValid ? ' NOT VALID' : ''}`,
        );
        break;
      }
      case 'addUnique': {
        const cols = [...new Set(op.columns.map((n) => deterministic(n).name))];
        const name = op.name === null ? null : uniqueIdent(op.name, usedNames);
        if (name !== null) {
          constraints.push(name);
          addedConstraints.add(name);
        }
        clauses.push(`ADD ${name === null ? '' : `CONSTRAINT ${q(name)} `}UNIQUE (${cols.map(q).join(', ')})`);
        break;
      }
      case 'dropConstraint': {
        const origin = constraints; // dropping a constraint an earlier statement added is refused
        const name = origin.length === 0 ? 'no_such_constraint' : origin[op.constraint % origin.length]!;
        clauses.push(`DROP CONSTRAINT ${op.ifExists ? 'IF EXISTS ' : ''}${q(name)}`);
        const at = constraints.indexOf(name);
        if (at >= 0) constraints.splice(at, 1);
        break;
      }
    }
  }
  flush();
  return {
    sql: statements.join(';\n'),
    nullnessOnly: columns.filter((c) => c.nondeterministic).map((c) => c.name),
  };
}
