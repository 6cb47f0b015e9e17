import type { Client } from '../db/session.js';
import { inTransaction } from '../db/session.js';
import { copyChunkSql, type Tables } from './sql.js';
import type { Chunker } from './chunker.js';

export interface ChunkResult {
  rows: number;
  requested: number;
  /** the chunk's last key as text, or null when the chunk was empty */
  last: string[] | null;
  ms: number;
}

/**
 * Copies one keyset chunk in its own short transaction, recording the new watermark in the
 * same transaction (so a committed chunk and its recorded range can never disagree).
 */
export async function copyChunk(
  c: Client,
  t: Tables,
  low: string[] | null,
  chunker: Chunker,
  migrationId: number,
  lockKey: [number, number],
): Promise<ChunkResult> {
  const size = chunker.size();
  const started = performance.now();
  const result = await inTransaction(c, async () => {
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', lockKey);
    const values = [...t.mapping.constants, ...(low ?? []), size];
    const r = await c.query({ text: copyChunkSql(t, low !== null), values, rowMode: 'array' });
    const row = r.rows[0] as (string | number)[] | undefined;
    if (!row) return { rows: 0, last: null };
    const rows = Number(row[0]);
    const last = row.slice(1).map(String);
    await c.query(
      'UPDATE pgshift.migrations SET watermark = $2, rows_copied = rows_copied + $3, updated_at = now() WHERE id = $1',
      [migrationId, last, rows],
    );
    return { rows, last };
  });
  const ms = performance.now() - started;
  chunker.feedback(result.rows, ms);
  return { ...result, requested: size, ms };
}
