import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/progress.js';
import { createProgressChannel } from '../../src/progress.js';
import { readableLog } from '../../src/terminal/log-lines.js';
import { colourWanted, defaultLogFormat } from '../../src/terminal/output.js';
import { createRenderer, REDRAW_MS, timeOfDay, type Clock, type Screen } from '../../src/terminal/renderer.js';
import { applyEvent, etaMs, percent, rowsPerSecond, statusLine, wholeDuration, type Step } from '../../src/terminal/status.js';

const plain = pc.createColors(false);
const colour = pc.createColors(true);
const ESC_COLOUR = /\x1b\[[0-9;]*m/;

/** A clock turned by hand: advance() fires every timer due on the way, in order. */
function manualClock(start = Date.UTC(2026, 0, 1, 12)): Clock & { advance(ms: number): void; timers(): number } {
  let now = start;
  const timers = new Set<{ ms: number; next: number; fn: () => void }>();
  return {
    now: () => now,
    every(ms, fn) {
      const t = { ms, next: now + ms, fn };
      timers.add(t);
      return () => void timers.delete(t);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
        if (!due) break;
        now = due.next;
        due.next += due.ms;
        due.fn();
      }
      now = end;
    },
    timers: () => timers.size,
  };
}

function recordingScreen(): Screen & { frames: string[]; printed: string[]; clears: number } {
  const s = {
    frames: [] as string[],
    printed: [] as string[],
    clears: 0,
    draw: (f: string) => void s.frames.push(f),
    print: (l: string) => void s.printed.push(l),
    clear: () => void s.clears++,
  };
  return s;
}

const phase = (p: string, message = `${p} message`, id = 12, kind = 'alter'): ProgressEvent => ({ type: 'phase', id, kind, table: 'public.orders', phase: p, message });

describe('the status line figures', () => {
  it('rows/s is measured over the last ten seconds, up to now', () => {
    const samples = [0, 1, 2, 3].map((s) => ({ at: s * 1000, done: s * 1000 }));
    expect(rowsPerSecond(samples, 3000)).toBe(1000);
    // A fast start no longer counts after the window: 100,000 rows in the first second, then 1,000/s.
    const slowing = [{ at: 0, done: 0 }, ...Array.from({ length: 20 }, (_, i) => ({ at: (i + 1) * 1000, done: 100_000 + i * 1000 }))];
    expect(rowsPerSecond(slowing, 20_000)).toBe(1000);
    // Stalled (throttled) for as long as it had run: the rate halves at once.
    expect(rowsPerSecond(samples, 6000)).toBe(500);
  });

  it('has no rate from a single sample', () => {
    expect(rowsPerSecond([{ at: 0, done: 500 }], 1000)).toBeNull();
    expect(rowsPerSecond([], 1000)).toBeNull();
  });

  it('ETA is what is left at the current rate, and none without an estimate or once past it', () => {
    expect(etaMs(250, 1000, 50)).toBe(15_000);
    expect(etaMs(250, null, 50)).toBeNull();
    expect(etaMs(250, 1000, null)).toBeNull();
    expect(etaMs(250, 1000, 0)).toBeNull();
    expect(etaMs(1200, 1000, 50)).toBeNull();
  });

  it('percent is floored and held at 99 while the phase runs', () => {
    expect(percent(0, 1000)).toBe(0);
    expect(percent(429, 1000)).toBe(42);
    expect(percent(999, 1000)).toBe(99);
    expect(percent(1500, 1000)).toBe(99);
  });

  it.each([
    [0, '0s'],
    [59_400, '59s'],
    [61_000, '1m01s'],
    [3_599_000, '59m59s'],
    [3_723_000, '1h02m'],
  ])('%i ms reads %s', (ms, text) => {
    expect(wholeDuration(ms)).toBe(text);
  });
});

describe('statusLine', () => {
  const copying = (): Step => {
    const steps = new Map<number, Step>();
    applyEvent(steps, phase('copy'), 0);
    for (let s = 1; s <= 4; s++) applyEvent(steps, { type: 'rows', id: 12, done: s * 10_000, total: 1_000_000 }, s * 1000);
    applyEvent(steps, { type: 'backlog', id: 12, entries: 1204, atLeast: false }, 4000);
    applyEvent(steps, { type: 'lag', id: 12, ms: 250 }, 4000);
    return steps.get(12)!;
  };

  it('shows phase, percent, rows, rows/s, ETA, backlog and lag of a copy', () => {
    expect(statusLine(copying(), 4000, plain)).toBe(
      'migration 12 public.orders  copy 4s   4% █░░░░░░░░░░░░░░░░░░░  40,000/1,000,000 rows  10,000 rows/s  ETA 1m36s  backlog 1,204  lag 0.3s',
    );
  });

  it('shows why it is throttled, and drops it once cleared', () => {
    const s = copying();
    applyEvent(new Map([[12, s]]), { type: 'throttle', id: 12, reason: 'replication lag: standby x is 12.0s behind, over --max-lag 10.0s' }, 4000);
    expect(statusLine(s, 4000, plain)).toMatch(/lag 0\.3s {2}throttled: replication lag: standby x is 12\.0s behind, over --max-lag 10\.0s$/);
    applyEvent(new Map([[12, s]]), { type: 'throttle', id: 12, reason: null }, 5000);
    expect(statusLine(s, 5000, plain)).not.toMatch(/throttled/);
  });

  it('shows unknown figures as "-" and a capped backlog as at least', () => {
    const steps = new Map<number, Step>();
    applyEvent(steps, phase('copy'), 0);
    applyEvent(steps, { type: 'rows', id: 12, done: 5000, total: null }, 1000);
    applyEvent(steps, { type: 'backlog', id: 12, entries: 100_000, atLeast: true }, 1000);
    expect(statusLine(steps.get(12)!, 1000, plain)).toBe('migration 12 public.orders  copy 1s  5,000 rows  - rows/s  ETA -  backlog ≥100,000  lag -');
  });

  it('a phase without rows shows its time, backlog and lag; a backfill has no changelog backlog', () => {
    const steps = new Map<number, Step>();
    applyEvent(steps, phase('copy'), 0);
    applyEvent(steps, { type: 'rows', id: 12, done: 5000, total: 10_000 }, 1000);
    applyEvent(steps, phase('index'), 2000);
    expect(statusLine(steps.get(12)!, 65_000, plain)).toBe('migration 12 public.orders  index 1m03s  backlog -  lag -');
    applyEvent(steps, phase('copy', 'walking', 13, 'backfill'), 0);
    expect(statusLine(steps.get(13)!, 0, plain)).toBe('backfill 13 public.orders  copy 0s  lag -');
  });

  it('colours only when asked', () => {
    expect(statusLine(copying(), 4000, plain)).not.toMatch(ESC_COLOUR);
    expect(statusLine(copying(), 4000, colour)).toMatch(ESC_COLOUR);
  });
});

describe('readableLog', () => {
  it('says why a throttle happened, and which migration', () => {
    const line = JSON.stringify({ level: 40, time: 1, component: 'throttler', migration: 12, reason: '--throttle-query returned 1', msg: 'throttled' });
    expect(readableLog(line)).toEqual({ level: 'warn', text: 'warning: throttled: --throttle-query returned 1 (migration 12)' });
  });

  it("shows the throttler's warnings by their text", () => {
    const line = JSON.stringify({ level: 40, time: 1, component: 'throttler', migration: 12, warning: 'long transactions holding locks on the table will block the cutover: pid 7', msg: 'warning' });
    expect(readableLog(line)?.text).toBe('warning: long transactions holding locks on the table will block the cutover: pid 7 (migration 12)');
  });

  it('keeps the other fields as "key value", and leaves out what every record has', () => {
    const line = JSON.stringify({ level: 30, time: 1, component: 'cutover', migration: 12, attempts: 1, holdMs: 5, msg: 'swapped' });
    expect(readableLog(line)).toEqual({ level: 'info', text: 'swapped (migration 12, attempts 1, holdMs 5)' });
    expect(readableLog(JSON.stringify({ level: 50, time: 1, migration: 3, reason: 'boom', msg: 'migration failed; removing what it created' }))?.text).toBe(
      'error: migration failed; removing what it created: boom (migration 3)',
    );
  });

  it('drops the progress records the status line shows', () => {
    expect(readableLog(JSON.stringify({ level: 30, time: 1, migration: 12, rows: 5, msg: 'copying' }))).toBeNull();
    expect(readableLog(JSON.stringify({ level: 30, time: 1, backfill: 12, rows: 5, msg: 'backfilling' }))).toBeNull();
  });
});

describe('the renderer', () => {
  const setup = (o: { quiet?: boolean; live?: boolean; colours?: boolean } = {}) => {
    const clock = manualClock();
    const screen = recordingScreen();
    const r = createRenderer({ screen, clock, colours: o.colours ? colour : plain, quiet: o.quiet ?? false, live: o.live ?? true });
    return { clock, screen, r };
  };

  it('prints a line at each phase change and redraws the status line at once', () => {
    const { clock, screen, r } = setup();
    r.event(phase('copy', 'copying rows'));
    expect(screen.printed).toEqual([`${timeOfDay(clock.now())} migration 12 public.orders copy: copying rows`]);
    expect(screen.frames.at(-1)).toMatch(/^migration 12 public\.orders {2}copy 0s/);
    r.event(phase('index', 'building secondary indexes'));
    expect(screen.printed.at(-1)).toMatch(/migration 12 public\.orders index: building secondary indexes$/);
    expect(screen.frames.at(-1)).toMatch(/ {2}index 0s/);
  });

  it('redraws at least once a second with no event at all', () => {
    const { clock, screen, r } = setup();
    r.event(phase('copy'));
    const before = screen.frames.length;
    clock.advance(10_000);
    expect(screen.frames.length - before).toBeGreaterThanOrEqual(10);
    expect(10_000 / REDRAW_MS).toBeGreaterThanOrEqual(10);
    expect(screen.frames.at(-1)).toMatch(/copy 10s/);
  });

  it('draws a line per running step, and takes a step away when it is done', () => {
    const { screen, r } = setup();
    r.event(phase('copy'));
    r.event(phase('copy', 'walking', 13, 'backfill'));
    expect(screen.frames.at(-1)!.split('\n')).toHaveLength(2);
    r.event(phase('done', 'migration finished'));
    expect(screen.frames.at(-1)!.split('\n')).toEqual([expect.stringMatching(/^backfill 13/)]);
    r.event(phase('done', '5 rows updated', 13, 'backfill'));
    expect(screen.clears).toBe(1);
    // The throttler closing after its step is done does not bring the line back.
    const frames = screen.frames.length;
    r.event({ type: 'throttle', id: 13, reason: null });
    r.event({ type: 'lag', id: 13, ms: null });
    expect(screen.frames).toHaveLength(frames);
  });

  it('shows a throttle reason as soon as it comes', () => {
    const { screen, r } = setup();
    r.event(phase('copy'));
    r.event({ type: 'throttle', id: 12, reason: 'paused by the operator (pgshift unpause 12 resumes)' });
    expect(screen.frames.at(-1)).toMatch(/throttled: paused by the operator \(pgshift unpause 12 resumes\)$/);
  });

  it('prints warnings and errors always, other records unless quiet', () => {
    const { screen, r } = setup();
    r.log(JSON.stringify({ level: 30, time: 1, msg: 'applying 20260101 add_note' }));
    r.log(JSON.stringify({ level: 40, time: 1, reason: 'x', msg: 'throttled' }));
    expect(screen.printed.map((l) => l.slice(9))).toEqual(['applying 20260101 add_note', 'warning: throttled: x']);
  });

  it('--quiet: no status line, no phase lines, no info; warnings still', () => {
    const { clock, screen, r } = setup({ quiet: true });
    r.event(phase('copy'));
    r.event({ type: 'rows', id: 12, done: 10, total: 100 });
    clock.advance(5000);
    r.log(JSON.stringify({ level: 30, time: 1, msg: 'swapped' }));
    r.log(JSON.stringify({ level: 40, time: 1, reason: 'x', msg: 'throttled' }));
    expect(screen.frames).toEqual([]);
    expect(screen.printed.map((l) => l.slice(9))).toEqual(['warning: throttled: x']);
    expect(clock.timers()).toBe(0);
  });

  it('without a terminal: readable lines, never a status line', () => {
    const { clock, screen, r } = setup({ live: false });
    r.event(phase('copy'));
    clock.advance(3000);
    expect(screen.frames).toEqual([]);
    expect(screen.printed).toHaveLength(1);
  });

  it('colours its lines only when asked', () => {
    const a = setup({ colours: false });
    a.r.event(phase('copy'));
    a.r.log(JSON.stringify({ level: 40, time: 1, msg: 'hook failed' }));
    expect([...a.screen.printed, ...a.screen.frames].join('\n')).not.toMatch(ESC_COLOUR);
    const b = setup({ colours: true });
    b.r.event(phase('copy'));
    expect(b.screen.printed[0]).toMatch(ESC_COLOUR);
  });

  it('stops its timer and takes the status lines away when stopped', () => {
    const { clock, screen, r } = setup();
    r.event(phase('copy'));
    r.stop();
    expect(screen.clears).toBe(1);
    expect(clock.timers()).toBe(0);
    r.event(phase('index'));
    expect(screen.printed).toHaveLength(1);
  });
});

describe('the output mode', () => {
  it('is human on a terminal, json otherwise', () => {
    expect(defaultLogFormat({ isTTY: true, write: () => true })).toBe('human');
    expect(defaultLogFormat({ isTTY: false, write: () => true })).toBe('json');
    expect(defaultLogFormat({ write: () => true })).toBe('json');
  });

  it('has colour only on a terminal without NO_COLOR', () => {
    const tty = { isTTY: true, write: () => true };
    expect(colourWanted(tty, {})).toBe(true);
    expect(colourWanted(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colourWanted(tty, { TERM: 'dumb' })).toBe(false);
    expect(colourWanted({ isTTY: false, write: () => true }, {})).toBe(false);
  });
});

describe('the progress channel', () => {
  it('delivers to its listeners, and a failing listener fails nothing', () => {
    const ch = createProgressChannel();
    expect(ch.listening()).toBe(false);
    const got: ProgressEvent[] = [];
    const off = ch.subscribe((e) => got.push(e));
    ch.subscribe(() => {
      throw new Error('drawing failed');
    });
    ch.emit({ type: 'lag', id: 1, ms: 5 });
    expect(got).toEqual([{ type: 'lag', id: 1, ms: 5 }]);
    off();
    ch.emit({ type: 'lag', id: 1, ms: 6 });
    expect(got).toHaveLength(1);
  });
});
