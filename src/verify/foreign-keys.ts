import { parseSync } from 'libpg-query';
import type { PartitionHomes } from '../plan/partition-homes.js';
import type { Client, Pool } from '../db/session.js';
import { withTransaction } from '../db/session.js';
import { ident, qualified, trusted } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { sqlFile } from '../db/sql-files.js';
import { RuntimeError } from '../errors.js';
import { deparseExpression, loadParser, type Node } from '../plan/parse.js';
import type { DeferredConstraint } from '../shadow/build.js';

/**
 * A foreign key the new table gets that the old one's rows never had to satisfy: one the ALTER
 * adds, or one on a column whose type it changes. Offline, ALTER TABLE fails when a row has no
 * parent; online, that must be found before the swap, rows written after the check included:
 *
 * 1. from a moment M on, every key the replay writes into the shadow is recorded (recheck), and
 *    a pgshift trigger on the parent records the referenced values its updates and deletes take
 *    away (watch);
 * 2. after M, the whole shadow is checked for orphans (read-only, no lock beyond ACCESS SHARE);
 * 3. inside the cutover, with every lock held and the last changes replayed, only the rows the
 *    replay wrote since M and the rows referencing values the parent lost since M are checked.
 *
 * Between 3 and the swap nothing can change (the parent is locked too), and after it the
 * constraint, added NOT VALID at the swap, checks every write; so its VALIDATE after the swap
 * cannot fail. A foreign key to the table itself is checked whole inside the cutover. A NOT
 * VALID CHECK the user's statements VALIDATE is proven the same way (it has no parent side).
 */
export interface ForeignKeyProof {
  /** 'f': a foreign key; 'c': a CHECK made valid by the user's VALIDATE CONSTRAINT */
  kind: 'f' | 'c';
  name: string;
  /** a CHECK's expression (deparsed by the real parser) */
  expr?: string;
  from: string[];
  parent: string;
  /** the referenced columns (named as in the parent) */
  to: string[];
  selfReference: boolean;
  /** the table recording the values the parent lost since M */
  watch: string;
  /** a partition's own foreign key: the shadow's partition of that name, whose rows it binds (a tree's relation: ONLY its shadow) */
  relation?: string;
  /**
   * a foreign key of a descendant of a tree copied with its parent (shadow/tree.ts): the keys its
   * own replay writes (the n-th relation's replayer, migration/tree-relations.ts), recorded in a
   * table of its own, by its own key
   */
  own?: { n: number; key: string[]; keyTypes: string[]; recheck: string };
}

/** A tree's relation besides the parent (shadow/tree.ts), as the proofs read it: its shadow and key. */
export interface TreeRelationRows {
  oid: string;
  schema: string;
  name: string;
  shadow: string;
  key: string[];
  keyTypes: string[];
}

/** The deferred foreign keys that the old table's rows do not already prove. */
export async function foreignKeysToProve(
  c: Client,
  x: {
    originOid: string; shadowSchema: string; homes: PartitionHomes; table: string; constraints: DeferredConstraint[]; retyped: string[]; validated: string[];
    /** a tree's relations besides the parent, the n-th at index n - 1 */
    relations?: TreeRelationRows[];
  },
): Promise<ForeignKeyProof[]> {
  await loadParser();
  const existing = new Map(
    (await c.query<{ name: string; def: string }>(`SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::oid AND contype = 'f'`, [x.originOid])).rows.map(
      (r) => [r.name, r.def],
    ),
  );
  const out: ForeignKeyProof[] = [];
  // Constraints that will be valid on the new table: validated at the swap's end, or by the user's VALIDATE.
  const willBeValid = x.constraints.filter((k) => k.validate || x.validated.includes(k.name));
  for (const [n, fk] of willBeValid.entries()) {
    const con = parseSync(`ALTER TABLE x ADD CONSTRAINT x ${fk.def}`).stmts[0].stmt.AlterTableStmt.cmds[0].AlterTableCmd.def.Constraint;
    if (fk.type === 'c') {
      out.push({ kind: 'c', name: fk.name, expr: deparseExpression(con.raw_expr), from: [], parent: '', to: [], selfReference: false, watch: '' });
      continue;
    }
    const from: string[] = con.fk_attrs.map((a: { String: { sval: string } }) => a.String.sval);
    const retyped = from.some((f) => x.retyped.includes(f));
    // A partition's own foreign key was valid on the old partition of its name: unless a column
    // of it is retyped, the old rows prove it; else it binds that partition's rows only.
    if (fk.partition && !retyped) continue;
    const implied = !fk.partition && fk.validate && existing.get(fk.name) === fk.def.replace(/ NOT VALID$/, '') && !retyped;
    if (implied) continue;
    // A reference into the table, or into a relation of its tree, is to its shadow (a tree's read
    // ONLY: a key binds the rows of the relation it names, not its children's), checked whole in the cutover.
    const tree = x.relations ?? [];
    const shadows = new Map([[x.originOid, qualified(x.shadowSchema, x.table)], ...tree.map((r): [string, string] => [r.oid, r.shadow])]);
    const selfReference = fk.referenced !== null && shadows.has(fk.referenced);
    const cols = await foreignKeyColumns(c, con, selfReference ? shadows.get(fk.referenced!) : undefined);
    if (selfReference && tree.length) cols.parent = `ONLY ${cols.parent}`;
    const i = fk.partition ? tree.findIndex((r) => r.schema === fk.partitionSchema && r.name === fk.partition) : -1;
    const relation = i >= 0
      ? { relation: `ONLY ${tree[i]!.shadow}`, own: { n: i + 1, key: tree[i]!.key, keyTypes: tree[i]!.keyTypes, recheck: qualified(x.shadowSchema, `fk_recheck_${i + 1}`) } }
      : fk.partition ? { relation: x.homes.inMigration({ schema: fk.partitionSchema, name: fk.partition }) } : {};
    out.push({ kind: 'f', name: fk.name, ...cols, selfReference, watch: qualified(x.shadowSchema, `fk_watch_${n}`), ...relation });
  }
  return out;
}

/**
 * A foreign key's referencing columns, its parent (as written, or `parent` in its place) and the
 * referenced columns: as written, else the parent's primary key, as PostgreSQL takes them.
 */
export async function foreignKeyColumns(c: Client, con: Node, parent?: string): Promise<{ from: string[]; parent: string; to: string[] }> {
  const names = (list: Node[] | undefined): string[] => (list ?? []).map((a: Node) => a.String.sval);
  const pk = con.pktable;
  const table = parent ?? (pk.schemaname ? qualified(pk.schemaname, pk.relname) : ident(pk.relname));
  let to = names(con.pk_attrs);
  if (to.length === 0) {
    to = (await c.query(
      `SELECT a.attname FROM pg_constraint p CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY k(n, o)
         JOIN pg_attribute a ON a.attrelid = p.conrelid AND a.attnum = k.n WHERE p.conrelid = $1::regclass AND p.contype = 'p' ORDER BY k.o`,
      [table],
    )).rows.map((r) => r.attname);
  }
  return { from: names(con.fk_attrs), parent: table, to };
}

/**
 * Rows of `relation` that reference no row of the parent (a NULL in any referencing column is
 * no reference; MATCH FULL also refuses a partly NULL reference), as SQL counting them.
 */
export function orphanCondition(alias: string, k: { from: string[]; parent: string; to: string[]; matchFull: boolean }): string {
  const col = (f: string): string => `${alias}.${ident(f)}`;
  const present = k.from.map((f) => `${col(f)} IS NOT NULL`).join(' AND ');
  const missing = `NOT EXISTS (SELECT 1 FROM ${k.parent} p WHERE ${k.from.map((f, i) => `p.${ident(k.to[i]!)} = ${col(f)}`).join(' AND ')})`;
  const partly = k.matchFull && k.from.length > 1 ? ` OR num_nulls(${k.from.map(col).join(', ')}) BETWEEN 1 AND ${k.from.length - 1}` : '';
  return `((${present} AND ${missing})${partly})`;
}

/**
 * Step 1's parent side: a table for the values each parent loses and a trigger recording them
 * (keys only, like the capture). Registered in pgshift.artifacts as watch-triggers, which every
 * ending of the migration removes. Idempotent: a take-over runs it again.
 */
export async function watchParents(pool: Pool, migrationId: number, shadowSchema: string, proofs: ForeignKeyProof[], retry: RetryPolicy): Promise<void> {
  for (const [n, p] of proofs.entries()) {
    if (p.kind === 'c' || p.selfReference) continue;
    await withRetry(retry, (_a, lockTimeoutMs) =>
      withTransaction(pool, async (c) => {
        await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        const parent = (await c.query<{ schema: string; name: string }>(
          `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass`,
          [p.parent],
        )).rows[0]!;
        const types = (await c.query<{ t: string }>(
          `SELECT format_type(a.atttypid, a.atttypmod) AS t FROM unnest($2::text[]) WITH ORDINALITY u(col, o)
             JOIN pg_attribute a ON a.attrelid = $1::regclass AND a.attname = u.col ORDER BY u.o`,
          [p.parent, p.to],
        )).rows.map((r) => r.t);
        await c.query(`CREATE TABLE IF NOT EXISTS ${p.watch} (${p.to.map((col, i) => `${ident(col)} ${trusted(types[i]!)}`).join(', ')})`);
        const fn = `pgshift_fk_watch_${n}`;
        const trigger = `pgshift_fk_${migrationId}_${n}`;
        const cols = p.to.map(ident);
        await c.query(
          sqlFile('fk-watch-function.sql', {
            fn: qualified(shadowSchema, fn),
            watch: trusted(p.watch),
            cols: trusted(cols.join(', ')),
            old_cols: trusted(cols.map((col) => `OLD.${col}`).join(', ')),
          }),
        );
        await c.query(
          `CREATE OR REPLACE TRIGGER ${ident(trigger)} AFTER UPDATE OF ${cols.join(', ')} OR DELETE ON ${qualified(parent.schema, parent.name)}` +
            ` FOR EACH ROW EXECUTE FUNCTION ${qualified(shadowSchema, fn)}()`,
        );
        await c.query(`ALTER TABLE ${qualified(parent.schema, parent.name)} ENABLE ALWAYS TRIGGER ${ident(trigger)}`);
        await c.query(
          `INSERT INTO pgshift.artifacts (migration_id, kind, schema_name, name, on_table) VALUES ($1, 'watch-trigger', $2, $3, $4) ON CONFLICT DO NOTHING`,
          [migrationId, parent.schema, trigger, parent.name],
        );
      }),
    );
  }
}

/**
 * Rows of the shadow (of its partition, for a partition's own key) with no parent for this
 * foreign key (NULL in any referencing column is no reference, MATCH SIMPLE as by default). `scope`: the whole shadow, or only the rows the
 * replay wrote since the recheck began and the rows referencing values the parent lost.
 */
export async function orphans(
  c: Client,
  p: ForeignKeyProof,
  shadow: { relation: string; key: string[]; recheck: string },
  scope: 'all' | 'changed',
): Promise<{ count: number; keys: string[] }> {
  const s = (col: string): string => `s.${ident(col)}`;
  const tuple = (xs: string[]): string => (xs.length === 1 ? xs[0]! : `(${xs.join(', ')})`);
  // A tree's relation's rows, by its own key and the keys its own replay wrote.
  const key = p.own?.key ?? shadow.key;
  const recheck = p.own?.recheck ?? shadow.recheck;
  const present = p.from.map((f) => `${s(f)} IS NOT NULL`).join(' AND ');
  const matched = `EXISTS (SELECT 1 FROM ${p.parent} p WHERE ${p.from.map((f, i) => `p.${ident(p.to[i]!)} = ${s(f)}`).join(' AND ')})`;
  // A CHECK is violated when its expression is false (NULL passes), as PostgreSQL decides.
  let where = p.kind === 'c' ? `NOT (${p.expr})` : `${present} AND NOT ${matched}`;
  if (scope === 'changed' && p.kind === 'c') {
    where += ` AND ${tuple(key.map(s))} IN (SELECT ${key.map(ident).join(', ')} FROM ${recheck})`;
  } else if (scope === 'changed' && !p.selfReference) {
    const changedKeys = `${tuple(key.map(s))} IN (SELECT ${key.map(ident).join(', ')} FROM ${recheck})`;
    const lostValues = `${tuple(p.from.map(s))} IN (SELECT ${p.to.map(ident).join(', ')} FROM ${p.watch})`;
    where += ` AND (${changedKeys} OR ${lostValues})`;
  }
  const r = await c.query<{ n: string; keys: string[] | null }>(
    `SELECT count(*)::int8::text AS n, (array_agg(${key.map((k) => `${s(k)}::text`).join(` || ',' || `)}))[1:5] AS keys FROM ${p.relation ?? shadow.relation} s WHERE ${where}`,
  );
  return { count: Number(r.rows[0]!.n), keys: r.rows[0]!.keys ?? [] };
}

/** The error a foreign key with orphans ends the migration with, before anything is swapped. */
export function orphanError(p: ForeignKeyProof, found: { count: number; keys: string[] }): RuntimeError {
  const what = p.kind === 'c' ? `check constraint ${p.name} would be violated by ${found.count} row(s)` : `foreign key ${p.name} would be violated: ${found.count} row(s) reference no row of ${p.parent}`;
  return new RuntimeError(
    `${what} (keys ${found.keys.join('; ')}); ` +
      `offline ALTER TABLE would fail the same way; nothing was swapped`,
  );
}

/**
 * Steps 1 and 2: the recheck table and the parents' watchers in place, the replay recording
 * what it writes, then the whole shadow checked. Returns what the cutover checks again.
 */
export async function proveBeforeCutover(
  pool: Pool,
  x: {
    migrationId: number; shadowSchema: string; shadow: string; key: string[]; keyTypes: string[]; proofs: ForeignKeyProof[]; retry: RetryPolicy;
    /** the replay records the keys it writes into `recheck` from now on: the table's replayer (n = 0), or a tree's n-th relation's */
    record: (recheck: string, n: number) => void;
  },
): Promise<{ relation: string; key: string[]; recheck: string }> {
  const recheck = qualified(x.shadowSchema, 'fk_recheck');
  const rechecks = [{ n: 0, key: x.key, keyTypes: x.keyTypes, recheck }, ...x.proofs.flatMap((p) => (p.own ? [p.own] : []))];
  for (const r of new Map(rechecks.map((r) => [r.n, r])).values()) {
    await withTransaction(pool, (c) => c.query(`CREATE TABLE IF NOT EXISTS ${r.recheck} (${r.key.map((k, i) => `${ident(k)} ${trusted(r.keyTypes[i]!)}`).join(', ')})`));
    x.record(r.recheck, r.n);
  }
  await watchParents(pool, x.migrationId, x.shadowSchema, x.proofs, x.retry);
  const shadow = { relation: x.shadow, key: x.key, recheck };
  for (const p of x.proofs) {
    const found = await withTransaction(pool, (c) => orphans(c, p, shadow, 'all'));
    if (found.count > 0) throw orphanError(p, found);
  }
  return shadow;
}

/** Step 3, inside the cutover transaction after the final replay. */
export async function proveInCutover(c: Client, proofs: ForeignKeyProof[], shadow: { relation: string; key: string[]; recheck: string }): Promise<void> {
  for (const p of proofs) {
    const found = await orphans(c, p, shadow, p.kind === 'f' && p.selfReference ? 'all' : 'changed');
    if (found.count > 0) throw orphanError(p, found);
  }
}
