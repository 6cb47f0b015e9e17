import type { Client } from '../db/session.js';
import { inTransaction } from '../db/session.js';
import { writeState } from '../state/store.js';
import { chunkBoundSql, copyRangeSql, type Tables } from './sql.js';

/**
 * The chunk's upper key: the n-th key after `low` (an index scan). Null when fewer rows remain:
 * the chunk is the last. Read-only, so the copier looks the next bound up on another connection
 * while the current chunk is being inserted.
 */
export async function findBound(c: Client, t: Tables, low: string[] | null, size: number): Promise<string[] | null> {
  const r = await c.query({ text: chunkBoundSql(t, low !== null), values: [...(low ?? []), size], rowMode: 'array' });
  return (r.rows[0] as string[] | undefined) ?? null;
}

/**
 * Copies one keyset chunk, the rows in (low, high], in its own short transaction holding the
 * migration's advisory lock, and records the new watermark in the same transaction (so a
 * committed chunk and its recorded range can never disagree). No RETURNING and no sort: the
 * bound was looked up first, which measured about 20% faster than returning the keys.
 */
export async function copyRange(
  c: Client,
  t: Tables,
  low: string[] | null,
  high: string[] | null,
  migrationId: number,
  lockKey: [number, number],
): Promise<{ rows: number; ms: number }> {
  const started = performance.now();
  const rows = await inTransaction(c, async () => {
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', lockKey);
    const r = await c.query(copyRangeSql(t, low !== null, high !== null), [...t.mapping.constants, ...(low ?? []), ...(high ?? [])]);
    const n = r.rowCount ?? 0;
    // The last chunk moves the phase on in its own transaction: a resume never re-copies.
    await writeState(
      c,
      `UPDATE pgshift.migrations SET watermark = $2, rows_copied = rows_copied + $3, updated_at = now(),
              phase = CASE WHEN $2::text[] IS NULL THEN 'index' ELSE phase END WHERE id = $1`,
      [migrationId, high, n],
      { inTransaction: true },
    );
    return n;
  });
  return { rows, ms: performance.now() - started };
}
