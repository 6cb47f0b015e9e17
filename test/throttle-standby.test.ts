import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineAlter, alterOptions } from '../src/index.js';
import { startPrimaryWithStandby, type PrimaryWithStandby } from './support/standby.js';

/**
 * Replication lag on a real streaming standby: with the standby's replay paused, the copy stops
 * advancing and says why; once replay resumes, it continues and finishes.
 */
describe('throttling on replication lag', () => {
  let servers: PrimaryWithStandby;
  let primary: pg.Client;
  let standby: pg.Client;
  beforeAll(async () => {
    servers = await startPrimaryWithStandby();
    primary = new pg.Client({ connectionString: servers.primaryUrl });
    standby = new pg.Client({ connectionString: servers.standbyUrl });
    await primary.connect();
    await standby.connect();
    await primary.query(`CREATE TABLE lagged (id int PRIMARY KEY, v int, pad text);
      INSERT INTO lagged SELECT g, g, repeat('p', 100) FROM generate_series(1, 300000) g;`);
  }, 120_000);
  afterAll(async () => {
    await primary?.end();
    await standby?.end();
    await servers?.stop();
  });

  it('stops copying while the standby does not replay, and finishes after it resumes', async () => {
    const state = async () =>
      (await primary.query(`SELECT phase, rows_copied::int AS rows, throttle_reason FROM pgshift.migrations WHERE table_name = 'lagged'`).catch(() => ({ rows: [] })))
        .rows[0] as { phase: string; rows: number; throttle_reason: string | null } | undefined;
    // Replay stops; the primary's WAL keeps coming (the migration writes plenty of it).
    await standby.query('SELECT pg_wal_replay_pause()');
    await new Promise((r) => setTimeout(r, 1500));
    const run = onlineAlter(
      alterOptions({ strategy: 'copy',
        url: servers.primaryUrl,
        statements: 'ALTER TABLE lagged ALTER COLUMN v TYPE bigint',
        execute: true,
        chunkTimeMs: 20,
        throttle: { maxLagMs: 1000, replicas: [servers.standbyUrl] },
      }),
    );
    const outcome = run.then(() => null, (e: unknown) => e);
    while ((await state())?.phase !== 'copy') await new Promise((r) => setTimeout(r, 20));

    // Within max-lag plus a probe interval the copy holds, saying why.
    let throttled: { rows: number; throttle_reason: string | null } | undefined;
    for (let i = 0; i < 100 && !throttled?.throttle_reason; i++) {
      await new Promise((r) => setTimeout(r, 100));
      throttled = await state();
    }
    expect(throttled?.throttle_reason).toMatch(/replication lag/);
    const before = (await state())!.rows;
    await new Promise((r) => setTimeout(r, 1500));
    const after = (await state())!;
    expect(after.rows).toBe(before);
    expect(after.phase).toBe('copy');
    expect(after.rows).toBeLessThan(300000);

    await standby.query('SELECT pg_wal_replay_resume()');
    expect(await outcome).toBeNull();
    const done = (await primary.query(`SELECT outcome, throttle_reason FROM pgshift.migrations WHERE table_name = 'lagged'`)).rows[0];
    expect(done).toEqual({ outcome: 'done', throttle_reason: null });
    const type = await primary.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'lagged'::regclass AND attname = 'v'`);
    expect(type.rows[0].t).toBe('bigint');
  });
});
