import { withClient } from '../../db/session.js';
import { sleep } from '../../db/retry.js';
import type { Replayer } from '../../capture/replayer.js';
import type { Tables } from '../../copy/sql.js';
import type { Run } from '../run.js';
import { recordBacklog, stopIfOverRuntime, stopIfTruncated } from './checks.js';

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
