import type { Client } from '../db/session.js';

/**
 * What a swap locks, and nothing more: the table being replaced (first: the application takes
 * it before what its writes cascade into), the incoming table, the tables whose foreign keys
 * into it are dropped and added again (ALTER TABLE ... DROP CONSTRAINT takes both ends ACCESS
 * EXCLUSIVE), the parents of foreign keys taken off the outgoing table when it is kept, and the
 * parents of foreign keys added at the swap (SHARE ROW EXCLUSIVE). Views are not locked here:
 * LOCK TABLE on a view also locks every table the view reads; CREATE OR REPLACE VIEW takes the
 * view's own lock when it re-binds it, under the same timeout and deadline.
 */
export interface LockSet {
  first: string;
  exclusive: string[];
  share: string[];
}

export async function lockSetFor(
  c: Client,
  x: { outgoing: string; incoming: string; dropsOutgoingForeignKeys: boolean; addedForeignKeyParents: string[] },
): Promise<LockSet> {
  const r = await c.query<{ oid: string; why: string }>(
    `SELECT DISTINCT conrelid::int8::text AS oid, 'child' AS why FROM pg_constraint
      WHERE contype = 'f' AND confrelid = $1::oid AND conrelid NOT IN ($1::oid, $2::oid)
     UNION
     SELECT DISTINCT confrelid::int8::text, 'parent' FROM pg_constraint
      WHERE contype = 'f' AND conrelid = $1::oid AND confrelid NOT IN ($1::oid, $2::oid)`,
    [x.outgoing, x.incoming],
  );
  const children = r.rows.filter((row) => row.why === 'child').map((row) => row.oid);
  const parents = x.dropsOutgoingForeignKeys ? r.rows.filter((row) => row.why === 'parent').map((row) => row.oid) : [];
  const exclusive = [...new Set([x.incoming, ...children, ...parents])];
  const share = [...new Set(x.addedForeignKeyParents)].filter((o) => o !== x.outgoing && o !== x.incoming && !exclusive.includes(o));
  return { first: x.outgoing, exclusive, share };
}
