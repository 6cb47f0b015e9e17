import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import type { RetryPolicy } from '../db/retry.js';
import { UserError } from '../errors.js';
import { PHASES, type Phase } from '../state/phases.js';
import { finishMigration } from '../state/store.js';
import { dropArtifacts, migrationNames } from './artifacts.js';
import { takeOver } from './lifecycle.js';
import { abortWithoutCopy, type Progress } from './without-copy.js';

/**
 * Removes an unfinished migration that no process runs: its capture triggers and its schema,
 * found through the state table. The origin is untouched. A migration whose swap committed
 * cannot be aborted (its change is live): `pgshift resume` or `pgshift cleanup` finishes it.
 * Returns what was dropped.
 */
export async function abortMigration(pool: Pool, idText: string, retry: RetryPolicy): Promise<string[]> {
  if (!/^\d+$/.test(idText)) throw new UserError(`"${idText}" is not a migration id`);
  const id = Number(idText);
  const m = await withClient(pool, async (c) => {
    const exists = await c.query(`SELECT to_regclass('pgshift.migrations') AS t`);
    if (exists.rows[0].t === null) throw new UserError(`no migration ${id}: this database has no pgshift state`);
    return (await c.query<{ table_oid: string; table_schema: string; table_name: string; outcome: string | null; phase: Phase; strategy: string | null; progress: Progress | null }>(
      `SELECT m.table_oid::int8::text AS table_oid, m.table_schema, m.table_name, m.outcome, m.phase, m.options->>'strategy' AS strategy, m.resume_state AS progress
         FROM pgshift.migrations m WHERE m.id = $1 AND m.kind = 'alter'`,
      [id],
    )).rows[0];
  });
  if (!m) throw new UserError(`no migration ${id}`);
  if (m.outcome !== null) throw new UserError(`migration ${id} already ended (${m.outcome})`);
  if (m.strategy === 'instant' || m.strategy === 'online' || m.strategy === 'direct') {
    const ownership = await takeOver(pool, id);
    try {
      const target = { oid: m.table_oid, schema: m.table_schema, name: m.table_name, estimatedRows: 0 };
      const done = await abortWithoutCopy(pool, { id, target, progress: m.progress ?? { units: [], done: 0 }, ownership }, retry);
      await finishMigration(pool, id, 'aborted', `aborted by pgshift abort${done.length ? `: ${done.join('; ')}` : ''}`);
      return done;
    } finally {
      await ownership.release();
    }
  }
  if (PHASES.indexOf(m.phase) >= PHASES.indexOf('validate')) {
    throw new UserError(`migration ${id} has swapped the tables already: its change is live; pgshift resume ${id} (or pgshift cleanup ${id}) finishes it`);
  }
  const ownership = await takeOver(pool, id);
  try {
    const dropped = await dropArtifacts(pool, await migrationNames(pool, id), retry, { triggers: true });
    await finishMigration(pool, id, 'aborted', 'aborted by pgshift abort');
    return dropped;
  } finally {
    await ownership.release();
  }
}
