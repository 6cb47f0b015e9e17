import os from 'node:os';
import type { Client, Pool } from '../db/session.js';
import { createPool, withClient } from '../db/session.js';
import { ensureStateSchema } from '../state/store.js';

/** What an earlier run of the same fleet left on a target (pgshift.fleet_targets, state version 9). */
export interface TargetRecord {
  /** null: started and never finished (its parent died) */
  outcome: string | null;
  exitCode: number | null;
  error: string | null;
  attempts: number;
}

/** Read-only: the preflight's look-up, on a session it already has. Null when never run by this fleet. */
export async function readRecord(c: Client, fleetId: string, label: string): Promise<TargetRecord | null> {
  if ((await c.query(`SELECT to_regclass('pgshift.fleet_targets') AS t`)).rows[0].t === null) return null;
  const r = await c.query(`SELECT outcome, exit_code, error, attempts FROM pgshift.fleet_targets WHERE fleet_id = $1 AND label = $2`, [fleetId, label]);
  const row = r.rows[0];
  return row ? { outcome: row.outcome, exitCode: row.exit_code, error: row.error, attempts: row.attempts } : null;
}

export interface RecordKey {
  conn: string;
  fleetId: string;
  label: string;
}

/** The target starts in its wave: its record says so (a second attempt counts up). */
export async function beginRecord(k: RecordKey, wave: string, command: string): Promise<void> {
  await onTarget(k.conn, async (pool) => {
    // The state schema at version 9 or later holds pgshift.fleet_targets.
    await ensureStateSchema(pool);
    await withClient(pool, async (c) => {
      await c.query(
        `INSERT INTO pgshift.fleet_targets (fleet_id, label, command, wave, pid, host) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (fleet_id, label) DO UPDATE SET command = EXCLUDED.command, wave = EXCLUDED.wave, outcome = NULL, exit_code = NULL, error = NULL,
           result = NULL, attempts = pgshift.fleet_targets.attempts + 1, pid = EXCLUDED.pid, host = EXCLUDED.host, started_at = now(), finished_at = NULL`,
        [k.fleetId, k.label, command, wave, process.pid, os.hostname()],
      );
    });
  });
}

export async function endRecord(k: RecordKey, end: { outcome: string; exitCode: number | null; error: string | null; result: unknown }): Promise<void> {
  await onTarget(k.conn, (pool) =>
    withClient(pool, (c) =>
      c.query(`UPDATE pgshift.fleet_targets SET outcome = $3, exit_code = $4, error = $5, result = $6, finished_at = now() WHERE fleet_id = $1 AND label = $2`, [
        k.fleetId, k.label, end.outcome, end.exitCode, end.error, end.result === undefined ? null : JSON.stringify(end.result),
      ]),
    ),
  );
}

/** One short-lived pool on a target: the fleet holds no connection to a target between its steps. */
export async function onTarget<T>(conn: string, fn: (pool: Pool) => Promise<T>, readOnly = false): Promise<T> {
  const pool = createPool({ url: conn, role: 'fleet', lockTimeoutMs: 1000, maxClients: 1, readOnly });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}
