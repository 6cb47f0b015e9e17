import type { Client } from '../db/session.js';
import { partitionHomes } from '../plan/partition-homes.js';
import { ident, identList, literal, qualified, trusted, type SqlText } from '../db/quote.js';
import { rolledBack } from '../db/rolled-back.js';
import { sqlFile } from '../db/sql-files.js';
import { withQualifiedNames } from '../db/search-path.js';
import { describeError } from '../errors.js';
import { tableFingerprint } from '../catalog/table.js';
import { finishPartitionedIndex } from '../shadow/partitions.js';
import { autovacuumBackSql } from '../shadow/reloptions.js';
import { captureFunctionSql, changelogSql, dropTriggersSql, triggersSql, type CaptureNames } from '../capture/install.js';
import { chunkBoundSql, copyRangeSql, deleteShadowRowsSql, insertRowsSql, originRows, rowsOfParent, shadowRows, takeEntriesSql, type Tables } from '../copy/sql.js';
import { alterSides, hashableTypes } from '../verify/alter-sides.js';
import { pageRangeChecksumSql } from '../verify/side.js';
import { addToPublicationSql, dropFromPublicationSql, foreignKeysIntoParent, readDependentDefs, type DependentDef } from '../cutover/dependents.js';
import { leafLocks, lockSetFor } from '../cutover/lock-set.js';
import { lockStatements } from '../cutover/locked-swap.js';
import { carryOnRelations, readBoundDefs, type BoundDefs } from '../cutover/bound-swap.js';
import { attachLeaf, defaultBoundCheck, inheritedForeignKeys, keysIntoTree, leafBoundCondition } from '../shadow/leaf.js';
import { addForeignKeysIn, dropForeignKeysIn, exchangeTables, exchangeTreeParents, moveRules, notWithinTree, repointForeignKeysIn, swapInheritance, swapParents, swapTables, type TreeSwap } from '../cutover/swap.js';
import type { TableInfo } from '../catalog/table.js';
import type { PartitionHomes } from '../plan/partition-homes.js';
import { PARENTS_IN_ORDER, treeHomes } from '../shadow/tree.js';
import { treeCapture, treeLocks, treeRelations, treeSwaps } from '../migration/tree-relations.js';
import type { Plan } from '../migration/plan.js';
import { deriveMapping, type RowMapping } from '../plan/mapping.js';
import { newColumnName } from '../plan/columns.js';
import { logSchemaOf, type ArtifactNames } from '../plan/names.js';
import { buildShadow, swapStatements, type ShadowTable } from '../shadow/build.js';
import { standInName } from '../shadow/inherit.js';
import { oldParentDrops, validateChildrenSql } from '../shadow/parent.js';
import type { PlanStep, Runbook, RunbookScript } from '../dry-run/model.js';
import { inlineParams, recordingClient, substituteParams, type Recorded, type RecorderOptions } from './recorder.js';
import { doBlock, guard, scriptText, sessionSettings, type Section } from './script.js';

/**
 * The online copy as four SQL scripts a DBA can run by hand (psql), written from the engine's
 * own statements: the shadow built as the run builds it, recorded in a transaction rolled back;
 * the capture's changelog, function and triggers; the copy in keyset chunks, each its own
 * transaction (a DO block that commits per chunk); the replay of the captured keys; the index
 * builds; the swap as swapTables sends it (recorded without running: it would lock the table).
 * What differs from a run, and why: no pgshift state (the schemas pgshift_runbook_<oid> and its
 * _log hold everything, named in the scripts, never found by pattern); the replay runs after the copy, not
 * between chunks (so it needs no watermark), taking every entry at once; no checksum validation
 * (the swap checks the table was neither truncated nor changed since this was written).
 */
export interface CopyRunbookInput {
  plan: Plan;
  lockTimeoutMs: number;
  /** rows per chunk of the copy */
  chunkRows: number;
}

export interface CopyRunbook {
  runbook: Runbook;
  /** the run's steps with the engine's statements (null when the runbook could not be written) */
  steps: PlanStep[] | null;
}

export async function copyRunbook(c: Client, x: CopyRunbookInput): Promise<CopyRunbook> {
  const { plan } = x;
  const origin = plan.origin;
  const table = qualified(origin.schema, origin.name);
  const schema = `pgshift_runbook_${origin.oid}`;
  const extra = (plan.tree.length ? treeHomes(schema, origin, plan.tree) : partitionHomes(schema, origin)).extra;
  const left = (await c.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname = ANY ($1::text[]) ORDER BY 1 LIMIT 1', [[schema, logSchemaOf(schema), ...extra]])).rows[0];
  if (left) {
    return notWritten(`schema ${left.nspname} exists: a runbook of ${origin.schema}.${origin.name} was started and not finished; its abort.sql or cleanup.sql removes it`);
  }
  // Definitions are read as the swap reads them: under search_path = pg_catalog (transaction-local), every name qualified.
  // A tree's foreign keys among its relations are their own (each relation's below), not others' into them (cutover/swap.ts).
  const notTree = notWithinTree([origin, ...plan.tree]);
  const read = await rolledBack(c, () =>
    withQualifiedNames(c, async () => {
      const out: { defs: DependentDef[]; fks: OwnForeignKey[] }[] = [];
      for (const t of [origin, ...plan.tree]) {
        out.push({
          defs: (await readDependentDefs(c, t.oid, [])).filter(notTree),
          fks: (await c.query(sqlFile('fks-out.sql'), [t.oid])).rows as OwnForeignKey[],
        });
      }
      return out;
    }),
  );
  const defs = read[0]!.defs;
  const bound = await boundObjects(c, [origin, ...plan.tree]);
  // Other relations' rules, policies and constraint triggers (a tree's descendants' too): revert.sql re-binds them to the old relations by the same text.
  const rebound = await rolledBack(c, () => readBoundDefs(c, origin.oid, plan.tree.map((t) => t.oid))).catch((err: unknown) => describeError(err));
  if (typeof rebound === 'string') return notWritten(rebound);
  // A run rebuilds and fills a materialized view just before its cutover (cutover/matviews.ts); the scripts have no such step.
  const rebuilt = [...rebound.matviews.values()].map((m) => `materialized view ${m.schema}.${m.name}`).map((n) => bound.other.find((o) => o.startsWith(`${n} `)) ?? n);
  if (rebuilt.length) return notWritten(`${rebuilt.join(', ')}: the scripts do not rebuild a materialized view over what they swap (a run rebuilds and fills it just before its cutover); pgshift alter --execute does`);
  if (plan.flow.renames.length && (bound.views.length || rebound.rebound.size || defs.some((d) => ['trigger', 'rule', 'policy', 'statistics'].includes(d.kind)))) {
    return notWritten('the statements rename a column that views, rules, triggers, policies or statistics of the table (or other tables\' rules, policies and triggers) may name: their new definitions exist only once the rename is applied under the swap\'s lock; pgshift alter --execute does that');
  }
  const ruled = (await c.query<{ name: string }>(
    `SELECT DISTINCT r.ev_class::regclass::text AS name FROM pg_partition_tree($1::oid::regclass) t JOIN pg_rewrite r ON r.ev_class = t.relid WHERE t.level > 0`,
    [origin.oid],
  )).rows.map((r) => r.name);
  if (ruled.length) return notWritten(`partition ${ruled.join(', ')} has rules of its own, which revert.sql does not move back to the old partition; pgshift alter --execute does`);
  const leaf = origin.partitionOf;
  const intoTree = leaf ? await keysIntoTree(c, origin.oid) : [];
  if (intoTree.length) {
    return notWritten(`${origin.schema}.${origin.name} has foreign key ${intoTree.join(', ')} into its own partitioned table: the scripts do not take it off and put it back around DETACH and ATTACH; pgshift alter --execute does`);
  }
  if (leaf?.keysBelow) {
    return notWritten(`a partition of ${origin.schema}.${origin.name} has foreign key ${leaf.keysBelow} into its partitioned table: the scripts do not take it off and put it back around DETACH and ATTACH; pgshift alter --execute does`);
  }
  const searchPath = (await c.query(`SELECT current_setting('search_path') AS p`)).rows[0].p as string;
  const fingerprint = await tableFingerprint(c, origin.oid);
  // A tree's descendants (shadow/tree.ts): each checked by its own fingerprint.
  const fingerprints = new Map([[origin.oid, fingerprint]]);
  for (const t of plan.tree) fingerprints.set(t.oid, await tableFingerprint(c, t.oid));
  const names = runbookNames(schema);
  // A leaf's parent's default partition: proven free of the leaf's bound before the swap, as the run does (shadow/leaf.ts).
  const d = leaf?.defaultPartition ?? null;
  const defaultCheck = d === null ? null : {
    on: qualified(d.schema, d.name),
    name: defaultBoundCheck(names),
    check: `NOT (${await rolledBack(c, async () => {
      await c.query(`CREATE SCHEMA ${ident(schema)}`);
      return leafBoundCondition(c, schema, origin);
    })})`,
  };
  const oldLeafForeignKeys = leaf ? await inheritedForeignKeys(c, origin.oid) : [];
  const validateChildren = await validateChildrenSql(c, origin, plan.parsed.statements);
  try {
    return await rolledBack(c, async () => {
      const built = recordingClient(c, 'run');
      const shadow = await buildShadow(built.client, { origin, flow: plan.flow, statements: plan.parsed.statements, schema, tree: plan.tree });
      // A tree's descendants, each with its capture, changelog and mapping as the run's (migration/tree-relations.ts).
      const relations = plan.tree.length ? await treeRelations({ plan, names }, c, shadow) : [];
      // (a tree's descendant's are named so too, and revert.sql puts theirs back: shadow/tree.ts)
      const partitionFk = plan.tree.length ? undefined : shadow.constraints.find((k) => k.partition && k.type === 'f');
      if (partitionFk) return notWritten(`partition ${partitionFk.partition} has foreign key ${partitionFk.name} of its own, which revert.sql does not put back on the old partition; pgshift alter --execute does`);
      const mapping = deriveMapping(plan.flow, shadow.columns, shadow.onceDefaults, origin.key, ident, plan.transforms, origin.identity);
      // The row identity is built right after the copy (the replay finds rows by it), the others after the replay.
      const key = recordingClient(c, 'run');
      const indexes = recordingClient(c, 'run');
      for (const idx of shadow.indexes) {
        const into = idx.identity ? key : indexes;
        await into.client.query(idx.create);
        if (idx.attach) await into.client.query(idx.attach);
        await finishPartitionedIndex(into.client, schema, idx);
        for (const cm of idx.comments) {
          const at = partitionHomes(schema, origin).holding(idx);
          const on = cm.on === 'INDEX' ? `INDEX ${qualified(at, idx.name)}` : `CONSTRAINT ${ident(idx.name)} ON ${qualified(at, idx.partition ?? origin.name)}`;
          await into.client.query(`COMMENT ON ${on} IS ${literal(cm.text)}`);
        }
      }
      // Filled and indexed: the shadow's heaps get their own autovacuum settings back, as a run that
      // waits for a postponed cutover does (the swap may run much later, after replayed writes).
      for (const heap of shadow.heaps) await indexes.client.query(autovacuumBackSql(heap));
      const tree = treeSwaps(relations, names);
      const homes = tree.length ? treeHomes(schema, origin, plan.tree) : partitionHomes(schema, origin);
      const typeOf = (n: string): string => shadow.columns.find((col) => col.name === n)!.type;
      const rootTables: Tables = {
        origin: table,
        ...rowsOfParent(origin),
        shadow: qualified(schema, origin.name),
        // A tree's shadow: its own rows only, its children's are theirs (shadow/tree.ts).
        ...(tree.length ? { shadowRows: `ONLY ${qualified(schema, origin.name)}` } : {}),
        changelog: qualified(names.logSchema, names.changelog),
        mapping,
        shadowKeyTypes: mapping.shadowKey.map(typeOf),
      };
      const rels = [
        runbookRelation(names, origin, rootTables, capture(names), fingerprint),
        ...relations.map((r, i) => runbookRelation(names, r.table, r.tables, treeCapture(names, i + 1), fingerprints.get(r.table.oid)!)),
      ];
      // Each relation's own that the swap carries and revert.sql carries back: the table's, then each descendant's.
      const own: OwnOfRelation[] = [{ table, side: schema, ...read[0]!, newIdentity: await identitySequences(c, shadow.oid), newColumnName: newColumnName(plan.flow) }];
      for (const [i, t] of tree.entries()) {
        own.push({ table: qualified(t.schema, t.name), side: homes.side(t.schema), ...read[i + 1]!, newIdentity: await identitySequences(c, t.shadowOid), newColumnName: t.newColumnName });
      }
      const ctx: Ctx = { plan, x, schema, table, names, shadow, mapping, defs, bound, rebound, own, fingerprint, searchPath, defaultCheck, oldLeafForeignKeys, validateChildren, rels, tree, homes };
      const swap = await recordSwap(c, ctx);
      const revert = await recordRevert(c, ctx);
      const shadowDdl = shadowStatements(built.statements, ctx);
      const forward = forwardScript(ctx, shadowDdl, key.sql(), indexes.sql(), swap);
      const steps = await engineSteps(c, ctx, shadowDdl, key.sql(), indexes.sql(), swap);
      return { steps, runbook: {
        scripts: [forward, abortScript(ctx, revert), revertScript(ctx, revert), cleanupScript(ctx)],
        notes: [
          `everything the scripts create is in schemas ${[schema, ...homes.extra, names.logSchema].join(', ')} (and the capture triggers ${rels.map((r) => `${r.capture.captureTrigger} and ${r.capture.truncateTrigger} on ${r.table.schema}.${r.table.name}`).join(', ')}); abort.sql and cleanup.sql name each object, never a pattern`,
          'revert.sql swaps the old table back while it is kept (until cleanup.sql): every write made to the new table since the swap is lost; abort.sql does the same when the swap has happened, then removes the rest',
          'the scripts do not compare the tables by checksum before the swap (pgshift alter --execute does); the swap stops if the table was truncated or changed since this runbook was written',
        ],
      } };
    });
  } catch (err) {
    return notWritten(`the scripts could not be written: ${describeError(err)}`);
  }
}

interface Ctx {
  plan: Plan;
  x: CopyRunbookInput;
  schema: string;
  table: string;
  names: ArtifactNames;
  shadow: ShadowTable;
  mapping: RowMapping;
  defs: DependentDef[];
  bound: { views: { name: string; def: string; options: string[] | null }[]; other: string[] };
  rebound: BoundDefs;
  fingerprint: string;
  searchPath: string;
  /** the table's and each tree descendant's own that the swap carries to the new relation and revert.sql back */
  own: OwnOfRelation[];
  /** a leaf's parent's default partition and the CHECK that proves it holds no row of the leaf's bound */
  defaultCheck: { on: string; name: string; check: string } | null;
  /** a leaf's foreign keys cloned from its parent's: its own once detached, taken off the kept old leaf */
  oldLeafForeignKeys: string[];
  /** a parent's: its children's copies of a CHECK the statements VALIDATE, validated before the swap (shadow/parent.ts) */
  validateChildren: string[];
  /** what is captured, copied and replayed: the table, then a tree's descendants (shadow/tree.ts), each read ONLY */
  rels: Relation[];
  /** a tree's descendants as the swap exchanges them (empty without a tree) */
  tree: TreeSwap[];
  /** where the shadow's relations live: a tree's descendants', a partitioned table's partitions' (plan/partition-homes.ts) */
  homes: PartitionHomes;
}

/** A relation's foreign key to another table (fks-out.sql): the swap takes it off the kept old relation, revert.sql puts it back. */
interface OwnForeignKey {
  name: string;
  def: string;
  comment: string | null;
}

/**
 * What the swap carries from a relation (the table, a tree's descendant) to its new one, and
 * revert.sql back: other tables' foreign keys into it, its serial and identity sequences (its
 * dependent definitions), its own foreign keys.
 */
interface OwnOfRelation {
  /** the relation of the user's name, qualified */
  table: SqlText;
  /** the migration schema the old relation steps aside into, and the new one at the swap back */
  side: string;
  defs: DependentDef[];
  fks: OwnForeignKey[];
  /** the new relation's identity sequences by its column (their names; they move with it) */
  newIdentity: Map<string, string>;
  /** its column name -> the new relation's (absent when dropped) */
  newColumnName: (origin: string) => string | undefined;
}


/** One relation the scripts capture, copy and replay on its own: its tables as the scripts read them, its capture, its fingerprint. */
interface Relation {
  table: TableInfo;
  tables: Tables;
  capture: CaptureNames;
  fingerprint: string;
}

/** A relation's tables as the scripts use them: constants read from once_defaults, no copy transactions recorded. */
function runbookRelation(names: ArtifactNames, table: TableInfo, t: Tables, cap: CaptureNames, fingerprint: string): Relation {
  const { copyXacts: _, ...rest } = t;
  return { table, capture: cap, fingerprint, tables: { ...rest, mapping: { ...t.mapping, expressions: expressions(names, t.mapping), constants: [] } } };
}

function notWritten(why: string): CopyRunbook {
  return { runbook: { scripts: [], notes: [`no runbook: ${why}`] }, steps: null };
}

function runbookNames(schema: string): ArtifactNames {
  return {
    schema,
    logSchema: logSchemaOf(schema),
    changelog: 'changelog',
    copyLanes: 'copy_lanes',
    copyXacts: 'copy_xacts',
    captureTrigger: 'pgshift_runbook_capture',
    truncateTrigger: 'pgshift_runbook_truncate',
    reverseChangelog: 'reverse_changelog',
    reverseTrigger: 'pgshift_runbook_revert',
    reverseTruncateTrigger: 'pgshift_runbook_revert_truncate',
    swapTable: 'pgshift_runbook_swap',
    swapRelation: (n) => `pgshift_runbook_swap_${n}`,
    lockKey: [0, 0],
    applicationName: 'pgshift:runbook',
  };
}

/** The runbook's own tables beside the changelog, in the log schema (nothing of the user's is there). */
const truncatedTable = (ctx: Ctx): SqlText => qualified(ctx.names.logSchema, 'truncated');
const onceDefaults = (names: ArtifactNames): SqlText => qualified(names.logSchema, 'once_defaults');

function capture(names: ArtifactNames): CaptureNames {
  return { schema: names.logSchema, changelog: names.changelog, captureFunction: 'pgshift_capture', truncateFunction: 'pgshift_truncated', captureTrigger: names.captureTrigger, truncateTrigger: names.truncateTrigger };
}

/**
 * Views bound to the table or a tree's descendant (re-bound by name), and the other objects bound
 * to them (materialized views, routines of their row types), which the revert cannot carry back.
 */
async function boundObjects(c: Client, tables: TableInfo[]): Promise<Ctx['bound']> {
  const out: Ctx['bound'] = { views: [], other: [] };
  for (const [i, t] of tables.entries()) {
    const b = await boundObjectsOf(c, t.oid);
    out.views.push(...b.views.filter((v) => !out.views.some((w) => w.name === v.name)));
    // A descendant's named with it (the table's are the table's).
    out.other.push(...b.other.map((o) => (i ? `${o} (of ${t.schema}.${t.name})` : o)).filter((o) => !out.other.includes(o)));
  }
  return out;
}

async function boundObjectsOf(c: Client, oid: string): Promise<Ctx['bound']> {
  await c.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    await c.query(`SET LOCAL search_path = pg_catalog`);
    const r = await c.query(
      `SELECT DISTINCT v.oid, format('%I.%I', n.nspname, v.relname) AS name, v.relkind::text AS kind,
              CASE WHEN v.relkind = 'v' THEN pg_get_viewdef(v.oid) END AS def, v.reloptions AS options
         FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid AND r.rulename = '_RETURN' JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid AND v.oid <> $1::oid
        ORDER BY v.oid`,
      [oid],
    );
    const routines = await c.query(
      `SELECT p.oid::regprocedure::text AS name FROM pg_proc p JOIN pg_class t ON t.oid = $1::oid
        WHERE p.prorettype = t.reltype OR t.reltype = ANY (p.proargtypes::oid[])`,
      [oid],
    );
    return {
      views: r.rows.filter((v) => v.kind === 'v').map((v) => ({ name: v.name, def: v.def, options: v.options })),
      other: [...r.rows.filter((v) => v.kind !== 'v').map((v) => `materialized view ${v.name}`), ...routines.rows.map((p) => `routine ${p.name}`)],
    };
  } finally {
    await c.query('ROLLBACK');
  }
}

async function identitySequences(c: Client, oid: string): Promise<Map<string, string>> {
  const r = await c.query(
    `SELECT a.attname AS col, s.relname AS seq FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_class'::regclass AND d.refobjid = $1::oid AND d.deptype = 'i'`,
    [oid],
  );
  return new Map(r.rows.map((row) => [row.col as string, row.seq as string]));
}

/**
 * The shadow's statements as recorded, with the once-evaluated defaults kept: where the build
 * reads them off its sample row (and empties it), the script first saves that row's values in
 * a table the copy reads, so every row gets the value the ADD COLUMN gave, as offline.
 */
function shadowStatements(recorded: Recorded[], ctx: Ctx): string[] {
  const out: string[] = [];
  const shadow = qualified(ctx.schema, ctx.plan.origin.name);
  const once = [...ctx.shadow.onceDefaults.keys()];
  for (const r of recorded) {
    if (once.length && new RegExp(`^TRUNCATE ${escape(shadow)}$`).test(r.sql)) {
      out.push(`CREATE TABLE ${onceDefaults(ctx.names)} AS SELECT ${identList(once)} FROM ${shadow} LIMIT 1`);
    }
    out.push(inlineParams(r.sql, r.params));
  }
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The mapping's expressions with each once-evaluated default read from once_defaults instead of a parameter. */
function expressions(names: ArtifactNames, m: RowMapping): string[] {
  return m.expressions.map((e, i) => {
    const constant = /^\$(\d+)::(.+)$/.exec(e);
    if (!constant) return e;
    return `(SELECT ${ident(m.targets[i]!)} FROM ${onceDefaults(names)})::${constant[2]}`;
  });
}

const tuple = (xs: string[]): string => (xs.length === 1 ? xs[0]! : `(${xs.join(', ')})`);

/**
 * The copy: keyset chunks in key order, each INSERT ... SELECT the copier runs (copyRangeSql),
 * committed one by one from a DO block (run it outside a transaction block). The replay comes
 * after the copy, so no chunk waits for a watermark.
 */
function copyBlock(ctx: Ctx, rel: Relation): string {
  const t = rel.tables;
  const key = t.mapping.originKey;
  const keys = key.map((k) => ident(k.name));
  const lo = key.map((_, i) => `pgshift_lo_${i}`);
  const hi = key.map((_, i) => `pgshift_hi_${i}`);
  const declare = key.flatMap((k, i) => [`pgshift_lo_${i} ${k.type}${k.collation ? ` COLLATE ${k.collation}` : ''};`, `pgshift_hi_${i} ${k.type}${k.collation ? ` COLLATE ${k.collation}` : ''};`]);
  // copyRangeSql numbers the low keys, then the high keys, after the (here none) constants.
  const chunk = (hasLow: boolean, hasHigh: boolean): string =>
    substituteParams(copyRangeSql(t, hasLow, hasHigh), (n) => (hasLow ? (n <= key.length ? lo[n - 1]! : hi[n - 1 - key.length]!) : hi[n - 1]!));
  const bound = (hasLow: boolean): string =>
    `SELECT ${keys.join(', ')} INTO ${hi.join(', ')} FROM ${originRows(t)}${hasLow ? ` WHERE ${tuple(keys)} > ${tuple(lo)}` : ''} ORDER BY ${keys.join(', ')} OFFSET ${ctx.x.chunkRows - 1} LIMIT 1`;
  // Its variables are prefixed: one named as a column (n, first, ...) would make the column's reference ambiguous.
  return doBlock(
    [
      'DECLARE',
      ...declare.map((d) => `  ${d}`),
      '  pgshift_first boolean := true;',
      '  pgshift_last boolean;',
      '  pgshift_copied bigint := 0;',
      '  pgshift_n bigint;',
      'BEGIN',
      '  LOOP',
      `    IF pgshift_first THEN ${bound(false)}; ELSE ${bound(true)}; END IF;`,
      '    pgshift_last := NOT FOUND;',
      `    IF pgshift_first AND pgshift_last THEN ${chunk(false, false)};`,
      `    ELSIF pgshift_first THEN ${chunk(false, true)};`,
      `    ELSIF pgshift_last THEN ${chunk(true, false)};`,
      `    ELSE ${chunk(true, true)};`,
      '    END IF;',
      '    GET DIAGNOSTICS pgshift_n = ROW_COUNT;',
      '    pgshift_copied := pgshift_copied + pgshift_n;',
      '    COMMIT;',
      "    RAISE NOTICE 'pgshift runbook: % rows copied', pgshift_copied;",
      '    EXIT WHEN pgshift_last;',
      `    ${lo.map((l, i) => `${l} := ${hi[i]};`).join(' ')}`,
      '    pgshift_first := false;',
      '  END LOOP;',
      'END',
    ].join('\n'),
  );
}

/**
 * The replay as statements of one transaction (the caller's): take every captured key (the
 * entries are deleted before the table is read: an entry committed meanwhile stays for the next
 * run), delete those keys' shadow rows, and insert the table's current rows for them. Columns
 * whose per-row default must survive (a volatile default) are saved first and put back.
 */
function replayStatements(rel: Relation, n: number): string[] {
  const t = rel.tables;
  const m = t.mapping;
  const ok = m.originKey.map((k) => ident(k.name));
  const sk = m.shadowKey.map(ident);
  // A tree's relations replay in one transaction: each its own temporary tables.
  const suffix = n ? `_${n}` : '';
  const batch = `pg_temp.pgshift_batch${suffix}`;
  const inBatch = `${tuple(ok)} IN (SELECT ${ok.join(', ')} FROM ${batch})`;
  const head = (extra: string[] = []): string => `INSERT INTO ${t.shadow} (${identList([...m.targets, ...extra])})${m.overriding ? ' OVERRIDING SYSTEM VALUE' : ''}`;
  const select = t.mapping.expressions.join(', ');
  const out = [
    `CREATE TEMP TABLE pgshift_batch${suffix} ON COMMIT DROP AS SELECT ${ok.join(', ')} FROM ${t.changelog} LIMIT 0`,
    `WITH taken AS (DELETE FROM ${t.changelog} RETURNING ${ok.join(', ')}) INSERT INTO ${batch} SELECT DISTINCT ${ok.join(', ')} FROM taken`,
  ];
  if (m.preserved.length) {
    const saved = `pg_temp.pgshift_saved${suffix}`;
    out.push(
      `CREATE TEMP TABLE pgshift_saved${suffix} ON COMMIT DROP AS SELECT ${[...sk, ...m.preserved.map(ident)].join(', ')} FROM ${shadowRows(t)} WHERE ${tuple(sk)} IN (SELECT ${ok.join(', ')} FROM ${batch})`,
      `DELETE FROM ${shadowRows(t)} WHERE ${tuple(sk)} IN (SELECT ${ok.join(', ')} FROM ${batch})`,
      `${head(m.preserved)} SELECT ${select}, ${m.preserved.map((p) => `p.${ident(p)}`).join(', ')} FROM ${originRows(t)} JOIN ${saved} p ON ${tuple(ok.map((k) => `${t.origin}.${k}`))} = ${tuple(sk.map((k) => `p.${k}`))}`,
      `${head()} SELECT ${select} FROM ${originRows(t)} WHERE ${inBatch} AND ${tuple(ok)} NOT IN (SELECT ${sk.join(', ')} FROM ${saved})`,
    );
  } else {
    out.push(`DELETE FROM ${shadowRows(t)} WHERE ${tuple(sk)} IN (SELECT ${ok.join(', ')} FROM ${batch})`, `${head()} SELECT ${select} FROM ${originRows(t)} WHERE ${inBatch}`);
  }
  out.push(`SELECT count(*) AS keys_replayed FROM ${batch}`);
  return out;
}

/** Whether the swap has happened: the table's own OID (the old table) is in the runbook's schema. */
function swapped(ctx: Ctx): string {
  return `(SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = ${literal(ctx.plan.origin.oid)}::oid) = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ${literal(ctx.schema)})`;
}

/** A relation's fingerprint now (catalog-fingerprint.sql) as JSON, without the triggers parts when `withoutTriggers`. */
function fingerprintNow(rel: Relation, withoutTriggers: boolean): string {
  const sql = substituteParams(sqlFile('catalog-fingerprint.sql').replace(/^--.*$/gm, '').trim(), () => `${literal(rel.table.oid)}::oid`);
  return `((${sql.replace(/\)::text AS fp$/, ')')})::jsonb${withoutTriggers ? TRIGGER_KEYS : ''})`;
}

function fingerprintThen(rel: Relation, withoutTriggers: boolean): string {
  return `(${literal(rel.fingerprint)}::jsonb${withoutTriggers ? TRIGGER_KEYS : ''})`;
}

/** Stops the script when a relation (the table, each of a tree's descendants) is not as this runbook was written for. */
function fingerprintGuards(ctx: Ctx, withoutTriggers: boolean, message: (name: string) => string): string[] {
  return ctx.rels.map((r) => guard(`${fingerprintNow(r, withoutTriggers)} IS DISTINCT FROM ${fingerprintThen(r, withoutTriggers)}`, message(`${r.table.schema}.${r.table.name}`)));
}

/** The fingerprint's parts that the runbook's own capture triggers change (the root's, the partitions'). */
const TRIGGER_KEYS = " - 'triggers' - 'partition triggers'";

/**
 * The lock set of the swap (pgshift's lockSetFor, the table being replaced as the outgoing one) as
 * the cutover takes it (lockStatements: the first relation first, the table or an inheritance
 * child's first parent or a leaf's partitioned table, then the rest in OID order). Read before
 * the swap, the same set names the swap back's: the table of the user's name and the one in the
 * runbook's schema, their parents and children, what references them (cutover/swap-back.ts
 * takes lockSetFor of the new table, as outgoing).
 */
async function lockStatementsOf(c: Client, ctx: Ctx): Promise<string[]> {
  const o = ctx.plan.origin;
  const leaf = o.partitionOf;
  return lockStatements(c, await lockSetFor(c, {
    outgoing: o.oid,
    incoming: ctx.shadow.oid,
    dropsOutgoingForeignKeys: true,
    addedForeignKeyParents: ctx.shadow.constraints.flatMap((con) => (con.referenced ? [con.referenced] : [])),
    ...(leaf ? { leaf: await leafLocks(c, o.oid, leaf.parentOid, leaf.defaultPartition?.oid ?? null) } : {}),
    // A tree: as the run's cutover takes it (migration/tree-relations.ts).
    ...(ctx.tree.length ? treeLocks(ctx.tree.map((t, i) => ({ table: ctx.rels[i + 1]!.table, shadowOid: t.shadowOid })), o.oid) : {}),
  }));
}

/**
 * orderParents (shadow/tree.ts) reads a tree's relation's parents once they were exchanged; a
 * swap and a swap back recorded before either happened read them as they will be then: the
 * parents inside the tree (kept) in their order, then those outside it (appended by INHERIT).
 */
function parentsAsExchanged(ctx: Ctx): NonNullable<RecorderOptions['onRead']> {
  const inTree = new Set(ctx.rels.map((r) => r.table.oid));
  const order = new Map(ctx.rels.slice(1).map((r) => {
    const name = (p: { schema: string; name: string }): { p: string } => ({ p: qualified(p.schema, p.name) });
    const parents = r.table.inheritsFrom;
    return [qualified(r.table.schema, r.table.name) as string, [...parents.filter((p) => inTree.has(p.oid)).map(name), ...parents.filter((p) => !inTree.has(p.oid)).map(name)]];
  }));
  return (sql, rows, params) => (sql === PARENTS_IN_ORDER ? order.get(String(params[0])) ?? rows : rows);
}

interface RecordedSwap {
  locks: string[];
  statements: string[];
  validate: string[];
}

/** The swap as swapTables sends it, recorded without running (reads run: the catalog look-ups it decides by). */
async function recordSwap(c: Client, ctx: Ctx): Promise<RecordedSwap> {
  const { plan } = ctx;
  const rec = recordingClient(c, 'dry', { onRead: parentsAsExchanged(ctx) });
  const newColumnOf = newColumnName(plan.flow);
  const { swap, validate: userValidate } = swapStatements(plan.parsed.statements, plan.origin.schema, plan.origin.name);
  const result = await swapTables(rec.client, {
    origin: plan.origin, names: ctx.names, shadowOid: ctx.shadow.oid, newColumnName: newColumnOf, renameOrigin: [], unrenameOrigin: [],
    // Not written for a leaf with a key into its tree (above): no statement can name one.
    constraints: ctx.shadow.constraints, swapStatements: swap, leafKeyChanges: [], retainOld: true,
    // A parent's ONLY drops, run on the old table's stand-in while its children move, as the run's (shadow/parent.ts).
    parentDrops: plan.origin.hasInheritanceChildren && !ctx.tree.length ? oldParentDrops(plan.parsed.statements, ctx.schema) : [],
    // A runbook's swap runs whenever the DBA runs it: the heaps got their settings back after the builds.
    autovacuumBack: [],
    ...(ctx.tree.length ? { tree: ctx.tree } : {}),
  });
  // The identity sequence's state is read when the swap runs, not when this was written: from the
  // old relation's sequence (the table's, a descendant's), moved beside it.
  const oldSeq = (on: string, col: string): string | undefined => {
    const rel = ctx.own.find((r) => r.table === on);
    const def = rel?.defs.find((d) => d.kind === 'identity' && rel.newColumnName(d.target!) === col);
    return def ? qualified(rel!.side, def.name) : undefined;
  };
  const statements = rec.statements.map((r) => identityFrom(r, oldSeq));
  // The kept old leaf's foreign keys cloned from its parent's are its own once detached (the
  // swap reads them before, here): they go too, as the run takes them off (cutover/swap.ts).
  for (const fk of ctx.oldLeafForeignKeys) statements.push(`ALTER TABLE ${qualified(ctx.schema, plan.origin.name)} DROP CONSTRAINT IF EXISTS ${ident(fk)}`);
  const validate = [...result.validate, ...userValidate.map((v) => [ctx.table, v] as [string, string])].map(([t, con]) => `ALTER TABLE ${t} VALIDATE CONSTRAINT ${ident(con)}`);
  return { locks: await lockStatementsOf(c, ctx), statements, validate };
}

/** A recorded setval(pg_get_serial_sequence(table, column), value, called) made to copy the state of `source(table, column)` at run time. */
function identityFrom(r: Recorded, source: (table: string, col: string) => string | undefined): string {
  if (!/^\s*SELECT setval\(pg_get_serial_sequence\(\$1, \$2\)/.test(r.sql)) return inlineParams(r.sql, r.params);
  const [tableName, col] = r.params as string[];
  const from = source(tableName!, col!);
  if (!from) return inlineParams(r.sql, r.params);
  return `SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence(${literal(tableName!)}, ${literal(col!)}), s.last_value, s.is_called) FROM ${trusted(from)} s`;
}

/**
 * The swap back, for revert.sql and abort.sql: the new table's own additions that would hold
 * others go (its foreign keys, publication membership, its statistics objects), the tables
 * change places again (exchangeTables, as the swap does), and everything the swap re-pointed
 * by name is re-pointed the same way, which now means the old table: foreign keys into it,
 * views, serial and identity sequences; the old table gets its foreign keys back.
 */
async function recordRevert(c: Client, ctx: Ctx): Promise<RecordedSwap> {
  const { plan, table, schema, defs } = ctx;
  const own = ctx.own;
  const ofRel = (r: OwnOfRelation, kind: DependentDef['kind']): DependentDef[] => r.defs.filter((d) => d.kind === kind);
  // A serial the swap gave the new relation (releaseSequences: not one of a column the change drops, which stays with the old).
  const released = (r: OwnOfRelation): DependentDef[] => ofRel(r, 'serial').filter((s) => r.newColumnName(s.target!) !== undefined);
  const serials = new Set(own.flatMap((r) => released(r).map((s) => s.name)));
  // The old relations' own relations move with them; their serial sequences belong to the new ones by then.
  const parents = parentsAsExchanged(ctx);
  const rec = recordingClient(c, 'dry', {
    onRead: (sql, rows, params) => (sql === sqlFile('owned-relations.sql') ? rows.filter((r) => !(r.kind === 'S' && serials.has(String(r.name)))) : parents(sql, rows, params)),
  });
  const q = (sql: string): Promise<unknown> => rec.client.query(sql);
  await q('SET LOCAL search_path = pg_catalog');
  // A leaf: the new one leaves the parent first, other tables' foreign keys into the tree off
  // meanwhile (DETACH would read their rows), as the run's swap back does (cutover/swap-back.ts).
  const leaf = plan.origin.partitionOf;
  const intoParent = leaf ? await foreignKeysIntoParent(rec.client, plan.origin.oid) : [];
  await dropForeignKeysIn(rec.client, intoParent);
  if (leaf) await q(`ALTER TABLE ${qualified(leaf.parentSchema, leaf.parentName)} DETACH PARTITION ${table}`);
  // The new relations' foreign keys (a tree's descendant's on the descendant of its name) must not hold the parents once kept.
  for (const con of ctx.shadow.constraints.filter((k) => k.type === 'f')) {
    const on = con.partition ? ctx.homes.live({ schema: con.partitionSchema!, name: con.partition }) : table;
    await q(`ALTER TABLE ${on} DROP CONSTRAINT IF EXISTS ${ident(con.name)}`);
  }
  for (const s of own.flatMap(released)) await q(`ALTER SEQUENCE ${qualified(s.schema!, s.name)} OWNED BY NONE`);
  // What the swap moved to the new table (and a tree's new relations), off it: its publications, its statistics objects.
  const extras = [
    { defs, table, oldTable: qualified(schema, plan.origin.name), side: schema },
    ...(await Promise.all(ctx.tree.map(async (t) => ({
      defs: (await readDependentDefs(c, t.oid, [])).filter((d) => ['statistics', 'publication', 'rule'].includes(d.kind)),
      table: qualified(t.schema, t.name), oldTable: qualified(ctx.homes.side(t.schema), t.name), side: ctx.homes.side(t.schema),
    })))),
  ];
  for (const e of extras) await extrasOff(rec.client, e.defs, e.table);
  // A tree's relations change places with the table, each the kept old one coming back (shadow/tree.ts).
  const tree = ctx.tree.map((t) => ({ ...t, shadowOid: t.oid }));
  await exchangeTables(rec.client, { userSchema: plan.origin.schema, name: plan.origin.name, names: ctx.names, homes: ctx.homes, incomingOid: plan.origin.oid, tree });
  // Read now, before the swap, the parents and children are where the swap back finds them on the
  // other table of the same name: the swap's own call gives the swap back's statements.
  const inheritance = { table: qualified(plan.origin.schema, plan.origin.name), oldTable: qualified(schema, plan.origin.name), schema, incomingOid: ctx.shadow.oid, outgoingOid: plan.origin.oid };
  if (ctx.tree.length) {
    // A tree: the old relations take back their parents outside it (and their order); each tree keeps its own.
    await swapParents(rec.client, inheritance);
    await exchangeTreeParents(rec.client, ctx.tree, { outgoing: plan.origin.oid, incoming: ctx.shadow.oid, homes: ctx.homes, schema });
  } else {
    await swapInheritance(rec.client, inheritance);
  }
  // Each relation (the table, a tree's descendants) claims its sequences back: a serial's owner, an identity's state from the new one's, moved aside.
  for (const r of own) {
    for (const s of released(r)) await q(`ALTER SEQUENCE ${qualified(s.schema!, s.name)} OWNED BY ${r.table}.${ident(s.target!)}`);
    for (const s of ofRel(r, 'identity')) {
      const seq = r.newIdentity.get(r.newColumnName(s.target!) ?? '');
      if (seq) await q(`SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence(${literal(r.table)}, ${literal(s.target!)}), s.last_value, s.is_called) FROM ${qualified(r.side, seq)} s`);
    }
  }
  const validate = await repointForeignKeysIn(rec.client, own.flatMap((r) => ofRel(r, 'fk-in')));
  // The old relations' own foreign keys, taken off them by the swap, back (a NOT VALID one stays so).
  for (const r of own) {
    for (const fk of r.fks) {
      // A leaf's go back valid: ATTACH attaches only a valid one (its check reads the old leaf under the lock).
      const later = !/ NOT VALID$/.test(fk.def) && !leaf;
      await q(`ALTER TABLE ${r.table} ADD CONSTRAINT ${ident(fk.name)} ${fk.def}${later ? ' NOT VALID' : ''}`);
      if (fk.comment !== null) await q(`COMMENT ON CONSTRAINT ${ident(fk.name)} ON ${r.table} IS ${literal(fk.comment)}`);
      if (later) validate.push([r.table, fk.name]);
    }
  }
  if (leaf) {
    await attachLeaf(rec.client, plan.origin, ctx.names, leaf.bound);
    validate.push(...(await addForeignKeysIn(rec.client, intoParent)));
  }
  for (const v of ctx.bound.views) await q(`CREATE OR REPLACE VIEW ${v.name}${v.options?.length ? ` WITH (${v.options.join(', ')})` : ''} AS ${v.def}`);
  await carryOnRelations(rec.client, ctx.rebound);
  for (const e of extras) await extrasBack(rec.client, e.defs, e);
  const locks = await lockStatementsOf(c, ctx);
  return { locks, statements: rec.sql(), validate: validate.map(([t, con]) => `ALTER TABLE ${t} VALIDATE CONSTRAINT ${ident(con)}`) };
}

/** Before the swap back: the new relation leaves the publications the swap put it in, and its statistics objects go. */
async function extrasOff(c: Client, defs: DependentDef[], table: string): Promise<void> {
  for (const p of defs.filter((d) => d.kind === 'publication')) await c.query(dropFromPublicationSql(p, table));
  for (const s of defs.filter((d) => d.kind === 'statistics')) await c.query(`DROP STATISTICS IF EXISTS ${qualified(s.schema!, s.name)}`);
}

/**
 * After the swap back, what the swap moved to the new relation comes back to the old one of the
 * name `table` again: its rules by their text, which names it; its statistics objects from the
 * migration's schema `side`, where they stepped aside; its publications.
 */
async function extrasBack(c: Client, defs: DependentDef[], x: { table: string; oldTable: string; side: string }): Promise<void> {
  await moveRules(c, defs.filter((d) => d.kind === 'rule'), { to: x.table, from: x.oldTable });
  for (const s of defs.filter((d) => d.kind === 'statistics')) await c.query(`ALTER STATISTICS ${qualified(x.side, s.name)} SET SCHEMA ${ident(s.schema!)}`);
  for (const p of defs.filter((d) => d.kind === 'publication')) await c.query(addToPublicationSql(p, x.table));
}

function header(ctx: Ctx, what: string, lines: string[]): string[] {
  const o = ctx.plan.origin;
  return [
    `pgshift runbook: ${what}`,
    `table ${o.schema}.${o.name} (oid ${o.oid}), strategy: online copy`,
    ...ctx.plan.statements.map((s) => `statement: ${s}`),
    ...lines,
    `Run as the table's owner or a superuser, e.g. psql -v ON_ERROR_STOP=1 -f <file>, outside a transaction block (the copy commits chunk by chunk).`,
    `Every lock waits at most lock_timeout (${ctx.x.lockTimeoutMs}ms): when one times out, the section stops; run it again.`,
  ];
}

function forwardScript(ctx: Ctx, shadowDdl: string[], keyDdl: string[], indexDdl: string[], swap: RecordedSwap): RunbookScript {
  const o = ctx.plan.origin;
  const named = ctx.rels.map((r) => `${r.table.schema}.${r.table.name}`).join(', ');
  const replay = ctx.rels.flatMap((r, i) => replayStatements(r, i));
  const tree = ctx.tree.length > 0;
  const sections: Section[] = [
    { title: 'session settings', statements: sessionSettings(ctx.searchPath, ctx.x.lockTimeoutMs) },
    {
      title: `check: ${tree ? 'the table and its tree are as they were' : 'the table is as it was'} when this runbook was written`,
      statements: fingerprintGuards(ctx, false, (name) => `${name} changed since this runbook was written: write it again (pgshift plan)`),
    },
    {
      title: tree
        ? `the shadow tree (${ctx.schema}.${o.name} and its descendants' shadows in ${ctx.homes.extra.length ? `${ctx.schema} and ${ctx.homes.extra.join(', ')}` : ctx.schema}), as the statements leave the tree, and a changelog per relation`
        : `the shadow table ${ctx.schema}.${o.name}, as the statements leave the table, and the changelog`,
      notes: [
        'the same statements pgshift runs; indexes are built after the copy (the key first), foreign keys and NOT VALID checks attached at the swap',
        ...(tree ? ['a tree (shadow/tree.ts): each descendant\'s shadow inherits stand-ins of its parents, those inside the tree exchanged for their shadows; the statements run on the parent\'s shadow and PostgreSQL recurses them into the shadow tree, as offline'] : []),
        `locks: ACCESS SHARE on ${named} (LIKE reads ${tree ? 'them' : 'it'}); SHARE ROW EXCLUSIVE on the tables its foreign keys reference, for milliseconds`,
      ],
      statements: [
        'BEGIN',
        `CREATE SCHEMA ${ident(ctx.names.logSchema)}`,
        ...shadowDdl,
        ...ctx.rels.flatMap((r) => [changelogSql(r.table, r.capture), captureFunctionSql(r.table, r.capture)]),
        `CREATE TABLE ${truncatedTable(ctx)} (at timestamptz NOT NULL DEFAULT now())`,
        ...ctx.rels.map((r) => sqlFile('runbook-truncated-function.sql', { schema: trusted(ident(r.capture.schema)), truncate_fn: trusted(ident(r.capture.truncateFunction)), truncated: truncatedTable(ctx) })),
        'COMMIT',
      ],
    },
    {
      title: `capture: from this commit on, every write to ${named} leaves its key in ${tree ? 'the relation\'s own changelog (a row trigger on a parent does not fire for its children\'s rows)' : 'the changelog'}`,
      notes: [`locks: SHARE ROW EXCLUSIVE on ${named} (writes wait) while the triggers are created: milliseconds, once in-flight writes end`],
      statements: ['BEGIN', ...ctx.rels.flatMap((r) => triggersSql(r.table, r.capture)), 'COMMIT'],
    },
    {
      title: `the copy: ${ctx.x.chunkRows} rows a chunk in key order, each chunk its own transaction`,
      notes: [
        'locks: ACCESS SHARE on the table per chunk (reads and writes go on); no row locks',
        'the INSERT ... SELECT is the copier\'s own chunk statement, into the shadow without indexes; then the shadow\'s key, which the replay finds rows by',
        ...(tree ? ['a tree: each relation copied on its own, read ONLY and written ONLY into its shadow (its children\'s rows are theirs); the descendants\' shadows have their keys from the start']
          : o.hasInheritanceChildren ? ['the copy and the replays read ONLY the table: its inheritance children\'s rows stay theirs'] : []),
      ],
      statements: [...ctx.rels.map((r) => copyBlock(ctx, r)), "SET maintenance_work_mem = '256MB'", ...keyDdl, 'RESET maintenance_work_mem'],
    },
    {
      title: 'replay the captured keys (run this section again until keys_replayed is small)',
      notes: ['REPEATABLE READ: the entries are taken and the table read at one snapshot; entries written meanwhile wait for the next run', 'locks: ROW EXCLUSIVE on the shadow and the changelog, ACCESS SHARE on the table'],
      statements: ['BEGIN ISOLATION LEVEL REPEATABLE READ', ...replay, 'COMMIT'],
    },
    {
      title: 'the shadow\'s secondary indexes, then its statistics',
      notes: ['locks: the shadow only (nothing the application uses)'],
      // Every relation's shadow: ANALYZE of a parent gathers its own and its tree's statistics, not each child's.
      statements: ["SET maintenance_work_mem = '256MB'", ...indexDdl, 'RESET maintenance_work_mem', ...ctx.rels.map((r) => `ANALYZE ${r.tables.shadow}`)],
    },
    {
      title: 'replay again: what was written during the index builds (shortens the swap below)',
      statements: ['BEGIN ISOLATION LEVEL REPEATABLE READ', ...replay, 'COMMIT'],
    },
    ...defaultPartitionSections(ctx),
    ...(ctx.validateChildren.length ? [{
      title: 'the children\'s copies of the CHECK the statements VALIDATE, validated before the swap (offline, VALIDATE CONSTRAINT validates them too)',
      notes: ['locks: SHARE UPDATE EXCLUSIVE on each child while it is read (reads and writes go on); a child\'s row that breaks the CHECK stops here, before anything is swapped, as offline fails: then run abort.sql'],
      statements: ['BEGIN', `SET LOCAL lock_timeout = '${ctx.x.lockTimeoutMs}ms'`, ...ctx.validateChildren, 'COMMIT'],
    }] : []),
    {
      title: 'the swap, in one transaction: lock, check, replay the rest, exchange the tables, re-point what depends on the table',
      notes: [
        `locks: ACCESS EXCLUSIVE on ${o.schema}.${o.name} and the tables re-pointed, for the final replay and the renames (milliseconds when the replay above ran just before)`,
        ...(tree ? treeNotes(ctx) : inheritanceNotes(o)),
        'on a lock timeout: ROLLBACK; and run this section again',
      ],
      statements: [
        'BEGIN',
        `SET LOCAL lock_timeout = '${ctx.x.lockTimeoutMs}ms'`,
        ...swap.locks,
        guard(`EXISTS (SELECT FROM ${truncatedTable(ctx)})`, `${tree ? `a relation of ${named}` : `${o.schema}.${o.name}`} was truncated during the copy: nothing is swapped; run abort.sql`),
        ...fingerprintGuards(ctx, true, (name) => `${name} was altered by someone else during the copy: nothing is swapped; run abort.sql`),
        ...replay,
        ...swap.statements,
        'COMMIT',
      ],
    },
    {
      title: 'after the swap: validate the constraints re-added NOT VALID (reads and writes go on)',
      notes: [`the old table stays in ${ctx.schema} for revert.sql until cleanup.sql`],
      statements: swap.validate.length ? swap.validate : ['SELECT \'nothing to validate\' AS note'],
    },
  ];
  return {
    name: 'forward',
    file: 'forward.sql',
    purpose: 'the change, as pgshift runs it: shadow, capture, chunked copy, replay, indexes, swap',
    sql: scriptText(header(ctx, 'forward', []), sections),
  };
}

/** What the swap of a tree does (shadow/tree.ts, cutover/swap.ts), said where it happens. */
function treeNotes(ctx: Ctx): string[] {
  const outside = [...new Set(ctx.rels.slice(1).flatMap((r) => r.table.inheritsFrom.filter((p) => !ctx.rels.some((x) => x.table.oid === p.oid)).map((p) => `${p.schema}.${p.name}`)))];
  return [
    `a tree: every relation (${ctx.rels.map((r) => `${r.table.schema}.${r.table.name}`).join(', ')}) and its shadow are locked after the parent${outside.length ? `, and the descendants' parents outside the tree (${outside.join(', ')})` : ''}; each relation's shadow takes its name, the old tree steps aside whole into ${[ctx.schema, ...ctx.homes.extra].join(', ')}`,
    ...(outside.length ? ['a descendant\'s parents outside the tree go from the old relation to the new one (INHERIT, NO INHERIT of the stand-ins), in their order (a parent put back after the others through a stand-in when INHERIT appended it out of place)'] : []),
  ];
}

/** What the swap does with legacy inheritance, said where it happens (shadow/inherit.ts, shadow/parent.ts). */
function inheritanceNotes(o: Plan['origin']): string[] {
  const parents = o.inheritsFrom.map((p) => `${p.schema}.${p.name}`);
  const children = o.inheritanceChildren.map((p) => `${p.schema}.${p.name}`);
  return [
    ...(parents.length ? [`an inheritance child: its parents ${parents.join(', ')} are locked first (a query through a parent reaches the table); the new table INHERITs them and leaves the empty stand-ins the shadow inherited during the copy, the old table the other way round`] : []),
    ...(children.length ? [`an inheritance parent: its children ${children.join(', ')} are locked after it and move to the new table (INHERIT the new, NO INHERIT the old)`] : []),
  ];
}

/**
 * A leaf's parent's default partition gets CHECK (NOT (the leaf's bound)), NOT VALID then
 * validated, as the run gives it (shadow/leaf.ts proveDefaultPartition): ATTACH in the swap then
 * reads none of its rows, and the swap drops it; abort.sql drops it when the swap did not happen.
 */
function defaultPartitionSections(ctx: Ctx): Section[] {
  const d = ctx.defaultCheck;
  if (!d) return [];
  const add = `ALTER TABLE ${d.on} ADD CONSTRAINT ${ident(d.name)} CHECK (${d.check}) NOT VALID`;
  return [{
    title: `the parent's default partition ${d.on}: a CHECK that it holds no row of the leaf's bound, so that ATTACH in the swap does not read it`,
    notes: ['locks: ACCESS EXCLUSIVE on the default partition for a moment (NOT VALID), then SHARE UPDATE EXCLUSIVE while VALIDATE reads it (reads and writes go on); the swap drops it'],
    statements: [
      doBlock(`BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conrelid = ${literal(d.on)}::regclass AND conname = ${literal(d.name)}) THEN
    EXECUTE ${literal(add)};
  END IF;
END`),
      `ALTER TABLE ${d.on} VALIDATE CONSTRAINT ${ident(d.name)}`,
    ],
  }];
}

/** The revert's transaction as statements, and as one DO block that runs it only when the swap has happened (abort). */
function revertStatements(ctx: Ctx, revert: RecordedSwap): string[] {
  return [`SET LOCAL lock_timeout = '${ctx.x.lockTimeoutMs}ms'`, ...revert.locks, ...revert.statements];
}

function abortScript(ctx: Ctx, revert: RecordedSwap): RunbookScript {
  const inBlock = revertStatements(ctx, revert).map((s) => `    EXECUTE ${literal(s)};`);
  const sections: Section[] = [
    { title: 'session settings', statements: sessionSettings(ctx.searchPath, ctx.x.lockTimeoutMs) },
    {
      title: 'if the swap has happened: swap back first (as revert.sql; writes made to the new table since the swap are lost)',
      statements: [doBlock(['BEGIN', `  IF ${swapped(ctx)} THEN`, ...inBlock, '  END IF;', 'END'].join('\n')), ...revert.validate],
    },
    {
      title: `the capture triggers on ${ctx.rels.map((r) => `${r.table.schema}.${r.table.name}`).join(', ')} (ACCESS EXCLUSIVE for milliseconds)`,
      statements: [
        'BEGIN',
        ...ctx.rels.flatMap((r) => dropTriggersSql(r.table.schema, r.table.name, r.capture, r.table.partitions)),
        ...(ctx.defaultCheck ? [`ALTER TABLE ${ctx.defaultCheck.on} DROP CONSTRAINT IF EXISTS ${ident(ctx.defaultCheck.name)}`] : []),
        'COMMIT',
      ],
    },
    { title: `what forward.sql created in ${ctx.schema}, object by object`, statements: dropSchemaStatements(ctx) },
  ];
  return {
    name: 'abort',
    file: 'abort.sql',
    purpose: 'removes everything forward.sql created, from any point; after the swap it swaps back first',
    sql: scriptText(header(ctx, 'abort', ['Safe to run at any point of forward.sql, and again.']), sections),
  };
}

function dropSchemaStatements(ctx: Ctx): string[] {
  const cap = capture(ctx.names);
  const s = ctx.schema;
  // A tree's descendants (shadow/tree.ts), deepest first (a parent goes once no table inherits
  // it), in the migration schemas of their schemas: the shadows, or the old ones after the swap.
  const descendants = ctx.rels.slice(1).map((r, i) => ({ side: ctx.homes.side(r.table.schema), table: r.table, n: i + 1 }));
  return [
    'BEGIN',
    ...descendants.slice().reverse().map((d) => `DROP TABLE IF EXISTS ${qualified(d.side, d.table.name)}`),
    `DROP TABLE IF EXISTS ${qualified(s, ctx.plan.origin.name)}`,
    // An inheritance child's stand-ins, once no table inherits them (shadow/inherit.ts), and a tree's descendants' (shadow/tree.ts).
    ...ctx.plan.origin.inheritsFrom.map((_, i) => `DROP TABLE IF EXISTS ${qualified(s, standInName(i + 1))}`),
    ...descendants.flatMap((d) => d.table.inheritsFrom.map((_, k) => `DROP TABLE IF EXISTS ${qualified(d.side, standInName(k + 1, `${d.n}_`))}`)),
    ...ctx.rels.map((r) => `DROP TABLE IF EXISTS ${qualified(r.capture.schema, r.capture.changelog)}`),
    `DROP TABLE IF EXISTS ${truncatedTable(ctx)}`,
    `DROP TABLE IF EXISTS ${onceDefaults(ctx.names)}`,
    ...ctx.rels.flatMap((r) => [r.capture.captureFunction, r.capture.truncateFunction].map((f) => `DROP FUNCTION IF EXISTS ${qualified(r.capture.schema, f)}()`)),
    ...ctx.homes.extra.map((e) => `DROP SCHEMA IF EXISTS ${ident(e)}`),
    `DROP SCHEMA IF EXISTS ${ident(cap.schema)}`,
    `DROP SCHEMA IF EXISTS ${ident(s)}`,
    'COMMIT',
  ];
}

function revertScript(ctx: Ctx, revert: RecordedSwap): RunbookScript {
  const o = ctx.plan.origin;
  const other = ctx.bound.other;
  if (other.length) {
    return {
      name: 'revert',
      file: 'revert.sql',
      purpose: 'not written',
      sql: scriptText(header(ctx, 'revert', [`not written: ${other.join(', ')} depend on the ${ctx.tree.length ? 'tree' : 'table'}; their swap back is pgshift's (pgshift alter --revert-window, then pgshift revert)`]), []),
    };
  }
  const sections: Section[] = [
    { title: 'session settings', statements: sessionSettings(ctx.searchPath, ctx.x.lockTimeoutMs) },
    { title: 'the swap has happened', statements: [guard(`NOT ${swapped(ctx)}`, `the swap has not happened: nothing to revert (abort.sql removes what forward.sql made)`)] },
    {
      title: 'the swap back, in one transaction',
      notes: [`locks: ACCESS EXCLUSIVE on ${o.schema}.${o.name}, the old table and the tables whose foreign keys are re-pointed, for the renames`, 'on a lock timeout: ROLLBACK; and run this section again'],
      statements: ['BEGIN', ...revertStatements(ctx, revert), 'COMMIT'],
    },
    { title: 'validate the constraints re-added NOT VALID', statements: revert.validate.length ? revert.validate : ["SELECT 'nothing to validate' AS note"] },
  ];
  return {
    name: 'revert',
    file: 'revert.sql',
    purpose: 'after the swap, puts the old table back (every write made since the swap is lost); abort.sql then removes the rest',
    sql: scriptText(
      header(ctx, 'revert', [
        'LOSES DATA: the old table has not been kept in step since the swap; every row inserted, updated or deleted in the new table since then is as it was at the swap.',
        ...(o.hasInheritanceChildren && oldParentDrops(ctx.plan.parsed.statements, ctx.schema).length
          ? ['A column the statements drop ONLY from the table stays its children\'s own after this (attislocal; no statement makes it inherited only again): pgshift refuses a revert window for such a change.']
          : []),
        'After it, abort.sql removes the new table and the rest.',
      ]),
      sections,
    ),
  };
}

function cleanupScript(ctx: Ctx): RunbookScript {
  const o = ctx.plan.origin;
  const sections: Section[] = [
    { title: 'session settings', statements: sessionSettings(ctx.searchPath, ctx.x.lockTimeoutMs) },
    { title: 'the swap has happened', statements: [guard(`NOT ${swapped(ctx)}`, 'the swap has not happened: finish forward.sql, or run abort.sql')] },
    { title: `the old table, the changelog, the functions and schema ${ctx.schema} (no revert after this)`, statements: dropSchemaStatements(ctx) },
  ];
  return {
    name: 'cleanup',
    file: 'cleanup.sql',
    purpose: `after the swap: drops the old table and what the copy used; the change stays`,
    sql: scriptText(header(ctx, 'cleanup', [`${o.schema}.${o.name} keeps the change; the old table goes (no revert after this).`]), sections),
  };
}

/**
 * The run's steps as the plan shows them: each phase with the engine's own statements (the
 * copy's and the replay's with their $n parameters, as the copier sends them), the strongest
 * lock it takes, on what, and how long it is held. The schema and trigger names are the
 * runbook's; a run uses pgshift_<id> and pgshift_capture_<id>.
 */
async function engineSteps(c: Client, ctx: Ctx, shadowDdl: string[], keyDdl: string[], indexDdl: string[], swap: RecordedSwap): Promise<PlanStep[]> {
  const o = ctx.plan.origin;
  const typeOf = (name: string): string => ctx.shadow.columns.find((col) => col.name === name)!.type;
  const t: Tables = { origin: ctx.table, ...rowsOfParent(o), shadow: qualified(ctx.schema, o.name), changelog: qualified(ctx.names.logSchema, ctx.names.changelog), mapping: ctx.mapping, shadowKeyTypes: ctx.mapping.shadowKey.map(typeOf) };
  const cap = capture(ctx.names);
  const sides = alterSides(t, ctx.shadow.columns, await hashableTypes(c, ctx.shadow.columns.map((col) => col.type)));
  const name = `${o.schema}.${o.name}`;
  return [
    { name: 'build the shadow table and the changelog', sql: [...shadowDdl, changelogSql(o, cap), captureFunctionSql(o, cap)], lock: 'ACCESS SHARE', on: name, hold: 'milliseconds (LIKE reads the table); its foreign keys\' referenced tables SHARE ROW EXCLUSIVE as long' },
    { name: 'install the capture triggers', sql: triggersSql(o, cap), lock: 'SHARE ROW EXCLUSIVE', on: name, hold: 'milliseconds, once in-flight writes end (lock_timeout, retried)' },
    { name: 'copy in keyset chunks into the shadow without indexes, each its own transaction', sql: [chunkBoundSql(t, true), copyRangeSql(t, true, true)], lock: 'ACCESS SHARE', on: name, hold: 'one chunk at a time, each sized to take --chunk-time; reads and writes go on' },
    { name: 'build the shadow\'s key, then its other indexes, then ANALYZE', sql: [...keyDdl, ...indexDdl, `ANALYZE ${t.shadow}`], lock: 'SHARE', on: `${ctx.schema}.${o.name}`, hold: 'the builds; nothing the application uses is locked' },
    { name: 'replay the captured keys (once the key is built, before each unique index, then until the backlog is small)', sql: [takeEntriesSql(t, false), deleteShadowRowsSql(t), insertRowsSql(t)], lock: 'ROW EXCLUSIVE', on: `${ctx.schema}.${o.name}`, hold: 'one batch; the table is only read' },
    { name: 'validate: both tables\' checksums at one snapshot', sql: [`LOCK TABLE ${ctx.table} IN SHARE MODE`, pageRangeChecksumSql(sides.origin, true), pageRangeChecksumSql(sides.shadow, true)], lock: 'SHARE', on: name, hold: 'milliseconds: writes wait while the last changes are replayed and a snapshot is exported; the checksums then read under it' },
    ...(ctx.validateChildren.length ? [{ name: 'validate the children\'s copies of the CHECK the statements VALIDATE, in one transaction (offline reaches them too)', sql: ctx.validateChildren, lock: 'SHARE UPDATE EXCLUSIVE', on: o.inheritanceChildren.map((ch) => `${ch.schema}.${ch.name}`).join(', '), hold: 'the scans (reads and writes go on)' }] : []),
    { name: 'cutover: lock, replay the rest, swap, re-point what depends on the table', sql: [...swap.locks, ...swap.statements], lock: 'ACCESS EXCLUSIVE', on: name, hold: 'milliseconds: the final replay and the renames, under a deadline; retried with backoff when a lock does not come' },
    { name: 'after the swap: validate the constraints re-added NOT VALID; the capture goes, the old table stays until pgshift cleanup', sql: swap.validate, lock: 'SHARE UPDATE EXCLUSIVE', on: name, hold: 'the scan (reads and writes go on)' },
  ];
}
