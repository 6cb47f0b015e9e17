import type { Client } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { readColumns, type Column, type TableInfo } from '../catalog/table.js';
import { followColumns, newColumnName, type ColumnFlow } from '../plan/columns.js';
import { deriveMapping } from '../plan/mapping.js';
import type { ArtifactNames } from '../plan/names.js';
import { createReplayer, type Replayer } from '../capture/replayer.js';
import { forwardCapture, nthCapture, type CaptureNames } from '../capture/install.js';
import type { Tables } from '../copy/sql.js';
import type { ShadowTable } from '../shadow/build.js';
import type { TreeSwap } from '../cutover/swap.js';
import { treeHomes } from '../shadow/tree.js';
import type { Run } from './run.js';
import type { Side } from '../verify/side.js';

/**
 * One relation of a parent's tree copied with it (shadow/tree.ts), besides the parent: its own
 * capture, changelog, mapping and replayer, read ONLY (its children's rows are theirs) and
 * written into its shadow, read ONLY too (the shadow tree's queries through a parent list its
 * children's rows).
 */
export interface TreeRelation {
  table: TableInfo;
  shadowOid: string;
  columns: Column[];
  /** its columns followed through the user's statements (its own kept where the parent's go) */
  flow: ColumnFlow;
  tables: Tables;
  replayer: Replayer;
  /** its two sides as the validation compared them, for the cutover's check under the locks (set by the validation) */
  sides?: { origin: Side; shadow: Side };
}

/** The n-th descendant's capture (1-based): its own changelog, functions and triggers (each recorded in pgshift.artifacts under its name). */
export function treeCapture(names: ArtifactNames, n: number): CaptureNames {
  return nthCapture(forwardCapture(names), n);
}

/**
 * Each descendant's mapping from its shadow as built: the user's statements followed on its own
 * columns (a rename, a type change, a drop recurse to it as offline), and a column the change
 * drops from the parent that the descendant declares too stays its own (offline keeps it).
 */
export async function treeRelations(run: Pick<Run, 'plan' | 'names'>, c: Client, shadow: ShadowTable): Promise<TreeRelation[]> {
  const { plan, names } = run;
  const homes = treeHomes(names.schema, plan.origin, plan.tree);
  const out: TreeRelation[] = [];
  for (const [i, t] of plan.tree.entries()) {
    const name = homes.inMigration(t);
    const shadowOid = (await c.query<{ oid: string }>(`SELECT $1::regclass::oid::int8::text AS oid`, [name])).rows[0]!.oid;
    const columns = await readColumns(c, shadowOid);
    const flow = followColumns(plan.parsed.statements, t.columns, t.identity);
    for (const col of columns) {
      if (!flow.sources.has(col.name) && t.columns.some((x) => x.name === col.name)) flow.sources.set(col.name, { kind: 'origin', origin: col.name, using: null, typeChanged: false });
    }
    const mapping = deriveMapping(flow, columns, shadow.onceDefaults, t.key, ident, plan.transforms, t.identity);
    const typeOf = (n: string): string => columns.find((x) => x.name === n)!.type;
    const origin = qualified(t.schema, t.name);
    const tables: Tables = {
      origin,
      originRows: `ONLY ${origin}`,
      shadow: name,
      shadowRows: `ONLY ${name}`,
      changelog: qualified(names.logSchema, treeCapture(names, i + 1).changelog),
      copyXacts: qualified(names.logSchema, names.copyXacts),
      mapping,
      shadowKeyTypes: mapping.shadowKey.map(typeOf),
    };
    const replayer = createReplayer({ tables, preservedTypes: mapping.preserved.map(typeOf), lockKey: names.lockKey });
    // Its unique indexes are on its shadow from the start (shadow/inherit.ts builds them with it).
    const unique = t.uniqueIndexes.filter((u) => u.name !== t.identity?.name && !u.expressions && !u.partial).map((u) => u.columns.map((k) => flowName(mapping, k.name)));
    if (unique.length) replayer.enableUniqueResolution(unique);
    out.push({ table: t, shadowOid, columns, flow, tables, replayer });
  }
  return out;
}

/** The tree's relations as the cutover exchanges them (cutover/swap.ts), each with its capture's triggers and its parents in order. */
export function treeSwaps(relations: readonly Pick<TreeRelation, 'table' | 'shadowOid' | 'flow'>[], names: ArtifactNames): TreeSwap[] {
  return relations.map((r, i) => ({
    oid: r.table.oid, schema: r.table.schema, name: r.table.name, shadowOid: r.shadowOid, capture: treeCapture(names, i + 1), newColumnName: newColumnName(r.flow),
    parents: r.table.inheritsFrom.map((p) => qualified(p.schema, p.name)),
  }));
}

/**
 * What the cutover locks of a tree besides the parent (cutover/lock-set.ts): `tree`, every
 * relation, its shadow, and its parents outside the tree (a statement through one lists its
 * children when it locks it, as through the table); `treeRelations`, whose bound objects'
 * tables the swap re-binds too.
 */
export function treeLocks(relations: readonly Pick<TreeRelation, 'table' | 'shadowOid'>[], originOid: string): { tree: string[]; treeRelations: string[] } {
  return {
    tree: [...new Set(relations.flatMap((r) => [r.table.oid, r.shadowOid, ...r.table.inheritsFrom.map((p) => p.oid)]))].filter((o) => o !== originOid),
    treeRelations: relations.map((r) => r.table.oid),
  };
}

/** A column of the origin as the shadow names it (a rename), itself otherwise. */
function flowName(mapping: { targets: string[]; expressions: string[] }, origin: string): string {
  const i = mapping.expressions.indexOf(ident(origin));
  return i < 0 ? origin : mapping.targets[i]!;
}

/**
 * The tree's replays as one: each batch replays every relation's changelog in turn, and counts
 * what all took (the drains' rule: a batch that took fewer than its bound found the backlogs
 * that small). The parent's replayer resolves its unique indexes' conflicts and records the
 * keys a proof re-checks, as for any table; a relation's own replayer records those of its own
 * keys a proof of its foreign keys re-checks (migration/phases/validate.ts proveConstraints).
 */
export function treeReplayer(parent: Replayer, relations: TreeRelation[]): Replayer {
  if (relations.length === 0) return parent;
  const all = [parent, ...relations.map((r) => r.replayer)];
  const each = async (f: (r: Replayer) => Promise<number>): Promise<number> => {
    let n = 0;
    for (const r of all) n += await f(r);
    return n;
  };
  return {
    replayBatch: (c, watermark, limit) => each((r) => r.replayBatch(c, watermark, limit)),
    replayInTransaction: (c, watermark, limit) => each((r) => r.replayInTransaction(c, watermark, limit)),
    enableUniqueResolution: (indexes) => parent.enableUniqueResolution(indexes),
    recordKeysIn: (table) => parent.recordKeysIn(table),
  };
}
