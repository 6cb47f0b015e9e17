import type { Client } from '../db/session.js';
import { createPool, withClient } from '../db/session.js';
import { qualified } from '../db/quote.js';
import type { RetryPolicy } from '../db/retry.js';
import { StoppedError, UserError } from '../errors.js';
import type { ThrottleOptions } from '../config.js';
import { describeTable } from '../catalog/table.js';
import { ensureStateSchema } from '../state/store.js';
import { throttlerFor } from '../throttle/from-options.js';
import { progress } from '../progress.js';
import { parseBackfill } from './statement.js';
import type { BackfillTarget } from './sql.js';
import { insideWindow, type TimeWindow } from './window.js';
import { dryRun } from './dry-run.js';
import { claimJob, finishJob, prepareJob } from './job.js';
import { retryPending, walkKey, type WalkCounts } from './walk.js';

export interface BackfillOptions {
  url?: string;
  table: string;
  set: string;
  where?: string;
  from?: string;
  execute: boolean;
  name?: string;
  maxRuntimeMs?: number;
  window?: TimeWindow;
  /** target duration of one batch: also the longest an application row waits for the backfill */
  batchTimeMs: number;
  retry: RetryPolicy;
  throttle: ThrottleOptions;
  onBatch?: (done: { rows: number; batches: number }) => void;
}

export interface BackfillReport {
  status: 'planned' | 'done' | 'already done';
  name: string;
  table: string;
  statement: string;
  idempotent: boolean;
  warning: string | null;
  matchingRows: number | null;
  estimatedBatches: number | null;
  estimatedMs: number | null;
  sample: { key: string[]; before: Record<string, string | null>; after: Record<string, string | null> }[];
  migrationId: number | null;
  rowsUpdated: number;
  batches: number;
  retriedKeys: number;
  ms: number;
}

/**
 * `pgshift backfill`: an UPDATE in primary-key keyset batches, each its own short transaction
 * with a checkpoint, behind the same throttler as the copy. A job (name + statement) is run by
 * one process at a time (it owns the job as a migration's process does); a rerun continues from
 * the checkpoint, or, once the walk has ended, with the pending keys alone. Rows whose key the
 * application changes meanwhile are updated exactly once (the job's key-move trigger; see
 * README.md beside this file).
 */
export async function runBackfill(o: BackfillOptions): Promise<BackfillReport> {
  const t0 = performance.now();
  // Connections: the owner's, the walk's, the throttler's, and one for a refusal's look-up.
  const pool = createPool({ url: o.url, role: 'backfill', lockTimeoutMs: o.retry.lockTimeoutMs, maxClients: 4 });
  try {
    const table = await withClient(pool, async (c) => {
      // PostgreSQL reads the name (qualified or not, quoted as the operator wrote it).
      const oid = (await c.query('SELECT to_regclass($1)::oid::int8::text AS oid', [o.table])).rows[0]?.oid;
      if (!oid) throw new UserError(`table ${o.table} does not exist`);
      return describeTable(c, oid);
    });
    // The walk and its key-move trigger are proven on primary keys only (not yet on the unique index the copy may key by).
    if (!table.identity?.primary) throw new UserError(`${table.schema}.${table.name} has no primary key; the backfill walks the key`);
    const tableSql = qualified(table.schema, table.name);
    const statement = await parseBackfill(tableSql, o.set, o.where, o.from);
    const keyTarget = statement.targets.find((x) => table.key.some((k) => k.name === x));
    if (keyTarget !== undefined) throw new UserError(`--set assigns ${keyTarget}, a column of the primary key the backfill walks; change keys with a plain UPDATE`);
    const target: BackfillTarget = {
      table: tableSql, keys: table.key.map((k) => k.name), keyTypes: table.key.map((k) => k.type), keyCollations: table.key.map((k) => k.collation), statement,
    };
    const name = o.name ?? `${table.schema}.${table.name}`;
    const text = `UPDATE ${tableSql} SET ${statement.assignments.join(', ')}${statement.from ? ` FROM ${statement.from}` : ''}${statement.where ? ` WHERE ${statement.where}` : ''}`;
    const warning = statement.idempotent
      ? null
      : 'the predicate does not exclude rows already done (it reads none of the assigned columns): a rerun relies on the checkpoint alone';
    const base: BackfillReport = {
      status: 'planned', name, table: `${table.schema}.${table.name}`, statement: text, idempotent: statement.idempotent, warning,
      matchingRows: null, estimatedBatches: null, estimatedMs: null, sample: [], migrationId: null, rowsUpdated: 0, batches: 0, retriedKeys: 0, ms: 0,
    };
    if (!o.execute) return { ...base, ...(await dryRun(pool, target, table, o)), ms: performance.now() - t0 };

    await ensureStateSchema(pool);
    const job = await claimJob(
      pool,
      { name, schema: table.schema, table: table.name, tableOid: table.oid, rowsEstimated: table.estimatedRows, statement: text, idempotent: statement.idempotent },
      o.retry,
    );
    if ('done' in job) return { ...base, status: 'already done', migrationId: job.done, ms: performance.now() - t0 };
    try {
      const origin = { schema: table.schema, name: table.name };
      // The key-move trigger is in place before the first batch reads the table.
      await prepareJob(pool, job, target, origin, o.retry);
      const throttler = throttlerFor(pool, job.id, o.throttle, { origin: tableSql, shadow: tableSql, changelog: tableSql });
      const counts: WalkCounts = { rowsUpdated: 0, batches: 0, retriedKeys: 0 };
      const walk = { batchTimeMs: o.batchTimeMs, retry: o.retry, stopIfOutside: (c: Client) => stopIfOutside(c, o, t0), onBatch: o.onBatch, rowsEstimated: table.estimatedRows };
      const phase = (p: string, message: string): void => progress.emit({ type: 'phase', id: job.id, kind: 'backfill', table: base.table, phase: p, message });
      try {
        await withClient(pool, async (c) => {
          phase('copy', 'updating rows in key order');
          await walkKey(c, target, job.id, job.names, walk, throttler, counts);
          phase('catch-up', 'updating the rows the application held or moved during their batch');
          do await retryPending(c, target, job.id, job.names, walk, throttler, counts);
          while (!(await finishJob(pool, job.id, origin, o.retry)));
          phase('done', `${counts.rowsUpdated} rows updated`);
        });
      } finally {
        await throttler.close();
      }
      return { ...base, status: 'done', migrationId: job.id, ...counts, ms: performance.now() - t0 };
    } finally {
      await job.ownership.release();
    }
  } finally {
    await pool.end();
  }
}

async function stopIfOutside(c: Client, o: BackfillOptions, t0: number): Promise<void> {
  if (o.maxRuntimeMs !== undefined && performance.now() - t0 >= o.maxRuntimeMs) {
    throw new StoppedError('stopped at --max-runtime; run the same command again to continue from the checkpoint');
  }
  if (o.window) {
    const now = Number((await c.query(`SELECT extract(epoch FROM localtime)::float8 AS s`)).rows[0].s);
    if (!insideWindow(o.window, now)) {
      throw new StoppedError('outside the --window (server time); run the same command again in the window to continue');
    }
  }
}
