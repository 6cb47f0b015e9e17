import { pino, type Logger } from 'pino';

/**
 * The root logger writes structured lines to stderr so that stdout stays free for `--json`
 * reports (or appends them to PGSHIFT_LOG_FILE: the test suite keeps its output readable that
 * way). Modules take `log.child({ component })`. Log keys and counts, never row values.
 */
const file = process.env.PGSHIFT_LOG_FILE;
export const log: Logger = pino(
  { level: process.env.PGSHIFT_LOG_LEVEL ?? 'info', base: undefined },
  file ? pino.destination({ dest: file, append: true, mkdir: true, sync: true }) : pino.destination({ fd: 2, sync: true }),
);

export function componentLog(component: string): Logger {
  return log.child({ component });
}
