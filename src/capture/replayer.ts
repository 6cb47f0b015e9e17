import type { Client, Pool } from '../db/session.js';
import { inTransaction, withClient } from '../db/session.js';
import { ident } from '../db/quote.js';
import {
  deleteShadowRowsSql, insertPreservedRowsSql, insertRowsSql, takeEntriesSql, uniqueConflictsSql, type Tables,
} from '../copy/sql.js';

/**
 * Makes shadow rows equal to the origin's current rows for the keys the changelog names.
 * One replay at a time (two replays of one key under different snapshots could commit out of
 * order): the runner calls it from one loop only, and each batch holds the migration's
 * advisory lock.
 */
export interface Replayer {
  /** Replays up to `limit` entries at or below the watermark (all when null); returns entries taken. */
  replayBatch(c: Client, watermark: string[] | null, limit: number): Promise<number>;
  /** The same inside a transaction the caller holds (the cutover's). */
  replayInTransaction(c: Client, watermark: string[] | null, limit: number): Promise<number>;
  /** Unique indexes now exist on the shadow: resolve conflicts with rows still pending. */
  enableUniqueResolution(indexes: string[][]): void;
  /** From now on, record every key written into the shadow in this table (its shadow key columns), or stop. */
  recordKeysIn(table: string | null): void;
}

export interface ReplayerOptions {
  tables: Tables;
  preservedTypes: string[];
  lockKey: [number, number];
}

type Saved = { key: string[]; values: (string | null)[] };

export function createReplayer(opts: ReplayerOptions): Replayer {
  const t = opts.tables;
  const m = t.mapping;
  const nk = m.originKey.length;
  let conflictSql: string[] = [];
  let recordSql: string | null = null;

  const transpose = (keys: string[][]): string[][] => m.originKey.map((_, i) => keys.map((k) => k[i]!));
  const readSaved = (row: (string | null)[]): Saved => ({ key: row.slice(0, nk) as string[], values: row.slice(nk) });

  async function replayKeys(c: Client, keys: string[][]): Promise<void> {
    const batch = new Map<string, string[]>(keys.map((k) => [JSON.stringify(k), k]));
    const saved = new Map<string, Saved>();
    const deleted = await c.query({ text: deleteShadowRowsSql(t), values: transpose(keys), rowMode: 'array' });
    for (const row of deleted.rows as (string | null)[][]) {
      const s = readSaved(row);
      saved.set(JSON.stringify(s.key), s);
    }
    // Rows holding a unique value an incoming row takes have a pending change of their own:
    // take them out and re-sync them too, until no conflict is left.
    for (let round = 0, grew = true; grew && conflictSql.length > 0 && round < 100; round++) {
      grew = false;
      for (const sql of conflictSql) {
        const all = [...batch.values()];
        const r = await c.query({ text: sql, values: transpose(all), rowMode: 'array' });
        for (const row of r.rows as (string | null)[][]) {
          const s = readSaved(row);
          const id = JSON.stringify(s.key);
          if (!batch.has(id)) grew = true;
          batch.set(id, s.key);
          saved.set(id, s);
        }
      }
    }
    if (recordSql) await c.query(recordSql, m.shadowKey.map((_, i) => [...batch.values()].map((k) => k[i]!)));
    const withValues = m.preserved.length ? [...saved.values()] : [];
    const plain = [...batch.entries()].filter(([id]) => !(m.preserved.length && saved.has(id))).map(([, k]) => k);
    if (plain.length) await c.query(insertRowsSql(t), [...m.constants, ...transpose(plain)]);
    if (withValues.length) {
      const values = m.preserved.map((_, i) => withValues.map((s) => s.values[i] ?? null));
      await c.query(insertPreservedRowsSql(t, opts.preservedTypes), [...m.constants, ...transpose(withValues.map((s) => s.key)), ...values]);
    }
  }

  async function replayInTransaction(c: Client, watermark: string[] | null, limit: number): Promise<number> {
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', opts.lockKey);
    const take = takeEntriesSql(t, watermark !== null);
    const r = await c.query({ text: take, values: watermark ? [...watermark, limit] : [limit], rowMode: 'array' });
    if (r.rows.length === 0) return 0;
    await replayKeys(c, r.rows as string[][]);
    return r.rows.length;
  }

  return {
    replayInTransaction,
    // REPEATABLE READ: the conflict search and the insert read the origin at one snapshot.
    replayBatch: (c, watermark, limit) =>
      inTransaction(c, () => replayInTransaction(c, watermark, limit), { isolation: 'repeatable read' }),
    recordKeysIn(table) {
      recordSql = table === null ? null
        : `INSERT INTO ${table} (${m.shadowKey.map(ident).join(', ')}) SELECT * FROM unnest(${t.shadowKeyTypes.map((ty, i) => `$${i + 1}::${ty}[]`).join(', ')})`;
    },
    enableUniqueResolution(indexes) {
      conflictSql = indexes.map((cols) => uniqueConflictsSql(t, cols)).filter((s): s is string => s !== null);
    },
  };
}

/** Entries waiting in the changelog. */
export async function backlog(pool: Pool, changelog: string): Promise<number> {
  return withClient(pool, async (c) => Number((await c.query(`SELECT count(*) AS n FROM ${changelog}`)).rows[0].n));
}
