import type { Client } from './session.js';

/**
 * Runs `fn` with search_path = pg_catalog (transaction-local), so pg_get_*def output names
 * every object with its schema; such text means the same thing wherever it is executed later.
 */
export async function withQualifiedNames<T>(c: Client, fn: () => Promise<T>): Promise<T> {
  const saved = (await c.query<{ p: string }>(`SELECT current_setting('search_path') AS p`)).rows[0]!.p;
  await c.query(`SELECT set_config('search_path', 'pg_catalog', true)`);
  try {
    return await fn();
  } finally {
    await c.query(`SELECT set_config('search_path', $1, true)`, [saved]);
  }
}
