import type { OnError } from './targets.js';

/**
 * The fleet's scheduler, pure (no database, no processes): waves in order, each with its own
 * bound of targets running at once and its failure policy, and one rule across a server's
 * targets: at most one *heavy* target (a copy, an index build, a validation, a backfill) runs on
 * a server at a time, since a server's databases share its CPU, disk and WAL. The exclusion is
 * held for a heavy target's whole run (the parent cannot see the child's phases, and a
 * target's copy, index builds and validation follow each other anyway); a light target
 * (instant changes) takes no server slot.
 *
 * A wave starts only when every target of the previous one succeeded. Within a wave, targets
 * start in file order, skipping over (not waiting behind) a heavy target whose server is busy.
 */
export interface Job {
  label: string;
  /** the server it lives on (system_identifier, else host:port) */
  server: string;
  heavy: boolean;
  /** decided before the wave starts: already done by this fleet run (skipped), or refused by the preflight */
  settled?: JobResult;
}

export type Outcome = 'done' | 'skipped' | 'failed' | 'refused' | 'stopped' | 'not started';

export interface JobResult {
  label: string;
  outcome: Outcome;
  /** the child's exit code (null: never run) */
  exitCode: number | null;
  /** the last error line, when it failed */
  error: string | null;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface ScheduledWave {
  name: string;
  parallel: number;
  onError: OnError;
  jobs: Job[];
}

export interface WaveResult {
  name: string;
  results: JobResult[];
  /** every target done or skipped */
  succeeded: boolean;
}

export interface SchedulerHooks {
  /** runs one target to its end; never rejects (a failure is a result) */
  run(job: Job): Promise<JobResult>;
  /** asked before each target starts and between waves: an operator's `pgshift fleet abort` */
  aborted?(): boolean;
  /** after a wave that succeeded, before the next: may wait (--pause-after-wave); false stops the fleet */
  betweenWaves?(done: WaveResult, next: ScheduledWave): Promise<boolean>;
  onStart?(job: Job, wave: ScheduledWave): void;
  onEnd?(result: JobResult, wave: ScheduledWave): void;
}

export interface FleetResult {
  waves: WaveResult[];
  /** how it ended: every target succeeded, a wave failed (later waves not started), or an operator stopped it */
  ended: 'done' | 'failed' | 'aborted';
}

export async function runWaves(waves: ScheduledWave[], hooks: SchedulerHooks): Promise<FleetResult> {
  const out: WaveResult[] = [];
  let ended: FleetResult['ended'] = 'done';
  for (const [i, wave] of waves.entries()) {
    if (ended !== 'done') {
      out.push(notStarted(wave));
      continue;
    }
    if (hooks.aborted?.()) {
      ended = 'aborted';
      out.push(notStarted(wave));
      continue;
    }
    const r = await runWave(wave, hooks);
    out.push(r);
    if (!r.succeeded) ended = r.results.some((x) => x.outcome === 'failed' || x.outcome === 'refused') ? 'failed' : 'aborted';
    else if (i + 1 < waves.length && hooks.betweenWaves && !(await hooks.betweenWaves(r, waves[i + 1]!))) ended = 'aborted';
  }
  return { waves: out, ended };
}

function notStarted(wave: ScheduledWave): WaveResult {
  return { name: wave.name, results: wave.jobs.map((j) => j.settled ?? blank(j.label, 'not started')), succeeded: false };
}

function blank(label: string, outcome: Outcome): JobResult {
  return { label, outcome, exitCode: null, error: null, startedAt: null, finishedAt: null };
}

const SUCCEEDED: readonly Outcome[] = ['done', 'skipped'];

/** One wave: at most `parallel` running, at most one heavy per server, `onError` on a failure. */
export function runWave(wave: ScheduledWave, hooks: SchedulerHooks): Promise<WaveResult> {
  const results = new Map<string, JobResult>();
  const pending: Job[] = [];
  let failed = false;
  for (const j of wave.jobs) {
    if (j.settled) {
      results.set(j.label, j.settled);
      if (!SUCCEEDED.includes(j.settled.outcome)) failed = true;
    } else pending.push(j);
  }
  const busy = new Set<string>();
  let running = 0;
  let stopping = (failed && wave.onError === 'stop') || (hooks.aborted?.() ?? false);
  return new Promise((resolve) => {
    const finish = (): void => {
      for (const j of pending) results.set(j.label, blank(j.label, hooks.aborted?.() ? 'stopped' : 'not started'));
      pending.length = 0;
      const ordered = wave.jobs.map((j) => results.get(j.label)!);
      resolve({ name: wave.name, results: ordered, succeeded: ordered.every((r) => SUCCEEDED.includes(r.outcome)) });
    };
    const pump = (): void => {
      if (!stopping && hooks.aborted?.()) stopping = true;
      while (!stopping && running < wave.parallel) {
        const i = pending.findIndex((j) => !j.heavy || !busy.has(j.server));
        if (i < 0) break;
        const job = pending.splice(i, 1)[0]!;
        running++;
        if (job.heavy) busy.add(job.server);
        hooks.onStart?.(job, wave);
        void hooks.run(job).then(
          (r) => settle(job, r),
          (err: unknown) => settle(job, { ...blank(job.label, 'failed'), error: String(err) }),
        );
      }
      if (running === 0 && (pending.length === 0 || stopping)) finish();
    };
    const settle = (job: Job, r: JobResult): void => {
      running--;
      if (job.heavy) busy.delete(job.server);
      results.set(job.label, r);
      hooks.onEnd?.(r, wave);
      if (!SUCCEEDED.includes(r.outcome) && wave.onError === 'stop') stopping = true;
      pump();
    };
    pump();
  });
}
