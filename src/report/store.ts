import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { UserError, sqlState } from '../errors.js';
import type { RunRecord, RunSample } from './samples.js';

/**
 * A run and its samples in the state schema (pgshift.runs, pgshift.run_samples; version 8), and
 * back. The report of a run is always built from what is read back here, so the report written
 * at a run's end and `pgshift report <id>` are the same.
 */
export async function saveRun(pool: Pool, run: Omit<RunRecord, 'id'>, samples: RunSample[]): Promise<number> {
  // One statement, so one round trip (a run's end waits for it) and atomic: the run and every
  // sample (a few thousand at most: sampler.ts bounds them).
  const r = await withClient(pool, (c) =>
    c.query<{ id: string }>(
      `WITH r AS (
         INSERT INTO pgshift.runs (command, started_at, finished_at, outcome, exit_code, error, migration_ids, result, baseline, server)
         VALUES ($1, to_timestamp($2 / 1000.0), to_timestamp($3 / 1000.0), $4, $5, $6, $7, $8, $9, $10) RETURNING id),
       s AS (
         INSERT INTO pgshift.run_samples (run_id, seq, at, kind, migration_id, data)
         SELECT r.id, e.n, to_timestamp((e.s->>'at')::float8 / 1000.0), e.s->>'kind', (e.s->>'migrationId')::bigint, e.s->'data'
           FROM r, jsonb_array_elements($11::jsonb) WITH ORDINALITY AS e (s, n))
       SELECT id FROM r`,
      [run.command, run.startedAt, run.finishedAt, run.outcome, run.exitCode, run.error, run.migrationIds, JSON.stringify(run.result ?? null), JSON.stringify(run.baseline), JSON.stringify(run.server), JSON.stringify(samples)],
    ), 'report');
  return Number(r.rows[0]!.id);
}

/** A run and its samples, in one query. */
export async function loadRun(pool: Pool, id: number): Promise<{ run: RunRecord; samples: RunSample[] }> {
  const r = await withClient(pool, (c) =>
    c.query(
      `SELECT id::int, command, extract(epoch FROM started_at)::float8 * 1000 AS started, extract(epoch FROM finished_at)::float8 * 1000 AS finished,
              outcome, exit_code, error, migration_ids::int[] AS migration_ids, result, baseline, server,
              coalesce((SELECT json_agg(json_build_object('at', extract(epoch FROM s.at)::float8 * 1000, 'kind', s.kind, 'migrationId', s.migration_id, 'data', s.data) ORDER BY s.seq)
                          FROM pgshift.run_samples s WHERE s.run_id = r.id), '[]') AS samples
         FROM pgshift.runs r WHERE id = $1`,
      [id],
    ), 'report').catch((err: unknown) => {
    if (sqlState(err) === UNDEFINED_TABLE) throw new UserError(`no report ${id}: this database has no pgshift reports`);
    throw err;
  });
  const x = r.rows[0];
  if (!x) throw new UserError(`no report ${id}: pgshift report lists the runs there are`);
  return {
    run: {
      id: x.id, command: x.command, startedAt: ms(x.started), finishedAt: ms(x.finished), outcome: x.outcome, exitCode: x.exit_code, error: x.error,
      migrationIds: x.migration_ids, result: x.result, baseline: x.baseline, server: x.server,
    },
    samples: (x.samples as (RunSample & { migrationId: number | null })[]).map((s) => ({ ...s, at: ms(s.at) })),
  };
}

export const UNDEFINED_TABLE = '42P01';

/** timestamptz keeps microseconds: back to the whole milliseconds the sampler stored. */
function ms(v: number): number {
  return Math.round(v);
}

export interface RunListing {
  id: number;
  command: string;
  startedAt: string;
  outcome: string;
  migrationIds: number[];
}

/** The runs there are, newest first. */
export async function listRuns(pool: Pool, limit = 50): Promise<RunListing[]> {
  return withClient(pool, async (c) => {
    if ((await c.query(`SELECT to_regclass('pgshift.runs') AS t`)).rows[0].t === null) return [];
    const r = await c.query(`SELECT id::int, command, started_at::text, outcome, migration_ids::int[] AS ids FROM pgshift.runs ORDER BY id DESC LIMIT $1`, [limit]);
    return r.rows.map((x) => ({ id: x.id, command: x.command, startedAt: x.started_at, outcome: x.outcome, migrationIds: x.ids }));
  });
}
