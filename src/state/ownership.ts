import type { Pool } from '../db/session.js';
import { checkout, withClient } from '../db/session.js';
import { StoppedError, UserError } from '../errors.js';
import { advisoryLocks, OWNER_NAMESPACE } from '../db/advisory-locks.js';
import type pg from 'pg';

/**
 * The process running a migration holds a session-level advisory lock on it for as long as it
 * runs, on a connection of its own: two processes never run the same migration, and a process
 * that died lets go with its connection, on whatever host it ran.
 */

export interface Ownership {
  release(): Promise<void>;
  /** Throws StoppedError when the owner session ended (terminated, server restarted): another
   * process may take the migration over from then on, so this one must stop (exit 4) before it
   * changes anything more. Asks the session itself (one round trip): the client's own 'end' or
   * 'error' event can arrive after a terminated backend is gone, too late to stop at this point. */
  assertHeld(): Promise<void>;
}

export async function takeOwnership(pool: Pool, id: number): Promise<Ownership> {
  const client: pg.PoolClient = await checkout(pool, 'owner');
  const got = (await client.query('SELECT pg_try_advisory_lock($1, $2) AS ok', advisoryLocks.owner(id))).rows[0].ok as boolean;
  if (!got) {
    client.release();
    throw new UserError(`migration ${id} is being run by another process; stop it first (pgshift status ${id} shows where)`);
  }
  let lost = false;
  const onLost = (): void => {
    lost = true;
  };
  client.on('error', onLost);
  client.on('end', onLost);
  return {
    async release() {
      client.off('end', onLost);
      await client.query('SELECT pg_advisory_unlock($1, $2)', advisoryLocks.owner(id)).catch(() => undefined);
      client.release(lost ? new Error('owner session lost') : undefined);
    },
    async assertHeld() {
      if (!lost) await client.query('SELECT 1').catch(onLost);
      if (lost) throw new StoppedError(`this process lost its ownership of migration ${id} (its owner session ended); stopping here: pgshift resume ${id} continues`);
    },
  };
}

/** Whether some live session runs the migration (holds its ownership lock). */
export async function isOwned(pool: Pool, id: number): Promise<boolean> {
  return withClient(pool, async (c) =>
    (await c.query(
      `SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2 AND granted
                        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS owned`,
      [OWNER_NAMESPACE, id],
    )).rows[0].owned,
  );
}
