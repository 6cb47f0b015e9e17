import { renameColumnSql } from './cutover.js';
import { columnRenames, prebuildMatviews } from '../../cutover/matviews.js';
import type { Captured } from './capture.js';
import type { Run } from '../run.js';
import { proveDefaultPartition } from '../../shadow/leaf.js';
import { treeHomes } from '../../shadow/tree.js';

/**
 * What the cutover finds ready rather than doing under its locks. Materialized views over the
 * table, rebuilt against the shadow just before the cutover (and after the validation, so that
 * the snapshot they are filled as of is close to the swap): the shadow's columns carry the
 * origin's names while the rebuilds bind to them, so the views' definitions read as they are.
 * Returns how many were rebuilt.
 */
export async function prebuildForCutover(run: Run, k: Captured): Promise<number> {
  const { plan, names } = run;
  const origin = plan.origin;
  // For a leaf's ATTACH (shadow/leaf.ts): the parent's default partition proven free of the bound.
  if (origin.partitionOf) await proveDefaultPartition(run.pool, run.opts.retry, run.id, names, origin);
  const originOf = (name: string): string | undefined => {
    const s = plan.flow.sources.get(name);
    return s?.kind === 'origin' ? s.origin : undefined;
  };
  const homes = treeHomes(names.schema, origin, plan.tree);
  const renames = columnRenames(k.shadow.columns.map((col) => col.name), originOf);
  const rename = ([from, to]: [string, string]): string => renameColumnSql(names.schema, origin.name, from, to);
  return prebuildMatviews({
    pool: run.pool,
    migrationId: run.id,
    outgoing: { oid: origin.oid, schema: origin.schema, name: origin.name },
    // A tree's relations: their shadows live in the migration schemas of their schemas (shadow/tree.ts).
    tree: plan.tree.map((t) => ({ oid: t.oid, schema: t.schema, name: t.name, side: homes.side(t.schema) })),
    migrationSchema: names.schema,
    renameIncoming: renames.forward.map(rename),
    unrenameIncoming: renames.back.map(rename),
    replay: (c, n) => k.replayer.replayInTransaction(c, null, n),
    retry: run.opts.retry,
  });
}
