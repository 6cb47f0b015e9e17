import type { Client, Pool } from '../db/session.js';
import { withClient, withTransaction } from '../db/session.js';
import { rolledBack } from '../db/rolled-back.js';
import { ident, qualified, trusted, type SqlText } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { withQualifiedNames } from '../db/search-path.js';
import { RuntimeError, UserError, describeError } from '../errors.js';
import type { TableInfo } from '../catalog/table.js';
import type { ArtifactNames } from '../plan/names.js';
import type { AlterStatement } from '../plan/parse.js';
import { renamedKeys } from '../plan/leaf-key-changes.js';
import type { DeferredConstraint } from './build.js';

/**
 * A partition changed alone (a leaf) is copied as a plain table (one partitioned itself, as a
 * tree: shadow/partitions.ts); the cutover swaps it in by DETACH PARTITION of the old leaf and
 * ATTACH PARTITION of the new table with the same bound.
 * ATTACH checks nothing it can prove from what the new table already has: a validated CHECK
 * equal to the partition constraint skips its scan of the rows, indexes equal to the parent's
 * partitioned indexes are attached rather than built, and validated foreign keys equal to the
 * parent's are attached rather than added again. This module gives the shadow those, and the
 * parent's default partition a CHECK that it holds no row of the bound (ATTACH would otherwise
 * read all of it under the lock).
 *
 * The parent's foreign keys are the exception: they are added to the new table valid inside the
 * cutover, so PostgreSQL's check reads the new partition under the lock (as the partition tree's
 * do before PostgreSQL 18). ATTACH attaches only a valid one (PostgreSQL 17 adds and checks
 * another beside a NOT VALID one), and a valid one on the shadow before the cutover would check
 * the application's writes to the referenced table against shadow rows the replay has not
 * caught up yet: `DELETE FROM orders WHERE customer_id = 7; DELETE FROM customers WHERE id = 7`
 * in one transaction would fail on the shadow's copy of the orders (DESIGN.md section 3: nothing
 * that checks writes is live on the shadow while it is filled).
 */

/** The helper CHECK that proves the bound to ATTACH (dropped right after it, in the cutover). */
export const BOUND_CHECK = 'pgshift_partition_bound';

/**
 * Built with the shadow, while it is empty: valid at once, and each row the copy writes is
 * checked as it goes (a NOT VALID + VALIDATE after the copy would read the whole table again).
 */
export async function addBoundCheck(c: Client, originOid: string, shadow: SqlText): Promise<void> {
  const def = await withQualifiedNames(c, async () =>
    (await c.query<{ d: string | null }>(`SELECT pg_get_partition_constraintdef($1::oid) AS d`, [originOid])).rows[0]?.d ?? null);
  // A default partition that is its parent's only one has no constraint at all.
  if (def !== null) await c.query(`ALTER TABLE ${shadow} ADD CONSTRAINT ${ident(BOUND_CHECK)} CHECK (${trusted(def)})`);
}

/**
 * Offline PostgreSQL refuses on a partition what would make it unlike its parent (adding,
 * dropping or retyping a column, dropping an inherited constraint or NOT NULL, dropping an index
 * or foreign key the parent's needs). The shadow is a plain table and refuses none of it, so it
 * is attached, inside a savepoint that is rolled back, to an empty partitioned table made LIKE
 * the parent: PostgreSQL's own checks then speak. An ATTACH that had to build an index, or a
 * foreign key of the parent's missing, would be work under the cutover's lock: refused too.
 */
export async function probeAttach(c: Client, origin: TableInfo, schema: string, shadow: SqlText, inheritedForeignKeys: string[]): Promise<void> {
  const leaf = origin.partitionOf!;
  const name = `${origin.schema}.${origin.name}`;
  const present = (await c.query<{ n: string }>(`SELECT conname AS n FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'`, [shadow])).rows.map((r) => r.n);
  const lost = inheritedForeignKeys.find((fk) => !present.includes(fk));
  if (lost) throw new UserError(`refused: cannot drop inherited constraint "${lost}" of relation "${origin.name}" (offline PostgreSQL refuses it too: ${name} is a partition)`);
  const { key, bound } = await withQualifiedNames(c, async () =>
    (await c.query<{ key: string; bound: string }>(
      `SELECT pg_get_partkeydef($1::oid) AS key, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_class c WHERE c.oid = $2::oid`,
      [leaf.parentOid, origin.oid],
    )).rows[0]!);
  const probe = qualified(schema, 'pgshift_attach_probe');
  const indexes = async (): Promise<number> => Number((await c.query(`SELECT count(*) AS n FROM pg_index WHERE indrelid = $1::regclass`, [shadow])).rows[0].n);
  await c.query('SAVEPOINT pgshift_attach_probe');
  try {
    await c.query(
      `CREATE TABLE ${probe} (LIKE ${qualified(leaf.parentSchema, leaf.parentName)} INCLUDING ALL EXCLUDING IDENTITY EXCLUDING STATISTICS) PARTITION BY ${trusted(key)}`,
    );
    const before = await indexes();
    await c.query(`ALTER TABLE ${probe} ATTACH PARTITION ${shadow} ${trusted(bound)}`);
    if ((await indexes()) !== before) {
      throw new UserError(`refused: the change leaves ${name} without an index its partitioned table's index needs (offline PostgreSQL refuses it too: it is a partition)`);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`refused: ${name} is a partition of ${leaf.parentSchema}.${leaf.parentName}, and offline PostgreSQL refuses what would make it unlike its parent: ${describeError(err)}`, { cause: err });
  } finally {
    await c.query('ROLLBACK TO SAVEPOINT pgshift_attach_probe');
  }
}

/** The origin's foreign keys that its parent's cloned onto it (ATTACH must find them valid). */
export async function inheritedForeignKeys(c: Client, originOid: string): Promise<string[]> {
  // Not those PostgreSQL keeps under the leaf's own key into a partitioned table (their parent is the leaf's).
  const r = await c.query<{ n: string }>(
    `SELECT con.conname AS n FROM pg_constraint con JOIN pg_constraint p ON p.oid = con.conparentid
      WHERE con.conrelid = $1::oid AND con.contype = 'f' AND p.conrelid <> con.conrelid ORDER BY con.oid`,
    [originOid],
  );
  return r.rows.map((row) => row.n);
}

/**
 * The origin's foreign keys into its own tree (referencing its partitioned table or an
 * ancestor): cloned from a key of the tree (a self-referencing partitioned table) or its own.
 * They are not the shadow's to carry: one on the shadow would lock the tree it references while
 * the shadow is built and filled. The cutover takes each off where it is declared before DETACH
 * and adds it back there after ATTACH (cutover/swap.ts): the tree's on the tree, which PostgreSQL
 * clones onto every partition then, the new one included; the leaf's own on the new leaf.
 */
export async function keysIntoTree(c: Client, originOid: string): Promise<string[]> {
  const r = await c.query<{ n: string }>(
    `SELECT conname AS n FROM pg_constraint WHERE conrelid = $1::oid AND contype = 'f'
        AND confrelid IN (SELECT relid FROM pg_partition_ancestors($1::oid::regclass) WHERE relid <> $1::oid) ORDER BY oid`,
    [originOid],
  );
  return r.rows.map((row) => row.n);
}

/**
 * The leaf's own foreign keys into its tree that the change VALIDATEs (named as the statements
 * leave them), NOT VALID on the old leaf, in the shape of the shadow's deferred constraints: the
 * proof before the swap (verify/foreign-keys.ts) finds a row that offline's VALIDATE would fail
 * on before anything is swapped; the cutover adds the key back NOT VALID and the VALIDATE runs
 * after it, as the user's always does.
 */
export async function leafKeysValidated(c: Client, origin: TableInfo, statements: AlterStatement[], validated: string[]): Promise<DeferredConstraint[]> {
  const own = origin.partitionOf?.ownKeysIntoTree ?? [];
  if (own.length === 0 || validated.length === 0) return [];
  const renamed = renamedKeys(statements, own);
  const keys = await withQualifiedNames(c, async () =>
    (await c.query<{ name: string; def: string; referenced: string }>(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS def, confrelid::int8::text AS referenced FROM pg_constraint
        WHERE conrelid = $1::oid AND contype = 'f' AND NOT convalidated AND conname = ANY ($2::text[]) ORDER BY oid`,
      [origin.oid, own],
    )).rows);
  return keys
    .map((k) => ({ name: renamed.get(k.name) ?? k.name, type: 'f' as const, def: k.def, validate: false, comment: null, referenced: k.referenced }))
    .filter((k) => validated.includes(k.name));
}

/** The helper CHECK on the parent's default partition: `NOT (the leaf's bound)`. */
export function defaultBoundCheck(names: ArtifactNames): string {
  return `${names.schema}_default_bound`;
}

/**
 * Before the cutover: the parent's default partition gets `CHECK (NOT (bound)) NOT VALID` (a
 * moment of ACCESS EXCLUSIVE on it, under the lock timeout) and VALIDATE (a read that blocks no
 * write; no row of the bound can be there, routing sends those to the leaf), recorded in
 * pgshift.artifacts first so that an abort or a cleanup takes it off. ATTACH then proves the
 * default partition without reading it (measured on 17: 1.7 ms against 44.6 ms for 300,000
 * rows), and the cutover drops it. The bound's own condition, without the ancestors' that
 * pg_get_partition_constraintdef adds below the first level, is what ATTACH asks of the default
 * partition: read from a partition of the same bound on a scratch table LIKE the parent, in a
 * transaction rolled back. Idempotent.
 */
export async function proveDefaultPartition(pool: Pool, retry: RetryPolicy, id: number, names: ArtifactNames, origin: TableInfo): Promise<void> {
  const leaf = origin.partitionOf!;
  const d = leaf.defaultPartition;
  if (!d) return;
  const name = defaultBoundCheck(names);
  const on = qualified(d.schema, d.name);
  const qual = await withClient(pool, (c) => rolledBack(c, () => leafBoundCondition(c, names.schema, origin)));
  await proveCheck(pool, retry, { on, oid: d.oid, name, check: `NOT (${qual})` }, (c) =>
    c.query(`INSERT INTO pgshift.artifacts (migration_id, kind, schema_name, name, on_table) VALUES ($1, 'constraint', $2, $3, $4) ON CONFLICT DO NOTHING`, [id, d.schema, name, d.name]));
}

/**
 * The leaf's bound as a condition, without its ancestors': read off a partition of the same bound
 * under a scratch table LIKE the parent, made in `schema`; the caller's transaction is rolled back.
 */
export async function leafBoundCondition(c: Client, schema: string, origin: TableInfo): Promise<string> {
  const leaf = origin.partitionOf!;
  return withQualifiedNames(c, async () => {
    const key = (await c.query<{ k: string }>(`SELECT pg_get_partkeydef($1::oid) AS k`, [leaf.parentOid])).rows[0]!.k;
    const bound = (await c.query<{ b: string }>(`SELECT pg_get_expr(relpartbound, oid) AS b FROM pg_class WHERE oid = $1::oid`, [origin.oid])).rows[0]!.b;
    const scratch = qualified(schema, 'pgshift_bound_probe');
    await c.query(`CREATE TABLE ${scratch} (LIKE ${qualified(leaf.parentSchema, leaf.parentName)}) PARTITION BY ${trusted(key)}`);
    await c.query(`CREATE TABLE ${qualified(schema, 'pgshift_bound_leaf')} PARTITION OF ${scratch} ${trusted(bound)}`);
    return (await c.query<{ q: string }>(`SELECT pg_get_partition_constraintdef($1::regclass) AS q`, [qualified(schema, 'pgshift_bound_leaf')])).rows[0]!.q;
  });
}

/**
 * Before a revert's swap back (`--revert-window`): the kept old leaf, detached since the swap,
 * gets the bound's CHECK again the same way, so that ATTACH in the swap back reads none of its
 * rows. Only the reverse replay writes it, and only rows of the new leaf, inside the bound. The
 * swap back drops it after ATTACH (attachLeaf); a revert that does not happen leaves it on the
 * kept table, which cleanup drops. Idempotent.
 */
export async function proveKeptLeafBound(pool: Pool, retry: RetryPolicy, kept: { oid: string; schema: string; name: string }, attachedOid: string): Promise<void> {
  const def = await withClient(pool, (c) =>
    withQualifiedNames(c, async () => (await c.query<{ d: string | null }>(`SELECT pg_get_partition_constraintdef($1::oid) AS d`, [attachedOid])).rows[0]?.d ?? null));
  if (def !== null) await proveCheck(pool, retry, { on: qualified(kept.schema, kept.name), oid: kept.oid, name: BOUND_CHECK, check: def });
}

/**
 * CHECK NOT VALID (a moment of ACCESS EXCLUSIVE, under the lock timeout, retried) unless there,
 * then VALIDATE (SHARE UPDATE EXCLUSIVE: a read that blocks no write). `record` runs first, in the
 * same transaction as the ADD.
 */
async function proveCheck(pool: Pool, retry: RetryPolicy, x: { on: SqlText; oid: string; name: string; check: string }, record?: (c: Client) => Promise<unknown>): Promise<void> {
  await withRetry(retry, (_a, lockTimeoutMs) =>
    withTransaction(pool, async (c) => {
      await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
      if (record) await record(c);
      const has = await c.query(`SELECT FROM pg_constraint WHERE conrelid = $1::oid AND conname = $2`, [x.oid, x.name]);
      if (has.rowCount === 0) await c.query(`ALTER TABLE ${x.on} ADD CONSTRAINT ${ident(x.name)} CHECK (${trusted(x.check)}) NOT VALID`);
    }),
  );
  await withRetry(retry, (_a, lockTimeoutMs) =>
    withTransaction(pool, async (c) => {
      await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
      await c.query(`ALTER TABLE ${x.on} VALIDATE CONSTRAINT ${ident(x.name)}`);
    }),
  );
}

/**
 * Inside the cutover, before the tables change places: the old leaf leaves its parent (checked
 * to be where the plan found it). Returns the bound to attach the new table with.
 */
export async function detachLeaf(c: Client, origin: TableInfo): Promise<string> {
  const leaf = origin.partitionOf!;
  const now = (await c.query<{ parent: string; bound: string }>(
    `SELECT i.inhparent::int8::text AS parent, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE c.oid = $1::oid AND c.relispartition`,
    [origin.oid],
  )).rows[0];
  if (!now || now.parent !== leaf.parentOid) {
    throw new RuntimeError(`${origin.schema}.${origin.name} is no longer a partition of ${leaf.parentSchema}.${leaf.parentName}; nothing was swapped`);
  }
  await c.query(`ALTER TABLE ${qualified(leaf.parentSchema, leaf.parentName)} DETACH PARTITION ${qualified(origin.schema, origin.name)}`);
  return now.bound;
}

/** Inside the cutover, once the new table has the leaf's name: it takes the leaf's place. */
export async function attachLeaf(c: Client, origin: TableInfo, names: ArtifactNames, bound: string): Promise<void> {
  const leaf = origin.partitionOf!;
  const table = qualified(origin.schema, origin.name);
  await c.query(`ALTER TABLE ${qualified(leaf.parentSchema, leaf.parentName)} ATTACH PARTITION ${table} ${trusted(bound)}`);
  await c.query(`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${ident(BOUND_CHECK)}`);
  const d = leaf.defaultPartition;
  if (d) await c.query(`ALTER TABLE ${qualified(d.schema, d.name)} DROP CONSTRAINT IF EXISTS ${ident(defaultBoundCheck(names))}`);
}
