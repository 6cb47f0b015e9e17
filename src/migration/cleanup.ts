import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import type { RetryPolicy } from '../db/retry.js';
import { UserError } from '../errors.js';
import { artifactNames } from '../plan/names.js';
import { finishMigration } from '../state/store.js';
import { dropArtifacts } from './artifacts.js';
import { isOwned } from '../state/ownership.js';

/**
 * `pgshift cleanup [id|--all]`: removes what finished migrations kept (the old table and the
 * migration's schema) and what interrupted ones left behind (triggers, shadow, changelog) once
 * their process is gone, found through the state table. Says what it will drop before dropping;
 * running it again finds nothing.
 */
export async function cleanup(pool: Pool, target: { id?: string; all: boolean }, retry: RetryPolicy, say: (line: string) => void): Promise<number> {
  if (target.id === undefined && !target.all) throw new UserError('name a migration id, or --all');
  if (target.id !== undefined && !/^\d+$/.test(target.id)) throw new UserError(`"${target.id}" is not a migration id`);
  const rows = await withClient(pool, async (c) => {
    if ((await c.query(`SELECT to_regclass('pgshift.migrations') AS t`)).rows[0].t === null) return [];
    return (
      await c.query(
        `SELECT m.*, m.table_oid::int8::text AS table_oid,
                EXISTS (SELECT FROM pg_namespace WHERE nspname = 'pgshift_' || m.id) AS has_schema,
                (SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'pgshift_' || m.id AND c.relkind = 'r') AS tables,
                EXISTS (SELECT FROM pg_trigger t WHERE t.tgname IN ('pgshift_capture_' || m.id, 'pgshift_truncate_' || m.id)) AS has_triggers
           FROM pgshift.migrations m
          WHERE m.kind = 'alter' AND ($1::bigint IS NULL OR m.id = $1::bigint) ORDER BY m.id`,
        [target.id ?? null],
      )
    ).rows;
  });
  if (target.id !== undefined && rows.length === 0) throw new UserError(`no migration ${target.id}`);
  let cleaned = 0;
  for (const m of rows) {
    const leftovers = m.has_schema || m.has_triggers;
    if (!leftovers) continue;
    if (m.outcome === null && (await isOwned(pool, m.id))) {
      say(`migration ${m.id} on ${m.table_schema}.${m.table_name} is still running (pid ${m.pid} on ${m.host}): left alone`);
      continue;
    }
    const what = [
      ...(m.has_triggers ? [`triggers pgshift_capture_${m.id}, pgshift_truncate_${m.id} on ${m.table_schema}.${m.table_name}`] : []),
      ...(m.tables ? [`tables ${m.tables} in pgshift_${m.id}`] : []),
      ...(m.has_schema ? [`schema pgshift_${m.id}`] : []),
    ];
    const why = m.outcome === null ? `interrupted in phase ${m.phase}, its process is gone` : m.outcome;
    say(`migration ${m.id} on ${m.table_schema}.${m.table_name} (${why}): dropping ${what.join('; ')}`);
    await dropArtifacts(pool, artifactNames(m.id), { schema: m.table_schema, name: m.table_name }, retry, { triggers: true });
    if (m.outcome === null) await finishMigration(pool, m.id, 'aborted', 'removed by pgshift cleanup');
    cleaned++;
  }
  if (cleaned === 0) say('nothing to clean up');
  return cleaned;
}
