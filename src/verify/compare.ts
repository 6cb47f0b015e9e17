import pLimit from 'p-limit';
import QueryStream from 'pg-query-stream';
import type { Client, Pool } from '../db/session.js';
import { withClient, inTransaction } from '../db/session.js';
import { literal } from '../db/quote.js';
import { boundariesSql, chunkChecksumSql, rangeDiffSql, type Side } from './side.js';

export interface Difference {
  key: string[];
  kind: 'only in a' | 'only in b' | 'different';
}

export interface ComparisonReport {
  rowsA: number;
  rowsB: number;
  chunks: number;
  mismatchedChunks: number;
  /** differing rows found by the row-level diff (all of them, or up to maxDifferences) */
  differences: Difference[];
  differenceCount: number;
  ms: number;
}

export interface CompareOptions {
  chunkRows: number;
  parallel: number;
  /** diff mismatching chunks row by row */
  diff: boolean;
  maxDifferences: number;
  /** an exported snapshot both sides are read under; one is taken when absent */
  snapshot?: string;
  onDifference?: (d: Difference) => void;
}

export const DEFAULT_COMPARE: CompareOptions = { chunkRows: 50_000, parallel: 2, diff: true, maxDifferences: 1000 };

type Chunk = { low: string[] | null; high: string[] | null };

/**
 * Compares two sides chunk by chunk under ONE snapshot (exported, so several connections can
 * checksum chunks in parallel), then diffs the mismatching chunks row by row, streamed.
 */
export async function compareSides(pool: Pool, a: Side, b: Side, opts: CompareOptions = DEFAULT_COMPARE): Promise<ComparisonReport> {
  const t0 = performance.now();
  return withClient(pool, async (holder) => {
    // The holder keeps the exported snapshot alive until every chunk has imported it.
    return inTransaction(
      holder,
      async () => {
        if (opts.snapshot) await holder.query(`SET TRANSACTION SNAPSHOT ${literal(opts.snapshot)}`);
        const snapshot = (await holder.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
        const estimated = Number((await holder.query(`SELECT reltuples::int8 AS n FROM pg_class WHERE oid = $1::regclass`, [a.relation])).rows[0]?.n ?? 0);
        const bounds = (await holder.query({ text: boundariesSql(a, opts.chunkRows, estimated), rowMode: 'array' })).rows as string[][];
        const chunks: Chunk[] = [];
        let low: string[] | null = null;
        for (const high of bounds) {
          chunks.push({ low, high });
          low = high;
        }
        chunks.push({ low, high: null });

        const limit = pLimit(Math.max(1, opts.parallel));
        let rowsA = 0;
        let rowsB = 0;
        const mismatchedAt: number[] = [];
        await Promise.all(
          chunks.map((chunk, index) =>
            limit(() =>
              underSnapshot(pool, snapshot, async (c) => {
                const [ca, cb] = [await checksum(c, a, chunk), await checksum(c, b, chunk)];
                rowsA += Number(ca.n);
                rowsB += Number(cb.n);
                if (ca.n !== cb.n || ca.h1 !== cb.h1 || ca.h2 !== cb.h2) mismatchedAt.push(index);
              }),
            ),
          ),
        );

        // Diffs are reported in key order, whatever order the parallel chunks finished in.
        const mismatched = mismatchedAt.sort((x, y) => x - y).map((i) => chunks[i]!);
        const differences: Difference[] = [];
        let differenceCount = 0;
        if (opts.diff) {
          for (const chunk of mismatched) {
            await underSnapshot(pool, snapshot, (c) =>
              streamDiff(c, a, b, chunk, (d) => {
                differenceCount++;
                if (differences.length < opts.maxDifferences) differences.push(d);
                opts.onDifference?.(d);
              }),
            );
          }
        }
        return { rowsA, rowsB, chunks: chunks.length, mismatchedChunks: mismatched.length, differences, differenceCount, ms: performance.now() - t0 };
      },
      { isolation: 'repeatable read' },
    );
  });
}

async function underSnapshot<T>(pool: Pool, snapshot: string, fn: (c: Client) => Promise<T>): Promise<T> {
  return withClient(pool, (c) =>
    inTransaction(
      c,
      async () => {
        await c.query(`SET TRANSACTION SNAPSHOT ${literal(snapshot)}`);
        return fn(c);
      },
      { isolation: 'repeatable read' },
    ),
  );
}

async function checksum(c: Client, side: Side, chunk: Chunk): Promise<{ n: string; h1: string; h2: string }> {
  const values = [...side.params, ...(chunk.low ?? []), ...(chunk.high ?? [])];
  return (await c.query(chunkChecksumSql(side, chunk.low !== null, chunk.high !== null), values)).rows[0];
}

/** Streams the differing rows of one chunk (memory bounded: rows are never collected here). */
async function streamDiff(c: Client, a: Side, b: Side, chunk: Chunk, emit: (d: Difference) => void): Promise<void> {
  const values = [...a.params, ...b.params, ...(chunk.low ?? []), ...(chunk.high ?? []), ...(chunk.low ?? []), ...(chunk.high ?? [])];
  const stream = c.query(new QueryStream(rangeDiffSql(a, b, chunk.low !== null, chunk.high !== null), values, { batchSize: 1000 }));
  for await (const row of stream as AsyncIterable<Record<string, string>>) {
    const key = a.keys.map((_, i) => row[`k${i}`]!);
    emit({ key, kind: row.kind as Difference['kind'] });
  }
}
