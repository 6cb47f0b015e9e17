import type { Client, Pool } from '../db/session.js';
import { withClient } from '../db/session.js';

/** One row of pgshift.migration_files (sql/state-schema.sql, version 7). */
export interface Applied {
  version: string;
  name: string;
  checksum: string;
  success: boolean;
  stepsDone: number;
  steps: StepRecord[];
  stepStartedAt: string | null;
  appliedAt: string | null;
  durationMs: number | null;
}

export interface StepRecord {
  line: number;
  /** instant | online | copy | direct | statement (run as written in a segment) */
  strategy: string;
  ms: number;
  migrationId?: number;
  /** what undoes it (--rollback automatic), or null when nothing sure does */
  inverse?: string[] | null;
  /** an online copy whose revert window stays open until its file is done: `pgshift revert <id>` undoes it */
  revert?: number;
}

export async function readHistory(pool: Pool): Promise<Map<string, Applied>> {
  return withClient(pool, async (c) => {
    if ((await c.query(`SELECT to_regclass('pgshift.migration_files') AS t`)).rows[0].t === null) return new Map();
    const r = await c.query(
      `SELECT version, name, checksum, success, steps_done, steps, step_started_at::text, applied_at::text, duration_ms FROM pgshift.migration_files ORDER BY version`,
    );
    return new Map(r.rows.map((a) => [a.version, {
      version: a.version, name: a.name, checksum: a.checksum, success: a.success, stepsDone: a.steps_done, steps: a.steps,
      stepStartedAt: a.step_started_at, appliedAt: a.applied_at, durationMs: a.duration_ms,
    }]));
  });
}

/** The file's row at its start (kept as it is when the file is resumed). */
export async function startFile(c: Client, f: { version: string; name: string; checksum: string }): Promise<void> {
  await c.query(
    `INSERT INTO pgshift.migration_files (version, name, checksum) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING`,
    [f.version, f.name, f.checksum],
  );
}

/** Statements done so far, recorded in the transaction that committed them (or right after an online step). */
export async function recordSteps(c: Client, version: string, stepsDone: number, steps: StepRecord[]): Promise<void> {
  await c.query(
    `UPDATE pgshift.migration_files SET steps_done = $2, steps = steps || $3::jsonb, step_started_at = NULL WHERE version = $1`,
    [version, stepsDone, JSON.stringify(steps)],
  );
}

export async function markStepStarted(c: Client, version: string): Promise<void> {
  await c.query(`UPDATE pgshift.migration_files SET step_started_at = now() WHERE version = $1`, [version]);
}

export async function finishFile(c: Client, version: string): Promise<void> {
  await c.query(
    `UPDATE pgshift.migration_files SET success = true, applied_at = now(), duration_ms = extract(epoch FROM now() - started_at) * 1000 WHERE version = $1`,
    [version],
  );
}

export async function forgetFile(c: Client, version: string): Promise<void> {
  await c.query(`DELETE FROM pgshift.migration_files WHERE version = $1`, [version]);
}

/**
 * `--history-compat dbmate`: dbmate's own table kept in step (created as dbmate creates it), so
 * dbmate run later sees the same state.
 */
export async function writeDbmateHistory(c: Client, version: string, applied: boolean): Promise<void> {
  // As dbmate 2.24 (the tests' oracle) creates it; later dbmate releases make it varchar without a
  // length. Either reads the other's table.
  await c.query(`CREATE TABLE IF NOT EXISTS public.schema_migrations (version varchar(128) PRIMARY KEY)`);
  if (applied) await c.query(`INSERT INTO public.schema_migrations (version) VALUES ($1) ON CONFLICT DO NOTHING`, [version]);
  else await c.query(`DELETE FROM public.schema_migrations WHERE version = $1`, [version]);
}
