import type { Client } from '../db/session.js';
import { ident, literal, qualified, trusted, type SqlText } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import { withQualifiedNames } from '../db/search-path.js';
import { readColumns, type Column, type TableInfo } from '../catalog/table.js';
import { deparseStatement, type AlterStatement } from '../plan/parse.js';
import { UserError } from '../errors.js';
import { placementOf } from '../plan/subcommands.js';
import type { ColumnFlow } from '../plan/columns.js';
import { copyAclStatements } from './acl.js';
import { autovacuumOff, relOptionsList, type ShadowHeap } from './reloptions.js';
import { buildPartitions, partitionIndexNames, partitionIndexStorage, restorePartitionIndexNames, type PartitionIndexName, type PartitionIndexStorage } from './partitions.js';
import { partitionHomes, type PartitionHomes } from '../plan/partition-homes.js';
import { addBoundCheck, inheritedForeignKeys, probeAttach, keysIntoTree } from './leaf.js';
import { createInheritingShadow } from './inherit.js';
import { withProbeChild } from './parent.js';
import { buildTreeShadows } from './tree.js';
import { repeatPartitionColumnSettings, repeatPartitionOwnObjects } from './partition-own.js';
import { splitLeafKeyChanges } from '../plan/leaf-key-changes.js';

/** An index dropped from the shadow after it was built empty, to be rebuilt after the copy. */
export interface DeferredIndex {
  name: string;
  /** CREATE INDEX ... or ALTER TABLE ... ADD CONSTRAINT ..., against the shadow */
  create: string;
  /**
   * The row identity's PRIMARY KEY or UNIQUE constraint put on the index `create` built (ADD
   * CONSTRAINT ... USING INDEX), run once the other builds are done: ALTER TABLE ... ADD PRIMARY
   * KEY takes ACCESS EXCLUSIVE, which would keep every other build waiting; CREATE UNIQUE INDEX
   * takes SHARE, which builds beside them. Absent for every other index (and in what earlier
   * versions stored: their `create` is the ALTER TABLE).
   */
  attach?: string;
  comments: { on: 'INDEX' | 'CONSTRAINT'; text: string }[];
  unique: boolean;
  /** key columns when the index is on plain columns (used to resolve unique conflicts in replay) */
  columns: string[] | null;
  /** the row identity (primary key, or the unique index in its place): built first, before any replay */
  identity?: boolean;
  /** a partitioned index: the names its partitions' indexes had */
  partitionNames?: PartitionIndexName[];
  /** a partitioned index: its partitions' indexes with options or a tablespace of their own */
  partitionStorage?: PartitionIndexStorage[];
  /** an index a partition has of its own: that partition's name (its constraint is on it) and user schema */
  partition?: string;
  partitionSchema?: string;
}

/** A constraint attached at the swap (NOT VALID) and validated afterwards when it was valid. */
export interface DeferredConstraint {
  name: string;
  type: 'f' | 'c';
  def: string;
  validate: boolean;
  comment: string | null;
  /** the referenced table of a foreign key (its OID) */
  referenced: string | null;
  /** a leaf's foreign key cloned from its parent's: added valid in the cutover, for ATTACH (shadow/leaf.ts) */
  inherited?: boolean;
  /**
   * a constraint a partition has of its own, or a descendant of a tree copied with its parent
   * (shadow/tree.ts): that relation's name and user schema (plan/partition-homes.ts)
   */
  partition?: string;
  partitionSchema?: string;
}

export interface ShadowTable {
  oid: string;
  columns: Column[];
  indexes: DeferredIndex[];
  constraints: DeferredConstraint[];
  /** added columns whose default is not volatile -> the one value offline gives every row */
  onceDefaults: Map<string, string | null>;
  /** the heaps filled with autovacuum off, and the settings they get back after the index builds */
  heaps: ShadowHeap[];
}

export interface BuildContext {
  origin: TableInfo;
  flow: ColumnFlow;
  statements: AlterStatement[];
  schema: string;
  /**
   * false: leave the origin's foreign keys off (an estimate's rehearsal: adding one locks the
   * referenced table SHARE ROW EXCLUSIVE until the transaction ends; the copy runs without them anyway)
   */
  foreignKeys?: boolean;
  /** a parent's descendants, copied with it when the change reaches them (shadow/tree.ts) */
  tree?: TableInfo[];
}

/**
 * A table's row identity built as its index alone, then made its constraint (DeferredIndex
 * `attach`): the index as pg_get_indexdef gives it (INCLUDE, WITH, TABLESPACE), the constraint's
 * kind and deferrability from pg_get_constraintdef. Null when the definition says something else.
 */
function usingIndex(table: SqlText, r: { name: string; index_def: string; constraint_name: string; constraint_def: string }): { create: string; attach: string } | null {
  const kind = /^(PRIMARY KEY|UNIQUE) \(/.exec(r.constraint_def)?.[1];
  if (!kind || !/^CREATE UNIQUE INDEX /.test(r.index_def)) return null;
  const timing = / (DEFERRABLE( INITIALLY DEFERRED)?)$/.exec(r.constraint_def)?.[1];
  return {
    create: trusted(r.index_def),
    attach: `ALTER TABLE ${table} ADD CONSTRAINT ${ident(r.constraint_name)} ${kind} USING INDEX ${ident(r.name)}${timing ? ` ${timing}` : ''}`,
  };
}

/**
 * Creates the shadow: LIKE the origin (so defaults, identity, generated columns, checks,
 * indexes, comments and storage come along), with the origin's names restored, everything LIKE
 * leaves out that belongs on the table from the start, then the user's statements applied. The
 * shadow has the origin's name (in its own schema) so names the ALTER generates match offline.
 * Runs inside the caller's transaction; a trial run rolls it back.
 */
export async function buildShadow(c: Client, ctx: BuildContext): Promise<ShadowTable> {
  const { origin } = ctx;
  const shadow = qualified(ctx.schema, origin.name);
  const source = qualified(origin.schema, origin.name);
  const exec = async (sql: string): Promise<void> => {
    await c.query(sql);
  };

  await exec(`CREATE SCHEMA ${ident(ctx.schema)}`);
  // A leaf's identity column is its parent's (PostgreSQL 17+): LIKE would give it a sequence of
  // its own, which ATTACH refuses; attached, the new table takes the parent's again.
  // An inheritance child's shadow inherits stand-ins of its parents (shadow/inherit.ts).
  if (origin.inheritsFrom.length) await createInheritingShadow(c, origin, ctx.schema, shadow);
  else {
    await exec(
      `CREATE ${origin.persistence === 'u' ? 'UNLOGGED ' : ''}TABLE ${shadow} (LIKE ${source} INCLUDING ALL EXCLUDING STATISTICS${origin.partitionOf ? ' EXCLUDING IDENTITY' : ''})` +
        (origin.partitionKey ? ` PARTITION BY ${trusted(origin.partitionKey)}` : '') +
        (origin.tablespace ? ` TABLESPACE ${ident(origin.tablespace)}` : ''),
    );
  }
  const oid = await relationOid(c, shadow);
  const homes = partitionHomes(ctx.schema, origin);
  // LIKE makes a plain table; a typed one is tied to its type again (its columns are the type's,
  // so they match), and PostgreSQL then refuses on the shadow the column changes it refuses offline.
  if (origin.ofType) await exec(`ALTER TABLE ${shadow} OF ${trusted(origin.ofType)}`);
  await restoreIndexNames(c, origin.oid, oid, ctx.schema);
  if (origin.partitionKey) {
    await buildPartitions(c, origin, ctx.schema);
    await repeatPartitionOwnObjects(c, origin, homes, 'kept during the copy');
    await restorePartitionIndexNames(c, origin.oid, oid, homes);
  }
  await restoreWhatLikeMisses(c, origin.oid, oid, shadow);
  if (origin.partitionOf) await addBoundCheck(c, origin.oid, shadow);
  const notValidChecks = await dropNotValidChecks(c, origin.oid, oid, shadow);
  // PostgreSQL evaluates a non-volatile default of an added column once, for every existing
  // row ("missing value"), but only when the table has rows. One sample row makes the shadow's
  // ADD COLUMN behave the same; the copy then gives all rows that one value, as offline.
  const sampled = addsColumnWithDefault(ctx.statements) && (await insertSampleRow(c, origin, shadow));
  for (const chk of notValidChecks) {
    await exec(`ALTER TABLE ${shadow} ADD CONSTRAINT ${ident(chk.name)} ${chk.def}`);
    if (chk.comment !== null) await exec(`COMMENT ON CONSTRAINT ${ident(chk.name)} ON ${shadow} IS ${literal(chk.comment)}`);
  }
  // A key into the leaf's own tree is carried around DETACH and ATTACH, never by the shadow,
  // whose key would lock the tree it references (shadow/leaf.ts).
  const intoTree = origin.partitionOf ? await keysIntoTree(c, origin.oid) : [];
  if (ctx.foreignKeys !== false) await addForeignKeysOut(c, origin.oid, shadow, intoTree);
  if (origin.partitionKey) await repeatPartitionOwnObjects(c, origin, homes, ctx.foreignKeys === false ? 'unvalidated checks' : 'attached at the swap');

  const options = relOptionsList(origin.reloptions).concat(relOptionsList(origin.toastReloptions, 'toast'));
  if (options.length) await exec(`ALTER TABLE ${shadow} SET (${options.join(', ')})`);
  for (const col of origin.columns) {
    if (col.statTarget !== null && col.statTarget >= 0) {
      await exec(`ALTER TABLE ${shadow} ALTER COLUMN ${ident(col.name)} SET STATISTICS ${Number(col.statTarget)}`);
    }
    const colOptions = relOptionsList(col.options);
    if (colOptions.length) await exec(`ALTER TABLE ${shadow} ALTER COLUMN ${ident(col.name)} SET (${colOptions.join(', ')})`);
  }
  if (origin.partitionKey) await repeatPartitionColumnSettings(c, origin.oid, oid, homes);
  await exec(`ALTER TABLE ${shadow} OWNER TO ${ident(origin.owner)}`);
  for (const stmt of await copyAclStatements(c, origin.oid, shadow)) await exec(stmt);
  if (origin.comment !== null) await exec(`COMMENT ON TABLE ${shadow} IS ${literal(origin.comment)}`);

  // What names a key into the leaf's own tree the cutover applies to the old leaf's (plan/leaf-key-changes.ts).
  const apply = async (): Promise<void> => {
    for (const sql of buildStatements(splitLeafKeyChanges(ctx.statements, origin.partitionOf?.ownKeysIntoTree ?? []).shadow, ctx.schema)) await exec(sql);
  };
  // A parent's shadow gets the change with its shadow tree under it (shadow/tree.ts), or, copied
  // alone, with a child in place, as offline (shadow/parent.ts).
  if (ctx.tree?.length) await buildTreeShadows(c, origin, ctx.tree, ctx.schema, ctx.foreignKeys !== false);
  await (origin.hasInheritanceChildren && !ctx.tree?.length ? withProbeChild(c, origin, ctx.schema, shadow, apply) : apply());
  const inherited = origin.partitionOf ? (await inheritedForeignKeys(c, origin.oid)).filter((n) => !intoTree.includes(n)) : [];
  if (origin.partitionOf) await probeAttach(c, origin, ctx.schema, shadow, ctx.foreignKeys === false ? [] : inherited);
  const onceDefaults = sampled ? await onceEvaluatedDefaults(c, oid, shadow, ctx.flow) : new Map<string, string | null>();
  if (sampled) await exec(`TRUNCATE ${shadow}`);
  const heaps = await autovacuumOff(c, oid);

  // Definitions kept for later are read with every name schema-qualified.
  const constraints = (await withQualifiedNames(c, () => detachConstraints(c, oid, homes, shadow)))
    .map((k) => (inherited.includes(k.name) && k.type === 'f' ? { ...k, inherited: true } : k));
  // A tree's descendants' own, each once its parents' are off (a CHECK dropped from a parent goes
  // from the children that only inherit it), listed deepest first before the parent's: the
  // cutover adds them in this order, so that a parent's CHECK merges into a child's own of its
  // name (local, inherited), as offline has it (shadow/tree.ts).
  const treeHomes = partitionHomes(ctx.schema, { schema: origin.schema, partitions: ctx.tree ?? [] });
  const descendants: DeferredConstraint[][] = [];
  for (const t of ctx.tree ?? []) {
    const on = treeHomes.inMigration(t);
    descendants.push(await withQualifiedNames(c, async () => detachConstraints(c, await relationOid(c, on), treeHomes, on, t)));
  }
  constraints.unshift(...descendants.reverse().flat());
  const indexes = await withQualifiedNames(c, () => detachIndexes(c, oid, ctx.schema, homes, shadow, ctx.flow.identityIndex, origin.inheritsFrom.length > 0));
  return { oid, columns: await readColumns(c, oid), indexes, constraints, onceDefaults, heaps };
}

/** The user's statements that apply to the shadow, retargeted at it by editing the parse tree. */
export function buildStatements(statements: AlterStatement[], schema: string): string[] {
  const out: string[] = [];
  for (const stmt of statements) {
    const node = structuredClone(stmt.node);
    if (stmt.kind === 'drop-index') {
      // The shadow's indexes carry the origin's names (restoreIndexNames); in a transaction, not CONCURRENTLY.
      node.objects = stmt.indexes.map((i) => ({ List: { items: [{ String: { sval: schema } }, { String: { sval: i.name } }] } }));
      out.push(deparseStatement({ ...stmt, node: { ...node, concurrent: false } }));
      continue;
    }
    node.relation = { ...node.relation, schemaname: schema };
    if (stmt.kind === 'create-index') {
      out.push(deparseStatement({ ...stmt, node: { ...node, concurrent: false } }));
      continue;
    }
    if (stmt.kind === 'alter') {
      const cmds = node.cmds.filter((c: { AlterTableCmd: unknown }) => placementOf(c.AlterTableCmd) === 'build');
      if (cmds.length === 0) continue;
      node.cmds = cmds;
      out.push(deparseStatement({ kind: 'alter', node, cmds }));
    } else {
      out.push(deparseStatement({ ...stmt, node }));
    }
  }
  return out;
}

/** The user's subcommands that apply to the new table inside the swap transaction. */
export function swapStatements(statements: AlterStatement[], schema: string, table: string): { swap: string[]; validate: string[] } {
  const swap: string[] = [];
  const validate: string[] = [];
  for (const stmt of statements) {
    if (stmt.kind !== 'alter') continue;
    for (const cmd of stmt.cmds) {
      const placement = placementOf(cmd);
      if (placement === 'build') continue;
      if (placement === 'validate') {
        validate.push(cmd.name);
        continue;
      }
      const node = structuredClone(stmt.node);
      node.relation = { ...node.relation, schemaname: schema, relname: table };
      node.cmds = [{ AlterTableCmd: cmd }];
      swap.push(deparseStatement({ kind: 'alter', node, cmds: node.cmds }));
    }
  }
  return { swap, validate };
}

export async function relationOid(c: Client, name: SqlText): Promise<string> {
  return (await c.query<{ oid: string }>('SELECT $1::regclass::oid::int8::text AS oid', [name])).rows[0]!.oid;
}

/** LIKE generates index (and constraint) names; give the shadow's the origin's names back. */
async function restoreIndexNames(c: Client, originOid: string, shadowOid: string, schema: string): Promise<void> {
  const pairs = (await c.query(sqlFile('index-name-pairs.sql'), [originOid, shadowOid])).rows;
  // Two steps, through temporary names, because a generated name may be another index's final name.
  for (const [i, p] of pairs.entries()) {
    await c.query(`ALTER INDEX ${qualified(schema, p.shadow_name)} RENAME TO ${ident(`pgshift_tmp_${i}`)}`);
  }
  for (const [i, p] of pairs.entries()) {
    await c.query(`ALTER INDEX ${qualified(schema, `pgshift_tmp_${i}`)} RENAME TO ${ident(p.origin_name)}`);
  }
}

/**
 * LIKE gives an identity column a new sequence of the column's type, not of the origin
 * sequence's type, and drops the comments of key, unique and exclusion constraints.
 */
export async function restoreWhatLikeMisses(c: Client, originOid: string, shadowOid: string, shadow: SqlText): Promise<void> {
  const identities = await c.query(
    `SELECT pg_get_serial_sequence($2::regclass::text, a.attname) AS seq, format_type(s.seqtypid, NULL) AS type
       FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid
       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_class'::regclass AND d.refobjid = $1::oid AND d.deptype = 'i'`,
    [originOid, shadowOid],
  );
  for (const r of identities.rows) if (r.seq) await c.query(`ALTER SEQUENCE ${trusted(r.seq)} AS ${trusted(r.type)}`);
  const comments = await c.query(
    `SELECT conname AS name, obj_description(oid, 'pg_constraint') AS comment FROM pg_constraint
      WHERE conrelid = $1::oid AND contype IN ('p', 'u', 'x') AND obj_description(oid, 'pg_constraint') IS NOT NULL`,
    [originOid],
  );
  for (const r of comments.rows) await c.query(`COMMENT ON CONSTRAINT ${ident(r.name)} ON ${shadow} IS ${literal(r.comment)}`);
}

/**
 * A CHECK that is NOT VALID on the origin may be violated by old rows: take whatever LIKE made
 * of it off the shadow, to be put back NOT VALID.
 */
async function dropNotValidChecks(c: Client, originOid: string, shadowOid: string, shadow: SqlText): Promise<{ name: string; def: string; comment: string | null }[]> {
  const r = await c.query(
    `SELECT o.conname AS name, pg_get_constraintdef(o.oid) AS def, obj_description(o.oid, 'pg_constraint') AS comment, s.oid IS NOT NULL AS on_shadow
       FROM pg_constraint o LEFT JOIN pg_constraint s ON s.conrelid = $2::oid AND s.conname = o.conname
      WHERE o.conrelid = $1::oid AND o.contype = 'c' AND NOT o.convalidated
        -- one a legacy inheritance child has only from its parents comes with them (shadow/inherit.ts exchangeParents)
        AND (o.conislocal OR NOT EXISTS (SELECT FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = o.conrelid AND p.relkind <> 'p'))`,
    [originOid, shadowOid],
  );
  for (const chk of r.rows) {
    if (chk.on_shadow) await c.query(`ALTER TABLE ${shadow} DROP CONSTRAINT ${ident(chk.name)}`);
  }
  return r.rows;
}

function addsColumnWithDefault(statements: AlterStatement[]): boolean {
  return statements.some(
    (s) =>
      s.kind === 'alter' &&
      s.cmds.some(
        (cmd) =>
          cmd.subtype === 'AT_AddColumn' &&
          (cmd.def.ColumnDef.constraints ?? []).some((k: { Constraint?: { contype: string } }) => k.Constraint?.contype === 'CONSTR_DEFAULT'),
      ),
  );
}

/**
 * For each added column with a non-volatile default, the value the sample row received.
 * Volatility is asked of PostgreSQL itself: ADD COLUMN on a one-row probe table stores a
 * "missing value" exactly when the default is not volatile.
 */
async function onceEvaluatedDefaults(c: Client, oid: string, shadow: SqlText, flow: ColumnFlow): Promise<Map<string, string | null>> {
  const added = [...flow.sources.entries()].filter(([, s]) => s.kind === 'added').map(([name]) => name);
  const defaults = await withQualifiedNames(c, async () =>
    (await c.query(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, pg_get_expr(d.adbin, d.adrelid) AS expr
         FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1::oid AND a.attname = ANY ($2::text[]) AND a.attgenerated = ''`,
      [oid, added],
    )).rows,
  );
  const out = new Map<string, string | null>();
  for (const d of defaults) {
    await c.query('SAVEPOINT pgshift_probe');
    await c.query('CREATE TEMP TABLE pgshift_probe ON COMMIT DROP AS SELECT 1 AS x');
    await c.query(`ALTER TABLE pgshift_probe ADD COLUMN v ${trusted(d.type)} DEFAULT ${trusted(d.expr)}`);
    const probe = await c.query(`SELECT atthasmissing AS m FROM pg_attribute WHERE attrelid = 'pgshift_probe'::regclass AND attname = 'v'`);
    await c.query('ROLLBACK TO SAVEPOINT pgshift_probe');
    if (!probe.rows[0]?.m) continue;
    out.set(d.name, (await c.query(`SELECT ${ident(d.name)}::text AS v FROM ${shadow} LIMIT 1`)).rows[0]?.v ?? null);
  }
  return out;
}

/** Copies one origin row into the (still empty) shadow; false when the origin is empty. */
async function insertSampleRow(c: Client, origin: TableInfo, shadow: SqlText): Promise<boolean> {
  const cols = origin.columns.filter((col) => !col.generated).map((col) => ident(col.name));
  const r = await c.query(
    `INSERT INTO ${shadow} (${cols.join(', ')}) OVERRIDING SYSTEM VALUE SELECT ${cols.join(', ')} FROM ${qualified(origin.schema, origin.name)} LIMIT 1`,
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * The table's foreign keys to others (fks-out.sql; not those in `skip`), on its shadow with their
 * comments: PostgreSQL applies the user's statements to them as offline; taken off again before
 * the copy (detachConstraints).
 */
export async function addForeignKeysOut(c: Client, originOid: string, shadow: SqlText, skip: string[] = []): Promise<void> {
  for (const fk of (await c.query(sqlFile('fks-out.sql'), [originOid])).rows.filter((r) => !skip.includes(r.name))) {
    await c.query(`ALTER TABLE ${shadow} ADD CONSTRAINT ${ident(fk.name)} ${fk.def}`);
    if (fk.comment !== null) await c.query(`COMMENT ON CONSTRAINT ${ident(fk.name)} ON ${shadow} IS ${literal(fk.comment)}`);
  }
}

/** `relation`: a tree's descendant whose shadow `shadow` is (shadow/tree.ts): its constraints named by it, as a partition's are. */
async function detachConstraints(c: Client, oid: string, homes: PartitionHomes, shadow: SqlText, relation?: { schema: string; name: string }): Promise<DeferredConstraint[]> {
  const rows = (await c.query(sqlFile('deferred-constraints.sql'), [oid])).rows;
  for (const r of rows) await c.query(`ALTER TABLE ${r.partition !== null ? qualified(r.partition_schema, r.partition) : shadow} DROP CONSTRAINT ${ident(r.name)}`);
  return rows.map((r) => ({
    name: r.name,
    type: r.type,
    // pg_get_constraintdef already says NOT VALID for an unvalidated constraint.
    def: r.validated ? `${r.def} NOT VALID` : r.def,
    validate: r.validated,
    comment: r.comment,
    referenced: r.referenced,
    ...(r.partition !== null ? { partition: r.partition, partitionSchema: homes.user(r.partition_schema) } : {}),
    ...(relation ? { partition: relation.name, partitionSchema: relation.schema } : {}),
  }));
}

/**
 * Takes every index off the shadow, to be built after the copy (as pg_repack does): the copy
 * then only appends to a heap. The row identity (primary key, or the unique index that is the
 * row identity of a table without one, `identityIndex`) is built first, before the replay, which
 * finds shadow rows by it; the copy writes each key once (disjoint key ranges, each from one
 * snapshot, nothing replayed before the key exists), so its build cannot meet a duplicate unless
 * the change itself maps two keys to one, which fails it before the swap, as offline fails.
 */
async function detachIndexes(c: Client, oid: string, schema: string, homes: PartitionHomes, shadow: SqlText, identityIndex: string | null, inheritanceChild: boolean): Promise<DeferredIndex[]> {
  if (identityIndex !== null) {
    const kept = await c.query(`SELECT FROM pg_index WHERE indexrelid = to_regclass($1) AND indisunique`, [qualified(schema, identityIndex)]);
    if (kept.rowCount === 0) throw new UserError(`refused: the change removes unique index ${identityIndex}, the row identity of the online copy (the table has no primary key)`);
  }
  const rows = (await c.query(sqlFile('deferred-indexes.sql'), [oid, identityIndex])).rows;
  const out: DeferredIndex[] = [];
  for (const r of rows) {
    // An index is in its table's schema: a partition's own, in the migration schema of the partition's.
    const index = qualified(r.partition_schema ?? schema, r.name);
    const partitionNames = await partitionIndexNames(c, index);
    const storage = partitionNames.length ? await partitionIndexStorage(c, index) : [];
    const partitioned = { ...(partitionNames.length ? { partitionNames } : {}), ...(storage.length ? { partitionStorage: storage } : {}) };
    const own = r.partition !== null ? { partition: r.partition as string, partitionSchema: homes.user(r.partition_schema) } : {};
    const table = r.partition !== null ? qualified(r.partition_schema, r.partition) : shadow;
    if (r.constraint_name) {
      await c.query(`ALTER TABLE ${table} DROP CONSTRAINT ${ident(r.constraint_name)}`);
      // Not a legacy inheritance child's: on 18, ADD CONSTRAINT ... USING INDEX makes the NOT NULL
      // constraints its key columns have from its parents its own (conislocal), ADD PRIMARY KEY
      // leaves them inherited (measured on 18.4), and nothing puts them back.
      const split = r.is_identity && r.partition === null && partitionNames.length === 0 && !inheritanceChild ? usingIndex(table, r) : null;
      out.push({
        name: r.name,
        ...(split ?? { create: `ALTER TABLE ${table} ADD CONSTRAINT ${ident(r.constraint_name)} ${r.constraint_def}` }),
        comments: [
          ...(r.constraint_comment !== null ? [{ on: 'CONSTRAINT' as const, text: r.constraint_comment }] : []),
          ...(r.index_comment !== null ? [{ on: 'INDEX' as const, text: r.index_comment }] : []),
        ],
        unique: r.is_unique,
        columns: r.plain_columns ? r.key_columns : null,
        identity: r.is_identity,
        ...partitioned,
        ...own,
      });
    } else {
      await c.query(`DROP INDEX ${index}`);
      out.push({
        name: r.name,
        // pg_get_indexdef says ON ONLY for every partitioned index; one that has indexes on the
        // partitions must cascade to them again when built after the copy (one made ON ONLY and
        // left without them stays so).
        create: trusted(partitionNames.length ? r.index_def.replace(' ON ONLY ', ' ON ') : r.index_def),
        comments: r.index_comment !== null ? [{ on: 'INDEX', text: r.index_comment }] : [],
        unique: r.is_unique,
        columns: r.plain_columns ? r.key_columns : null,
        identity: r.is_identity,
        ...partitioned,
        ...own,
      });
    }
  }
  return out;
}
