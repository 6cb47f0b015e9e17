import type pc from 'picocolors';
import type { ProgressEvent } from '../progress.js';

export type Colours = ReturnType<typeof pc.createColors>;

/** What the status line of one running step (a migration or a backfill job) shows. */
export interface Step {
  id: number;
  /** 'alter' or 'backfill'; '' until its first phase event names it */
  kind: string;
  table: string;
  phase: string;
  /** clock time (ms) the phase began, as this process saw it */
  phaseSince: number;
  /** rows copied or walked in this phase, with the samples the rate is measured on */
  rows: { done: number; total: number | null; samples: Sample[] } | null;
  backlog: { entries: number; atLeast: boolean } | null;
  lagMs: number | null;
  throttle: string | null;
}

export interface Sample {
  at: number;
  done: number;
}

/**
 * The rate is measured over the last RATE_WINDOW_MS, up to now: a throttled or stalled copy shows
 * its rate falling (and its ETA growing) at once, and a long run's early speed no longer counts.
 */
export const RATE_WINDOW_MS = 10_000;

/** Applies one event to the running steps; returns the step it concerns. */
export function applyEvent(steps: Map<number, Step>, e: ProgressEvent, now: number): Step {
  let s = steps.get(e.id);
  if (!s) {
    s = { id: e.id, kind: '', table: '', phase: '', phaseSince: now, rows: null, backlog: null, lagMs: null, throttle: null };
    steps.set(e.id, s);
  }
  switch (e.type) {
    case 'phase':
      s.kind = e.kind;
      s.table = e.table;
      if (s.phase !== e.phase) {
        s.phase = e.phase;
        s.phaseSince = now;
        s.rows = null;
      }
      break;
    case 'rows':
      s.rows ??= { done: e.done, total: e.total, samples: [] };
      s.rows.done = e.done;
      s.rows.total = e.total;
      s.rows.samples.push({ at: now, done: e.done });
      s.rows.samples = withinWindow(s.rows.samples, now);
      break;
    case 'backlog':
      s.backlog = { entries: e.entries, atLeast: e.atLeast };
      break;
    case 'lag':
      s.lagMs = e.ms;
      break;
    case 'throttle':
      s.throttle = e.reason;
      break;
    case 'end':
      break;
  }
  return s;
}

/** The samples the rate needs: those in the window, and the last one before it (the baseline). */
function withinWindow(samples: Sample[], now: number): Sample[] {
  let first = 0;
  for (let i = 0; i < samples.length; i++) if (samples[i]!.at <= now - RATE_WINDOW_MS) first = i;
  return samples.slice(first);
}

/** Rows per second over the window, up to `now`; null until two samples exist. */
export function rowsPerSecond(samples: Sample[], now: number): number | null {
  const inWindow = withinWindow(samples, now);
  const base = inWindow[0];
  const last = inWindow[inWindow.length - 1];
  if (!base || !last || base === last || now <= base.at) return null;
  return Math.max(0, (last.done - base.done) / ((now - base.at) / 1000));
}

/**
 * Time left at the current rate; null when there is no estimate to count down from, no rate yet,
 * or the rows done already passed the estimate (it was low: no honest figure is left).
 */
export function etaMs(done: number, total: number | null, rate: number | null): number | null {
  if (total === null || rate === null || rate <= 0 || done >= total) return null;
  return ((total - done) / rate) * 1000;
}

/** Percent done, floored and held at 99 while the phase runs (the estimate can be low). */
export function percent(done: number, total: number): number {
  return Math.max(0, Math.min(99, Math.floor((done * 100) / total)));
}

/** Whole units for a line redrawn every second: 7s, 2m05s, 1h02m. */
export function wholeDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** "migration 12 public.orders", "backfill 3 public.orders". */
export function stepLabel(s: Pick<Step, 'id' | 'kind' | 'table'>): string {
  const kind = s.kind === 'alter' ? 'migration' : s.kind || 'step';
  return `${kind} ${s.id}${s.table ? ` ${s.table}` : ''}`;
}

const BAR_WIDTH = 20;

/**
 * One step's status line: label, phase and its time, then (while rows move) percent and bar,
 * rows, rows/s and ETA; the changelog backlog (migrations have one), the replication lag, and
 * why it is throttled when it is. Unknown figures show as "-", so the columns keep their place.
 */
export function statusLine(s: Step, now: number, c: Colours): string {
  const parts = [c.bold(stepLabel(s)), `${c.cyan(s.phase || 'starting')} ${wholeDuration(now - s.phaseSince)}`];
  if (s.rows) {
    const { done, total } = s.rows;
    const rate = rowsPerSecond(s.rows.samples, now);
    const eta = etaMs(done, total, rate);
    if (total !== null) {
      const p = percent(done, total);
      const filled = Math.round((p / 100) * BAR_WIDTH);
      parts.push(`${String(p).padStart(2)}% ${c.green('█'.repeat(filled))}${c.dim('░'.repeat(BAR_WIDTH - filled))}`);
    }
    parts.push(
      `${count(done)}${total === null ? '' : `/${count(total)}`} rows`,
      `${rate === null ? '-' : count(rate)} rows/s`,
      `ETA ${eta === null ? '-' : wholeDuration(eta)}`,
    );
  }
  if (s.kind === 'alter') parts.push(`backlog ${s.backlog === null ? '-' : `${s.backlog.atLeast ? '≥' : ''}${count(s.backlog.entries)}`}`);
  parts.push(`lag ${s.lagMs === null ? '-' : `${(s.lagMs / 1000).toFixed(1)}s`}`);
  if (s.throttle) parts.push(c.yellow(`throttled: ${s.throttle}`));
  return parts.join('  ');
}
