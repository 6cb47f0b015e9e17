import { withClient, withTransaction } from '../../db/session.js';
import { partitionHomes } from '../../plan/partition-homes.js';
import { ident, qualified } from '../../db/quote.js';
import { withRetry } from '../../db/retry.js';
import { tableFingerprint } from '../../catalog/table.js';
import { deriveMapping, type RowMapping } from '../../plan/mapping.js';
import { buildShadow, type ShadowTable } from '../../shadow/build.js';
import { createChangelog, forwardCapture, installTriggers } from '../../capture/install.js';
import { createReplayer, type Replayer } from '../../capture/replayer.js';
import { rowsOfParent, type Tables } from '../../copy/sql.js';
import type { PhaseHelpers, Run } from '../run.js';
import type { ArtifactNames } from '../../plan/names.js';
import { treeHomes } from '../../shadow/tree.js';
import { treeCapture, treeRelations, treeReplayer, type TreeRelation } from '../tree-relations.js';

/** The copy's chunk transactions' ids (IF NOT EXISTS: a migration begun by an earlier pgshift has none). */
export function createCopyXactsSql(names: ArtifactNames): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(names.logSchema, names.copyXacts)} (xid xid NOT NULL)`;
}

/** The shadow and pgshift's own tables (in their own schema, plan/names.ts logSchema), in one transaction (retried when a lock does not come). */
export function buildShadowAndChangelog(run: Run): Promise<ShadowTable> {
  const { plan, names, id } = run;
  return withRetry(run.opts.retry, () =>
    withTransaction(run.pool, async (c) => {
      const s = await buildShadow(c, { origin: plan.origin, flow: plan.flow, statements: plan.parsed.statements, schema: names.schema, tree: plan.tree });
      await c.query(`CREATE SCHEMA ${ident(names.logSchema)}`);
      await createChangelog(c, plan.origin, forwardCapture(names), id);
      // A tree's relations: a changelog each (shadow/tree.ts).
      for (const [i, t] of plan.tree.entries()) await createChangelog(c, t, treeCapture(names, i + 1), id);
      await c.query(createCopyXactsSql(names));
      // The migration's schema, its own tables' (registered: what tells a migration of this
      // layout, migration/artifacts.ts migrationNames), and those partitions of other schemas go
      // through (plan/partition-homes.ts).
      for (const schema of [names.schema, names.logSchema, ...partitionHomes(names.schema, plan.origin).extra, ...treeHomes(names.schema, plan.origin, plan.tree).extra]) {
        await c.query(`INSERT INTO pgshift.artifacts (migration_id, kind, schema_name, name) VALUES ($1, 'schema', $2, $2)`, [id, schema]);
      }
      await c.query(`UPDATE pgshift.migrations SET resume_state = $2 WHERE id = $1`, [
        id,
        // The row identity the changelog is keyed by: a resume must find the same one.
        JSON.stringify({ indexes: s.indexes, constraints: s.constraints, onceDefaults: [...s.onceDefaults], heaps: s.heaps, identity: plan.origin.identity?.name ?? null }),
      ]);
      return s;
    }),
  );
}

/**
 * Capture first, copy after: the triggers go on the origin (CREATE TRIGGER waits for in-flight
 * writers), then the table's fingerprint is recorded, to be compared under the cutover's locks.
 */
export async function installCapture(run: Run): Promise<{ fingerprint: string; since: string }> {
  const { pool, plan, opts, id, names } = run;
  // Every transaction that will fire the capture is running now or starts later: its id is at
  // least the oldest one running now. A row version written since has an xmin from there on
  // (verify/validate.ts compares exactly those rows).
  const since = await withClient(pool, async (c) => (await c.query(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS x`)).rows[0].x as string);
  await withRetry(opts.retry, (_a, lockTimeoutMs) =>
    withTransaction(pool, async (c) => {
      await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
      await installTriggers(c, plan.origin, forwardCapture(names), id);
      for (const [i, t] of plan.tree.entries()) await installTriggers(c, t, treeCapture(names, i + 1), id);
    }),
  );
  run.triggersInstalled = true;
  return withClient(pool, async (c) => {
    const fp = await tableFingerprint(c, plan.origin.oid, plan.tree.length > 0);
    await c.query(`UPDATE pgshift.migrations SET resume_state = resume_state || jsonb_build_object('fingerprint', $2::text, 'since', $3::text) WHERE id = $1`, [id, fp, since]);
    return { fingerprint: fp, since };
  });
}

/** What every phase after the capture works with. */
export interface Captured extends PhaseHelpers {
  shadow: ShadowTable;
  tables: Tables;
  replayer: Replayer;
  mapping: RowMapping;
  fingerprint: string;
  /** a tree's relations besides the parent (shadow/tree.ts), and the parent's own replayer (`replayer` replays them all) */
  tree?: { relations: TreeRelation[]; parent: Replayer };
  /** the oldest transaction running before the capture existed (xid8); absent for a migration begun before it was recorded */
  since?: string;
  buildMs: number;
}

/** What contextFor gives, and a tree's relations (shadow/tree.ts), read from the shadow tree as built. */
export async function captureContext(run: Run, shadow: ShadowTable): Promise<Pick<Captured, 'tables' | 'mapping' | 'replayer' | 'tree'>> {
  const k = contextFor(run, shadow);
  if (run.plan.tree.length === 0) return k;
  const relations = await withClient(run.pool, (c) => treeRelations(run, c, shadow));
  run.relations = [k.tables, ...relations.map((r) => r.tables)];
  return { ...k, replayer: treeReplayer(k.replayer, relations), tree: { relations, parent: k.replayer } };
}

/** The shadow-derived pieces every later phase uses: tables, mapping, replayer. */
export function contextFor(run: Run, shadow: ShadowTable): { tables: Tables; mapping: RowMapping; replayer: Replayer } {
  const { plan, names } = run;
  const origin = plan.origin;
  const mapping = deriveMapping(plan.flow, shadow.columns, shadow.onceDefaults, origin.key, ident, plan.transforms, origin.identity);
  const typeOf = (name: string): string => shadow.columns.find((c) => c.name === name)!.type;
  const tables: Tables = {
    origin: qualified(origin.schema, origin.name),
    // A parent's rows only: its children's are theirs, and stay where they are (shadow/parent.ts).
    ...rowsOfParent(origin),
    shadow: qualified(names.schema, origin.name),
    // A tree's shadow: its own rows only, its children's are theirs (shadow/tree.ts).
    ...(plan.tree.length ? { shadowRows: `ONLY ${qualified(names.schema, origin.name)}` } : {}),
    changelog: qualified(names.logSchema, names.changelog),
    copyXacts: qualified(names.logSchema, names.copyXacts),
    mapping,
    shadowKeyTypes: mapping.shadowKey.map(typeOf),
  };
  const replayer = createReplayer({ tables, preservedTypes: mapping.preserved.map(typeOf), lockKey: names.lockKey });
  return { tables, mapping, replayer };
}
