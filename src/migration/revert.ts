import type { Client, Pool } from '../db/session.js';
import { partitionHomes } from '../plan/partition-homes.js';
import { bindMigration, createPool, withClient } from '../db/session.js';
import { ident, qualified, type SqlText } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { PgshiftError, RuntimeError, UserError, describeError, sqlState } from '../errors.js';
import { componentLog } from '../log.js';
import { changedSince, describeTable } from '../catalog/table.js';
import { parseAlter } from '../plan/parse.js';
import { followColumns, newColumnName } from '../plan/columns.js';
import type { ArtifactNames } from '../plan/names.js';
import { migrationNames } from './artifacts.js';
import { takeOver } from './lifecycle.js';
import { createReplayer } from '../capture/replayer.js';
import { rowsOfParent, type Tables } from '../copy/sql.js';
import type { RowMapping } from '../plan/mapping.js';
import { swapBack } from '../cutover/swap-back.js';
import { lockedSwap } from '../cutover/locked-swap.js';
import type { KeptTrigger, OldForeignKey } from '../cutover/swap.js';
import { nthCapture, reverseCapture } from '../capture/install.js';
import type { RevertTreeRelation } from './revert-window.js';
import type { DependentDef } from '../cutover/dependents.js';
import { leafLocks, lockSetFor } from '../cutover/lock-set.js';
import { treeLocks } from './tree-relations.js';
import { proveDefaultPartition, proveKeptLeafBound } from '../shadow/leaf.js';
import { columnRenames, prebuildMatviews } from '../cutover/matviews.js';
import { validateConstraints } from './phases/finish.js';
import { drain } from '../capture/drain.js';
import { failpoint } from '../failpoints.js';

const log = componentLog('revert');

export interface RevertReport {
  migrationId: number;
  table: string;
  entriesReplayed: number;
  holdMs: number;
  attempts: number;
  validated: string[];
}

/**
 * `pgshift revert <id>`: within the revert window, replays what was written to the new table
 * into the kept old one (reverse mapping: renamed columns back, converted ones cast back,
 * columns the ALTER dropped keep their old values and take their defaults on new rows), then
 * swaps back with the same safe cutover. Values the old table cannot hold make it refuse, with
 * the keys, before anything is swapped.
 */
export async function revertMigration(o: { url?: string; retry: RetryPolicy; deadlineMs: number }, idText: string): Promise<RevertReport> {
  if (!/^\d+$/.test(idText)) throw new UserError(`"${idText}" is not a migration id`);
  const id = Number(idText);
  const pool = createPool({ url: o.url, role: 'revert', lockTimeoutMs: o.retry.lockTimeoutMs, maxClients: 4 });
  try {
    const m = await withClient(pool, async (c) => {
      if ((await c.query(`SELECT to_regclass('pgshift.migrations') AS t`)).rows[0].t === null) throw new UserError(`no migration ${id}`);
      return (await c.query(`SELECT *, revert_until > now() AS open FROM pgshift.migrations WHERE id = $1 AND kind = 'alter'`, [id])).rows[0];
    });
    if (!m) throw new UserError(`no migration ${id}`);
    if (m.outcome !== 'done' || !m.revert_state) throw new UserError(`migration ${id} has no revert window (it was not run with --revert-window, or it ended ${m.outcome ?? 'unfinished'})`);
    if (!m.open) throw new UserError(`the revert window of migration ${id} has closed; pgshift cleanup ${id} removes what it kept`);
    if (m.truncated) throw new UserError(`the new table was truncated during the revert window; reverting would not bring those rows back`);
    const names = await migrationNames(pool, id);
    await bindMigration(pool, id);
    // Like a resume: one process at a time, and a killed revert's sessions go first.
    const ownership = await takeOver(pool, id);
    try {
      return await revertOwned(pool, o, id, m, names);
    } catch (err) {
      if (err instanceof PgshiftError) throw err;
      throw new RuntimeError(`the revert failed, nothing was swapped back: ${describeError(err)}; pgshift revert ${id} tries again`, { cause: err });
    } finally {
      await ownership.release();
    }
  } finally {
    await pool.end();
  }
}

async function revertOwned(pool: Pool, o: { retry: RetryPolicy; deadlineMs: number }, id: number, m: RevertRow, names: ArtifactNames): Promise<RevertReport> {
  // A tree copied with its parent (shadow/tree.ts): each relation's reverse changelog into its
  // kept old relation, read ONLY on both sides (each relation's rows are its own).
  const tree = m.revert_state.tree ?? [];
  const homes = tree.length ? partitionHomes(names.schema, { schema: m.table_schema, partitions: tree }) : null;
  const rc = reverseCapture(names);
  const sides = await withClient(pool, async (c) => {
    const out = [await reverseSetup(c, m, names, { old: qualified(names.schema, m.table_name), new: qualified(m.table_schema, m.table_name), changelog: rc.changelog, descendant: false })];
    for (const [i, t] of tree.entries()) {
      out.push(await reverseSetup(c, m, names, { old: homes!.inMigration(t), new: qualified(t.schema, t.name), changelog: nthCapture(rc, i + 1).changelog, descendant: true }));
    }
    return out;
  });
  const { oldT, newT } = sides[0]!;
  // Every relation's changelog in turn, each checked against its own tables.
  const replayAll = async (c: Client, n: number, inTransaction: boolean): Promise<number> => {
    let total = 0;
    for (const s of sides) total += await replayChecked(c, s.tables, () => (inTransaction ? s.replayer.replayInTransaction(c, null, n) : s.replayer.replayBatch(c, null, n)));
    return total;
  };
  // Each batch is its own transaction under the session's short lock_timeout: retried.
  await withClient(pool, (c) => drain((n) => withRetry(o.retry, () => replayAll(c, n, false)), { below: 1000 }), 'replay');

  const flow = followColumns((await parseAlter(m.statements)).statements, oldT.columns, oldT.identity);
  // Materialized views over the new table are rebuilt on the old one first, as on the way in:
  // the old table's columns carry the new names while the rebuilds bind to them.
  const newNameOf = newColumnName(flow);
  const renames = columnRenames(oldT.columns.map((col) => col.name), newNameOf);
  const renameOld = ([from, to]: [string, string]): string => `ALTER TABLE ${qualified(oldT.schema, oldT.name)} RENAME COLUMN ${ident(from)} TO ${ident(to)}`;
  await prebuildMatviews({
    pool,
    migrationId: id,
    outgoing: { oid: newT.oid, schema: newT.schema, name: newT.name },
    // A tree's relations: the kept old ones live in the migration schemas of their schemas (shadow/tree.ts).
    tree: sides.slice(1).map((s) => ({ oid: s.newT.oid, schema: s.newT.schema, name: s.newT.name, side: homes!.side(s.newT.schema) })),
    migrationSchema: names.schema,
    renameIncoming: renames.forward.map(renameOld),
    unrenameIncoming: renames.back.map(renameOld),
    replay: (c, n) => replayAll(c, n, true),
    retry: o.retry,
  });

  let entriesReplayed = 0;
  const t0 = performance.now();
  // A leaf: ATTACH in the swap back finds the bound proven on the old leaf and on the parent's
  // default partition (shadow/leaf.ts), as on the way in.
  const leaf = newT.partitionOf;
  if (leaf) {
    // Checked again under the locks; first here, so that a refused revert leaves no helper CHECK.
    await withClient(pool, (c) => refuseChanged(c, newT.oid, m));
    await proveKeptLeafBound(pool, o.retry, oldT, newT.oid);
    await proveDefaultPartition(pool, o.retry, id, names, newT);
  }
  // A tree: its relations in the order of their reverse captures, each the new one (outgoing) and its kept old one.
  const exchanged = sides.slice(1).map((s, i) => ({
    oid: s.newT.oid, shadowOid: s.oldT.oid, schema: s.newT.schema, name: s.newT.name, parents: tree[i]!.parents.map((p) => qualified(p.schema, p.name)), oldColumnName: s.oldColumnName,
  }));
  const locks = await withClient(pool, async (c) =>
    lockSetFor(c, {
      outgoing: newT.oid, incoming: oldT.oid, dropsOutgoingForeignKeys: true, addedForeignKeyParents: [],
      ...(leaf ? { leaf: await leafLocks(c, newT.oid, leaf.parentOid, leaf.defaultPartition?.oid ?? null) } : {}),
      // A tree: every relation of both, and the new relations' parents outside the tree (as the swap's: migration/tree-relations.ts).
      ...(tree.length ? treeLocks(sides.slice(1).map((s) => ({ table: s.newT, shadowOid: s.oldT.oid })), newT.oid) : {}),
    }));
  const rename = (from: string, to: string): string => `ALTER TABLE ${qualified(newT.schema, newT.name)} RENAME COLUMN ${ident(from)} TO ${ident(to)}`;
  const swapped = await withClient(pool, (c) =>
    lockedSwap(c, {
      pool,
      migrationId: id,
      label: 'revert',
      locks,
      retry: o.retry,
      deadlineMs: o.deadlineMs,
      blockers: { mode: 'wait', graceMs: 0 },
      body: async (lc) => {
        // Writes are held: the reverse changelog is complete, replay all of it.
        await failpoint('in-revert', lc);
        await refuseChanged(lc, newT.oid, m);
        entriesReplayed = (await drain((n) => replayAll(lc, n, true), { below: 1, batch: 50_000 })).entries;
        const v = await swapBack(lc, {
          names,
          userSchema: newT.schema,
          name: newT.name,
          newOid: newT.oid,
          oldOid: oldT.oid,
          renameNew: flow.renames.slice().reverse().map((r) => rename(r.to, r.from)),
          unrenameNew: flow.renames.map((r) => rename(r.from, r.to)),
          oldColumnName: (newName) => {
            const s = flow.sources.get(newName);
            return s?.kind === 'origin' ? s.origin : undefined;
          },
          oldForeignKeys: m.revert_state.oldForeignKeys,
          partitions: newT.partitions,
          homes: homes ?? partitionHomes(names.schema, newT),
          oldTriggers: m.revert_state.triggers,
          ...(m.revert_state.leafKeys ? { leafKeys: m.revert_state.leafKeys } : {}),
          leaf: leaf ? newT : null,
          ...(tree.length ? { tree: exchanged } : {}),
        });
        await lc.query(`UPDATE pgshift.migrations SET outcome = 'reverted', revert_until = NULL, updated_at = now(), finished_at = now() WHERE id = $1`, [id]);
        return v;
      },
    }),
  );
  const validate = swapped.result;
  const attempts = swapped.attempts;
  const holdMs = performance.now() - t0;
  const validated = await validateConstraints(pool, o.retry, validate);
  log.info({ migration: id, attempts, entriesReplayed, lockWaitMs: Math.round(swapped.lockWaitMs), lockHoldMs: Math.round(swapped.holdMs) }, 'reverted');
  return { migrationId: id, table: `${newT.schema}.${newT.name}`, entriesReplayed, holdMs, attempts, validated };
}

/** A change someone made to the new table since the swap would be undone by swapping back: refused. */
async function refuseChanged(c: Client, newOid: string, m: RevertRow): Promise<void> {
  if (!m.revert_state.fingerprint) return;
  const what = await changedSince(c, newOid, m.revert_state.fingerprint);
  if (what !== null) {
    throw new UserError(`refused: the new table was changed since the swap (its ${what} changed); swapping back would undo that; nothing was swapped back`);
  }
}

interface RevertRow {
  id: number;
  statements: string;
  table_schema: string;
  table_name: string;
  revert_state: { oldForeignKeys: OldForeignKey[]; triggers: KeptTrigger[]; fingerprint?: string; leafKeys?: DependentDef[]; tree?: RevertTreeRelation[] };
  [k: string]: unknown;
}

/**
 * The reverse direction as the replayer sees it, for the table or one relation of its tree
 * (`rel`: the kept old one, the new one, its reverse changelog): the new relation is the origin,
 * the old one the shadow.
 */
async function reverseSetup(
  c: Client,
  m: Record<string, unknown> & { statements: string; table_schema: string; table_name: string },
  names: ArtifactNames,
  rel: { old: SqlText; new: SqlText; changelog: string; descendant: boolean },
) {
  const { lockKey } = names;
  const oldOid = (await c.query(`SELECT to_regclass($1)::oid::int8::text AS oid`, [rel.old])).rows[0].oid;
  const newOid = (await c.query(`SELECT to_regclass($1)::oid::int8::text AS oid`, [rel.new])).rows[0].oid;
  if (!oldOid || !newOid) throw new UserError(`the tables of migration ${m.id} are no longer where the revert window left them`);
  const oldT = await describeTable(c, oldOid);
  const newT = await describeTable(c, newOid);
  const flow = followColumns((await parseAlter(m.statements)).statements, oldT.columns, oldT.identity);
  // A descendant keeps a column the change drops from the parent when it declares it too (as
  // offline; migration/tree-relations.ts): the new relation's column of that name is that column.
  const followed = newColumnName(flow);
  const newNameOf = (old: string): string | undefined =>
    followed(old) ?? (rel.descendant && !flow.sources.has(old) && newT.columns.some((x) => x.name === old) ? old : undefined);
  const targets: string[] = [];
  const expressions: string[] = [];
  const preserved: string[] = [];
  let overriding = false;
  for (const col of oldT.columns) {
    if (col.generated) continue;
    const newName = newNameOf(col.name);
    const source = newName ? flow.sources.get(newName) : undefined;
    if (source?.kind === 'origin' && source.using) {
      throw new UserError(`cannot revert: column ${col.name} was converted by a USING expression, which has no inverse`);
    }
    if (newName) {
      targets.push(col.name);
      expressions.push(`CAST(${ident(newName)} AS ${col.type})`);
    } else {
      preserved.push(col.name); // dropped by the ALTER: old value on update, default on insert
    }
    if (col.identity === 'a') overriding = true;
  }
  const mapping: RowMapping = {
    targets, expressions, constants: [], preserved, overriding,
    originKey: oldT.key.map((k) => ({ name: newNameOf(k.name)!, type: newT.columns.find((c2) => c2.name === newNameOf(k.name))!.type, collation: k.collation })),
    shadowKey: oldT.key.map((k) => k.name),
    narrowedKey: [],
  };
  const tables: Tables = {
    origin: qualified(newT.schema, newT.name),
    // A parent's rows only: its children moved to it in the swap (shadow/parent.ts), or are relations of their own (a tree's).
    ...rowsOfParent(newT),
    shadow: qualified(oldT.schema, oldT.name),
    // A kept old tree's relation (shadow/tree.ts): its rows only, its children's are theirs.
    ...(oldT.hasInheritanceChildren ? { shadowRows: `ONLY ${qualified(oldT.schema, oldT.name)}` } : {}),
    changelog: qualified(names.logSchema, rel.changelog),
    mapping,
    shadowKeyTypes: oldT.key.map((k) => k.type),
  };
  const replayer = createReplayer({ tables, preservedTypes: preserved.map((p) => oldT.columns.find((c2) => c2.name === p)!.type), lockKey });
  const uniques = await c.query(
    `SELECT (SELECT array_agg(a.attname::text ORDER BY k.o) FROM unnest(i.indkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n) AS cols
       FROM pg_index i WHERE i.indrelid = $1::oid AND i.indisunique AND NOT i.indisprimary AND i.indexprs IS NULL
        AND i.indexrelid IS DISTINCT FROM to_regclass($2)::oid`,
    // The row identity is the key the replay deletes by: no other row can hold an incoming one's.
    [oldOid, oldT.identity ? qualified(oldT.schema, oldT.identity.name) : null],
  );
  replayer.enableUniqueResolution(uniques.rows.map((r) => r.cols as string[]));
  // (a new column's name -> the old relation's column it came from: its owned sequences go back to it)
  const oldColumnName = (newName: string): string | undefined => oldT.columns.find((col) => newNameOf(col.name) === newName)?.name;
  return { oldT, newT, tables, replayer, oldColumnName };
}

/**
 * A value the old table cannot hold (out of range, NULL into NOT NULL, a CHECK) makes the revert
 * refuse with the offending keys: the replay that failed was rolled back, nothing is lost.
 */
async function replayChecked(c: Client, tables: Tables, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    const state = sqlState(err);
    if (!state || !/^(22|23)/.test(state)) throw err;
    const keys = await offendingKeys(c, tables);
    throw new UserError(`refused: the old table cannot hold rows written since the swap (${describeError(err)}); keys: ${keys.join('; ') || 'see the reverse changelog'}`);
  }
}

async function offendingKeys(c: Client, t: Tables): Promise<string[]> {
  await c.query('ROLLBACK').catch(() => undefined);
  const k = t.mapping.originKey.map((x) => ident(x.name));
  const pending = (await c.query({ text: `SELECT DISTINCT ${k.map((x) => `${x}::text`).join(', ')} FROM ${t.changelog} LIMIT 1000`, rowMode: 'array' })).rows as string[][];
  const bad: string[] = [];
  await c.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    for (const key of pending) {
      await c.query('SAVEPOINT probe');
      try {
        const where = k.map((x, i) => `${x} = $${i + 1}::${t.mapping.originKey[i]!.type}`).join(' AND ');
        await c.query(`SELECT ${t.mapping.expressions.join(', ')} FROM ${t.origin} WHERE ${where}`, key);
        await c.query('RELEASE SAVEPOINT probe');
      } catch {
        await c.query('ROLLBACK TO SAVEPOINT probe');
        bad.push(key.join(','));
        if (bad.length >= 20) break;
      }
    }
  } finally {
    await c.query('ROLLBACK');
  }
  return bad;
}
