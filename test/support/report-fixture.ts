import type { DbSample, RunRecord, RunSample } from '../../src/report/samples.js';

/**
 * A synthetic run for the report's unit tests: one online copy (every phase, throttled twice,
 * a backlog and a lag), a cutover and a validation, database samples every second with a
 * transaction rate and statement times that rise during the copy, and a note.
 */
export function syntheticRun(): { run: RunRecord; samples: RunSample[] } {
  const t0 = Date.UTC(2026, 0, 1, 12);
  const at = (s: number): number => t0 + Math.round(s * 1000);
  const samples: RunSample[] = [];
  const event = (s: number, kind: RunSample['kind'], data: Record<string, unknown>, migrationId: number | null = 7): void => {
    samples.push({ at: at(s), kind, migrationId, data });
  };
  let xacts = 10_000;
  let calls = 0;
  for (let s = 0; s <= 20; s++) {
    const busy = s >= 2 && s < 16;
    const tick = busy ? 300 : 400;
    xacts += tick;
    calls = busy ? 250 : 350;
    const db: DbSample = { xacts, waiting: s === 17 ? 2 : 0, longestWaitMs: s === 17 ? 85 : 0, active: busy ? 5 : 3, calls: s === 0 ? 0 : calls, execMs: s === 0 ? 0 : calls * (busy ? 1.8 : 1.1) };
    samples.push({ at: at(s), kind: 'db', migrationId: null, data: db as unknown as Record<string, unknown> });
  }
  event(0.5, 'note', { text: 'applying 20260101 add <note> & more' }, null);
  const phases: [number, string][] = [[2, 'capture'], [2.2, 'copy'], [12, 'index'], [14, 'catch-up'], [15, 'checksum'], [16.5, 'cutover'], [17, 'validate'], [17.5, 'done']];
  for (const [s, phase] of phases) event(s, 'phase', { kind: 'alter', table: 'public.orders', phase, message: phase });
  for (let s = 2.5, done = 0; s <= 12; s += 0.5) {
    done += s > 5 && s < 7 ? 2_000 : 50_000;
    event(s, 'rows', { done, total: 900_000 });
  }
  for (let s = 3; s <= 17; s++) event(s, 'backlog', { entries: s < 12 ? s * 100 : 200, atLeast: false });
  event(2.3, 'lag', { ms: 0 });
  event(8, 'lag', { ms: 1500 });
  event(9, 'lag', { ms: 200 });
  event(5, 'throttle', { reason: 'replication lag: standby 1.5s behind' });
  event(7, 'throttle', { reason: null });
  event(10, 'throttle', { reason: '--throttle-query returned 1' });
  event(10.5, 'throttle', { reason: null });
  event(16, 'validation', { level: 'thorough', passed: true, rowsOrigin: 900_000, rowsShadow: 900_000, chunks: 9, mismatchedChunks: 0, writesHeldMs: 3.2, ms: 1400 });
  event(17, 'cutover', { attempts: 2, lockWaitMs: 12.5, holdMs: 48.25 });
  samples.sort((a, b) => a.at - b.at);
  const run: RunRecord = {
    id: 42, command: 'alter', startedAt: t0, finishedAt: at(20), outcome: 'done', exitCode: 0, error: null, migrationIds: [7],
    result: { status: 'done', migrationId: 7 },
    baseline: { startAt: t0, changeAt: at(2), statementsAtStart: { calls: 10_000, execMs: 11_000 }, sampling: { ticks: 21, ms: 84 } },
    server: { version: '17.10', database: 'shop', statementsSchema: 'public', statementsNote: null, statementsTracked: 12 },
  };
  return { run, samples };
}
