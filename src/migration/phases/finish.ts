import type { Pool } from '../../db/session.js';
import { withTransaction } from '../../db/session.js';
import { ident } from '../../db/quote.js';
import { withRetry, type RetryPolicy } from '../../db/retry.js';

/** After the swap: VALIDATE the constraints re-added NOT VALID (SHARE UPDATE EXCLUSIVE, retried). */
export async function validateConstraints(pool: Pool, retry: RetryPolicy, constraints: [string, string][]): Promise<string[]> {
  const validated: string[] = [];
  for (const [table, constraint] of constraints) {
    await withRetry(retry, (_a, lockTimeoutMs) =>
      withTransaction(pool, async (c) => {
        await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        await c.query(`ALTER TABLE ${table} VALIDATE CONSTRAINT ${ident(constraint)}`);
      }),
    );
    validated.push(constraint);
  }
  return validated;
}
