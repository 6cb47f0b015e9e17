import type { ProgressEvent } from '../progress.js';
import { readableLog } from './log-lines.js';
import { applyEvent, stepLabel, statusLine, type Colours, type Step } from './status.js';

/**
 * Where the renderer draws. `draw` replaces the live frame (the status lines) in place; `print`
 * puts a line above it that stays in the scrollback; `clear` takes the frame away for good.
 * On a terminal this is log-update (output.ts); the unit tests record the calls.
 */
export interface Screen {
  draw(frame: string): void;
  print(line: string): void;
  clear(): void;
}

/** The renderer's time: Date.now() and setInterval in a run, a hand-turned clock in the tests. */
export interface Clock {
  now(): number;
  /** calls `fn` every `ms` until the returned function is called */
  every(ms: number, fn: () => void): () => void;
}

export interface RendererOptions {
  screen: Screen;
  clock: Clock;
  colours: Colours;
  /** only warnings, errors (and the command's final summary, on stdout): no status line, no phase lines */
  quiet: boolean;
  /** redraw status lines in place (a terminal); otherwise readable lines only */
  live: boolean;
}

export interface Renderer {
  /** a progress event (src/progress.ts) */
  event(e: ProgressEvent): void;
  /** one pino JSON line */
  log(line: string): void;
  /** takes the status lines away; the printed lines stay */
  stop(): void;
}

/** Twice a second: a line that must be redrawn at least once a second, whatever the timer's drift. */
export const REDRAW_MS = 500;

/**
 * The human view of a run: one status line per running step, redrawn every REDRAW_MS and at
 * every phase change and throttle change; a readable line for every phase change and every log
 * record worth a person's attention (warnings and errors always, the rest unless quiet).
 */
export function createRenderer(o: RendererOptions): Renderer {
  const { screen, clock, colours: c } = o;
  const steps = new Map<number, Step>();
  // A throttler closing after its step's end must not bring the step's line back.
  const ended = new Set<number>();
  const live = o.live && !o.quiet;
  let stopped = false;

  const draw = (): void => {
    if (!live || stopped) return;
    const now = clock.now();
    const frame = [...steps.values()].map((s) => statusLine(s, now, c)).join('\n');
    if (frame) screen.draw(frame);
    else screen.clear();
  };
  const print = (text: string): void => {
    if (stopped) return;
    screen.print(`${c.dim(timeOfDay(clock.now()))} ${text}`);
    draw();
  };
  const end = (id: number): void => {
    steps.delete(id);
    ended.add(id);
  };
  const stopTimer = live ? clock.every(REDRAW_MS, draw) : () => undefined;

  return {
    event(e) {
      if (e.type !== 'phase' && ended.has(e.id)) return;
      const s = applyEvent(steps, e, clock.now());
      if (e.type === 'phase') {
        if (e.phase === 'done') end(e.id);
        else ended.delete(e.id);
        if (!o.quiet) print(`${c.bold(stepLabel(s))} ${(e.phase === 'done' ? c.green : c.cyan)(e.phase)}: ${e.message}`);
        else draw();
      } else if (e.type === 'end') {
        end(e.id);
        if (!o.quiet) print(`${c.bold(stepLabel(s))} ${c.red(e.outcome)}`);
        else draw();
      } else if (e.type === 'throttle') {
        draw();
      }
    },
    log(line) {
      const r = readableLog(line);
      if (!r || (o.quiet && (r.level === 'info' || r.level === 'debug'))) return;
      print(r.level === 'warn' ? c.yellow(r.text) : r.level === 'error' ? c.red(r.text) : r.level === 'debug' ? c.dim(r.text) : r.text);
    },
    stop() {
      if (stopped) return;
      stopTimer();
      if (live) screen.clear();
      stopped = true;
    },
  };
}

/** HH:MM:SS in the local time zone, for the start of every printed line. */
export function timeOfDay(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':');
}
