import pLimit from 'p-limit';
import QueryStream from 'pg-query-stream';
import type { Client, Pool } from '../db/session.js';
import { withClient, inTransaction } from '../db/session.js';
import { RuntimeError, describeError, sqlState } from '../errors.js';
import { literal } from '../db/quote.js';
import { boundariesSql, chunkChecksumSql, pageRangeChecksumSql, rangeDiffSql, type Side } from './side.js';

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

type Fingerprint = { n: string; h1: string; h2: string };

/**
 * Compares two sides under ONE snapshot (exported, so several connections can work in
 * parallel). First each whole side's fingerprint, read by page ranges (sequential reads, no
 * index): equal tables end there. Only when they differ are both sides fingerprinted again by
 * key range to find the chunks that differ, and those diffed row by row, streamed.
 */
export async function compareSides(pool: Pool, a: Side, b: Side, opts: CompareOptions = DEFAULT_COMPARE): Promise<ComparisonReport> {
  const t0 = performance.now();
  return withClient(pool, async (holder) => {
    // The holder keeps the exported snapshot alive until every part has imported it.
    return inTransaction(
      holder,
      async () => {
        if (opts.snapshot) await importSnapshot(holder, opts.snapshot);
        const snapshot = (await holder.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
        const limit = pLimit(Math.max(1, opts.parallel));
        const run = <T>(fn: (c: Client) => Promise<T>): Promise<T> => limit(() => underSnapshot(pool, snapshot, fn));

        const [partsA, partsB] = [await pageParts(holder, a, opts.parallel), await pageParts(holder, b, opts.parallel)];
        const [wholeA, wholeB] = await Promise.all(
          [{ side: a, parts: partsA }, { side: b, parts: partsB }].map(async ({ side, parts }) =>
            combine(await Promise.all(parts.map((part) => run((c) => pageChecksum(c, side, part))))),
          ),
        );
        const rowsA = Number(wholeA!.n);
        const rowsB = Number(wholeB!.n);
        const report = { rowsA, rowsB, chunks: partsA.length, mismatchedChunks: 0, differences: [] as Difference[], differenceCount: 0 };
        if (sameFingerprint(wholeA!, wholeB!)) return { ...report, ms: performance.now() - t0 };

        const estimated = Number((await holder.query(`SELECT reltuples::int8 AS n FROM pg_class WHERE oid = $1::regclass`, [a.relation])).rows[0]?.n ?? 0);
        const bounds = (await holder.query({ text: boundariesSql(a, opts.chunkRows, estimated), rowMode: 'array' })).rows as string[][];
        const chunks: Chunk[] = [];
        let low: string[] | null = null;
        for (const high of bounds) {
          chunks.push({ low, high });
          low = high;
        }
        chunks.push({ low, high: null });
        const mismatchedAt: number[] = [];
        await Promise.all(
          chunks.map((chunk, index) =>
            run(async (c) => {
              if (!sameFingerprint(await checksum(c, a, chunk), await checksum(c, b, chunk))) mismatchedAt.push(index);
            }),
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
        return {
          ...report,
          chunks: chunks.length,
          // The wholes differ, so something does even when no key range holds it (rows with NULL keys).
          mismatchedChunks: Math.max(1, mismatched.length),
          differences,
          differenceCount,
          ms: performance.now() - t0,
        };
      },
      { isolation: 'repeatable read' },
    );
  });
}

/** A range of heap pages of the side's relation, or of one of its partitions (`relation`), or the whole side. */
type PagePart = { from: number; to: number | null; relation?: string } | 'whole';

/**
 * Page ranges splitting a side's heap into `parallel` parts (one for small tables); the last is
 * open-ended. The size is read now, not under the snapshot: pages added since are in the last
 * part. A partitioned table is read partition by partition, each leaf split the same way (so
 * the validation runs per partition, in parallel); a relation without a heap of its own (a view)
 * is read whole.
 */
async function pageParts(c: Client, side: Side, parallel: number): Promise<PagePart[]> {
  const r = await c.query(
    `SELECT relkind IN ('r', 'm') AS heap, pg_relation_size(oid) / current_setting('block_size')::int AS p, relkind = 'p' AS partitioned
       FROM pg_class WHERE oid = $1::regclass`,
    // (a tree's relation is read ONLY: shadow/tree.ts; its heap is its own)
    [side.relation.replace(/^ONLY /, '')],
  );
  if (r.rows[0].partitioned) {
    const leaves = await c.query<{ relation: string; p: string }>(
      `SELECT format('%I.%I', n.nspname, l.relname) AS relation, pg_relation_size(l.oid) / current_setting('block_size')::int AS p
         FROM pg_partition_tree($1::regclass) t JOIN pg_class l ON l.oid = t.relid JOIN pg_namespace n ON n.oid = l.relnamespace
        WHERE t.isleaf AND l.relkind = 'r' ORDER BY l.oid`,
      [side.relation],
    );
    return leaves.rows.flatMap((leaf) => splitPages(Number(leaf.p), parallel).map((part) => ({ ...part, relation: leaf.relation })));
  }
  if (!r.rows[0].heap) return ['whole'];
  return splitPages(Number(r.rows[0].p), parallel);
}

function splitPages(pages: number, parallel: number): { from: number; to: number | null }[] {
  const n = pages < 1000 ? 1 : Math.max(1, parallel);
  return Array.from({ length: n }, (_, i) => ({ from: Math.floor((pages * i) / n), to: i === n - 1 ? null : Math.floor((pages * (i + 1)) / n) }));
}

async function pageChecksum(c: Client, side: Side, part: PagePart): Promise<Fingerprint> {
  if (part === 'whole') return (await c.query(chunkChecksumSql(side, false, false), side.params)).rows[0];
  const bounds = [`(${part.from},0)`, ...(part.to === null ? [] : [`(${part.to},0)`])];
  const on = part.relation ? { ...side, relation: part.relation } : side;
  return (await c.query(pageRangeChecksumSql(on, part.to !== null), [...side.params, ...bounds])).rows[0];
}

/** Fingerprints of disjoint parts combined into the whole's: counts and sums add, hashes XOR. */
function combine(parts: Fingerprint[]): Fingerprint {
  let n = 0n;
  let h1 = 0n;
  let h2 = 0n;
  for (const p of parts) {
    n += BigInt(p.n);
    h1 ^= BigInt(p.h1);
    h2 += BigInt(p.h2);
  }
  return { n: String(n), h1: String(h1), h2: String(h2) };
}

const sameFingerprint = (x: Fingerprint, y: Fingerprint): boolean => x.n === y.n && x.h1 === y.h1 && x.h2 === y.h2;

/** Runs `fn` on a pooled connection in a transaction that imported `snapshot`. */
export async function underSnapshot<T>(pool: Pool, snapshot: string, fn: (c: Client) => Promise<T>): Promise<T> {
  return withClient(pool, (c) =>
    inTransaction(
      c,
      async () => {
        await importSnapshot(c, snapshot);
        return fn(c);
      },
      { isolation: 'repeatable read' },
    ),
  );
}

async function checksum(c: Client, side: Side, chunk: Chunk): Promise<Fingerprint> {
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

/**
 * An exported snapshot lives as long as the transaction that exported it: when its session is
 * gone (terminated, server restarted), importing it fails with undefined_object. Say that.
 */
async function importSnapshot(c: Client, snapshot: string): Promise<void> {
  try {
    await c.query(`SET TRANSACTION SNAPSHOT ${literal(snapshot)}`);
  } catch (err) {
    if (sqlState(err) !== '42704') throw err;
    throw new RuntimeError(`the comparison lost the session holding its snapshot (terminated, or the server restarted): ${describeError(err)}`, { cause: err });
  }
}
