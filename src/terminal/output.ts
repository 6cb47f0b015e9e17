import pc from 'picocolors';
import { defaultLogSink, logsToFile, routeLogs } from '../log.js';
import { progress } from '../progress.js';
import { createRenderer, type Clock, type Screen } from './renderer.js';

/**
 * What a long command (alter --execute, backfill --execute, migrate up and down, resume) shows on
 * stderr while it runs. `human`: the renderer's status lines and readable lines; `json`: pino's
 * JSON lines, as every command writes them (the default when stderr is not a terminal). What the
 * command prints at its end (the summary, or --json's report) stays on stdout either way.
 */
export const LOG_FORMATS = ['human', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface OutputOptions {
  logFormat: LogFormat;
  /** only warnings and errors on stderr (and the summary on stdout) */
  quiet: boolean;
}

interface Terminal {
  isTTY?: boolean;
  write(s: string): boolean;
}

export function defaultLogFormat(stderr: Terminal = process.stderr): LogFormat {
  return stderr.isTTY === true ? 'human' : 'json';
}

/** Colour only on a terminal that takes it, and never when NO_COLOR is set to anything (no-color.org). */
export function colourWanted(stderr: Terminal, env: NodeJS.ProcessEnv): boolean {
  return stderr.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
}

/** Runs `fn` with stderr set up as `o` says, and takes it down again (status lines cleared) before returning or throwing. */
export async function withOutput<T>(o: OutputOptions, fn: () => Promise<T>): Promise<T> {
  if (o.logFormat === 'json') {
    if (o.quiet) routeLogs({ write: (line) => (levelOf(line) >= 40 ? defaultLogSink.write(line) : undefined) });
    try {
      return await fn();
    } finally {
      routeLogs(null);
    }
  }
  const stderr = process.stderr;
  const live = stderr.isTTY === true;
  const renderer = createRenderer({
    screen: live ? await liveScreen(stderr) : plainScreen(stderr),
    clock: systemClock,
    colours: pc.createColors(colourWanted(stderr, process.env)),
    quiet: o.quiet,
    live,
  });
  const unsubscribe = progress.subscribe(renderer.event);
  // PGSHIFT_LOG_FILE keeps every JSON line as well: it is where a run's details are looked up.
  routeLogs({
    write: (line) => {
      if (logsToFile) defaultLogSink.write(line);
      renderer.log(line);
    },
  });
  try {
    return await fn();
  } finally {
    unsubscribe();
    renderer.stop();
    routeLogs(null);
  }
}

function levelOf(line: string): number {
  try {
    return Number((JSON.parse(line) as { level?: number }).level ?? 30);
  } catch {
    return 30;
  }
}

/**
 * log-update redraws the frame in place (it erases the lines it drew last, also when the terminal
 * wrapped them) and hides the cursor meanwhile; `persist` prints above the frame.
 */
async function liveScreen(stream: NodeJS.WriteStream): Promise<Screen> {
  // Loaded only for a terminal: log-update and its width tables are a tenth of a second of every
  // command's start (`pgshift --version`), and a JSON run never draws.
  const { createLogUpdate } = await import('log-update');
  // A pseudo-terminal nobody sized (a container's, `script`'s) reports 0 columns and rows, and
  // log-update draws nothing into zero rows: size it as a plain terminal then.
  const sized = {
    isTTY: true,
    get columns() {
      return stream.columns || 80;
    },
    get rows() {
      return stream.rows || 24;
    },
    write: (s: string) => stream.write(s),
  };
  const update = createLogUpdate(sized as unknown as NodeJS.WritableStream);
  return {
    draw: (frame) => update(frame),
    print: (line) => update.persist(line),
    clear: () => {
      update.clear();
      update.done();
    },
  };
}

/** `--log-format human` without a terminal: the readable lines, no status lines. */
function plainScreen(stream: Terminal): Screen {
  return { draw: () => undefined, print: (line) => void stream.write(`${line}\n`), clear: () => undefined };
}

const systemClock: Clock = {
  now: () => Date.now(),
  every: (ms, fn) => {
    const t = setInterval(fn, ms);
    // The timer alone must not keep a finished command's process alive.
    t.unref();
    return () => clearInterval(t);
  },
};
