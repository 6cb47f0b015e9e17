import type { Pool } from '../db/session.js';
import { withClient, withTransaction } from '../db/session.js';
import { UserError } from '../errors.js';
import type { RunRecord, RunSample } from './samples.js';

/**
 * A run and its samples in the state schema (pgshift.runs, pgshift.run_samples; version 8), and
 * back. The report of a run is always built from what is read back here, so the report written
 * at a run's end and `pgshift report <id>` are the same.
 */
export async function saveRun(pool: Pool, run: Omit<RunRecord, 'id'>, samples: RunSample[]): Promise<number> {
  return withTransaction(pool, async (c) => {
    const r = await c.query<{ id: string }>(
      `INSERT INTO pgshift.runs (command, started_at, finished_at, outcome, exit_code, error, migration_ids, result, baseline, server)
       VALUES ($1, to_timestamp($2 / 1000.0), to_timestamp($3 / 1000.0), $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
      [run.command, run.startedAt, run.finishedAt, run.outcome, run.exitCode, run.error, run.migrationIds, JSON.stringify(run.result ?? null), JSON.stringify(run.baseline), JSON.stringify(run.server)],
    );
    const id = Number(r.rows[0]!.id);
    // One statement for every sample: a few thousand at most (sampler.ts bounds them).
    await c.query(
      `INSERT INTO pgshift.run_samples (run_id, seq, at, kind, migration_id, data)
       SELECT $1, n, to_timestamp((s->>'at')::float8 / 1000.0), s->>'kind', (s->>'migrationId')::bigint, s->'data' FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e (s, n)`,
      [id, JSON.stringify(samples)],
    );
    return id;
  }, { role: 'report' });
}

export async function loadRun(pool: Pool, id: number): Promise<{ run: RunRecord; samples: RunSample[] }> {
  return withClient(pool, async (c) => {
    if ((await c.query(`SELECT to_regclass('pgshift.runs') AS t`)).rows[0].t === null) throw new UserError(`no report ${id}: this database has no pgshift reports`);
    const r = (await c.query(
      `SELECT id::int, command, extract(epoch FROM started_at)::float8 * 1000 AS started, extract(epoch FROM finished_at)::float8 * 1000 AS finished,
              outcome, exit_code, error, migration_ids::int[] AS migration_ids, result, baseline, server
         FROM pgshift.runs WHERE id = $1`,
      [id],
    )).rows[0];
    if (!r) throw new UserError(`no report ${id}: pgshift report lists the runs there are`);
    const samples = (await c.query(
      `SELECT extract(epoch FROM at)::float8 * 1000 AS at, kind, migration_id::int AS migration_id, data FROM pgshift.run_samples WHERE run_id = $1 ORDER BY seq`,
      [id],
    )).rows.map((s): RunSample => ({ at: ms(s.at), kind: s.kind, migrationId: s.migration_id, data: s.data }));
    return {
      run: {
        id: r.id, command: r.command, startedAt: ms(r.started), finishedAt: ms(r.finished), outcome: r.outcome, exitCode: r.exit_code, error: r.error,
        migrationIds: r.migration_ids, result: r.result, baseline: r.baseline, server: r.server,
      },
      samples,
    };
  });
}

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
