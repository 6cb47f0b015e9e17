import type { Client } from './session.js';

/**
 * Runs `fn` with search_path = pg_catalog (transaction-local), so pg_get_*def output names
 * every object with its schema; such text means the same thing wherever it is executed later.
 */
export async function withQualifiedNames<T>(c: Client, fn: () => Promise<T>): Promise<T> {
  const saved = (await c.query<{ p: string }>(`SELECT current_setting('search_path') AS p`)).rows[0]!.p;
  await c.query(`SELECT set_config('search_path', 'pg_catalog', true)`);
  const restore = (): Promise<unknown> => c.query(`SELECT set_config('search_path', $1, true)`, [saved]);
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    // A failed statement aborted the transaction: restoring fails too, and must not hide why
    // (a lock timeout would reach the retry table as 25P02, not as 55P03).
    await restore().catch(() => undefined);
    throw err;
  }
  await restore();
  return result;
}
