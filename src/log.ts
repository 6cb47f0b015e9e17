import { pino, type Logger } from 'pino';

/** Where the root logger's lines go: one JSON line per call, written synchronously. */
export interface LogSink {
  write(line: string): void;
}

/**
 * The root logger writes structured lines to stderr so that stdout stays free for `--json`
 * reports (or appends them to PGSHIFT_LOG_FILE: the test suite keeps its output readable that
 * way). Modules take `log.child({ component })`. Log keys and counts, never row values.
 *
 * The lines pass through a sink the CLI can reroute (routeLogs): on a terminal they go to the
 * human renderer (src/terminal), which shows them as readable lines.
 */
const file = process.env.PGSHIFT_LOG_FILE;
export const defaultLogSink: LogSink = file
  ? pino.destination({ dest: file, append: true, mkdir: true, sync: true })
  : pino.destination({ fd: 2, sync: true });
/** whether the default sink is PGSHIFT_LOG_FILE rather than stderr */
export const logsToFile = Boolean(file);

let sink: LogSink = defaultLogSink;
export const log: Logger = pino({ level: process.env.PGSHIFT_LOG_LEVEL ?? 'info', base: undefined }, { write: (line: string) => sink.write(line) });

/** Sends every log line to `to` from now on (null: back to the default). */
export function routeLogs(to: LogSink | null): void {
  sink = to ?? defaultLogSink;
}

export function componentLog(component: string): Logger {
  return log.child({ component });
}
