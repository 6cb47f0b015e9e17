import type { Client } from '../db/session.js';
import { ident, literal, qualified, trusted, type SqlText } from '../db/quote.js';
import { withQualifiedNames } from '../db/search-path.js';
import { UserError } from '../errors.js';
import type { TableInfo } from '../catalog/table.js';
import { parseAlter } from '../plan/parse.js';
import { buildStatements } from './build.js';

/**
 * A legacy inheritance child (a table with INHERITS parents and no children of its own) is
 * copied into a shadow that inherits a stand-in per real parent, never the real parent itself:
 * a shadow under the real parent would show its rows in the parent's queries twice during the
 * copy. A stand-in is an empty table in the migration's schema, LIKE its parent (columns, types,
 * collations, defaults, generated expressions, storage, and the inheritable CHECK and NOT NULL
 * constraints), never written.
 *
 * The shadow must carry the child's catalog exactly: a column it has only from its parents is
 * attislocal = false (a later ALTER TABLE parent DROP COLUMN drops it from the child too), one
 * it declares too is attislocal = true with attinhcount >= 1, and likewise conislocal /
 * coninhcount for CHECK constraints. Only CREATE TABLE ... INHERITS makes a column or a
 * constraint inherited and not local (ALTER TABLE ... INHERIT leaves what the table declared
 * local; only ATTACH PARTITION clears attislocal): the shadow is created INHERITS the stand-ins,
 * declaring only the child's local columns. In the cutover (exchangeParents) the new table
 * INHERITs the real parents (inhcount 2) and NO INHERITs the stand-ins (back to 1: attislocal
 * stays false), and the old table the other way round, so that a revert gives it back exactly.
 *
 * CREATE TABLE ... INHERITS puts the inherited columns first; a child whose own columns come
 * before a column its parent got later (ALTER TABLE parent ADD COLUMN after the child was made)
 * is rebuilt as it grew: what CREATE can place first, then the rest column by column in attnum
 * order (tailColumns): one of its own by ALTER TABLE shadow ADD COLUMN, one from a parent by ADD
 * COLUMN on the parent's stand-in (which recurses and appends it inherited only), one both by
 * the shadow's first and the stand-in's after (which merges: local, inherited once more).
 */

/** The stand-in of the n-th parent (1-based, INHERITS order) in the migration's schema (`of`: a tree's descendant's, shadow/tree.ts). */
export function standInName(n: number, of = ''): string {
  return `pgshift_parent_${of}${n}`;
}

/**
 * A stand-in of `parent`: an empty table LIKE it (columns, types, collations, defaults, generated
 * expressions, storage, compression, its CHECK and NOT NULL constraints), which a table may
 * INHERIT in the parent's place: what it has from the parent it then has from the stand-in too.
 */
export function createStandInSql(standIn: SqlText, parent: SqlText): string {
  return `CREATE TABLE ${standIn} (LIKE ${parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION)`;
}

/** A stand-in of `parent` (createStandInSql) without the parent's NOT VALID checks, which LIKE would have made valid. */
export async function createStandIn(c: Client, standIn: SqlText, parent: SqlText): Promise<void> {
  await c.query(createStandInSql(standIn, parent));
  for (const k of await notValidChecks(c, parent, standIn)) if (k.there) await c.query(`ALTER TABLE ${standIn} DROP CONSTRAINT ${ident(k.name)}`);
}

/**
 * Creates the shadow of an inheritance child in `schema` (named like the origin): the stand-ins,
 * the child's own columns through a scratch table LIKE the origin less its inherited-only
 * columns (defaults, identity, generated expressions, storage, compression, comments come along),
 * then the inherited-only columns' own settings, the child's own CHECK constraints, and its
 * indexes under their names.
 */
export async function createInheritingShadow(c: Client, origin: TableInfo, schema: string, shadow: SqlText, standIns: string = ''): Promise<void> {
  // Expressions (defaults, checks, index definitions) are read and written schema-qualified.
  await withQualifiedNames(c, () => createQualified(c, origin, schema, shadow, standIns));
}

async function createQualified(c: Client, origin: TableInfo, schema: string, shadow: SqlText, of: string): Promise<void> {
  const name = `${origin.schema}.${origin.name}`;
  const exec = async (sql: string): Promise<void> => {
    await c.query(sql);
  };
  const standIns: SqlText[] = [];
  for (const [i, p] of origin.inheritsFrom.entries()) {
    const standIn = qualified(schema, standInName(i + 1, of));
    // The parent's NOT VALID checks stay off the stand-in, and so off the shadow, while it is
    // filled (old rows may break them); they go on the stand-in in the cutover (exchangeParents).
    await createStandIn(c, standIn, qualified(p.schema, p.name));
    standIns.push(standIn);
  }
  const cols = await columnsOf(c, origin.oid);
  // Columns past the order CREATE TABLE ... INHERITS gives (parents' columns first, then the
  // child's own) come after it, one by one in attnum order (tailColumns).
  const parentColumns = await Promise.all(origin.inheritsFrom.map((p) => columnsOf(c, p.oid)));
  const placed = tailColumns(cols, parentColumns.map((p) => p.map((x) => x.name)));
  // A generated column of the child's own over a column it has only from a parent cannot be in
  // the scratch table below (its column is not): it and what follows are added after too.
  const onInherited = await generatedOverInherited(c, origin.oid);
  const first = cols.findIndex((x) => onInherited.includes(x.name));
  const tail = first >= 0 && first < cols.length - placed.length ? cols.slice(first) : placed;
  const late = new Set(tail.map((x) => x.name));
  for (const [i, standIn] of standIns.entries()) {
    for (const col of parentColumns[i]!) if (late.has(col.name)) await exec(`ALTER TABLE ${standIn} DROP COLUMN ${ident(col.name)}`);
  }
  const scratch = qualified(schema, 'pgshift_own_columns');
  const features = 'INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS';
  await exec(`CREATE TABLE ${scratch} (LIKE ${qualified(origin.schema, origin.name)} ${features})`);
  // Generated columns first, then the rest from the end: what depends on a column goes before it.
  const dropped = cols.filter((x) => !x.local || late.has(x.name)).reverse().sort((a, b) => Number(b.generated === 's') - Number(a.generated === 's'));
  for (const col of dropped) await exec(`ALTER TABLE ${scratch} DROP COLUMN ${ident(col.name)}`);
  await exec(
    `CREATE ${origin.persistence === 'u' ? 'UNLOGGED ' : ''}TABLE ${shadow} (LIKE ${scratch} ${features}) INHERITS (${standIns.join(', ')})` +
      (origin.tablespace ? ` TABLESPACE ${ident(origin.tablespace)}` : ''),
  );
  await exec(`DROP TABLE ${scratch}`);
  for (const col of tail) {
    // A column of its own goes on the shadow first, so that a parent's of the same name merges
    // into it (local, inherited once more); one from a parent goes on that parent's stand-in,
    // which appends it to the shadow as inherited only.
    if (col.local) {
      await exec(`ALTER TABLE ${shadow} ADD COLUMN ${columnDefinition(col)}`);
      if (col.identity !== '') await exec(`ALTER TABLE ${shadow} ALTER COLUMN ${ident(col.name)} ${await identityDefinition(c, origin.oid, col)}`);
    }
    for (const [i, standIn] of standIns.entries()) {
      const from = parentColumns[i]!.find((x) => x.name === col.name);
      if (from) await exec(`ALTER TABLE ${standIn} ADD COLUMN ${columnDefinition(from)}`);
    }
  }
  // The parents' inheritable checks on a column the stand-in lost above, back once it has them all.
  for (const [i, p] of origin.inheritsFrom.entries()) {
    const lost = (await c.query<{ name: string; def: string }>(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint k
        WHERE conrelid = $1::oid AND contype = 'c' AND NOT connoinherit AND convalidated
          AND NOT EXISTS (SELECT FROM pg_constraint s WHERE s.conrelid = $2::regclass AND s.conname = k.conname) ORDER BY oid`,
      [p.oid, standIns[i]],
    )).rows;
    for (const k of lost) await exec(`ALTER TABLE ${standIns[i]} ADD CONSTRAINT ${ident(k.name)} ${trusted(k.def)}`);
  }

  const made = await columnsOf(c, shadow);
  const order = (rows: { name: string; local: boolean; inherited: number }[]): string => rows.map((r) => `${r.name}:${r.local}:${r.inherited}`).join(',');
  if (order(made) !== order(cols)) {
    throw new UserError(
      `refused: ${name} is an inheritance child whose columns the copy did not rebuild in their order with the same local and inherited flags (${cols.map((x) => x.name).join(', ')})`,
    );
  }
  // What the child changed on a column it has only from its parents.
  for (const [i, col] of cols.entries()) {
    if (col.local && !late.has(col.name)) continue;
    const now = made[i]!;
    const column = `${shadow} ALTER COLUMN ${ident(col.name)}`;
    if (col.def !== now.def) await exec(col.def === null ? `ALTER TABLE ${column} DROP DEFAULT` : `ALTER TABLE ${column} SET DEFAULT ${trusted(col.def)}`);
    if (col.not_null && !now.not_null) await exec(`ALTER TABLE ${column} SET NOT NULL`);
    if (col.storage !== now.storage) await exec(`ALTER TABLE ${column} SET STORAGE ${trusted(STORAGE[col.storage] ?? 'EXTENDED')}`);
    if (col.compression !== now.compression) await exec(`ALTER TABLE ${column} SET COMPRESSION ${trusted(col.compression === '' ? 'default' : COMPRESSION[col.compression] ?? 'default')}`);
    if (col.comment !== null) await exec(`COMMENT ON COLUMN ${shadow}.${ident(col.name)} IS ${literal(col.comment)}`);
  }
  {
    // The child's own CHECK constraints (one it also inherits is merged and stays local); NOT
    // VALID ones too (NOT VALID: the shadow is empty), so that a parent's of the same name merges
    // into them as offline; taken off while the shadow is filled and put back NOT VALID in the
    // cutover, as for any table (shadow/build.ts).
    const checks = (await c.query<{ name: string; def: string; comment: string | null }>(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS def, obj_description(oid, 'pg_constraint') AS comment FROM pg_constraint
        WHERE conrelid = $1::oid AND contype = 'c' AND conislocal ORDER BY oid`,
      [origin.oid],
    )).rows;
    for (const k of checks) {
      await exec(`ALTER TABLE ${shadow} ADD CONSTRAINT ${ident(k.name)} ${trusted(k.def)}`);
      if (k.comment !== null) await exec(`COMMENT ON CONSTRAINT ${ident(k.name)} ON ${shadow} IS ${literal(k.comment)}`);
    }
    // Indexes are never inherited: the child's own, under their names, constraints as constraints.
    const indexes = (await c.query<{ index: string; def: string; con: string | null; con_def: string | null; comment: string | null; con_comment: string | null }>(
      `SELECT ic.relname AS index, pg_get_indexdef(i.indexrelid) AS def, con.conname AS con, pg_get_constraintdef(con.oid) AS con_def,
              obj_description(i.indexrelid, 'pg_class') AS comment, obj_description(con.oid, 'pg_constraint') AS con_comment
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
        WHERE i.indrelid = $1::oid ORDER BY i.indexrelid`,
      [origin.oid],
    )).rows;
    for (const x of indexes) {
      if (x.con !== null) {
        await exec(`ALTER TABLE ${shadow} ADD CONSTRAINT ${ident(x.con)} ${trusted(x.con_def!)}`);
        if (x.con_comment !== null) await exec(`COMMENT ON CONSTRAINT ${ident(x.con)} ON ${shadow} IS ${literal(x.con_comment)}`);
      } else {
        for (const sql of buildStatements((await parseAlter(x.def)).statements, schema)) await exec(sql);
      }
      if (x.comment !== null) await exec(`COMMENT ON INDEX ${qualified(schema, x.index)} IS ${literal(x.comment)}`);
    }
  }
}

/** A column as pg_attribute has it, with what rebuilding it on the shadow or a stand-in needs. */
interface ColumnState {
  name: string;
  local: boolean;
  inherited: number;
  type: string;
  collation: string | null;
  def: string | null;
  generated: string;
  identity: string;
  not_null: boolean;
  /** PostgreSQL 18+: the name of its NOT NULL constraint (null before 18, or without one) */
  not_null_name: string | null;
  storage: string;
  compression: string;
  comment: string | null;
}

/** A relation's columns in attnum order (expressions as the caller's search_path prints them). */
async function columnsOf(c: Client, relation: string): Promise<ColumnState[]> {
  return (await c.query<ColumnState>(
    `SELECT a.attname AS name, a.attislocal AS local, a.attinhcount AS inherited, format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
            pg_get_expr(d.adbin, d.adrelid) AS def, a.attgenerated::text AS generated, a.attidentity::text AS identity,
            a.attnotnull AS not_null, (SELECT k.conname FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype = 'n' AND k.conkey = ARRAY[a.attnum]) AS not_null_name,
            a.attstorage::text AS storage, a.attcompression::text AS compression, col_description(a.attrelid, a.attnum) AS comment
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [relation],
  )).rows;
}

/** The child's own generated columns whose expression reads a column it has only from its parents. */
async function generatedOverInherited(c: Client, oid: string): Promise<string[]> {
  const r = await c.query<{ name: string }>(
    // The expression's dependencies are the default's (17) or the column's own (14): either.
    `SELECT DISTINCT a.attname AS name FROM pg_attrdef d
       JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
       JOIN pg_depend dep ON dep.refclassid = 'pg_class'::regclass AND dep.refobjid = d.adrelid AND dep.refobjsubid > 0
                         AND ((dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid)
                           OR (dep.classid = 'pg_class'::regclass AND dep.objid = d.adrelid AND dep.objsubid = d.adnum))
       JOIN pg_attribute r ON r.attrelid = d.adrelid AND r.attnum = dep.refobjsubid AND r.attnum <> d.adnum
      WHERE d.adrelid = $1::oid AND a.attgenerated <> '' AND a.attislocal AND NOT r.attislocal`,
    [oid],
  );
  return r.rows.map((row) => row.name);
}

/**
 * The columns CREATE TABLE ... INHERITS cannot place, given the parents' columns (names in
 * attnum order, INHERITS order): CREATE puts the parents' columns first, in that order, merged
 * by name, and the child's own after. The longest start of the child's columns that CREATE
 * gives when given only those is built by it; the rest (a column a parent got after the child
 * was made, and whatever came later) is added afterwards, in attnum order. Empty for a child in
 * CREATE's order.
 */
export function tailColumns<T extends { name: string; inherited: number }>(cols: T[], parents: string[][]): T[] {
  for (let k = cols.length; k > 0; k--) {
    const start = cols.slice(0, k);
    const names = new Set(start.map((x) => x.name));
    const created = [...new Set(parents.flat().filter((n) => names.has(n))), ...start.filter((x) => x.inherited === 0).map((x) => x.name)];
    if (created.join('\0') === start.map((x) => x.name).join('\0')) return cols.slice(k);
  }
  return cols;
}

/** ALTER COLUMN's ADD GENERATED ... AS IDENTITY of an identity column, with its sequence's options (not AS, which it refuses: the sequence's type follows in build.ts restoreWhatLikeMisses). */
async function identityDefinition(c: Client, originOid: string, col: ColumnState): Promise<string> {
  const q = (await c.query<{ inc: string; min: string; max: string; start: string; cache: string; cycle: boolean }>(
    `SELECT s.seqincrement::text AS inc, s.seqmin::text AS min, s.seqmax::text AS max,
            s.seqstart::text AS start, s.seqcache::text AS cache, s.seqcycle AS cycle
       FROM pg_sequence s WHERE s.seqrelid = pg_get_serial_sequence($1::oid::regclass::text, $2)::regclass`,
    [originOid, col.name],
  )).rows[0]!;
  const n = (v: string): string => trusted(String(BigInt(v)));
  return `ADD GENERATED ${col.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY (INCREMENT BY ${n(q.inc)} MINVALUE ${n(q.min)} MAXVALUE ${n(q.max)} START WITH ${n(q.start)} CACHE ${n(q.cache)}${q.cycle ? ' CYCLE' : ' NO CYCLE'})`;
}

/**
 * ADD COLUMN's definition of a column: type, collation, generated expression or default, NOT
 * NULL under its name (PostgreSQL 18 names it; on a stand-in, after the stand-in's own name
 * otherwise, and the child inherits that name), the rest follows as ALTER COLUMN.
 */
function columnDefinition(col: ColumnState): string {
  return [
    `${ident(col.name)} ${trusted(col.type)}`,
    col.collation ? ` COLLATE ${trusted(col.collation)}` : '',
    col.def !== null ? (col.generated === 's' ? ` GENERATED ALWAYS AS (${trusted(col.def)}) STORED` : ` DEFAULT ${trusted(col.def)}`) : '',
    col.not_null ? `${col.not_null_name !== null ? ` CONSTRAINT ${ident(col.not_null_name)}` : ''} NOT NULL` : '',
  ].join('');
}

const STORAGE: Record<string, string> = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' };
const COMPRESSION: Record<string, string> = { p: 'pglz', l: 'lz4' };

/**
 * A table's INHERITS parents in their order, qualified; not a partitioned table it is a partition
 * of (a leaf's parent is DETACHed and ATTACHed by the swap: shadow/leaf.ts; a runbook records
 * the swap without running the DETACH, so the leaf is still a partition when this reads); none
 * in `skip` (a tree's relations and their shadows, shadow/tree.ts: parents that stay as they are).
 */
export async function parentsOf(c: Client, oid: string, skip: ReadonlySet<string> = new Set()): Promise<SqlText[]> {
  const r = await c.query<{ oid: string; schema: string; name: string }>(
    `SELECT p.oid::int8::text AS oid, n.nspname AS schema, p.relname AS name FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace
      WHERE i.inhrelid = $1::oid AND p.relkind <> 'p' ORDER BY i.inhseqno`,
    [oid],
  );
  return r.rows.filter((p) => !skip.has(p.oid)).map((p) => qualified(p.schema, p.name));
}

/** A table in a swap: its name once the tables changed places, and its parents before the exchange (parentsOf). */
export interface Inheriting {
  name: SqlText;
  parents: SqlText[];
}

/**
 * Inside a swap (and a swap back), once the tables changed places: each takes the other's
 * parents, in their order, INHERIT first (the column and constraint counts go to 2) and NO
 * INHERIT of its own after (back to 1, so what was inherited and not local stays so). The real
 * parents end on the table of the user's name, the stand-ins on the one in the migration's
 * schema. INHERIT takes the parent SHARE UPDATE EXCLUSIVE (in the cutover's lock set:
 * cutover/lock-set.ts), NO INHERIT ACCESS SHARE. Nothing for tables without parents. The
 * statements name the tables, never read them by OID: a runbook records them before the
 * exchange has happened (runbook/copy.ts).
 */
export async function exchangeParents(c: Client, a: Inheriting, b: Inheriting): Promise<void> {
  // A parent's NOT VALID checks, kept off the stand-ins while the shadow was filled, go on them
  // NOT VALID (no scan), reaching the new table inherited, as the child has them.
  for (const [i, standIn] of a.parents.entries()) {
    const parent = b.parents[i];
    if (parent) await notValidChecksOn(c, parent, standIn);
  }
  for (const p of b.parents) await c.query(`ALTER TABLE ${a.name} INHERIT ${p}`);
  for (const p of a.parents) await c.query(`ALTER TABLE ${a.name} NO INHERIT ${p}`);
  for (const p of a.parents) await c.query(`ALTER TABLE ${b.name} INHERIT ${p}`);
  for (const p of b.parents) await c.query(`ALTER TABLE ${b.name} NO INHERIT ${p}`);
}

/**
 * A parent's inheritable NOT VALID checks that its stand-in lacks, on it NOT VALID (no scan): they
 * reach the stand-in's child inherited (merged into one it declares too), as from the parent.
 */
export async function notValidChecksOn(c: Client, parent: SqlText, standIn: SqlText): Promise<void> {
  for (const k of await notValidChecks(c, parent, standIn)) if (!k.there) await c.query(`ALTER TABLE ${standIn} ADD CONSTRAINT ${ident(k.name)} ${trusted(k.def)}`);
}

/** A parent's inheritable NOT VALID checks, and whether `standIn` has one of that name (`there`). */
async function notValidChecks(c: Client, parent: SqlText, standIn: SqlText): Promise<{ name: string; def: string; there: boolean }[]> {
  return (await c.query<{ name: string; def: string; there: boolean }>(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS def,
            EXISTS (SELECT FROM pg_constraint s WHERE s.conrelid = to_regclass($2) AND s.conname = k.conname AND s.contype = 'c') AS there
       FROM pg_constraint k WHERE conrelid = $1::regclass AND contype = 'c' AND NOT connoinherit AND NOT convalidated ORDER BY oid`,
    [parent, standIn],
  )).rows;
}
