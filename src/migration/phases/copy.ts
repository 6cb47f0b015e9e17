import { withClient } from '../../db/session.js';
import { sleep } from '../../db/retry.js';
import { componentLog } from '../../log.js';
import { createChunker } from '../../copy/chunker.js';
import { copyRange, findBound } from '../../copy/copier.js';
import type { Tables } from '../../copy/sql.js';
import { failpoint } from '../../failpoints.js';
import type { Run } from '../run.js';
import { progress } from '../../progress.js';
import { recordBacklog, sampleBacklog, stopIfOverRuntime, stopIfTruncated } from './checks.js';

const log = componentLog('copy');

/**
 * Keyset copy into the shadow without any index, the next chunk's bound looked up on a second
 * connection while the current chunk is inserted. Nothing is replayed meanwhile: the replay finds
 * shadow rows by the key, built after the copy; the changelog waits (the capture's cost is the
 * same, and the catch-up replays what accumulated once the key exists).
 */
export async function copyAll(run: Run, tables: Tables, start: string[] | null = null): Promise<{ rows: number; chunks: number }> {
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
        // --nice: the server's time handed back to the application, in proportion to what the chunk took.
        if (run.opts.nice) await sleep(chunk.ms * run.opts.nice);
        const rate = rows / ((performance.now() - started) / 1000);
        run.opts.onProgress?.({ phase: 'copy', rowsCopied: rows, rowsEstimated: run.plan.origin.estimatedRows, rowsPerSecond: rate, chunkRows: requested });
        progress.emit({ type: 'rows', id: run.id, done: rows, total: estimate(run) });
        if (chunks % 20 === 0) {
          log.info({ migration: run.id, rows, chunk: chunker.size(), rowsPerSecond: Math.round(rate) }, 'copying');
          await recordBacklog(c, run, tables);
        } else {
          await sampleBacklog(c, run, tables);
        }
      }
    }, 'copy'),
  'copy');
  return { rows, chunks };
}

/** The table's row estimate, or null where PostgreSQL has none (reltuples is -1 before the first ANALYZE or VACUUM). */
function estimate(run: Run): number | null {
  const n = run.plan.origin.estimatedRows;
  return n > 0 ? n : null;
}
