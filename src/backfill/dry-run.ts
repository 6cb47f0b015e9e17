import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { ident } from '../db/quote.js';
import type { TableInfo } from '../catalog/table.js';
import type { BackfillOptions, BackfillReport } from './backfill.js';
import type { BackfillTarget } from './sql.js';

/** What a dry run tells: matching rows, the batch plan, an estimate, and 5 rows before/after. */
export async function dryRun(pool: Pool, t: BackfillTarget, table: TableInfo, o: BackfillOptions): Promise<Partial<BackfillReport>> {
  return withClient(pool, async (c) => {
    const s = t.statement;
    const keys = t.keys.map((k) => `${t.table}.${ident(k)}`);
    const matching = Number(
      (await c.query(`SELECT count(DISTINCT (${keys.join(', ')}))::int8 AS n FROM ${t.table}${s.from ? `, ${s.from}` : ''}${s.where ? ` WHERE ${s.where}` : ''}`)).rows[0].n,
    );
    // Five matching rows, updated inside a transaction that is rolled back: before and after.
    const sampleKeys = (await c.query({ text: `SELECT ${keys.map((k, i) => `${k}::text AS k${i}`).join(', ')} FROM ${t.table}${s.from ? `, ${s.from}` : ''}${s.where ? ` WHERE ${s.where}` : ''} ORDER BY ${keys.join(', ')} LIMIT 5`, rowMode: 'array' })).rows as string[][];
    const cols = s.targets.map((x) => `${t.table}.${ident(x)}::text AS ${ident(x)}`).join(', ');
    const keyMatch = `(${keys.join(', ')}) IN (SELECT * FROM unnest(${t.keyTypes.map((ty, i) => `$${i + 1}::${ty}[]`).join(', ')}))`;
    const packed = t.keys.map((_, i) => sampleKeys.map((k) => k[i]!));
    const before = (await c.query(`SELECT ${keys.map((k, i) => `${k}::text AS k${i}`).join(', ')}, ${cols} FROM ${t.table} WHERE ${keyMatch} ORDER BY ${keys.join(', ')}`, packed)).rows;
    let after: Record<string, string | null>[] = [];
    let estimatedMs: number | null = null;
    await c.query('BEGIN');
    try {
      await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${o.retry.lockTimeoutMs}ms`]);
      after = (await c.query(`UPDATE ${t.table} SET ${s.assignments.join(', ')}${s.from ? ` FROM ${s.from}` : ''} WHERE ${keyMatch}${s.where ? ` AND (${s.where})` : ''} RETURNING ${keys.map((k, i) => `${k}::text AS k${i}`).join(', ')}, ${cols}`, packed)).rows;
      // Time one trial batch (also rolled back) for the estimate.
      const trial = Math.min(1000, Math.max(1, matching));
      const t1 = performance.now();
      await c.query(`UPDATE ${t.table} SET ${s.assignments.join(', ')}${s.from ? ` FROM ${s.from}` : ''} WHERE (${keys.join(', ')}) IN (SELECT ${keys.join(', ')} FROM ${t.table}${s.from ? `, ${s.from}` : ''}${s.where ? ` WHERE ${s.where}` : ''} ORDER BY ${keys.join(', ')} LIMIT ${trial})${s.where ? ` AND (${s.where})` : ''}`);
      estimatedMs = ((performance.now() - t1) / trial) * matching;
    } finally {
      await c.query('ROLLBACK');
    }
    const byKey = (rows: Record<string, string | null>[], key: string[]) => rows.find((r) => t.keys.every((_, i) => r[`k${i}`] === key[i]));
    const strip = (r: Record<string, string | null> | undefined): Record<string, string | null> =>
      Object.fromEntries(Object.entries(r ?? {}).filter(([k]) => !/^k\d+$/.test(k)));
    return {
      matchingRows: matching,
      estimatedBatches: Math.ceil((table.estimatedRows || matching) / 1000),
      estimatedMs,
      sample: sampleKeys.map((key) => ({ key, before: strip(byKey(before, key)), after: strip(byKey(after, key)) })),
    };
  });
}
