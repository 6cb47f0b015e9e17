import os from 'node:os';
import type { Client, Pool } from '../db/session.js';
import { inTransaction, withClient, withTransaction } from '../db/session.js';
import type pg from 'pg';
import { sqlFile } from '../db/sql-files.js';
import { advisoryLocks } from '../db/advisory-locks.js';
import { ident } from '../db/quote.js';
import { UserError, sqlState } from '../errors.js';
import type { Outcome, Phase } from './phases.js';
import { progress } from '../progress.js';

/**
 * How long a write to pgshift's own state rows waits for a row lock. Those rows are locked only by
 * pgshift's own short statements (the engine's other sessions recording progress, an operator's
 * pause or throttle), never by the application, so waiting for them is safe; the sessions'
 * lock_timeout is sized for the user's tables, and under load it failed a run over a row another
 * pgshift session held for a moment.
 */
export const STATE_LOCK_WAIT = '10s';

/**
 * One write to the state tables under STATE_LOCK_WAIT. Outside a transaction it runs in one of its
 * own; inside the caller's (`inTransaction`) it must be the transaction's last statement, since
 * the longer wait lasts to its end.
 */
export async function writeState(c: Client, sql: string, params: unknown[], opts: { inTransaction?: boolean } = {}): Promise<pg.QueryResult> {
  const wait = `SELECT set_config('lock_timeout', '${STATE_LOCK_WAIT}', true)`;
  if (opts.inTransaction) {
    await c.query(wait);
    return c.query(sql, params);
  }
  return inTransaction(c, async () => {
    await c.query(wait);
    return c.query(sql, params);
  });
}

/** The version sql/state-schema.sql brings the state schema to (its last UPDATE of schema_version). */
export const STATE_SCHEMA_VERSION = 9;

/**
 * Creates or upgrades pgshift's state schema; concurrent callers serialise on an advisory lock.
 * A current schema is left alone: its idempotent DDL takes ACCESS EXCLUSIVE on pgshift's tables,
 * which deadlocked with a running job's writes to them (a backfill registering its trigger, while
 * a second run of it started).
 */
export async function ensureStateSchema(pool: Pool): Promise<void> {
  const current = await withClient(pool, async (c) => {
    if ((await c.query(`SELECT to_regclass('pgshift.schema_version') AS t`)).rows[0].t === null) return false;
    return Number((await c.query(`SELECT max(version) AS v FROM pgshift.schema_version`)).rows[0].v ?? 0) >= STATE_SCHEMA_VERSION;
  });
  if (!current) {
    await withTransaction(pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', advisoryLocks.stateSchema);
      await c.query(sqlFile('state-schema.sql'));
    });
  }
  await closeExpiredRevertWindows(pool);
}

/**
 * Revert windows that have expired are closed by the next pgshift command on the database: the
 * reverse-capture triggers leave the new table (the kept old table stays until cleanup). A
 * table busy right now is left for the next command (short lock_timeout).
 */
export async function closeExpiredRevertWindows(pool: Pool): Promise<void> {
  const expired = await withClient(pool, async (c) =>
    (await c.query(`SELECT id::int, table_schema, table_name FROM pgshift.migrations WHERE revert_until < now()`)).rows,
  );
  for (const m of expired) {
    await withTransaction(pool, async (c) => {
      await c.query(`SET LOCAL lock_timeout = '100ms'`);
      const table = `${ident(m.table_schema)}.${ident(m.table_name)}`;
      if ((await c.query('SELECT to_regclass($1) AS r', [table])).rows[0].r !== null) {
        for (const t of [`pgshift_revert_${m.id}`, `pgshift_revert_truncate_${m.id}`]) await c.query(`DROP TRIGGER IF EXISTS ${ident(t)} ON ${table}`);
      }
      await c.query(`UPDATE pgshift.migrations SET revert_until = NULL WHERE id = $1`, [m.id]);
    }).catch(() => undefined);
  }
}

export interface NewMigration {
  tableOid: string;
  schema: string;
  table: string;
  statements: string;
  rowsEstimated?: number;
  options: Record<string, unknown>;
}

/**
 * Registers a migration. The partial unique index on unfinished migrations per table makes a
 * second concurrent migration of the same table fail here, before anything was created.
 */
export async function registerMigration(c: Client, m: NewMigration): Promise<number> {
  // A savepoint keeps the transaction usable for the look-up below when the insert conflicts.
  await c.query('SAVEPOINT register');
  try {
    const r = await c.query<{ id: string }>(
      `INSERT INTO pgshift.migrations (table_oid, table_schema, table_name, statements, artifact_schema, phase, pid, host, options, backend_pids, rows_estimated)
       VALUES ($1, $2, $3, $4, '', 'plan', $5, $6, $7, ARRAY[pg_backend_pid()], $8) RETURNING id`,
      [m.tableOid, m.schema, m.table, m.statements, process.pid, os.hostname(), JSON.stringify(m.options), m.rowsEstimated ?? null],
    );
    const id = Number(r.rows[0]!.id);
    await c.query(`UPDATE pgshift.migrations SET artifact_schema = $2 WHERE id = $1`, [id, `pgshift_${id}`]);
    return id;
  } catch (err) {
    if (sqlState(err) === '23505') {
      await c.query('ROLLBACK TO SAVEPOINT register');
      const other = await c.query(
        `SELECT id, phase, host, pid FROM pgshift.migrations WHERE table_oid = $1 AND outcome IS NULL`,
        [m.tableOid],
      );
      const o = other.rows[0];
      throw new UserError(
        `refused: ${m.schema}.${m.table} already has a migration in progress (id ${o?.id}, phase ${o?.phase}, pid ${o?.pid} on ${o?.host})`,
      );
    }
    throw err;
  }
}

export async function setPhase(pool: Pool, id: number, phase: Phase, message: string, detail?: unknown): Promise<void> {
  await withClient(pool, async (c) => {
    const r = await writeState(
      c,
      `UPDATE pgshift.migrations SET phase = $2, phase_started_at = now(), updated_at = now(),
              copy_started_at = CASE WHEN $2 = 'copy' THEN now() ELSE copy_started_at END WHERE id = $1
       RETURNING kind, table_schema, table_name`,
      [id, phase],
    );
    // Anyone can LISTEN pgshift: one notification per phase change, with the migration's state.
    await c.query(`SELECT pg_notify('pgshift', $1)`, [JSON.stringify({ id, phase, message })]);
    await c.query(`INSERT INTO pgshift.events (migration_id, phase, message, detail) VALUES ($1, $2, $3, $4)`, [
      id, phase, message, detail === undefined ? null : JSON.stringify(detail),
    ]);
    const m = r.rows[0];
    if (m) progress.emit({ type: 'phase', id, kind: m.kind, table: `${m.table_schema}.${m.table_name}`, phase, message });
  });
}

export async function finishMigration(pool: Pool, id: number, outcome: Outcome, error: string | null): Promise<void> {
  await withClient(pool, async (c) => {
    await writeState(c, `UPDATE pgshift.migrations SET outcome = $2, error = $3, finished_at = now(), updated_at = now() WHERE id = $1`, [id, outcome, error]);
    await c.query(`INSERT INTO pgshift.events (migration_id, phase, message) VALUES ($1, 'done', $2)`, [id, error ?? outcome]);
  });
  if (outcome !== 'done') progress.emit({ type: 'end', id, outcome });
}

export async function isTruncated(c: Client, id: number): Promise<boolean> {
  return (await c.query(`SELECT truncated FROM pgshift.migrations WHERE id = $1`, [id])).rows[0]?.truncated === true;
}

export async function recordError(pool: Pool, id: number, error: string): Promise<void> {
  await withClient(pool, (c) => writeState(c, `UPDATE pgshift.migrations SET error = $2, updated_at = now() WHERE id = $1`, [id, error]));
}
