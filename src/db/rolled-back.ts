import type { Client } from './session.js';
import { inTransaction } from './session.js';

/**
 * Runs `fn` in a transaction that is always rolled back: PostgreSQL does the work (a trial
 * shadow, a rehearsal on a sample) and nothing of it stays. Returns what `fn` returned.
 */
export async function rolledBack<T>(c: Client, fn: () => Promise<T>): Promise<T> {
  const marker = new Error('rollback');
  let result: T | undefined;
  try {
    await inTransaction(c, async () => {
      result = await fn();
      throw marker;
    });
  } catch (err) {
    if (err !== marker) throw err;
  }
  return result as T;
}
