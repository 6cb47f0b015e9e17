import type { Client, Pool } from '../db/session.js';
import { withClient, withTransaction } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { artifactNames, type ArtifactNames } from '../plan/names.js';
import { cancelAutovacuum } from '../cutover/blockers.js';
import { dropRebuilds } from '../cutover/matviews.js';

/**
 * Removes what a migration created, object by object and never with CASCADE: if something of
 * the user's came to depend on an artifact, the drop fails loudly instead of taking it along.
 * Idempotent. With `keepOld` the retained old table (and so the schema) stays, for `cleanup`.
 * Returns what it dropped.
 */
export async function dropArtifacts(
  pool: Pool,
  names: ArtifactNames,
  retry: RetryPolicy,
  opts: { triggers: boolean; keepOld?: string; keepRevertWindow?: boolean },
): Promise<string[]> {
  const dropped: string[] = [];
  // Capture triggers only when asked (the swap removes the forward ones itself, a revert window
  // keeps its reverse ones); the triggers that watch foreign keys' parents always go.
  const kinds = opts.triggers ? ['trigger', 'watch-trigger'] : ['watch-trigger'];
  {
    await withRetry(retry, (_a, lockTimeoutMs) =>
      withTransaction(pool, async (c) => {
        await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        // The triggers a migration put on users' tables are found through the state table.
        const recorded = await c.query<{ schema_name: string; name: string; on_table: string }>(
          `SELECT a.schema_name, a.name, a.on_table FROM pgshift.artifacts a
            WHERE a.migration_id = $1 AND a.kind = ANY ($2::text[])
              AND EXISTS (SELECT FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE t.tgname = a.name AND c.relname = a.on_table AND n.nspname = a.schema_name)
            ORDER BY a.on_table, a.name`,
          [names.lockKey[1], kinds],
        );
        for (const t of recorded.rows) {
          await c.query(`DROP TRIGGER IF EXISTS ${ident(t.name)} ON ${qualified(t.schema_name, t.on_table)}`);
          dropped.push(`trigger ${t.name} on ${t.schema_name}.${t.on_table}`);
        }
        // A leaf's helper CHECK on its parent's default partition (shadow/leaf.ts), when the
        // cutover that drops it did not happen.
        const constraints = await c.query<{ schema_name: string; name: string; on_table: string }>(
          `SELECT a.schema_name, a.name, a.on_table FROM pgshift.artifacts a
            WHERE a.migration_id = $1 AND a.kind = 'constraint'
              AND EXISTS (SELECT FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE k.conname = a.name AND c.relname = a.on_table AND n.nspname = a.schema_name)`,
          [names.lockKey[1]],
        );
        for (const k of constraints.rows) {
          await c.query(`ALTER TABLE ${qualified(k.schema_name, k.on_table)} DROP CONSTRAINT IF EXISTS ${ident(k.name)}`);
          dropped.push(`constraint ${k.name} on ${k.schema_name}.${k.on_table}`);
        }
      }),
    );
  }
  const droppedBefore = dropped.length;
  const inSchema: string[] = [];
  // The migration's schema (user relations in transit, the kept old table) and pgshift's own
  // tables' (the same schema for a migration of the legacy layout, plan/names.ts).
  const own = names.logSchema !== names.schema;
  await withRetry(
    retry,
    (_a, lockTimeoutMs) =>
      withTransaction(pool, async (c) => {
        inSchema.length = 0;
        await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        // An open revert window keeps its reverse changelog and functions (its triggers use them).
        // A tree's relations have one each (reverse_changelog_<n>, pgshift_reverse_capture_<n>: capture/install.ts nthCapture).
        const keptInLog = opts.keepRevertWindow
          ? (await c.query<{ relname: string }>(
            `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' AND (c.relname = $2 OR c.relname ~ ('^' || $2 || '_[0-9]+$'))`,
            [names.logSchema, names.reverseChangelog],
          )).rows.map((r) => r.relname)
          : [];
        const keptFunctions = (name: string): boolean => Boolean(opts.keepRevertWindow) && /^pgshift_reverse_(capture|truncated)(_[0-9]+)?$/.test(name);
        let oldKept = false;
        // Rebuilt materialized views a cutover did not take, in their homes (plan/matview-homes.ts)
        // or, from an earlier pgshift, in the migration's schema: first, as they read the tables.
        dropped.push(...(await dropRebuilds(c, names.lockKey[1])));
        // A tree's relations in the migration's schemas of other schemas (shadow/tree.ts), unless the old tree is kept.
        if (!opts.keepOld) inSchema.push(...(await dropTreeRelations(c, names, dropped)));
        for (const schema of own ? [names.schema, names.logSchema] : [names.schema]) {
          const kept = new Set([...(schema === names.schema ? [opts.keepOld] : []), ...(schema === names.logSchema ? keptInLog : [])]);
          const r = await dropInSchema(c, schema, kept, keptFunctions, dropped);
          inSchema.push(...r.tables);
          if (schema === names.schema) oldKept = r.keptTables.includes(opts.keepOld ?? '');
        }
        if (own && !opts.keepRevertWindow) {
          await c.query(`DROP SCHEMA IF EXISTS ${ident(names.logSchema)}`);
          dropped.push(`schema ${names.logSchema}`);
        }
        if (!oldKept) {
          // The schemas partitions of other schemas than the table's went through
          // (plan/partition-homes.ts), empty once their tree is dropped above, and the rebuilt
          // materialized views' homes (plan/matview-homes.ts).
          const sides = await c.query<{ schema_name: string }>(
            `SELECT DISTINCT a.schema_name FROM pgshift.artifacts a JOIN pg_namespace n ON n.nspname = a.schema_name
              WHERE a.migration_id = $1 AND a.kind = 'schema' AND a.schema_name <> ALL ($2::text[]) ORDER BY 1`,
            [names.lockKey[1], [names.schema, names.logSchema]],
          );
          for (const s of sides.rows) {
            await c.query(`DROP SCHEMA IF EXISTS ${ident(s.schema_name)}`);
            dropped.push(`schema ${s.schema_name}`);
          }
          const present = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [names.schema]);
          if (present.rowCount) {
            await c.query(`DROP SCHEMA IF EXISTS ${ident(names.schema)}`);
            dropped.push(`schema ${names.schema}`);
          }
        }
      }),
    // A freshly filled shadow draws autovacuum, whose lock the drop would otherwise wait out.
    async () => {
      await cancelAutovacuum(pool, inSchema);
      dropped.length = droppedBefore;
    },
  );
  return dropped;
}

/**
 * One of a migration's schemas emptied of what pgshift put there, but what `kept` names (tables)
 * and `keptFunctions`: materialized views first (rebuilt for a cutover that did not happen, they
 * read the shadow), then the tables (partitions go with their partitioned table), then every
 * function (capture, watchers, a backfill's move trigger: a migration's schemas hold no
 * function of the user's). Returns the tables' oids it dropped and the kept ones' names present.
 */
async function dropInSchema(c: Client, schema: string, kept: Set<string | undefined>, keptFunctions: (name: string) => boolean, dropped: string[]): Promise<{ tables: string[]; keptTables: string[] }> {
  const present = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (present.rowCount === 0) return { tables: [], keptTables: [] };
  const matviews = await c.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'm' ORDER BY c.oid DESC`,
    [schema],
  );
  for (const m of matviews.rows) {
    await c.query(`DROP MATERIALIZED VIEW IF EXISTS ${qualified(schema, m.relname)}`);
    dropped.push(`materialized view ${schema}.${m.relname}`);
  }
  // An inheritance child's stand-in parents (shadow/inherit.ts) after the tables that inherit
  // them, and kept with a kept table that does.
  const tables = await c.query<{ relname: string; oid: string }>(
    `SELECT c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'u') AND NOT c.relispartition
      ORDER BY EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = c.oid), c.oid DESC`,
    [schema],
  );
  const gone: string[] = [];
  const keptParents = new Set((await c.query<{ relname: string }>(
    `SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class ch ON ch.oid = i.inhrelid JOIN pg_namespace n ON n.oid = ch.relnamespace
      WHERE n.nspname = $1 AND ch.relname = ANY ($2::text[]) AND p.relnamespace = ch.relnamespace`,
    [schema, [...kept].filter((k): k is string => k !== undefined)],
  )).rows.map((r) => r.relname));
  // A kept old table's inheritance children in this schema (a tree's, shadow/tree.ts) stay with it.
  const keptChildren = new Set((await c.query<{ relname: string }>(
    `WITH RECURSIVE k(oid) AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY ($2::text[])
                               UNION SELECT i.inhrelid FROM k JOIN pg_inherits i ON i.inhparent = k.oid)
     SELECT c.relname FROM k JOIN pg_class c ON c.oid = k.oid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`,
    [schema, [...kept].filter((k): k is string => k !== undefined)],
  )).rows.map((r) => r.relname));
  for (const t of tables.rows) {
    if (kept.has(t.relname) || keptParents.has(t.relname) || keptChildren.has(t.relname)) continue;
    gone.push(t.oid);
    await c.query(`DROP TABLE IF EXISTS ${qualified(schema, t.relname)}`);
    dropped.push(`table ${schema}.${t.relname}`);
  }
  const functions = await c.query<{ proname: string }>(
    `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY p.oid DESC`,
    [schema],
  );
  for (const fn of functions.rows) {
    if (!keptFunctions(fn.proname)) await c.query(`DROP FUNCTION IF EXISTS ${qualified(schema, fn.proname)}()`);
  }
  return { tables: gone, keptTables: tables.rows.filter((t) => kept.has(t.relname)).map((t) => t.relname) };
}

/**
 * A tree's relations (shadow/tree.ts) where the per-schema drop cannot reach them in order: every
 * plain table in the migration's schemas of other schemas (the shadows or old relations of a
 * tree's relations there, their stand-ins), and one in the migration's schema whose parent is in
 * one of its schemas (an old relation, a stand-in); leaves first, as DROP TABLE refuses a table
 * with children. Returns their oids.
 */
async function dropTreeRelations(c: Client, names: ArtifactNames, dropped: string[]): Promise<string[]> {
  const gone: string[] = [];
  for (;;) {
    const r = await c.query<{ schema: string; name: string; oid: string }>(
      `WITH s AS (SELECT DISTINCT schema_name FROM pgshift.artifacts WHERE migration_id = $1 AND kind = 'schema' AND schema_name <> $2)
       SELECT n.nspname AS schema, c.relname AS name, c.oid::int8::text AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN (SELECT schema_name FROM s) AND c.relkind = 'r' AND NOT c.relispartition
          AND NOT EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = c.oid)
          AND (n.nspname <> $3 OR EXISTS (SELECT FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
                                           WHERE i.inhrelid = c.oid AND pn.nspname IN (SELECT schema_name FROM s)))
        ORDER BY 1, 2`,
      [names.lockKey[1], names.logSchema, names.schema],
    );
    if (r.rows.length === 0) return gone;
    for (const t of r.rows) {
      await c.query(`DROP TABLE IF EXISTS ${qualified(t.schema, t.name)}`);
      dropped.push(`table ${t.schema}.${t.name}`);
      gone.push(t.oid);
    }
  }
}

/**
 * A migration's names as its schemas hold them (plan/names.ts): pgshift's own tables in a log
 * schema of their own when the migration registered one, or, for one begun by an earlier pgshift
 * (schemas registered, none of them its log schema), in the migration's schema (`legacy`). So
 * resume, revert, abort and cleanup find them either way.
 */
export async function migrationNames(pool: Pool, id: number): Promise<ArtifactNames> {
  const names = artifactNames(id);
  const r = await withClient(pool, (c) =>
    c.query<{ log: boolean; any: boolean }>(
      `SELECT bool_or(schema_name = $2) IS TRUE AS log, count(*) > 0 AS any FROM pgshift.artifacts WHERE migration_id = $1 AND kind = 'schema'`,
      [id, names.logSchema],
    ),
  );
  return r.rows[0]!.any && !r.rows[0]!.log ? artifactNames(id, 'legacy') : names;
}
