import type { Client, Pool } from '../db/session.js';
import { createPool, inTransaction, withClient, withTransaction } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { withRetry, sleep, type RetryPolicy } from '../db/retry.js';
import { StoppedError, UserError } from '../errors.js';
import { componentLog } from '../log.js';
import type { ThrottleOptions } from '../config.js';
import { describeTable, type TableInfo } from '../catalog/table.js';
import { ADVISORY_NAMESPACE } from '../plan/names.js';
import { ensureStateSchema, finishMigration } from '../state/store.js';
import { createChunker } from '../copy/chunker.js';
import { throttlerFor } from '../throttle/from-options.js';
import type { Throttler } from '../throttle/throttler.js';
import { parseBackfill } from './statement.js';
import { backfillBatchSql, backfillBoundSql, backfillPendingSql, type BackfillTarget } from './sql.js';
import { insideWindow, type TimeWindow } from './window.js';

const log = componentLog('backfill');

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
 * with a checkpoint, behind the same throttler as the copy. A rerun of the same job (same name
 * and statement) continues from its checkpoint; the checkpoint is read under the job's
 * advisory lock in each batch, so a batch a killed process left running commits first.
 */
export async function runBackfill(o: BackfillOptions): Promise<BackfillReport> {
  const t0 = performance.now();
  const pool = createPool({ url: o.url, applicationName: 'pgshift:backfill', lockTimeoutMs: o.retry.lockTimeoutMs, maxClients: 3 });
  try {
    const table = await withClient(pool, async (c) => {
      // PostgreSQL reads the name (qualified or not, quoted as the operator wrote it).
      const oid = (await c.query('SELECT to_regclass($1)::oid::int8::text AS oid', [o.table])).rows[0]?.oid;
      if (!oid) throw new UserError(`table ${o.table} does not exist`);
      return describeTable(c, oid);
    });
    if (table.key.length === 0) throw new UserError(`${table.schema}.${table.name} has no primary key; the backfill walks the key`);
    const tableSql = qualified(table.schema, table.name);
    const statement = await parseBackfill(tableSql, o.set, o.where, o.from);
    const target: BackfillTarget = { table: tableSql, keys: table.key.map((k) => k.name), keyTypes: table.key.map((k) => k.type), statement };
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
    const job = await findOrRegister(pool, name, table, text);
    if (job.done) return { ...base, status: 'already done', migrationId: job.id, ms: performance.now() - t0 };
    const throttler = throttlerFor(pool, job.id, o.throttle, { origin: tableSql, shadow: tableSql, changelog: tableSql });
    try {
      const done = await walk(pool, target, job.id, o, throttler, t0);
      await finishMigration(pool, job.id, 'done', null);
      return { ...base, status: 'done', migrationId: job.id, ...done, ms: performance.now() - t0 };
    } finally {
      await throttler.close();
    }
  } finally {
    await pool.end();
  }
}

async function findOrRegister(pool: Pool, name: string, table: TableInfo, text: string): Promise<{ id: number; done: boolean }> {
  return withTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1, 1)', [ADVISORY_NAMESPACE]);
    const r = await c.query(
      `SELECT id::int, statements, outcome FROM pgshift.migrations WHERE kind = 'backfill' AND name = $1 ORDER BY id DESC LIMIT 1`,
      [name],
    );
    const last = r.rows[0];
    if (last && last.statements !== text && last.outcome === null) {
      throw new UserError(`an unfinished backfill named ${name} runs a different statement; give this one another --name`);
    }
    if (last && last.statements === text && last.outcome === 'done') return { id: last.id, done: true };
    if (last && last.statements === text && last.outcome === null) {
      await c.query(`UPDATE pgshift.migrations SET pid = $2, host = $3, updated_at = now() WHERE id = $1`, [last.id, process.pid, (await import('node:os')).hostname()]);
      return { id: last.id, done: false };
    }
    const ins = await c.query(
      `INSERT INTO pgshift.migrations (kind, name, table_oid, table_schema, table_name, statements, artifact_schema, phase, pid, host, rows_estimated, copy_started_at)
       VALUES ('backfill', $1, $2, $3, $4, $5, '', 'copy', $6, $7, $8, now()) RETURNING id::int`,
      [name, table.oid, table.schema, table.name, text, process.pid, (await import('node:os')).hostname(), table.estimatedRows],
    );
    return { id: ins.rows[0].id, done: false };
  });
}

/** Batches over the whole key, then the keys skipped because the application held them. */
async function walk(pool: Pool, t: BackfillTarget, id: number, o: BackfillOptions, throttler: Throttler, t0: number): Promise<{ rowsUpdated: number; batches: number; retriedKeys: number }> {
  const chunker = createChunker({ targetMs: o.batchTimeMs, initial: 1000, min: 100, max: 50_000, maxStep: 2 });
  let rowsUpdated = 0;
  let batches = 0;
  let retriedKeys = 0;
  const lock = [ADVISORY_NAMESPACE, id];
  return withClient(pool, async (c) => {
    for (let finished = false; !finished; ) {
      await stopIfOutside(c, o, t0);
      await throttler.wait();
      const size = chunker.size();
      const started = performance.now();
      const r = await withRetry(o.retry, (_a, lockTimeoutMs) =>
        inTransaction(c, async () => {
          await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
          await c.query('SELECT pg_advisory_xact_lock($1, $2)', lock);
          // The checkpoint is read here, under the lock, never kept in memory across batches.
          const low = ((await c.query(`SELECT watermark FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].watermark as string[] | null) ?? null;
          const bound = await c.query({ text: backfillBoundSql(t, low !== null), values: [...(low ?? []), size], rowMode: 'array' });
          const high = (bound.rows[0] as string[] | undefined) ?? null;
          const b = (await c.query(backfillBatchSql(t, low !== null, high !== null), [id, ...(low ?? []), ...(high ?? [])])).rows[0];
          await c.query(
            `UPDATE pgshift.migrations SET watermark = $2, rows_copied = rows_copied + $3, phase = $4, updated_at = now() WHERE id = $1`,
            [id, high ?? low, b.updated, high ? 'copy' : 'catch-up'],
          );
          return { ...b, last: high === null };
        }),
      );
      rowsUpdated += r.updated;
      batches++;
      finished = r.last;
      if (!finished) chunker.feedback(size, performance.now() - started, size);
      o.onBatch?.({ rows: rowsUpdated, batches });
      if (batches % 50 === 0) log.info({ backfill: id, rows: rowsUpdated, batch: size }, 'backfilling');
    }
    // Keys the application held during their batch: retried until none is left.
    for (let round = 0; ; round++) {
      await stopIfOutside(c, o, t0);
      await throttler.wait();
      const r = (await inTransaction(c, async () => {
        await c.query('SELECT pg_advisory_xact_lock($1, $2)', lock);
        return (await c.query(backfillPendingSql(t), [id, 1000])).rows[0];
      }));
      retriedKeys += r.taken - r.again;
      rowsUpdated += r.updated;
      if (r.taken === 0) break;
      if (r.again > 0) await sleep(Math.min(1000, 20 * 2 ** Math.min(round, 6)));
    }
    return { rowsUpdated, batches, retriedKeys };
  });
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

/** What a dry run tells: matching rows, the batch plan, an estimate, and 5 rows before/after. */
async function dryRun(pool: Pool, t: BackfillTarget, table: TableInfo, o: BackfillOptions): Promise<Partial<BackfillReport>> {
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
