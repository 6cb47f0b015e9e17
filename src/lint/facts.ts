import type { AlterStatement, Node } from '../plan/parse.js';
import { notNullProof } from '../strategy/classify.js';
import { binaryCoercion } from '../strategy/coercion.js';
import type { AddedColumnFact, TableFacts, TypeChangeFact } from '../strategy/facts.js';
import type { Relation, TableInfo } from './files-catalog.js';
import { castMethodOf, defaultVolatility, typeRefOf } from './type-names.js';

/**
 * The classifier's facts (strategy/facts.ts) as far as the files tell them, for one statement:
 * no sizes (lint judges what a statement does, not how long it takes on this table), columns and
 * NOT NULL proofs from the files, type changes judged by coercion.ts from the type names (left out
 * when a name is not a built-in type or the old type is unknown: the classifier then assumes a
 * rewrite and lint says "may"), and added columns' defaults judged by their functions.
 */
export function factsFor(stmt: AlterStatement, r: Relation, table: TableInfo | undefined, version: number): TableFacts {
  const columns = [...(table?.columns ?? new Map())].map(([name, c], i) => {
    const ref = typeRefOf(c.type);
    return { name, attnum: i + 1, typeOid: ref?.oid ?? 0, typmod: ref?.typmod ?? -1, type: ref?.name ?? '?', notNull: c.notNull };
  });
  // Before PostgreSQL 12, SET NOT NULL scans the table whatever CHECK constraints prove.
  const proofs = version >= 120000 ? [...(table?.notNullChecks.values() ?? [])].filter((k) => k.validated) : [];
  return {
    serverVersionNum: version,
    table: { oid: '0', schema: r.schema, name: r.name, relkind: 'r', persistence: 'p', tableBytes: 0, indexBytes: 0, estimatedRows: 0 },
    key: null,
    columns,
    constraints: proofs.map((k) => ({ name: `proof_${k.column}`, type: 'c', validated: true, columns: [k.column], definition: notNullProof(k.column) })),
    indexes: [],
    partitions: [],
    usedNames: [],
    // the session that runs the file is unknown: timestamp <-> timestamptz counts as a rewrite
    sessionUtc: false,
    typeChanges: stmt.kind === 'alter' ? typeChanges(stmt.cmds, table) : [],
    addedColumns: stmt.kind === 'alter' ? addedColumns(stmt.cmds, version) : [],
    equivalentIndexes: [],
  };
}

function typeChanges(cmds: Node[], table: TableInfo | undefined): TypeChangeFact[] {
  return cmds.flatMap((cmd, i): TypeChangeFact[] => {
    if (cmd.subtype !== 'AT_AlterColumnType') return [];
    const from = typeRefOf(table?.columns.get(cmd.name)?.type);
    const to = typeRefOf(cmd.def?.ColumnDef?.typeName);
    if (!from || !to) return [];
    const using = cmd.def.ColumnDef.raw_default;
    const bare = using?.ColumnRef?.fields?.length === 1 && using.ColumnRef.fields[0].String?.sval === cmd.name;
    const verdict = binaryCoercion({ from, to, castMethod: castMethodOf(from, to), using: Boolean(using) && !bare, sessionUtc: false });
    return [{
      statement: 0, command: i, column: cmd.name, from, to, binaryCoercible: verdict.binary, rule: verdict.rule,
      rewrites: !verdict.binary, indexesRebuilt: 0, constraintsOnColumn: [],
    }];
  });
}

function addedColumns(cmds: Node[], version: number): AddedColumnFact[] {
  return cmds.flatMap((cmd, i): AddedColumnFact[] => {
    if (cmd.subtype !== 'AT_AddColumn') return [];
    const def = cmd.def.ColumnDef;
    const expr = columnDefault(def);
    const volatility = expr ? defaultVolatility(expr).volatile : false;
    // Before PostgreSQL 11 every default is written into every row; from 11 on only a volatile one is.
    const rewrites = Boolean(expr) && (volatility !== false || version < 110000);
    return [{ statement: 0, command: i, column: def.colname, hasDefault: Boolean(expr), volatile: volatility === true, rewrites }];
  });
}

/** The DEFAULT expression of a column definition, unless it is a bare NULL. */
export function columnDefault(def: Node): Node | null {
  const k = (def?.constraints ?? []).find((c: Node) => c.Constraint?.contype === 'CONSTR_DEFAULT')?.Constraint;
  return k && !k.raw_expr?.A_Const?.isnull ? k.raw_expr : null;
}
