import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import type { RetryPolicy } from '../db/retry.js';
import { UserError } from '../errors.js';
import { PHASES, type Phase } from '../state/phases.js';
import { finishMigration } from '../state/store.js';
import { dropArtifacts, migrationNames } from './artifacts.js';
import { finishAfterSwap, takeOver } from './lifecycle.js';
import type { Ownership } from '../state/ownership.js';
import { abortWithoutCopy, type Progress } from './without-copy.js';

interface Leftover {
  id: number;
  kind: 'alter' | 'backfill';
  table_schema: string;
  table_name: string;
  phase: Phase;
  outcome: string | null;
  pid: number | null;
  host: string | null;
  has_schema: boolean;
  tables: string | null;
  /** tables in its other registered schemas (pgshift's own tables', plan/names.ts logSchema), qualified */
  own_tables: string | null;
  triggers: string | null;
  validate_list: [string, string][] | null;
  options: { dropOld?: boolean; revertWindowMs?: number; strategy?: string };
  table_oid: string;
  progress: Progress | null;
}

/**
 * `pgshift cleanup [id|--all]`: removes what finished migrations kept (the old table and the
 * migration's schema) and what interrupted ones left behind once their process is gone, found
 * through the state table (backfill jobs too). A migration interrupted after its swap committed is finished, not
 * aborted: its constraints are validated and it ends done. Says what it does before doing it;
 * running it again finds nothing.
 */
export async function cleanup(pool: Pool, target: { id?: string; all: boolean }, retry: RetryPolicy, say: (line: string) => void): Promise<number> {
  if (target.id === undefined && !target.all) throw new UserError('name a migration id, or --all');
  if (target.id !== undefined && !/^\d+$/.test(target.id)) throw new UserError(`"${target.id}" is not a migration id`);
  const rows = await withClient(pool, async (c) => {
    if ((await c.query(`SELECT to_regclass('pgshift.migrations') AS t`)).rows[0].t === null) return [];
    return (
      await c.query<Leftover>(
        `SELECT m.id::int, m.kind, m.table_schema, m.table_name, m.phase, m.outcome, m.pid, m.host, m.validate_list, m.options,
                m.table_oid::int8::text AS table_oid, m.resume_state AS progress,
                EXISTS (SELECT FROM pg_namespace WHERE nspname = m.artifact_schema) AS has_schema,
                (SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = m.artifact_schema AND c.relkind = 'r') AS tables,
                (SELECT string_agg(format('%s.%s', n.nspname, c.relname), ', ' ORDER BY n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind = 'r' AND NOT c.relispartition AND n.nspname <> m.artifact_schema
                    AND n.nspname IN (SELECT a.schema_name FROM pgshift.artifacts a WHERE a.migration_id = m.id AND a.kind = 'schema')) AS own_tables,
                (SELECT string_agg(a.name || ' on ' || a.schema_name || '.' || a.on_table, ', ' ORDER BY a.name) FROM pgshift.artifacts a
                  WHERE a.migration_id = m.id AND a.kind = 'trigger'
                    AND EXISTS (SELECT FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                                 WHERE t.tgname = a.name AND c.relname = a.on_table AND n.nspname = a.schema_name)) AS triggers
           FROM pgshift.migrations m
          WHERE m.kind IN ('alter', 'backfill') AND ($1::bigint IS NULL OR m.id = $1::bigint) ORDER BY m.id`,
        [target.id ?? null],
      )
    ).rows;
  });
  if (target.id !== undefined && rows.length === 0) throw new UserError(`no migration ${target.id}`);
  let cleaned = 0;
  for (const m of rows) {
    const withoutCopy = ['instant', 'online', 'direct'].includes(m.options?.strategy ?? '');
    const swapped = m.kind === 'alter' && m.outcome === null && !withoutCopy && PHASES.indexOf(m.phase) >= PHASES.indexOf('validate');
    const unfinished = withoutCopy && m.outcome === null;
    if (!m.has_schema && !m.triggers && !swapped && !unfinished) continue;
    let ownership: Ownership | null = null;
    if (m.outcome === null) {
      ownership = await takeOver(pool, m.id).catch((err: unknown) => {
        if (err instanceof UserError) return null;
        throw err;
      });
      if (!ownership) {
        say(`migration ${m.id} on ${m.table_schema}.${m.table_name} is still running (pid ${m.pid} on ${m.host}): left alone`);
        continue;
      }
    }
    try {
      const what = [...(m.triggers ? [`triggers ${m.triggers}`] : []), ...(m.tables ? [`tables ${m.tables} in pgshift_${m.id}`] : []), ...(m.own_tables ? [`tables ${m.own_tables}`] : []), ...(m.has_schema ? [`schema pgshift_${m.id}`] : [])];
      if (unfinished) {
        const target = { oid: m.table_oid, schema: m.table_schema, name: m.table_name, estimatedRows: 0 };
        const done = await abortWithoutCopy(pool, { id: m.id, target, progress: m.progress ?? { units: [], done: 0 }, ownership: ownership! }, retry);
        say(`migration ${m.id} on ${m.table_schema}.${m.table_name} (interrupted in phase ${m.phase}, its process is gone): ${done.join('; ') || 'nothing to remove'}`);
        await finishMigration(pool, m.id, 'aborted', `removed by pgshift cleanup${done.length ? `: ${done.join('; ')}` : ''}`);
        cleaned++;
        continue;
      }
      if (swapped) {
        say(`migration ${m.id} on ${m.table_schema}.${m.table_name} was interrupted after its swap: validating ${(m.validate_list ?? []).map(([, n]) => n).join(', ') || 'nothing'} and finishing it`);
        await finishAfterSwap(pool, m, retry);
        cleaned++;
        continue;
      }
      const why = m.outcome === null ? `interrupted in phase ${m.phase}, its process is gone` : m.outcome;
      // An interrupted backfill's key-move trigger and job tables go too (the same command run again would have continued it).
      say(`${m.kind === 'backfill' ? 'backfill' : 'migration'} ${m.id} on ${m.table_schema}.${m.table_name} (${why}): dropping ${what.join('; ')}`);
      await dropArtifacts(pool, await migrationNames(pool, m.id), retry, { triggers: true });
      if (m.outcome === null) await finishMigration(pool, m.id, 'aborted', 'removed by pgshift cleanup');
      cleaned++;
    } finally {
      await ownership?.release();
    }
  }
  if (cleaned === 0) say('nothing to clean up');
  return cleaned;
}
