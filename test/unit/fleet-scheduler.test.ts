import { describe, expect, it } from 'vitest';
import { runWaves, type Job, type JobResult, type ScheduledWave } from '../../src/fleet/scheduler.js';
import { maxOverlap } from '../../src/fleet/report.js';

/**
 * The scheduler against a fake runner: each job "runs" for a few ticks of a virtual clock and
 * fails when told to; the runner records what ran at once, overall and per server.
 */
function fakeRunner(o: { fail?: string[]; ms?: (label: string) => number } = {}) {
  let now = 0;
  const running = new Set<Job>();
  const log: { label: string; start: number; end: number; server: string; heavy: boolean }[] = [];
  let maxRunning = 0;
  let heavyClash = false;
  const run = async (job: Job): Promise<JobResult> => {
    for (const other of running) if (job.heavy && other.heavy && other.server === job.server) heavyClash = true;
    running.add(job);
    maxRunning = Math.max(maxRunning, running.size);
    const start = now;
    await new Promise((r) => setTimeout(r, o.ms?.(job.label) ?? 5));
    now += 1;
    running.delete(job);
    log.push({ label: job.label, start, end: now, server: job.server, heavy: job.heavy });
    const failed = o.fail?.includes(job.label) ?? false;
    return { label: job.label, outcome: failed ? 'failed' : 'done', exitCode: failed ? 1 : 0, error: failed ? 'boom' : null, startedAt: start, finishedAt: now };
  };
  return { run, log, get maxRunning() { return maxRunning; }, get heavyClash() { return heavyClash; } };
}

const jobs = (spec: string): Job[] =>
  // "a:s1:h b:s2 c:s1:h" = label:server[:h for heavy]
  spec.split(' ').map((s) => {
    const [label, server, h] = s.split(':');
    return { label: label!, server: server!, heavy: h === 'h' };
  });

const wave = (name: string, parallel: number, onError: 'stop' | 'continue', spec: string): ScheduledWave => ({ name, parallel, onError, jobs: jobs(spec) });

describe('the fleet scheduler', () => {
  it('never runs more than parallel targets of a wave at once, and runs every one', async () => {
    const f = fakeRunner({ ms: () => 10 });
    const r = await runWaves([wave('all', 3, 'stop', 'a:s1 b:s2 c:s3 d:s4 e:s5 f:s6 g:s7')], { run: f.run });
    expect(r.ended).toBe('done');
    expect(f.log).toHaveLength(7);
    expect(f.maxRunning).toBe(3);
  });

  it('never runs two heavy targets of one server at once, starting a later target of a free server instead of waiting', async () => {
    const f = fakeRunner({ ms: (l) => (l === 'a' ? 40 : 5) });
    const order: string[] = [];
    const r = await runWaves([wave('all', 2, 'stop', 'a:s1:h b:s1:h c:s2:h d:s1 e:s2')], { run: f.run, onStart: (j) => order.push(j.label) });
    expect(r.ended).toBe('done');
    expect(f.heavyClash).toBe(false);
    // b waits for a (same server, both heavy); c (s2) and the light d (s1) go ahead of it
    expect(order.indexOf('c')).toBeLessThan(order.indexOf('b'));
    expect(order.indexOf('d')).toBeLessThan(order.indexOf('b'));
  });

  it('stop: no new target starts after a failure; the running ones finish; later waves do not start', async () => {
    const f = fakeRunner({ fail: ['b'], ms: (l) => (l === 'b' ? 2 : 20) });
    const r = await runWaves([wave('one', 2, 'stop', 'a:s1 b:s2 c:s3 d:s4'), wave('two', 2, 'stop', 'e:s1')], { run: f.run });
    expect(r.ended).toBe('failed');
    const one = Object.fromEntries(r.waves[0]!.results.map((x) => [x.label, x.outcome]));
    expect(one).toEqual({ a: 'done', b: 'failed', c: 'not started', d: 'not started' });
    expect(r.waves[1]!.results.map((x) => x.outcome)).toEqual(['not started']);
  });

  it('continue: the rest of the wave runs, but the next wave still waits', async () => {
    const f = fakeRunner({ fail: ['b'] });
    const r = await runWaves([wave('one', 2, 'continue', 'a:s1 b:s2 c:s3 d:s4'), wave('two', 2, 'stop', 'e:s1')], { run: f.run });
    expect(r.ended).toBe('failed');
    expect(r.waves[0]!.results.map((x) => x.outcome)).toEqual(['done', 'failed', 'done', 'done']);
    expect(r.waves[1]!.results.map((x) => x.outcome)).toEqual(['not started']);
  });

  it('a failing canary stops the fleet before any other target is touched', async () => {
    const f = fakeRunner({ fail: ['c1'] });
    const r = await runWaves([wave('canary', 1, 'stop', 'c1:s1'), wave('rest', 4, 'continue', 'a:s1 b:s2 c:s3')], { run: f.run });
    expect(r.ended).toBe('failed');
    expect(f.log.map((x) => x.label)).toEqual(['c1']);
  });

  it('targets settled by the preflight are not run: skipped counts as success, refused as a failure of its wave', async () => {
    const f = fakeRunner();
    const w = wave('all', 2, 'continue', 'a:s1 b:s2 c:s3');
    w.jobs[0]!.settled = { label: 'a', outcome: 'skipped', exitCode: 0, error: null, startedAt: null, finishedAt: null };
    w.jobs[1]!.settled = { label: 'b', outcome: 'refused', exitCode: 2, error: 'relation "t" does not exist', startedAt: null, finishedAt: null };
    const r = await runWaves([w], { run: f.run });
    expect(f.log.map((x) => x.label)).toEqual(['c']);
    expect(r.waves[0]!.results.map((x) => x.outcome)).toEqual(['skipped', 'refused', 'done']);
    expect(r.ended).toBe('failed');
  });

  it('an abort stops starting targets (exit 4 class), and a pause between waves may stop the fleet', async () => {
    const f = fakeRunner({ ms: () => 10 });
    let aborted = false;
    const r = await runWaves([wave('one', 1, 'stop', 'a:s1 b:s2 c:s3')], { run: f.run, aborted: () => aborted, onEnd: () => (aborted = true) });
    expect(r.ended).toBe('aborted');
    expect(r.waves[0]!.results.map((x) => x.outcome)).toEqual(['done', 'stopped', 'stopped']);
    const paused: string[] = [];
    const p = await runWaves([wave('one', 1, 'stop', 'a:s1'), wave('two', 1, 'stop', 'b:s1')], {
      run: fakeRunner().run,
      betweenWaves: async (done, next) => (paused.push(`${done.name}->${next.name}`), false),
    });
    expect(paused).toEqual(['one->two']);
    expect(p.ended).toBe('aborted');
    expect(p.waves[1]!.results[0]!.outcome).toBe('not started');
  });

  it('maxOverlap counts intervals running at one moment (touching ends do not overlap)', () => {
    expect(maxOverlap([{ start: 0, end: 10 }, { start: 5, end: 15 }, { start: 10, end: 20 }, { start: 12, end: 13 }])).toBe(3);
    expect(maxOverlap([{ start: 0, end: 1 }, { start: 1, end: 2 }])).toBe(1);
  });
});
