import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import type { RetryPolicy } from '../db/retry.js';
import { UserError } from '../errors.js';
import { artifactNames } from '../plan/names.js';
import { finishMigration } from '../state/store.js';
import { dropArtifacts } from './artifacts.js';
import { isOwned } from '../state/ownership.js';

/**
 * Removes an unfinished migration that no process runs: its capture triggers and its schema,
 * found through the state table. The origin is untouched. Returns what was dropped.
 */
export async function abortMigration(pool: Pool, idText: string, retry: RetryPolicy): Promise<string[]> {
  if (!/^\d+$/.test(idText)) throw new UserError(`"${idText}" is not a migration id`);
  const id = Number(idText);
  const m = await withClient(pool, async (c) => {
    const exists = await c.query(`SELECT to_regclass('pgshift.migrations') AS t`);
    if (exists.rows[0].t === null) throw new UserError(`no migration ${id}: this database has no pgshift state`);
    const r = await c.query(
      `SELECT m.table_schema, m.table_name, m.outcome FROM pgshift.migrations m WHERE m.id = $1`,
      [id],
    );
    return r.rows[0];
  });
  if (!m) throw new UserError(`no migration ${id}`);
  if (m.outcome !== null) throw new UserError(`migration ${id} already ended (${m.outcome})`);
  if (await isOwned(pool, id)) throw new UserError(`migration ${id} is still running; stop its process first`);
  const names = artifactNames(id);
  await dropArtifacts(pool, names, { schema: m.table_schema, name: m.table_name }, retry, { triggers: true });
  await finishMigration(pool, id, 'aborted', 'aborted by pgshift abort');
  return [`triggers ${names.captureTrigger}, ${names.truncateTrigger} on ${m.table_schema}.${m.table_name}`, `schema ${names.schema}`];
}
