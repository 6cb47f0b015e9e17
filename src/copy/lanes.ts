import { inTransaction, type Client } from '../db/session.js';
import { writeState } from '../state/store.js';
import { laneSplitsSql, type Tables } from './sql.js';

/**
 * Key lanes: the copy split into disjoint key ranges (low, high], each copied in key order by a
 * worker of its own and each with its own watermark, recorded in the chunk's transaction. The
 * lanes are a table of pgshift's own (`table`: plan/names.ts copyLanes, in the migration's log
 * schema; cleanup and abort drop it with the schema). A lane's chunks
 * never leave it, so every key is still written once, by the chunk of its range: the argument
 * of the single copy, lane by lane.
 */
export interface Lane {
  lane: number;
  /** exclusive lower key; null: from the first key */
  low: string[] | null;
  /** inclusive upper key; null: to the last key */
  high: string[] | null;
  /** the last key committed in the lane (its chunks cover (low, watermark]); null: none yet */
  watermark: string[] | null;
  done: boolean;
  /** a partition's lane: the leaf partition read (qualified) and the shadow's of the same name written; null: the tables themselves */
  source: string | null;
  target: string | null;
}

/** Lanes are worth their connections only when each gets several chunks' worth of rows. */
const MIN_ROWS_PER_LANE = 100_000;

/** Whether a table this size could be copied in two lanes or more. */
export function worthLanes(estimatedRows: number): boolean {
  return estimatedRows >= 2 * MIN_ROWS_PER_LANE;
}
export const MAX_LANES = 4;


/**
 * The lanes of a migration whose copy began with lanes; null when it began as one copy. Read
 * holding the migration's advisory lock alone: a chunk of a killed process's lane that is still
 * running (it holds the lock shared) commits, or is gone, before its lane's watermark is read.
 */
export async function readLanes(c: Client, table: string, lockKey: [number, number]): Promise<Lane[] | null> {
  const exists = (await c.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [table])).rows[0].e;
  if (!exists) return null;
  return inTransaction(c, async () => {
    await c.query(`SET LOCAL lock_timeout = '60s'`);
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', lockKey);
    // source and target through jsonb: lanes recorded before partitions had lanes lack them.
    return (
      await c.query(`SELECT lane, low, high, watermark, done, to_jsonb(l)->>'source' AS source, to_jsonb(l)->>'target' AS target FROM ${table} l ORDER BY lane`)
    ).rows as Lane[];
  });
}

/**
 * What the lanes copy: the table's whole key (`source` and `target` null), or each of its leaf
 * partitions, or each relation of an inheritance tree (read from `source`, written into `target`,
 * `tables` to read its key from), with its row estimate.
 */
export interface LaneSource {
  tables: Tables;
  source: string | null;
  target: string | null;
  estimatedRows: number;
}

/**
 * Splits each source's key into up to `n` lanes of about equal rows (the split keys from a page
 * sample of the key), fewer when it is small: a partition or a tree's relation is a lane of its
 * own at least, read from itself and written straight into its shadow of the same name (a
 * partition: same bound, no tuple routing, each chunk's key walk and scan touch one partition),
 * and a large one several, one pool of workers taking them all. A key lives in one partition:
 * the partition key is part of every unique key of a partitioned table, so a row that moves
 * between partitions changes its key, and each key is still written once, by the chunk of its
 * lane's range (the move is logged under both keys and replayed, as any change after its chunk).
 * The whole table in one lane: nothing recorded, the single copy runs.
 */
export async function planLanes(c: Client, sources: LaneSource[], table: string, n: number): Promise<Lane[] | null> {
  const lanes: Lane[] = [];
  for (const s of sources) {
    const count = Math.min(n, MAX_LANES, Math.floor(s.estimatedRows / MIN_ROWS_PER_LANE));
    // About 2,000 sampled keys per lane.
    const percent = Math.min(100, (100 * 2000 * count) / Math.max(1, s.estimatedRows));
    const splits = count < 2 ? [] : ((await c.query({ text: laneSplitsSql(s.tables, count, percent), rowMode: 'array' })).rows as string[][]);
    for (const [i, high] of [...splits, null].entries()) {
      lanes.push({ lane: lanes.length, low: i === 0 ? null : splits[i - 1]!, high, watermark: null, done: false, source: s.source, target: s.target });
    }
  }
  if (lanes.length === 1 && lanes[0]!.source === null) return null;
  return recordLanes(c, table, lanes);
}

/** All the lanes or none: a resume must never find some of them. */
async function recordLanes(c: Client, table: string, lanes: Lane[]): Promise<Lane[]> {
  await inTransaction(c, async () => {
    await c.query(`CREATE TABLE ${table} (lane int PRIMARY KEY, low text[], high text[], watermark text[], done boolean NOT NULL, source text, target text)`);
    for (const l of lanes) await c.query(`INSERT INTO ${table} VALUES ($1, $2, $3, NULL, false, $4, $5)`, [l.lane, l.low, l.high, l.source, l.target]);
  });
  return lanes;
}

/** Records a lane's chunk in the chunk's transaction: its new watermark, whether the lane is done, the rows. */
export async function recordLaneChunk(c: Client, table: string, migrationId: number, lane: number, high: string[] | null, done: boolean, rows: number): Promise<void> {
  await c.query(`UPDATE ${table} SET watermark = $2, done = $3 WHERE lane = $1`, [lane, high, done]);
  await writeState(c, `UPDATE pgshift.migrations SET rows_copied = rows_copied + $2, updated_at = now() WHERE id = $1`, [migrationId, rows], { inTransaction: true });
}

/** Once every lane is done: the copy is over (a resume goes on to the index build). */
export async function finishLanes(c: Client, migrationId: number): Promise<void> {
  await writeState(c, `UPDATE pgshift.migrations SET phase = 'index', updated_at = now() WHERE id = $1 AND phase = 'copy'`, [migrationId]);
}

/**
 * The lanes a copy gets when `--max-parallel` is not given. PostgreSQL does not tell a client how
 * many cores the server has; max_parallel_maintenance_workers is the operator's own bound for
 * maintenance work running in parallel, so that, at most MAX_LANES. A database the application is
 * busy on gets one lane, leaving it the other cores: busy when, in 2 or more of 10 looks 10 ms
 * apart, one of its sessions (not pgshift's) is running a statement or is inside a transaction.
 */
export async function defaultLanes(c: Client): Promise<{ lanes: number; why: string }> {
  let busy = 0;
  for (let look = 0; look < 10; look++) {
    const r = await c.query(
      `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'
                        AND pid <> pg_backend_pid() AND application_name NOT LIKE 'pgshift:%' AND state IS DISTINCT FROM 'idle') AS busy`,
    );
    if (r.rows[0].busy) busy++;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (busy >= 2) return { lanes: 1, why: `the application was running statements in ${busy} of 10 looks` };
  const workers = Number((await c.query(`SELECT current_setting('max_parallel_maintenance_workers')::int AS n`)).rows[0].n);
  return { lanes: Math.max(1, Math.min(MAX_LANES, workers)), why: `max_parallel_maintenance_workers = ${workers}` };
}
