import { pino, type Logger } from 'pino';

/**
 * The root logger writes structured lines to stderr so that stdout stays free for `--json`
 * reports. Modules take `log.child({ component })`. Log keys and counts, never row values.
 */
export const log: Logger = pino(
  { level: process.env.PGSHIFT_LOG_LEVEL ?? 'info', base: undefined },
  pino.destination({ fd: 2, sync: true }),
);

export function componentLog(component: string): Logger {
  return log.child({ component });
}
