import type { Pool } from '../db/session.js';
import { withTransaction } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import type { ArtifactNames } from '../plan/names.js';
import { cancelAutovacuum } from '../cutover/blockers.js';

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
  await withRetry(
    retry,
    (_a, lockTimeoutMs) =>
      withTransaction(pool, async (c) => {
        inSchema.length = 0;
        await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        const present = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [names.schema]);
        if (present.rowCount === 0) return;
        // Materialized views rebuilt for a cutover that did not happen read the shadow: first.
        const matviews = await c.query<{ relname: string }>(
          `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'm' ORDER BY c.oid DESC`,
          [names.schema],
        );
        for (const m of matviews.rows) {
          await c.query(`DROP MATERIALIZED VIEW IF EXISTS ${qualified(names.schema, m.relname)}`);
          dropped.push(`materialized view ${names.schema}.${m.relname}`);
        }
        const tables = await c.query<{ relname: string; oid: string }>(
          `SELECT c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'u') AND NOT c.relispartition ORDER BY c.oid DESC`,
          [names.schema],
        );
        // An open revert window keeps its reverse changelog and functions (its triggers use them).
        const kept = new Set([opts.keepOld, ...(opts.keepRevertWindow ? ['reverse_changelog'] : [])]);
        // Partitions go with their partitioned table (a kept old tree keeps its partitions).
        for (const t of tables.rows) {
          if (kept.has(t.relname)) continue;
          inSchema.push(t.oid);
          await c.query(`DROP TABLE IF EXISTS ${qualified(names.schema, t.relname)}`);
          dropped.push(`table ${names.schema}.${t.relname}`);
        }
        // Every function in the migration's own schema is pgshift's (capture, watchers, a
        // backfill's move trigger), except an open revert window's reverse capture.
        const functions = await c.query<{ proname: string }>(
          `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY p.oid DESC`,
          [names.schema],
        );
        const keptFunctions = new Set(opts.keepRevertWindow ? ['pgshift_reverse_capture', 'pgshift_reverse_truncated'] : []);
        for (const fn of functions.rows) {
          if (!keptFunctions.has(fn.proname)) await c.query(`DROP FUNCTION IF EXISTS ${qualified(names.schema, fn.proname)}()`);
        }
        if (opts.keepOld === undefined || !tables.rows.some((t) => t.relname === opts.keepOld)) {
          // The schemas partitions of other schemas than the table's went through
          // (plan/partition-homes.ts): empty once their tree is dropped above.
          const sides = await c.query<{ schema_name: string }>(
            `SELECT DISTINCT a.schema_name FROM pgshift.artifacts a JOIN pg_namespace n ON n.nspname = a.schema_name
              WHERE a.migration_id = $1 AND a.kind = 'schema' AND a.schema_name <> $2 ORDER BY 1`,
            [names.lockKey[1], names.schema],
          );
          for (const s of sides.rows) {
            await c.query(`DROP SCHEMA IF EXISTS ${ident(s.schema_name)}`);
            dropped.push(`schema ${s.schema_name}`);
          }
          await c.query(`DROP SCHEMA IF EXISTS ${ident(names.schema)}`);
          dropped.push(`schema ${names.schema}`);
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
