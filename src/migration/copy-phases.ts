import type { Client } from '../db/session.js';
import { withClient } from '../db/session.js';
import { ident, literal, qualified } from '../db/quote.js';
import { sleep } from '../db/retry.js';
import { RuntimeError, StoppedError, sqlState } from '../errors.js';
import { componentLog } from '../log.js';
import type { DeferredIndex, ShadowTable } from '../shadow/build.js';
import type { Replayer } from '../capture/replayer.js';
import { createChunker } from '../copy/chunker.js';
import { copyRange, findBound } from '../copy/copier.js';
import type { Tables } from '../copy/sql.js';
import { isTruncated } from '../state/store.js';
import type { Run } from './run.js';
import { failpoint } from '../failpoints.js';
import { cancelAutovacuum } from '../cutover/blockers.js';
import { drain } from '../capture/drain.js';

const log = componentLog('copy');

/**
 * Keyset copy, with the replay of entries below the watermark interleaved between chunks, and
 * the next chunk's bound looked up on a second connection while the current chunk is inserted.
 */
export async function copyAll(run: Run, tables: Tables, replayer: Replayer, start: string[] | null = null): Promise<{ rows: number; chunks: number }> {
  const chunker = createChunker({ targetMs: run.opts.chunkTimeMs, initial: 5000, min: 500, max: 200_000, maxStep: 2 });
  const started = performance.now();
  let rows = run.rowsCopied;
  let chunks = 0;
  await withClient(run.pool, (c) =>
    withClient(run.pool, async (bounds) => {
      let low: string[] | null = start;
      let size = chunker.size();
      // Looked up ahead; if the copy fails before awaiting it, its failure must not go unobserved.
      const ahead = (from: string[] | null, n: number): Promise<string[] | null> => {
        const p = findBound(bounds, tables, from, n);
        p.catch(() => undefined);
        return p;
      };
      let nextBound = ahead(low, size);
      for (;;) {
        await stopIfTruncated(c, run.id);
        stopIfOverRuntime(run);
        await run.throttler.wait();
        const high = await nextBound;
        const requested = size;
        if (high) {
          size = chunker.size();
          nextBound = ahead(high, size);
        }
        const chunk = await copyRange(c, tables, low, high, run.id, run.names.lockKey);
        chunks++;
        rows += chunk.rows;
        if (chunks === 3) await failpoint('mid-copy', c);
        if (high === null) break; // the last chunk: every key is copied
        chunker.feedback(chunk.rows, chunk.ms, requested);
        low = high;
        // Keep the changelog from growing during a long copy; entries above the watermark wait.
        await run.throttler.wait();
        await replayer.replayBatch(c, low, 5000);
        const rate = rows / ((performance.now() - started) / 1000);
        run.opts.onProgress?.({ phase: 'copy', rowsCopied: rows, rowsEstimated: run.plan.origin.estimatedRows, rowsPerSecond: rate, chunkRows: requested });
        if (chunks % 20 === 0) {
          log.info({ migration: run.id, rows, chunk: chunker.size(), rowsPerSecond: Math.round(rate) }, 'copying');
          await recordBacklog(c, run, tables);
        }
      }
    }, 'copy'),
  'copy');
  return { rows, chunks };
}

/**
 * Secondary indexes are built once the shadow is full: one sorted build is far cheaper than
 * maintaining them row by row (bench:indexes). One at a time: PostgreSQL already builds a
 * large btree with parallel workers, and two builds on one table measured no faster. While
 * the application writes, without parallel workers: a build on every core raised the
 * benchmark's application p99 from 3 to 12-50 ms (one stall of 130 ms), a serial build left it
 * at 3 ms and took about 30% longer. A unique index may meet a duplicate that exists only
 * because a change is still pending in the changelog: replay (resolving conflicts on the
 * unique indexes already built), then retry.
 */
export async function buildIndexes(run: Run, shadow: ShadowTable, tables: Tables, replayer: Replayer): Promise<void> {
  const resolved: string[][] = [];
  await withClient(run.pool, async (c) => {
    await c.query(`SET maintenance_work_mem = '256MB'`);
    if (await applicationWrote(c, tables)) {
      log.info({ migration: run.id }, 'the application is writing: building indexes without parallel workers');
      await c.query('SET max_parallel_maintenance_workers = 0');
    }
    for (const idx of shadow.indexes) {
      // A resumed run finds the indexes built before the crash in place.
      const exists = (await c.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [qualified(run.names.schema, idx.name)])).rows[0].e;
      if (exists) {
        if (idx.unique && idx.columns) resolved.push(idx.columns);
        continue;
      }
      for (let attempt = 0; ; attempt++) {
        replayer.enableUniqueResolution(resolved);
        // A unique index meets fewer pending duplicates with a short backlog; a plain one needs none.
        if (idx.unique) await drain((n) => replayer.replayBatch(c, null, n), { below: run.opts.cutoverBacklog });
        try {
          await c.query(idx.create);
          break;
        } catch (err) {
          const state = sqlState(err);
          if ((state !== '23505' && state !== '55P03') || attempt >= 10) throw err;
          if (state === '55P03') {
            // Autovacuum, drawn by the freshly filled shadow, holds a lock the build conflicts
            // with and would yield to it only after deadlock_timeout: the shadow is ours to spare.
            const shadowOid = (await c.query(`SELECT $1::regclass::oid AS oid`, [tables.shadow])).rows[0].oid as string;
            const cancelled = await cancelAutovacuum(run.pool, [shadowOid]);
            log.warn({ migration: run.id, index: idx.name, attempt, cancelledAutovacuum: cancelled }, 'index build waited too long for its lock; retrying');
          } else {
            log.warn({ migration: run.id, index: idx.name, attempt }, 'unique index met a pending duplicate; replaying and retrying');
          }
          await sleep(50 * (attempt + 1));
        }
      }
      if (idx.unique && idx.columns) resolved.push(idx.columns);
      await commentIndex(c, run, tables, idx);
      await failpoint('mid-index', c);
    }
    await c.query('RESET maintenance_work_mem; RESET max_parallel_maintenance_workers');
  }, 'index');
  // From now on the replay resolves conflicts on every unique index.
  replayer.enableUniqueResolution(resolved);
}

/** Whether the application wrote to the table since the capture began (its triggers logged rows). */
async function applicationWrote(c: Client, tables: Tables): Promise<boolean> {
  const r = await c.query(`SELECT pg_stat_get_tuples_inserted($1::regclass) AS n`, [tables.changelog]);
  return Number(r.rows[0].n) > 0;
}

async function commentIndex(c: Client, run: Run, tables: Tables, idx: DeferredIndex): Promise<void> {
  for (const comment of idx.comments) {
    const on = comment.on === 'INDEX' ? `INDEX ${qualified(run.names.schema, idx.name)}` : `CONSTRAINT ${ident(idx.name)} ON ${tables.shadow}`;
    await c.query(`COMMENT ON ${on} IS ${literal(comment.text)}`);
  }
}

/** Replays until the backlog is small enough for the cutover's final replay to be short. */
export async function catchUp(run: Run, replayer: Replayer, tables: Tables): Promise<void> {
  await withClient(run.pool, async (c) => {
    await drain((n) => replayer.replayBatch(c, null, n), {
      below: run.opts.cutoverBacklog,
      beforeBatch: async () => {
        await stopIfTruncated(c, run.id);
        await run.throttler.wait();
      },
    });
    await recordBacklog(c, run, tables);
  }, 'replay');
}

/** --max-runtime: stop cleanly, everything kept for `pgshift resume` (exit 4). */
export function stopIfOverRuntime(run: Run): void {
  if (run.opts.maxRuntimeMs !== undefined && performance.now() - run.startedAt >= run.opts.maxRuntimeMs) {
    throw new StoppedError(`stopped at --max-runtime; pgshift resume ${run.id} continues from here`);
  }
}

export async function stopIfTruncated(c: Client, id: number): Promise<void> {
  if (await isTruncated(c, id)) throw new RuntimeError('the table was truncated during the migration; stopping without a swap');
}

/** The changelog's size, kept in the state table for status. */
async function recordBacklog(c: Client, run: Run, tables: Tables): Promise<number> {
  const n = Number((await c.query(`SELECT count(*) AS n FROM ${tables.changelog}`)).rows[0].n);
  await c.query(`UPDATE pgshift.migrations SET backlog = $2 WHERE id = $1`, [run.id, n]);
  return n;
}

/**
 * --postpone-cutover / --cutover-at: ready to swap, the replay keeps the shadow current (and
 * throttled) until `pgshift cutover <id>` sets the request in the state table (from any host)
 * or the server clock reaches the --cutover-at time (its next occurrence, server time zone).
 */
export async function waitForCutover(run: Run, replayer: Replayer, tables: Tables): Promise<void> {
  await withClient(run.pool, async (c) => {
    const at = run.opts.cutoverAt
      ? (await c.query(
          `SELECT CASE WHEN localtime < $1::time THEN current_date + $1::time ELSE current_date + 1 + $1::time END AS at`,
          [run.opts.cutoverAt],
        )).rows[0].at
      : null;
    for (;;) {
      await stopIfTruncated(c, run.id);
      stopIfOverRuntime(run);
      const r = await c.query(
        `SELECT cutover_requested OR ($2::timestamp IS NOT NULL AND localtimestamp >= $2::timestamp) AS go FROM pgshift.migrations WHERE id = $1`,
        [run.id, at],
      );
      if (r.rows[0].go) return;
      await run.throttler.wait();
      const n = await replayer.replayBatch(c, null, 20_000);
      await recordBacklog(c, run, tables);
      if (n === 0) await sleep(200);
    }
  }, 'replay');
}