import type { Client } from '../db/session.js';
import { readBoundObjects } from '../catalog/bound-objects.js';
import { laterParents } from '../shadow/parent.js';

/**
 * What a swap locks, and nothing more: the table being replaced (first: the application takes
 * it before what its writes cascade into), the incoming table, the tables whose foreign keys
 * into it (or into one of its partitions itself) are dropped and added again (ALTER TABLE ... DROP CONSTRAINT takes both ends ACCESS
 * EXCLUSIVE), the parents of foreign keys taken off the outgoing table when it is kept, and the
 * parents of foreign keys added at the swap (SHARE ROW EXCLUSIVE), and the tables whose rules,
 * policies or constraint triggers bound to it are re-bound or re-created (CREATE OR REPLACE RULE,
 * ALTER POLICY and DROP TRIGGER take their table ACCESS EXCLUSIVE). The views the swap re-binds
 * or creates anew come before all of it (`views`): a query on a view locks the view, then the
 * tables it reads, so a reader that got the view just before the cutover took the table waits
 * for the table holding the view, which the swap's CREATE OR REPLACE VIEW then waits for:
 * a deadlock PostgreSQL breaks by cancelling the reader (measured on 17: one reader's query of
 * three runs). Taken first, in the reader's order, the view makes the reader wait before it holds
 * anything. An inheritance child's parents (shadow/inherit.ts) are taken ACCESS EXCLUSIVE, and
 * first, as a leaf's partitioned table: a statement through a parent lists the parent's children
 * when it locks the parent, then waits for each child's lock without looking again, so one that
 * waited out the swap behind a weaker lock on the parent would write the old table, now out of
 * the tree (measured: two of a mirror's updates through the parent lost under SHARE UPDATE
 * EXCLUSIVE, which ALTER TABLE ... INHERIT itself takes).
 */
export interface LockSet {
  /**
   * ACCESS EXCLUSIVE before everything, by a no-op ALTER VIEW (locked-swap.ts lockStatements:
   * LOCK TABLE on a view would lock every table it reads as well): the views the swap re-binds or
   * creates anew, each before the views it reads.
   */
  views: string[];
  first: string;
  exclusive: string[];
  share: string[];
  /**
   * SHARE UPDATE EXCLUSIVE, after the rest: the other parents a moved child has after the table
   * (shadow/parent.ts moveChildren: INHERIT takes them so). The child itself stays the same
   * relation under them, so a statement through one that waited out the swap for the child's
   * lock writes the right table, and SHARE UPDATE EXCLUSIVE lets their reads and writes go on.
   */
  shareUpdate: string[];
}

export async function lockSetFor(
  c: Client,
  x: { outgoing: string; incoming: string; dropsOutgoingForeignKeys: boolean; addedForeignKeyParents: string[]; leaf?: LeafLocks; tree?: string[]; treeRelations?: string[] },
): Promise<LockSet> {
  // The outgoing table's foreign keys in and out, and a tree's relations' (treeRelations: besides the table).
  const r = await c.query<{ oid: string; why: string }>(
    `SELECT DISTINCT conrelid::int8::text AS oid, 'child' AS why FROM pg_constraint
      WHERE contype = 'f' AND conrelid <> ALL ($3::oid[]) AND conrelid <> $2::oid
        AND (confrelid = ANY ($3::oid[]) OR (conparentid = 0 AND confrelid IN (SELECT relid FROM pg_partition_tree($1::oid::regclass) WHERE level > 0)))
     UNION
     SELECT DISTINCT confrelid::int8::text, 'parent' FROM pg_constraint
      WHERE contype = 'f' AND conrelid = ANY ($3::oid[]) AND confrelid <> ALL ($3::oid[]) AND confrelid <> $2::oid`,
    [x.outgoing, x.incoming, [x.outgoing, ...(x.treeRelations ?? [])]],
  );
  const inheritParents = (await c.query<{ oid: string }>(
    `SELECT i.inhparent::int8::text AS oid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhrelid = $1::oid AND NOT c.relispartition ORDER BY i.inhseqno`,
    [x.outgoing],
  )).rows.map((row) => row.oid);
  // A parent's legacy inheritance children move to the incoming table (shadow/parent.ts: INHERIT
  // takes the child ACCESS EXCLUSIVE); after the parent, as a statement through it locks them.
  const inheritChildren = (await c.query<{ oid: string }>(
    `SELECT i.inhrelid::int8::text AS oid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::oid AND NOT c.relispartition ORDER BY i.inhrelid`,
    [x.outgoing],
  )).rows.map((row) => row.oid);
  const shareUpdate = (await laterParents(c, x.outgoing)).filter((o) => o !== x.incoming);
  // A tree copied with its parent (shadow/tree.ts): every relation and its shadow, after the parent.
  const bound = await boundRelations(c, x.outgoing, x.treeRelations);
  const children = [...inheritChildren, ...(x.tree ?? []), ...r.rows.filter((row) => row.why === 'child').map((row) => row.oid), ...bound.tables];
  const views = bound.views;
  const parents = x.dropsOutgoingForeignKeys ? r.rows.filter((row) => row.why === 'parent').map((row) => row.oid) : [];
  if (x.leaf) {
    // The application reaches a partition through its partitioned table: that comes first.
    const exclusive = [...new Set([x.outgoing, x.incoming, ...children, ...x.leaf.exclusive])].filter((o) => o !== x.leaf!.parent);
    const share = [...new Set(x.addedForeignKeyParents)].filter((o) => o !== x.leaf!.parent && !exclusive.includes(o));
    return { views, first: x.leaf.parent, exclusive, share, shareUpdate };
  }
  const exclusive = [...new Set([x.incoming, ...children, ...parents])];
  const share = [...new Set(x.addedForeignKeyParents)].filter((o) => o !== x.outgoing && o !== x.incoming && !exclusive.includes(o));
  if (inheritParents.length) {
    // The application reaches a child through its parents: they come first.
    const all = [...new Set([...inheritParents, x.outgoing, ...exclusive])];
    return { views, first: all[0]!, exclusive: all.slice(1), share: share.filter((o) => !all.includes(o)), shareUpdate: shareUpdate.filter((o) => !all.includes(o)) };
  }
  return { views, first: x.outgoing, exclusive, share, shareUpdate: shareUpdate.filter((o) => o !== x.outgoing && !exclusive.includes(o)) };
}

/**
 * What the swap re-binds that it must lock (catalog/bound-objects.ts), bound to the table or to
 * `tree`, a tree's relations exchanged with it: the tables (not views) whose rules, policies or
 * constraint triggers it re-binds, and the views it re-binds or creates anew, the ones reading
 * others first (the objects come in dependency order).
 */
async function boundRelations(c: Client, outgoing: string, tree: readonly string[] = []): Promise<{ tables: string[]; views: string[] }> {
  const { objects } = await readBoundObjects(c, outgoing, tree);
  const views = objects.filter((o) => o.action === 'rebind-view' || o.action === 'recreate-view').map((o) => o.oid).reverse();
  const relations = objects.flatMap((o) => (o.relation !== null ? [o.relation] : []));
  if (relations.length === 0) return { tables: [], views };
  const r = await c.query<{ oid: string }>(`SELECT oid::int8::text AS oid FROM pg_class WHERE oid = ANY ($1::oid[]) AND relkind IN ('r', 'p')`, [relations]);
  return { tables: r.rows.map((row) => row.oid), views };
}

/**
 * A leaf's swap (shadow/leaf.ts) also locks its parent, ACCESS EXCLUSIVE and first (DETACH
 * PARTITION takes it so, short of CONCURRENTLY, which cannot run in a transaction); the parent's
 * default partition, which ATTACH locks and reads; and the tables the leaf's foreign keys
 * reference (DETACH and ATTACH re-create their triggers there, ATTACH under ACCESS EXCLUSIVE).
 */
export interface LeafLocks {
  parent: string;
  exclusive: string[];
}

export async function leafLocks(c: Client, leafOid: string, parentOid: string, defaultOid: string | null): Promise<LeafLocks> {
  // Also an ancestor above the parent that other tables' foreign keys reference: the swap drops
  // and adds them again (their referencing tables are locked as the leaf's children).
  const r = await c.query<{ oid: string }>(
    `SELECT DISTINCT confrelid::int8::text AS oid FROM pg_constraint WHERE contype = 'f' AND conrelid = $1::oid AND confrelid <> $1::oid
     UNION
     SELECT DISTINCT confrelid::int8::text FROM pg_constraint
      WHERE contype = 'f' AND conparentid = 0 AND confrelid IN (SELECT relid FROM pg_partition_ancestors($1::oid::regclass) WHERE relid NOT IN ($1::oid, $2::oid))`,
    [leafOid, parentOid],
  );
  return { parent: parentOid, exclusive: [...(defaultOid ? [defaultOid] : []), ...r.rows.map((row) => row.oid)] };
}
