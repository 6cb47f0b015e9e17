import { withClient, type Client } from '../../db/session.js';
import { partitionHomes } from '../../plan/partition-homes.js';
import { qualified } from '../../db/quote.js';
import { sleep } from '../../db/retry.js';
import { componentLog } from '../../log.js';
import { createChunker } from '../../copy/chunker.js';
import { copyRange, findBound } from '../../copy/copier.js';
import { defaultLanes, finishLanes, planLanes, readLanes, recordLaneChunk, worthLanes, type Lane, type LaneSource } from '../../copy/lanes.js';
import pLimit from 'p-limit';
import type { Tables } from '../../copy/sql.js';
import { failpoint } from '../../failpoints.js';
import type { Run } from '../run.js';
import { rowsToCopy } from '../plan.js';
import { progress } from '../../progress.js';
import { recordBacklog, sampleBacklog, stopIfOverRuntime, stopIfTruncated } from './checks.js';

const log = componentLog('copy');

/** What the lanes of one copy share: the rows and chunks so far, for progress and the failpoint. */
interface Totals {
  rows: number;
  chunks: number;
  started: number;
}

/** The copy's lanes, a table of pgshift's own (plan/names.ts). */
const lanesTable = (run: Run): string => qualified(run.names.logSchema, run.names.copyLanes);

/**
 * Keyset copy into the shadow without any index: one lane, or with `--max-parallel` above 1 and a
 * table large enough, several lanes of disjoint key ranges copied at once (copy/lanes.ts); a
 * partitioned table's lanes are its leaf partitions. Lanes run through one pool of that many
 * workers. Nothing
 * is replayed meanwhile: the replay finds shadow rows by the key, built after the copy; the
 * changelog waits (the capture's cost is the same, and the catch-up replays what accumulated once
 * the key exists). A resume continues each lane from its own watermark.
 */
export async function copyAll(run: Run, tables: Tables, start: string[] | null = null): Promise<{ rows: number; chunks: number }> {
  const totals: Totals = { rows: run.rowsCopied, chunks: 0, started: performance.now() };
  const leaves = run.plan.origin.partitions.filter((p) => p.isLeaf);
  const { lanes, workers } = await withClient(run.pool, async (c) => {
    // How many lanes run at once: what was chosen (a take-over chooses again).
    const chosen = await chooseLanes(run, c);
    const recorded = await readLanes(c, lanesTable(run), run.names.lockKey);
    if (recorded || start !== null) return { lanes: recorded, workers: chosen.lanes };
    log.info({ migration: run.id, maxParallel: chosen.lanes, why: chosen.why }, 'copy lanes');
    return { lanes: await planLanes(c, await laneSources(run, c, tables), lanesTable(run), chosen.lanes), workers: chosen.lanes };
  }, 'copy');
  if (!lanes) {
    await copyLane(run, tables, totals, start, null);
    return { rows: totals.rows, chunks: totals.chunks };
  }
  const left = lanes.filter((l) => !l.done);
  log.info({ migration: run.id, lanes: lanes.length, left: left.length, workers }, run.relations ? 'copying relation by relation' : leaves.length ? 'copying partition by partition' : 'copying in key lanes');
  // One pool of workers, whatever the lanes are: key ranges of one table, or partitions.
  const pool = pLimit(Math.max(1, workers));
  await Promise.all(left.map((l) => pool(() => copyLane(run, tables, totals, l.watermark ?? l.low, l))));
  await withClient(run.pool, (c) => finishLanes(c, run.id), 'copy');
  return { rows: totals.rows, chunks: totals.chunks };
}

/**
 * What the copy reads: a tree's relations (shadow/tree.ts), a partitioned table's leaves, or the
 * table; each with its row estimate (a partition's, its own reltuples), so that a large one is
 * split into key lanes of its own.
 */
async function laneSources(run: Run, c: Client, whole: Tables): Promise<LaneSource[]> {
  const { origin, tree } = run.plan;
  if (run.relations) return run.relations.map((t, i) => ({ tables: t, source: t.origin, target: t.shadow, estimatedRows: [origin, ...tree][i]!.estimatedRows }));
  const leaves = origin.partitions.filter((p) => p.isLeaf);
  if (leaves.length === 0) return [{ tables: whole, source: null, target: null, estimatedRows: origin.estimatedRows }];
  const homes = partitionHomes(run.names.schema, origin);
  const rows = (await c.query<{ n: string }>(
    `SELECT GREATEST(c.reltuples, 0)::int8::text AS n FROM unnest($1::oid[]) WITH ORDINALITY u(oid, i) JOIN pg_class c ON c.oid = u.oid ORDER BY u.i`,
    [leaves.map((p) => p.oid)],
  )).rows;
  return leaves.map((p, i) => {
    const source = homes.live(p);
    const target = homes.inMigration(p);
    return { tables: laneTables(run, whole, source, target), source, target, estimatedRows: Number(rows[i]?.n ?? 0) };
  });
}

/** A lane's tables: a tree's relation's own; a partition's, read from it and written into the shadow's of its name; else the table's. */
function laneTables(run: Run, whole: Tables, source: string | null, target: string | null): Tables {
  if (source === null || target === null) return whole;
  return run.relations?.find((t) => t.shadow === target) ?? { ...whole, origin: source, shadow: target };
}

/**
 * How many sessions work at once, for the copy's lanes and the index builds side by side: one
 * for a small table, else `--max-parallel`, else the default's looks (copy/lanes.ts).
 */
export async function chooseLanes(run: Run, c: Client): Promise<{ lanes: number; why: string }> {
  if (!worthLanes(rowsToCopy(run.plan))) return { lanes: 1, why: 'a small table' };
  if (run.opts.maxParallel !== undefined) return { lanes: run.opts.maxParallel, why: '--max-parallel' };
  return run.laneLooks ?? defaultLanes(c);
}

/**
 * The lanes' default looks at the application for about 100 ms (copy/lanes.ts): started beside
 * the shadow's build and the capture, which take about as long, so the copy does not wait for them.
 */
export function lookForLanes(run: Run): void {
  if (run.opts.maxParallel !== undefined || !worthLanes(rowsToCopy(run.plan))) return;
  run.laneLooks = withClient(run.pool, (c) => defaultLanes(c), 'copy');
  // Awaited by the copy; a failure before it (the build's) must not leave it unobserved.
  run.laneLooks.catch(() => undefined);
}

/**
 * One lane's chunks in key order from `from` (the whole key when `lane` is null), the next
 * chunk's bound looked up on a second connection while the current chunk is inserted.
 */
async function copyLane(run: Run, whole: Tables, totals: Totals, from: string[] | null, lane: Lane | null): Promise<void> {
  const tables = laneTables(run, whole, lane?.source ?? null, lane?.target ?? null);
  const chunker = createChunker({ targetMs: run.opts.chunkTimeMs, initial: 5000, min: 500, max: 200_000, maxStep: 2 });
  const laneHigh = lane?.high ?? null;
  await withClient(run.pool, (c) =>
    withClient(run.pool, async (bounds) => {
      let low: string[] | null = from;
      let size = chunker.size();
      // Looked up ahead; if the copy fails before awaiting it, its failure must not go unobserved.
      const ahead = (after: string[] | null, n: number): Promise<string[] | null> => {
        const p = findBound(bounds, tables, after, n, laneHigh);
        p.catch(() => undefined);
        return p;
      };
      let nextBound = ahead(low, size);
      for (;;) {
        await stopIfTruncated(c, run.id);
        stopIfOverRuntime(run);
        await run.throttler.wait();
        const found = await nextBound;
        const requested = size;
        if (found) {
          size = chunker.size();
          nextBound = ahead(found, size);
        }
        // No bound found: the lane's last chunk, up to its end (the table's, for the last lane).
        const last = found === null;
        const high = found ?? laneHigh;
        const chunk = lane
          ? await copyRange(c, tables, low, high, run.id, run.names.lockKey, (cc: Client, n: number) => recordLaneChunk(cc, lanesTable(run), run.id, lane.lane, high, last, n), true)
          : await copyRange(c, tables, low, high, run.id, run.names.lockKey);
        totals.chunks++;
        totals.rows += chunk.rows;
        run.rowsCopied = totals.rows;
        if (totals.chunks === 3) await failpoint('mid-copy', c);
        if (last) break;
        chunker.feedback(chunk.rows, chunk.ms, requested);
        low = found;
        // --nice: the server's time handed back to the application, in proportion to what the chunk took.
        if (run.opts.nice) await sleep(chunk.ms * run.opts.nice);
        const rate = totals.rows / ((performance.now() - totals.started) / 1000);
        run.opts.onProgress?.({ phase: 'copy', rowsCopied: totals.rows, rowsEstimated: rowsToCopy(run.plan), rowsPerSecond: rate, chunkRows: requested });
        progress.emit({ type: 'rows', id: run.id, done: totals.rows, total: estimate(run) });
        if (totals.chunks % 20 === 0) {
          log.info({ migration: run.id, rows: totals.rows, chunk: chunker.size(), rowsPerSecond: Math.round(rate), lane: lane?.lane }, 'copying');
          await recordBacklog(c, run, tables);
        } else {
          await sampleBacklog(c, run, tables);
        }
      }
    }, 'copy'),
  'copy');
}

/** The table's row estimate, or null where PostgreSQL has none (reltuples is -1 before the first ANALYZE or VACUUM). */
function estimate(run: Run): number | null {
  const n = rowsToCopy(run.plan);
  return n > 0 ? n : null;
}
