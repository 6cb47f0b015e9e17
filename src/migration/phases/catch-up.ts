import { withClient } from '../../db/session.js';
import { withRetry } from '../../db/retry.js';
import type { Replayer } from '../../capture/replayer.js';
import { drain } from '../../capture/drain.js';
import type { Tables } from '../../copy/sql.js';
import type { Run } from '../run.js';
import { recordBacklog, sampleBacklog, stopIfTruncated } from './checks.js';

/** Replays until the backlog is small enough for the cutover's final replay to be short. */
export async function catchUp(run: Run, replayer: Replayer, tables: Tables): Promise<void> {
  await withClient(run.pool, async (c) => {
    // A batch is one transaction under the session's short lock_timeout: retried like any lock wait.
    await drain((n) => withRetry(run.opts.retry, () => replayer.replayBatch(c, null, n)), {
      below: run.opts.cutoverBacklog,
      beforeBatch: async () => {
        await stopIfTruncated(c, run.id);
        await sampleBacklog(c, run, tables);
        await run.throttler.wait();
      },
    });
    await recordBacklog(c, run, tables);
  }, 'replay');
}
