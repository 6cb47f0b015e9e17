import type { Client, Pool } from '../db/session.js';
import type { PartitionHomes } from '../plan/partition-homes.js';
import { checkout, withClient } from '../db/session.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { lockGaveUp } from '../cutover/blockers.js';
import { DifferenceError, describeError, sqlState } from '../errors.js';
import { componentLog } from '../log.js';
import type { Replayer } from '../capture/replayer.js';
import { compareSides, underSnapshot, type Difference } from './compare.js';
import { checkConstraints, type ConstraintCheck } from './constraints.js';
import { countWhereSql, keyedDiffSql, notWrittenBy, rowText, writtenSince, type Side } from './side.js';
import { drain } from '../capture/drain.js';
import { failpoint } from '../failpoints.js';
import type { DeferredConstraint } from '../shadow/build.js';

const log = componentLog('validate');

export const VALIDATION_LEVELS = ['basic', 'thorough', 'comprehensive'] as const;
export type ValidationLevel = (typeof VALIDATION_LEVELS)[number];
export const ROLLBACK_MODES = ['automatic', 'manual', 'none'] as const;
export type RollbackMode = (typeof ROLLBACK_MODES)[number];

/** A validation found differences; what happens next depends on --rollback. */
export class ValidationFailed extends DifferenceError {
  constructor(
    message: string,
    readonly stage: 'before cutover' | 'in cutover',
  ) {
    super(message);
  }
}

export interface BeforeCutoverReport {
  level: ValidationLevel;
  /** how long writes to the origin were held to reach the consistent point */
  writesHeldMs: number;
  rowsOrigin: number;
  rowsShadow: number;
  chunks: number;
  mismatchedChunks: number;
  differences: Difference[];
  differenceCount: number;
  columns: string[];
  constraintChecks: ConstraintCheck[];
  ms: number;
  passed: boolean;
  /** `thorough`: the rows compared one by one, written since the capture began (origin) or by another than the copy (shadow); absent when every row was read */
  rowsLookedUp?: { origin: number; shadow: number };
}

export interface ValidationInput {
  pool: Pool;
  level: ValidationLevel;
  origin: Side;
  shadow: Side;
  columns: string[];
  replayer: Replayer;
  retry: RetryPolicy;
  parallel: number;
  constraintTarget: { schema: string; table: string; oid: string; key: string[]; homes: PartitionHomes };
  deferred: DeferredConstraint[];
  /** the origin's OID, to name who holds its locks when the validation cannot take its own */
  originOid: string;
  /** the backlog the drain before the lock leaves (default 1000) */
  backlog?: number;
  /** the oldest transaction running before the capture existed (xid8): `thorough` compares the rows written since */
  changedSince?: string;
  /** the table of the copy's chunk transactions' ids */
  copyXacts?: string;
}

/**
 * Compares origin and shadow at ONE consistent point while writes continue: hold writes
 * briefly (SHARE lock, short lock_timeout, retried), drain the changelog into the shadow,
 * export a snapshot, release the lock, then compare under that snapshot.
 */
export async function validateBeforeCutover(v: ValidationInput): Promise<BeforeCutoverReport> {
  const t0 = performance.now();
  const lockClient = await checkout(v.pool, 'validate');
  const holder = await checkout(v.pool, 'validate');
  let lockReleased = false;
  let compared = false;
  try {
    // Drained first without the lock (to a short backlog: writes go on), so the drain under it
    // replays only the last moments' writes.
    await replayAll(v, v.backlog ?? 1000);
    const heldFrom = await withRetry(v.retry, async (_a, lockTimeoutMs) => {
      await lockClient.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      try {
        await lockClient.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        await lockClient.query(`LOCK TABLE ${v.origin.relation} IN SHARE MODE`);
        return performance.now();
      } catch (err) {
        await lockClient.query('ROLLBACK');
        throw err;
      }
    }).catch((err: unknown) => lockGaveUp(v.pool, [v.originOid], 'the validation could not hold writes to the table', err));
    // With writes held, the changelog is complete and stays so: replay all of it.
    await replayAll(v, 1);
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const snapshot = (await holder.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
    await lockClient.query('COMMIT');
    lockReleased = true;
    const writesHeldMs = performance.now() - heldFrom;
    await failpoint('mid-validation', holder);

    const report = (v.level === 'basic' ? await countBoth(v, holder, snapshot) : null)
      ?? (v.level === 'thorough' && v.changedSince && v.copyXacts ? await compareWrittenSince(v, snapshot) : null)
      ?? (await compareEveryRow(v, snapshot));
    const constraintChecks = v.level === 'comprehensive' ? await checkConstraints(holder, v.constraintTarget, v.deferred) : [];
    const passed = report.mismatchedChunks === 0 && report.rowsOrigin === report.rowsShadow && constraintChecks.every((c) => c.violations === 0);
    await holder.query('COMMIT');
    compared = true;
    return { level: v.level, writesHeldMs, ...report, constraintChecks, ms: performance.now() - t0, passed };
  } finally {
    if (!lockReleased) await lockClient.query('ROLLBACK').catch(() => undefined);
    // Only when something failed: a ROLLBACK after the COMMIT put "there is no transaction in
    // progress" in the server's log at every migration.
    if (!compared) await holder.query('ROLLBACK').catch(() => undefined);
    lockClient.release();
    holder.release();
  }
}

export interface InLockReport {
  /** after a narrowing key change, the shadow has fewer rows: two keys became one (never swapped) */
  keysMerged: boolean;
  counts: { origin: number; shadow: number } | 'skipped: over the time budget';
  sampledRows: number;
  sampleMismatches: number | 'skipped: over the time budget';
  passed: boolean;
}

/** What a comparison found (the report without what validateBeforeCutover adds). */
type Compared = Omit<BeforeCutoverReport, 'constraintChecks' | 'passed' | 'ms' | 'level' | 'writesHeldMs'>;

/** `basic`: both counts at once under the one snapshot, the shadow's on a second connection. */
async function countBoth(v: ValidationInput, holder: Client, snapshot: string): Promise<Compared> {
  const count = async (c: Client, s: Side): Promise<number> => Number((await c.query(`SELECT count(*) AS n FROM ${s.relation}`)).rows[0].n);
  const [rowsOrigin, rowsShadow] = await Promise.all([count(holder, v.origin), underSnapshot(v.pool, snapshot, (c) => count(c, v.shadow))]);
  return { rowsOrigin, rowsShadow, chunks: 1, mismatchedChunks: rowsOrigin === rowsShadow ? 0 : 1, differences: [], differenceCount: 0, columns: [] };
}

/** Every row of both sides, by fingerprints (verify/compare.ts); `comprehensive` also diffs the chunks that differ. */
async function compareEveryRow(v: ValidationInput, snapshot: string): Promise<Compared> {
  const r = await compareSides(v.pool, v.origin, v.shadow, { chunkRows: 50_000, parallel: v.parallel, diff: v.level === 'comprehensive', maxDifferences: 100, snapshot });
  return {
    rowsOrigin: r.rowsA, rowsShadow: r.rowsB, chunks: r.chunks, mismatchedChunks: r.mismatchedChunks,
    differences: r.differences, differenceCount: r.differenceCount, columns: v.columns,
  };
}

/** Past this many transactions since the capture, 32-bit transaction ids are not compared (wraparound). */
const MAX_XID_SPAN = 1_000_000_000;

/**
 * `thorough` without hashing every row of both tables. Every change the capture can see comes
 * from a transaction that was running when the capture began (`changedSince` is the oldest one
 * then) or began later, so every origin row version written since, captured or not, has an xmin
 * from `changedSince` on. Every shadow row version the copy wrote has one of the copy's chunk
 * transactions as its xmin (`copyXacts`); the replay's, and any other writer's, do not. So:
 * - origin rows written since `changedSince`: each compared with the shadow row of its key;
 * - shadow rows not written by the copy: each compared with the origin row of its key;
 * - every other pair: the origin row is as it was before the capture began, and the copy read it
 *   then and wrote its shadow row, which nothing wrote since: equal by construction;
 * - a row deleted leaves nothing to compare: the row counts must be equal too.
 * What this does not prove is a row the copy never wrote offset by exactly one row the shadow
 * kept after its deletion (`comprehensive` hashes every row). Null, for the full comparison,
 * when either side has more than a fifth of its rows (and 100,000) to look up one by one (a full
 * read is cheaper), when more than MAX_XID_SPAN transactions went by, when the counts differ or
 * rows differ (the full comparison then names the chunks), or when a lookup fails (a key that
 * does not cast back).
 */
async function compareWrittenSince(v: ValidationInput, snapshot: string): Promise<Compared | null> {
  const since = v.changedSince!;
  const copyXacts = v.copyXacts!;
  try {
    const [origin, shadow] = await Promise.all([
      underSnapshot(v.pool, snapshot, async (c) => {
        const span = Number((await c.query(`SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8 - $1::text::int8 AS n`, [since])).rows[0].n);
        return span > MAX_XID_SPAN ? null : pass(c, v.origin, v.shadow, writtenSince, [since]);
      }),
      underSnapshot(v.pool, snapshot, (c) => pass(c, v.shadow, v.origin, () => notWrittenBy(copyXacts), [])),
    ]);
    if (!origin || !shadow || origin.rows !== shadow.rows || origin.differ + shadow.differ > 0) return null;
    return {
      rowsOrigin: origin.rows, rowsShadow: shadow.rows, chunks: 1, mismatchedChunks: 0, differences: [], differenceCount: 0, columns: v.columns,
      rowsLookedUp: { origin: origin.looked, shadow: shadow.looked },
    };
  } catch (err) {
    log.warn({ err: describeError(err) }, 'the comparison of the rows written since the capture began failed; comparing every row');
    return null;
  }
}

/**
 * One side's pass: its rows counted, and those `where(n)` selects (its parameters numbered from
 * $n) each compared with the other side's row of its key, when few enough to look up one by one.
 */
async function pass(c: Client, from: Side, to: Side, where: (n: number) => string, params: string[]): Promise<{ rows: number; looked: number; differ: number } | null> {
  const n = (await c.query(countWhereSql(from, where(1)), params)).rows[0];
  const [rows, selected] = [Number(n.n), Number(n.selected)];
  if (selected > 100_000 && selected > rows / 5) return null;
  if (selected === 0) return { rows, looked: 0, differ: 0 }; // nothing to look up: no second pass
  const d = (await c.query(keyedDiffSql(from, to, where(from.params.length + 1), params.length), [...from.params, ...params, ...to.params])).rows[0];
  return { rows, looked: Number(d.n), differ: Number(d.differ) };
}

/**
 * The check inside the cutover transaction, after the final replay: row counts and a sample of
 * rows compared, each within a small time budget (a savepoint takes a statement that runs over
 * it back, and the check is reported as skipped) because every millisecond here is lock time.
 */
export async function checkInLock(
  c: Client,
  origin: Side,
  shadow: Side,
  o: { estimatedRows: number; budgetMs: number; deadlineMs: number; exactCounts: boolean },
): Promise<InLockReport> {
  const { estimatedRows, budgetMs, deadlineMs } = o;
  const bounded = async <T>(sql: string, values: unknown[]): Promise<T | null> => {
    await c.query('SAVEPOINT pgshift_check');
    await c.query(`SELECT set_config('statement_timeout', $1, true)`, [`${budgetMs}ms`]);
    try {
      const r = (await c.query(sql, values)).rows[0] as T;
      await c.query('RELEASE SAVEPOINT pgshift_check');
      return r;
    } catch (err) {
      if (sqlState(err) !== '57014') throw err;
      await c.query('ROLLBACK TO SAVEPOINT pgshift_check');
      return null;
    } finally {
      await c.query(`SELECT set_config('statement_timeout', $1, true)`, [`${deadlineMs}ms`]);
    }
  };
  // Counting is linear: only where it fits the budget (about 100,000 rows in 20ms here), except
  // after a narrowing key change, where equal counts are what proves that no two keys merged
  // since the validation (a key written since then that merges with an older one takes that
  // one's place in the shadow): then both tables are counted whatever it costs.
  const countSql = `SELECT (SELECT count(*) FROM ${origin.relation}) AS a, (SELECT count(*) FROM ${shadow.relation}) AS b`;
  const counts = o.exactCounts
    ? ((await c.query(countSql)).rows[0] as { a: string; b: string })
    : estimatedRows <= 100_000 ? await bounded<{ a: string; b: string }>(countSql, []) : null;
  // A page sample of keys, each row fetched by key on both sides (index lookups, not scans).
  const percent = Math.min(100, Math.max(0.01, (100 * 1000) / Math.max(estimatedRows, 1)));
  const sk = origin.keys.map((_, i) => `s.k${i}`);
  const byKey = (side: Side): string => `${side.keys.length === 1 ? side.keys[0] : `(${side.keys.join(', ')})`} = ${sk.length === 1 ? sk[0] : `(${sk.join(', ')})`}`;
  const sample = await bounded<{ n: string; bad: string }>(
    `WITH sample AS MATERIALIZED (SELECT ${origin.keys.map((k, i) => `${k} AS k${i}`).join(', ')} FROM ${origin.relation} TABLESAMPLE SYSTEM (${percent}) LIMIT 200)` +
      ` SELECT count(*) AS n, count(*) FILTER (WHERE a.r IS DISTINCT FROM b.r) AS bad FROM sample s` +
      ` LEFT JOIN LATERAL (SELECT ${rowText(origin)} AS r FROM ${origin.relation} WHERE ${byKey(origin)}) a ON true` +
      ` LEFT JOIN LATERAL (SELECT ${rowText(shadow)} AS r FROM ${shadow.relation} WHERE ${byKey(shadow)}) b ON true`,
    origin.params,
  );
  const countsOk = counts === null || counts.a === counts.b;
  const sampleOk = sample === null || sample.bad === '0';
  return {
    keysMerged: o.exactCounts && !countsOk,
    counts: counts ? { origin: Number(counts.a), shadow: Number(counts.b) } : 'skipped: over the time budget',
    sampledRows: sample ? Number(sample.n) : 0,
    sampleMismatches: sample ? Number(sample.bad) : 'skipped: over the time budget',
    passed: countsOk && sampleOk,
  };
}

async function replayAll(v: ValidationInput, below: number): Promise<void> {
  await withClient(v.pool, (c) => drain((n) => v.replayer.replayBatch(c, null, n), { below, batch: 50_000 }), 'replay');
}
