import os from 'node:os';
import type { Client, Pool } from '../db/session.js';
import { withTransaction } from '../db/session.js';
import { ident, qualified, trusted } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import { withRetry, sleep, type RetryPolicy } from '../db/retry.js';
import { UserError } from '../errors.js';
import { advisoryLocks, WORK_NAMESPACE } from '../db/advisory-locks.js';
import { isOwned, takeOwnership, type Ownership } from '../state/ownership.js';
import { backfillNames, checkpointSql, keyColumnsSql, recordKeySql, type BackfillNames, type BackfillTarget } from './sql.js';

/**
 * A backfill job's life in the state table (pgshift.migrations, kind 'backfill'; see the
 * column meanings in sql/state-schema.sql): claimed by one process at a time, given its
 * key-move trigger and key sets while it runs, and stripped of them in the transaction that
 * marks it done.
 */
export interface BackfillJob {
  id: number;
  names: BackfillNames;
  ownership: Ownership;
}

export interface JobIdentity {
  name: string;
  schema: string;
  table: string;
  tableOid: string;
  rowsEstimated: number;
  /** the UPDATE the job runs, as text: a rerun with the same name and text continues the job */
  statement: string;
  idempotent: boolean;
}

/** How long a rerun waits for the ownership of a job whose recorded owner is a dead process on this host. */
const DEAD_OWNER_WAIT_MS = 5000;

/**
 * Finds the job (same name and statement) or registers it, and takes its ownership: the
 * process that runs a job holds a session advisory lock on it for the whole run, as a migration
 * does. Claimants serialise on a registration lock until the winner has written its pid and
 * host, so a refused one names the process actually running the job. Returns `{ done: id }` when
 * the job is already done.
 */
export async function claimJob(pool: Pool, job: JobIdentity, retry: RetryPolicy): Promise<BackfillJob | { done: number }> {
  const deadline = performance.now() + DEAD_OWNER_WAIT_MS;
  for (;;) {
    const r = await withRetry(retry, (_a, lockTimeoutMs) => withTransaction(pool, (c) => claimOnce(c, pool, job, lockTimeoutMs)));
    if (!('refused' in r)) return r;
    const owner = r.refused;
    // kill -9 closes the dead process's connections; its server sessions notice a moment later.
    if (owner.host === os.hostname() && owner.pid !== null && !alive(owner.pid) && performance.now() < deadline) {
      await sleep(100);
      continue;
    }
    throw new UserError(
      `backfill ${job.name} (job ${owner.id}) is already running: pid ${owner.pid ?? '?'} on ${owner.host ?? '?'}; wait for it to finish or stop it first`,
    );
  }
}

type Claim = BackfillJob | { done: number } | { refused: { id: number; pid: number | null; host: string | null } };

async function claimOnce(c: Client, pool: Pool, job: JobIdentity, lockTimeoutMs: number): Promise<Claim> {
  await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
  await c.query('SELECT pg_advisory_xact_lock($1, $2)', advisoryLocks.backfillRegistry);
  const r = await c.query(
    `SELECT id::int, statements, outcome, pid, host FROM pgshift.migrations WHERE kind = 'backfill' AND name = $1 ORDER BY id DESC LIMIT 1`,
    [job.name],
  );
  const last = r.rows[0];
  if (last && last.statements !== job.statement && last.outcome === null) {
    throw new UserError(`an unfinished backfill named ${job.name} runs a different statement; give this one another --name`);
  }
  if (last && last.statements === job.statement && last.outcome === 'done') return { done: last.id };
  if (last && last.statements === job.statement && last.outcome !== null && !job.idempotent) {
    // An abandoned job (cleanup) updated part of the table: starting over would update those rows twice.
    throw new UserError(
      `backfill ${job.name} (job ${last.id}) was ${last.outcome} part-way and its update is not idempotent: starting over would apply it twice to rows it updated; check the rows and give another --name`,
    );
  }
  let id: number;
  if (last && last.statements === job.statement && last.outcome === null) {
    id = last.id;
  } else {
    const ins = await c.query(
      `INSERT INTO pgshift.migrations (kind, name, table_oid, table_schema, table_name, statements, artifact_schema, phase, rows_estimated, copy_started_at)
       VALUES ('backfill', $1, $2, $3, $4, $5, '', 'copy', $6, now()) RETURNING id::int`,
      [job.name, job.tableOid, job.schema, job.table, job.statement, job.rowsEstimated],
    );
    id = ins.rows[0].id;
  }
  let ownership: Ownership;
  try {
    ownership = await takeOwnership(pool, id);
  } catch (err) {
    if (err instanceof UserError && last?.id === id && (await isOwned(pool, id))) return { refused: { id, pid: last.pid, host: last.host } };
    throw err;
  }
  try {
    await c.query(`UPDATE pgshift.migrations SET pid = $2, host = $3, artifact_schema = $4, updated_at = now() WHERE id = $1`, [
      id, process.pid, os.hostname(), backfillNames(id).schema,
    ]);
  } catch (err) {
    await ownership.release();
    throw err;
  }
  return { id, names: backfillNames(id), ownership };
}

/** Whether a process of this host still runs (EPERM: it runs under another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Gives the job its schema, key sets and key-move trigger, unless it has them (a rerun keeps
 * what the last run left: the trigger stays on the table from the job's start to its end, so a
 * key moved between two runs is accounted for too). CREATE TRIGGER waits for the application's
 * writes in flight, with a short lock timeout and retries; from its commit on, every key move is
 * seen. Registered in pgshift.artifacts so that cleanup finds them through the state table.
 */
export async function prepareJob(pool: Pool, job: BackfillJob, t: BackfillTarget, origin: { schema: string; name: string }, retry: RetryPolicy): Promise<void> {
  const n = job.names;
  const s = ident(n.schema);
  await withRetry(retry, (_a, lockTimeoutMs) =>
    withTransaction(pool, async (c) => {
      await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      for (const table of [n.pending, n.doneAhead]) await c.query(`CREATE TABLE IF NOT EXISTS ${qualified(n.schema, table)} (${keyColumnsSql(t)})`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${qualified(n.schema, n.progress)} (batches bigint NOT NULL)`);
      await c.query(`INSERT INTO ${qualified(n.schema, n.progress)} (batches) SELECT 0 WHERE NOT EXISTS (SELECT FROM ${qualified(n.schema, n.progress)})`);
      await c.query(moveFunctionSql(t, job.id, n));
      // Keys skipped by a run of an older pgshift, kept as text in the shared table.
      const k = t.keys.map(ident);
      await c.query(
        `INSERT INTO ${qualified(n.schema, n.pending)} (${k.join(', ')}) SELECT ${t.keyTypes.map((ty, i) => `key[${i + 1}]::${ty}`).join(', ')}
           FROM pgshift.backfill_pending WHERE migration_id = $1 ON CONFLICT DO NOTHING`,
        [job.id],
      );
      await c.query(`DELETE FROM pgshift.backfill_pending WHERE migration_id = $1`, [job.id]);
      const table = qualified(origin.schema, origin.name);
      const present = await c.query(`SELECT FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = $2`, [table, n.moveTrigger]);
      if (present.rowCount === 0) {
        await c.query(
          `CREATE TRIGGER ${ident(n.moveTrigger)} AFTER UPDATE ON ${table} FOR EACH ROW` +
            ` WHEN (${recordKeySql(t, 'OLD')} IS DISTINCT FROM ${recordKeySql(t, 'NEW')})` +
            ` EXECUTE FUNCTION ${qualified(n.schema, n.moveFunction)}()`,
        );
        // A session with session_replication_role = replica moves keys too.
        await c.query(`ALTER TABLE ${table} ENABLE ALWAYS TRIGGER ${ident(n.moveTrigger)}`);
      }
      await c.query(
        `INSERT INTO pgshift.artifacts (migration_id, kind, schema_name, name, on_table)
         VALUES ($1, 'schema', $2, $2, NULL), ($1, 'trigger', $3, $4, $5) ON CONFLICT DO NOTHING`,
        [job.id, n.schema, origin.schema, n.moveTrigger, origin.name],
      );
    }),
  );
}

function moveFunctionSql(t: BackfillTarget, id: number, n: BackfillNames): string {
  const pending = qualified(n.schema, n.pending);
  const doneAhead = qualified(n.schema, n.doneAhead);
  const tuple = (xs: string[]): string => (xs.length === 1 ? xs[0]! : `(${xs.join(', ')})`);
  return sqlFile('backfill-move-function.sql', {
    schema: ident(n.schema),
    function: ident(n.moveFunction),
    namespace: trusted(String(WORK_NAMESPACE)),
    job_id: trusted(String(Math.trunc(id))),
    progress: qualified(n.schema, n.progress),
    pending,
    done_ahead: doneAhead,
    keys: trusted(t.keys.map(ident).join(', ')),
    new_values: trusted(t.keys.map((k) => `NEW.${ident(k)}`).join(', ')),
    old_key: trusted(recordKeySql(t, 'OLD')),
    new_key: trusted(recordKeySql(t, 'NEW')),
    p_key: trusted(tuple(t.keys.map((k) => `p.${ident(k)}`))),
    d_key: trusted(tuple(t.keys.map((k) => `d.${ident(k)}`))),
    checkpoint: trusted(checkpointSql(t, 'pgshift_checkpoint')),
  });
}

/**
 * Ends the job: drops its trigger and everything in its schema, and marks it done, in one
 * transaction, once no key is pending. The table's lock comes first (DROP TRIGGER: ACCESS
 * EXCLUSIVE, short lock timeout, retried), then the job's advisory lock: a transaction that moved
 * a key holds the advisory lock in share mode and a lock on the table, so the other order could
 * wait on it in a cycle. Returns false (nothing changed) when a key is pending again.
 */
export async function finishJob(pool: Pool, id: number, origin: { schema: string; name: string }, retry: RetryPolicy): Promise<boolean> {
  try {
    await withRetry(retry, (_a, lockTimeoutMs) =>
      withTransaction(pool, async (c) => {
        await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        await dropJobArtifacts(c, id, origin, async () => {
          await c.query('SELECT pg_advisory_xact_lock($1, $2)', advisoryLocks.work(id));
          const left = await c.query(`SELECT EXISTS (SELECT FROM ${qualified(backfillNames(id).schema, backfillNames(id).pending)}) AS left`);
          if (left.rows[0].left) throw new PendingAgain();
        });
        await c.query(
          `UPDATE pgshift.migrations SET phase = 'done', outcome = 'done', finished_at = now(), updated_at = now() WHERE id = $1`,
          [id],
        );
        await c.query(`INSERT INTO pgshift.events (migration_id, phase, message) VALUES ($1, 'done', 'done')`, [id]);
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof PendingAgain) return false;
    throw err;
  }
}

class PendingAgain extends Error {}

/**
 * What a backfill job leaves on the database while unfinished, dropped object by object (never
 * CASCADE): the trigger `pgshift_backfill_<id>` on its table, then its schema `pgshift_<id>`
 * with the tables pending, done_ahead and progress and the function pgshift_backfill_moved().
 * `between` runs after the trigger is dropped. Idempotent. For `pgshift cleanup` too: call it in
 * a transaction with a short lock_timeout.
 */
export async function dropJobArtifacts(c: Client, id: number, origin: { schema: string; name: string }, between?: () => Promise<void>): Promise<void> {
  const n = backfillNames(id);
  const table = qualified(origin.schema, origin.name);
  if ((await c.query('SELECT to_regclass($1) AS r', [table])).rows[0].r !== null) {
    await c.query(`DROP TRIGGER IF EXISTS ${ident(n.moveTrigger)} ON ${table}`);
  }
  await between?.();
  await c.query(`DROP FUNCTION IF EXISTS ${qualified(n.schema, n.moveFunction)}()`);
  for (const t of [n.pending, n.doneAhead, n.progress]) await c.query(`DROP TABLE IF EXISTS ${qualified(n.schema, t)}`);
  await c.query(`DROP SCHEMA IF EXISTS ${ident(n.schema)}`);
}
