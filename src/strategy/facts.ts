import type { Client } from '../db/session.js';
import { ident, literal, qualified } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import { deparseStatement, type AlterStatement, type Node } from '../plan/parse.js';
import { binaryCoercion, type TypeRef } from './coercion.js';
import { chooseRowIdentity, noRowIdentity, readUniqueIndexes } from '../catalog/row-identity.js';

/**
 * What the classifier needs to know about the table and the server, read before anything runs.
 * Read-only: everything the probe creates lives in a transaction that is rolled back.
 */
export interface TableFacts {
  serverVersionNum: number;
  table: {
    oid: string;
    schema: string;
    name: string;
    /** pg_class.relkind: 'r' table, 'p' partitioned, ... */
    relkind: string;
    /** pg_class.relpersistence: 'p' permanent, 'u' unlogged, 't' temporary */
    persistence: string;
    /** pg_table_size: heap, TOAST, free space and visibility maps (of every partition, for a partitioned table) */
    tableBytes: number;
    /** pg_indexes_size (likewise) */
    indexBytes: number;
    estimatedRows: number;
  };
  /**
   * For a partitioned table, every partition below it (sub-partitions too), each parent before
   * its children, with the constraint names it has; empty otherwise
   */
  partitions: Partition[];
  /** the row identity (the primary key, else a unique index over NOT NULL columns), else null: a table without one cannot be copied online */
  key: { index: string; columns: string[] } | null;
  /** without a key: why none of its unique indexes serves, and the one-line fix (catalog/row-identity.ts) */
  keyless?: { reason: string; fix: string };
  columns: { name: string; attnum: number; typeOid: number; typmod: number; type: string; notNull: boolean }[];
  /** contype: 'c' check, 'f' foreign key, 'p' primary key, 'u' unique, 'x' exclusion, 'n' not null (18+) */
  constraints: { name: string; type: string; validated: boolean; columns: string[]; definition: string }[];
  /** columns: null for an expression */
  indexes: { name: string; unique: boolean; primary: boolean; valid: boolean; columns: (string | null)[]; constraint: string | null; partitioned: boolean }[];
  /**
   * Names of relations and constraints in the table's schema that a name PostgreSQL generates
   * for an index or constraint of this table could collide with (those starting like the table)
   */
  usedNames: string[];
  /** the same in each other schema a partition of the table lives in (names are unique within a schema) */
  usedNamesIn?: Record<string, string[]>;
  /** the session's TimeZone is UTC: timestamp <-> timestamptz keeps its bytes (PostgreSQL 12+) */
  sessionUtc: boolean;
  typeChanges: TypeChangeFact[];
  addedColumns: AddedColumnFact[];
  /**
   * For each CREATE INDEX on a partitioned table (by statement), the partitions (by OID) that
   * already have an index PostgreSQL would attach instead of building one, and its name
   */
  equivalentIndexes: { statement: number; partitionOid: string; index: string }[];
}

export interface Partition {
  oid: string;
  schema: string;
  name: string;
  /** itself partitioned (a sub-partitioned level), else a leaf that holds rows */
  partitioned: boolean;
  /** a foreign table (its rows on another server; the tree then has no unique index) */
  foreign: boolean;
  parentOid: string;
  constraintNames: string[];
}

/** Where a subcommand is: statement index and subcommand index within it. */
export interface At {
  statement: number;
  command: number;
}

export interface TypeChangeFact extends At {
  column: string;
  from: TypeRef;
  /** null when the probe could not apply the statements (then the change counts as a rewrite) */
  to: TypeRef | null;
  /** by the rules of coercion.ts */
  binaryCoercible: boolean;
  rule: string;
  /** measured: the probe table's relfilenode changed (null when not probed) */
  rewrites: boolean | null;
  /** measured: indexes of the probe table that were rebuilt rather than kept */
  indexesRebuilt: number | null;
  /** CHECK and FOREIGN KEY constraints on the column, which PostgreSQL re-adds (and re-checks) */
  constraintsOnColumn: string[];
}

export interface AddedColumnFact extends At {
  column: string;
  /** a DEFAULT clause that is not a bare NULL */
  hasDefault: boolean;
  /** PostgreSQL stored no once-evaluated value (atthasmissing) for a default it has: volatile */
  volatile: boolean | null;
  /** measured: the probe table's relfilenode changed */
  rewrites: boolean | null;
}

// Zones with a fixed zero offset, which TimestampTimestampTzRequiresRewrite accepts (pg_get_timezone_offset).
const UTC_ZONES = new Set(['utc', 'etc/utc', 'gmt', 'etc/gmt', 'universal', 'etc/universal', 'zulu', 'etc/zulu', 'uct', 'etc/uct', 'greenwich', 'etc/greenwich', 'gmt0', 'etc/gmt0', 'gmt+0', 'gmt-0', 'etc/gmt+0', 'etc/gmt-0']);

const PROBE = 'pgshift_strategy_probe';
const PROBE_REG = `${literal(`pg_temp.${PROBE}`)}::regclass`;

/**
 * Reads the facts. Runs its own transaction (BEGIN ... ROLLBACK): call it outside one. The probe
 * is a temporary copy of the table's columns and indexes (LIKE ... INCLUDING INDEXES, empty, so
 * nothing of the user's is locked beyond ACCESS SHARE for the LIKE), on which the statements'
 * ADD COLUMN, ALTER COLUMN TYPE, DROP COLUMN and RENAME COLUMN run one by one: PostgreSQL itself
 * then says which of them rewrite (a new relfilenode) and which defaults it could not evaluate
 * once (volatile: no attmissingval, as src/shadow/build.ts onceEvaluatedDefaults also asks).
 */
export async function readFacts(c: Client, tableOid: string, statements: AlterStatement[], opts: { inTransaction?: boolean } = {}): Promise<TableFacts> {
  // Inside the caller's transaction (a migration file's segment, which sees its own earlier
  // statements), the probe lives in a savepoint rolled back instead.
  await c.query(opts.inTransaction ? 'SAVEPOINT pgshift_facts' : 'BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    const base = await readCatalog(c, tableOid);
    const probed = await probe(c, base, statements);
    return { ...base, ...probed, equivalentIndexes: await equivalentIndexes(c, base, statements) };
  } finally {
    await c.query(opts.inTransaction ? 'ROLLBACK TO SAVEPOINT pgshift_facts' : 'ROLLBACK');
    if (opts.inTransaction) await c.query('RELEASE SAVEPOINT pgshift_facts');
  }
}

type CatalogFacts = Omit<TableFacts, 'typeChanges' | 'addedColumns' | 'equivalentIndexes'>;

async function readCatalog(c: Client, oid: string): Promise<CatalogFacts> {
  const t = (await c.query(
    `SELECT current_setting('server_version_num')::int AS version, current_setting('TimeZone') AS tz,
            n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind, c.relpersistence::text AS persistence,
            s.table_bytes, s.index_bytes, s.rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       -- A partitioned table holds nothing itself: its size and rows are its partitions'.
       CROSS JOIN LATERAL (
         SELECT sum(pg_table_size(r.oid))::float8 AS table_bytes, sum(pg_indexes_size(r.oid))::float8 AS index_bytes,
                sum(greatest(r.reltuples, 0))::float8 AS rows
           FROM pg_class r
          WHERE r.oid = c.oid OR (c.relkind = 'p' AND r.oid IN (SELECT relid FROM pg_partition_tree(c.oid)))) s
      WHERE c.oid = $1::oid`,
    [oid],
  )).rows[0];
  if (!t) throw new Error(`table ${oid} vanished`);
  const partitions: Partition[] = t.relkind !== 'p' ? [] : (await c.query(
    `SELECT p.relid::oid::text AS oid, n.nspname AS schema, r.relname AS name, r.relkind = 'p' AS partitioned, r.relkind = 'f' AS foreign, p.parentrelid::oid::text AS parent_oid,
            array(SELECT conname::text FROM pg_constraint WHERE conrelid = p.relid ORDER BY 1) AS constraint_names
       FROM pg_partition_tree($1::oid) p JOIN pg_class r ON r.oid = p.relid JOIN pg_namespace n ON n.oid = r.relnamespace
      WHERE p.level > 0 ORDER BY p.level, n.nspname, r.relname`,
    [oid],
  )).rows.map((r) => ({ oid: r.oid, schema: r.schema, name: r.name, partitioned: r.partitioned, foreign: r.foreign, parentOid: r.parent_oid, constraintNames: r.constraint_names }));
  const columns = (await c.query(
    `SELECT attname AS name, attnum, atttypid::int AS type_oid, atttypmod AS typmod, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null
       FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [oid],
  )).rows;
  const constraints = (await c.query(
    `SELECT con.conname AS name, con.contype::text AS type, con.convalidated AS validated, pg_get_constraintdef(con.oid) AS definition,
            coalesce(array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o), '{}') AS columns
       FROM pg_constraint con WHERE con.conrelid = $1::oid ORDER BY con.conname`,
    [oid],
  )).rows;
  const indexes = (await c.query(
    `SELECT ic.relname AS name, i.indisunique AS unique, i.indisprimary AS primary, i.indisvalid AS valid,
            array(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
                    LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) AS columns,
            (SELECT conname FROM pg_constraint WHERE conindid = i.indexrelid AND conrelid = i.indrelid LIMIT 1) AS constraint,
            ic.relkind = 'I' AS partitioned
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::oid ORDER BY ic.relname`,
    [oid],
  )).rows;
  // A generated name starts with the table's name (or a partition's, for the indexes built on
  // each), cut to no less than its first 16 characters.
  const owners = [{ schema: t.schema, name: t.name }, ...partitions];
  const used = (await c.query<{ schema: string; name: string }>(
    `SELECT o.n AS schema, relname::text AS name FROM pg_class c, unnest($1::text[], $2::text[], $3::text[]) o(s, t, n)
      WHERE relnamespace = o.s::regnamespace AND starts_with(relname, left(o.t, 16))
     UNION SELECT o.n, conname::text FROM pg_constraint, unnest($1::text[], $2::text[], $3::text[]) o(s, t, n)
      WHERE connamespace = o.s::regnamespace AND starts_with(conname, left(o.t, 16))`,
    [owners.map((o) => ident(o.schema)), owners.map((o) => o.name), owners.map((o) => o.schema)],
  )).rows;
  const usedNames = used.filter((r) => r.schema === t.schema).map((r) => r.name);
  const usedNamesIn: Record<string, string[]> = {};
  for (const r of used) if (r.schema !== t.schema) (usedNamesIn[r.schema] ??= []).push(r.name);
  const uniqueIndexes = await readUniqueIndexes(c, oid);
  const identity = chooseRowIdentity(uniqueIndexes);
  return {
    serverVersionNum: t.version,
    table: {
      oid,
      schema: t.schema,
      name: t.name,
      relkind: t.relkind,
      persistence: t.persistence,
      tableBytes: Number(t.table_bytes),
      indexBytes: Number(t.index_bytes),
      // reltuples is -1 for a table never vacuumed or analyzed (PostgreSQL 14+)
      estimatedRows: Math.max(0, Number(t.rows)),
    },
    key: identity ? { index: identity.name, columns: identity.columns.map((k) => k.name) } : null,
    ...(identity ? {} : { keyless: noRowIdentity(t.schema, t.name, uniqueIndexes, partitions.find((p) => p.foreign)) }),
    columns: columns.map((a) => ({ name: a.name, attnum: a.attnum, typeOid: a.type_oid, typmod: a.typmod, type: a.type, notNull: a.not_null })),
    constraints: constraints.map((k) => ({ name: k.name, type: k.type, validated: k.validated, columns: k.columns, definition: k.definition })),
    indexes: indexes.map((i) => ({ name: i.name, unique: i.unique, primary: i.primary, valid: i.valid, columns: i.columns, constraint: i.constraint, partitioned: i.partitioned })),
    partitions,
    usedNames,
    usedNamesIn,
    sessionUtc: UTC_ZONES.has(String(t.tz).toLowerCase()),
  };
}

const PROBED = new Set(['AT_AddColumn', 'AT_AlterColumnType', 'AT_DropColumn']);

async function probe(c: Client, base: CatalogFacts, statements: AlterStatement[]): Promise<Pick<TableFacts, 'typeChanges' | 'addedColumns'>> {
  const typeChanges: TypeChangeFact[] = [];
  const addedColumns: AddedColumnFact[] = [];
  await c.query(`CREATE TEMP TABLE ${ident(PROBE)} (LIKE ${qualified(base.table.schema, base.table.name)} INCLUDING INDEXES) ON COMMIT DROP`);
  // After a step the probe could not apply, later steps may depend on it: stop measuring.
  let working = true;
  const apply = async (stmt: AlterStatement): Promise<{ rewrote: boolean; rebuilt: number } | null> => {
    if (!working) return null;
    const before = await filenodes(c);
    await c.query('SAVEPOINT pgshift_strategy_step');
    try {
      await c.query(deparseStatement(stmt));
      await c.query('RELEASE SAVEPOINT pgshift_strategy_step');
    } catch {
      await c.query('ROLLBACK TO SAVEPOINT pgshift_strategy_step');
      working = false;
      return null;
    }
    const after = await filenodes(c);
    const rebuilt = [...before.indexes].filter(([name, node]) => after.indexes.has(name) && after.indexes.get(name) !== node).length;
    return { rewrote: before.table !== after.table, rebuilt };
  };

  for (const [s, stmt] of statements.entries()) {
    if (stmt.kind === 'rename-column') {
      await apply({ ...stmt, node: { ...structuredClone(stmt.node), relation: probeRelation() } });
      continue;
    }
    if (stmt.kind !== 'alter') continue;
    for (const [i, cmd] of stmt.cmds.entries()) {
      if (!PROBED.has(cmd.subtype)) continue;
      const one = structuredClone(cmd);
      if (one.subtype === 'AT_AddColumn') {
        // A temporary table may not reference a permanent one: foreign keys stay out of the probe.
        const def = one.def.ColumnDef;
        def.constraints = (def.constraints ?? []).filter((k: Node) => k.Constraint?.contype !== 'CONSTR_FOREIGN');
      }
      const node = { ...structuredClone(stmt.node), relation: probeRelation(), cmds: [{ AlterTableCmd: one }] };
      const fromRow = cmd.subtype === 'AT_AlterColumnType' && working ? await attribute(c, cmd.name) : null;
      const measured = await apply({ kind: 'alter', node, cmds: [one] });
      if (cmd.subtype === 'AT_AddColumn') {
        const def = cmd.def.ColumnDef;
        const hasDefault = (def.constraints ?? []).some((k: Node) => k.Constraint?.contype === 'CONSTR_DEFAULT' && !isNullConst(k.Constraint.raw_expr));
        const a = measured ? (await c.query(
          `SELECT a.atthasmissing AS missing, a.attgenerated::text AS generated, d.oid IS NOT NULL AS has_default
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = ${PROBE_REG} AND a.attname = $1`,
          [def.colname],
        )).rows[0] : undefined;
        addedColumns.push({
          statement: s,
          command: i,
          column: def.colname,
          hasDefault,
          volatile: a ? a.has_default && !a.missing && a.generated === '' : null,
          rewrites: measured ? measured.rewrote : null,
        });
      } else if (cmd.subtype === 'AT_AlterColumnType') {
        const origin = base.columns.find((col) => col.name === cmd.name);
        const fromAttr = fromRow ?? (origin ? { type_oid: origin.typeOid, typmod: origin.typmod } : null);
        if (!fromAttr) continue; // a column that does not exist: offline fails, so does the probe
        const toRow = measured ? await attribute(c, cmd.name) : null;
        const from = await typeRef(c, fromAttr.type_oid, fromAttr.typmod);
        const to = toRow ? await typeRef(c, toRow.type_oid, toRow.typmod) : null;
        const usingNode = cmd.def?.ColumnDef?.raw_default;
        const using = Boolean(usingNode) && !isBareColumn(usingNode, cmd.name);
        const verdict = to
          ? binaryCoercion({ from, to, castMethod: await castMethod(c, from, to), using, sessionUtc: base.sessionUtc })
          : { binary: false, rule: 'the target type could not be resolved by the probe' };
        typeChanges.push({
          statement: s,
          command: i,
          column: cmd.name,
          from,
          to,
          binaryCoercible: verdict.binary,
          rule: verdict.rule,
          rewrites: measured ? measured.rewrote : null,
          indexesRebuilt: measured ? measured.rebuilt : null,
          constraintsOnColumn: base.constraints.filter((k) => (k.type === 'c' || k.type === 'f') && k.columns.includes(cmd.name)).map((k) => k.name),
        });
      }
    }
  }
  return { typeChanges, addedColumns };
}

const INDEX_PROBE = 'pgshift_index_probe';

/**
 * Offline, CREATE INDEX on a partitioned table attaches a partition's index that is equal to
 * the new one (and has no parent index yet) instead of building another: the new index is built
 * on an empty temporary table LIKE the partitioned table, where PostgreSQL resolves its
 * definition, and compared with each partition's as CompareIndexInfo compares them.
 */
async function equivalentIndexes(c: Client, base: CatalogFacts, statements: AlterStatement[]): Promise<TableFacts['equivalentIndexes']> {
  const out: TableFacts['equivalentIndexes'] = [];
  if (base.table.relkind !== 'p' || base.partitions.length === 0) return out;
  for (const [s, stmt] of statements.entries()) {
    if (stmt.kind !== 'create-index' || stmt.node.relation?.inh !== true) continue;
    await c.query('SAVEPOINT pgshift_index_probe');
    try {
      await c.query(`CREATE TEMP TABLE ${ident(INDEX_PROBE)} (LIKE ${qualified(base.table.schema, base.table.name)}) ON COMMIT DROP`);
      const relation = { schemaname: 'pg_temp', relname: INDEX_PROBE, inh: true, relpersistence: 't' };
      await c.query(deparseStatement({ ...stmt, node: { ...structuredClone(stmt.node), idxname: `${INDEX_PROBE}_i`, concurrent: false, relation } }));
      const r = await c.query(sqlFile('equivalent-partition-indexes.sql'), [`pg_temp.${INDEX_PROBE}_i`, base.partitions.map((p) => p.oid)]);
      for (const row of r.rows) out.push({ statement: s, partitionOid: row.partition_oid, index: row.index });
    } catch {
      // An index the probe cannot build (on a column an earlier statement adds): none is equal to it.
    } finally {
      await c.query('ROLLBACK TO SAVEPOINT pgshift_index_probe');
      await c.query('RELEASE SAVEPOINT pgshift_index_probe');
    }
  }
  return out;
}

function probeRelation(): Node {
  return { schemaname: 'pg_temp', relname: PROBE, inh: true, relpersistence: 't' };
}

async function filenodes(c: Client): Promise<{ table: string; indexes: Map<string, string> }> {
  const r = await c.query(
    `SELECT pg_relation_filenode(${PROBE_REG})::text AS t,
            array(SELECT ic.relname || '=' || pg_relation_filenode(ic.oid) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                   WHERE i.indrelid = ${PROBE_REG}) AS i`,
  );
  const row = r.rows[0];
  return { table: row.t, indexes: new Map((row.i as string[]).map((e) => [e.slice(0, e.lastIndexOf('=')), e.slice(e.lastIndexOf('=') + 1)])) };
}

async function attribute(c: Client, name: string): Promise<{ type_oid: number; typmod: number } | null> {
  const r = await c.query(
    `SELECT atttypid::int AS type_oid, atttypmod AS typmod FROM pg_attribute
      WHERE attrelid = ${PROBE_REG} AND attname = $1 AND NOT attisdropped`,
    [name],
  );
  return r.rows[0] ?? null;
}

async function typeRef(c: Client, oid: number, typmod: number): Promise<TypeRef> {
  const t = (await c.query(
    `SELECT format_type($1::oid, $2::int) AS name, t.typtype = 'd' AS is_domain, t.typbasetype::int AS base, t.typtypmod AS base_mod,
            (t.typnotnull OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contypid = t.oid)) AS constrained
       FROM pg_type t WHERE t.oid = $1::oid`,
    [oid, typmod],
  )).rows[0];
  return {
    oid,
    typmod,
    name: t.name,
    domainBase: t.is_domain ? { oid: t.base, typmod: t.base_mod } : null,
    domainConstrained: t.is_domain && t.constrained,
  };
}

async function castMethod(c: Client, from: TypeRef, to: TypeRef): Promise<string | null> {
  const source = from.domainBase?.oid ?? from.oid;
  const target = to.domainBase?.oid ?? to.oid;
  if (source === target) return 'b';
  const r = await c.query(`SELECT castmethod::text AS m FROM pg_cast WHERE castsource = $1::oid AND casttarget = $2::oid`, [source, target]);
  return r.rows[0]?.m ?? null;
}

function isNullConst(expr: Node): boolean {
  return Boolean(expr?.A_Const?.isnull);
}

function isBareColumn(expr: Node, column: string): boolean {
  const fields: Node[] = expr?.ColumnRef?.fields ?? [];
  return fields.length === 1 && fields[0]?.String?.sval === column;
}
