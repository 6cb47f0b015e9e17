import fs from 'node:fs';
import type { Command } from 'commander';
import { DEFAULTS, type ThrottleOptions } from '../config.js';
import { UserError } from '../errors.js';
import { parseDuration, parseSize } from '../units.js';
import { defaultLogFormat, LOG_FORMATS, type OutputOptions } from '../terminal/output.js';
import type { ReportOptions } from '../report/report-run.js';

/** --url and --url-file, the same on every command that connects. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'connection URL (default: DATABASE_URL, then the libpq variables PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGPASSFILE, PGSERVICE)')
    .option('--url-file <path>', 'read the connection URL from this file (keeps a password out of ps)');
}

/**
 * The connection target the user gave (--url, or the trimmed content of --url-file), or
 * undefined for DATABASE_URL and the libpq variables (resolved in db/connection.ts).
 */
export function connectionUrl(o: Record<string, unknown>): string | undefined {
  const url = o.url as string | undefined;
  const file = o.urlFile as string | undefined;
  if (url !== undefined && file !== undefined) throw new UserError('--url and --url-file exclude each other: give one');
  if (file === undefined) return url;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UserError(`--url-file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (text === '') throw new UserError(`--url-file: ${file} is empty`);
  return text;
}

/**
 * A duration that must be positive and bounded: 0 would often mean "no limit" to PostgreSQL
 * (lock_timeout = 0 waits forever), and beyond a timer's range (2^31 - 1 ms) Node fires at once.
 */
export function positiveDuration(text: unknown, option: string, maxMs = MAX_TIMER_MS): number {
  const ms = parseDuration(String(text), option);
  if (ms < 1) throw new UserError(`${option}: "${String(text)}" must be at least 1ms`);
  if (ms > maxMs) throw new UserError(`${option}: "${String(text)}" is more than the largest accepted, ${maxMs}ms`);
  return ms;
}

/** A ratio from 0 to `max` (e.g. `--nice 0.5`). */
export function ratio(text: unknown, option: string, max: number): number {
  const n = Number(text);
  if (String(text).trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new UserError(`${option}: "${String(text)}" is not a number from 0 to ${max}`);
  return n;
}

/** setTimeout's and PostgreSQL's (lock_timeout, statement_timeout) largest value. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The throttling options `alter` and `backfill` share. */
export function addThrottleOptions(cmd: Command): Command {
  return cmd
    .option('--max-lag <duration>', 'throttle while a standby or --replica lags more than this', `${DEFAULTS.throttle.maxLagMs}ms`)
    .option('--replica <url>', 'a replica to watch for lag (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--max-slot-lag <size>', 'throttle while a replication slot retains more WAL than this', '10GB')
    .option('--max-wal-rate <size>', 'throttle while WAL is written faster than this per second')
    .option('--max-xact-age <duration>', 'report transactions older than this that would block the cutover', '1h')
    .option('--max-active <n>', 'throttle while more sessions than this are active')
    .option('--throttle-query <sql>', 'throttle while this query returns a number > 0')
    .option('--critical-query <sql>', 'stop safely (exit 1, nothing changed) when this query returns a number > 0')
    .option('--cancel-blockers', 'cancel sessions that block the cutover for longer than --blocker-grace', false)
    .option('--terminate-blockers', 'terminate sessions that block the cutover for longer than --blocker-grace', false)
    .option('--blocker-grace <duration>', 'how old a blocking transaction must be before it is cancelled or terminated', `${DEFAULTS.throttle.blockerGraceMs}ms`);
}

export function throttleOptions(o: Record<string, unknown>): Partial<ThrottleOptions> {
  // 0 active sessions would throttle forever: the engine's own session is active.
  const count = (name: string, v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(String(v)) || !Number.isSafeInteger(n) || n < 1) throw new UserError(`${name}: "${String(v)}" is not a positive whole number`);
    return n;
  };
  if (o.cancelBlockers && o.terminateBlockers) throw new UserError('--cancel-blockers and --terminate-blockers exclude each other');
  return {
    maxLagMs: positiveDuration(o.maxLag, '--max-lag'),
    replicas: o.replica as string[],
    maxSlotLagBytes: parseSize(String(o.maxSlotLag), '--max-slot-lag'),
    maxWalRate: o.maxWalRate === undefined ? undefined : parseSize(String(o.maxWalRate), '--max-wal-rate'),
    maxXactAgeMs: positiveDuration(o.maxXactAge, '--max-xact-age'),
    maxActive: count('--max-active', o.maxActive),
    throttleQuery: o.throttleQuery as string | undefined,
    criticalQuery: o.criticalQuery as string | undefined,
    blockers: o.terminateBlockers ? 'terminate' : o.cancelBlockers ? 'cancel' : 'wait',
    blockerGraceMs: boundedDuration(o.blockerGrace, '--blocker-grace'),
  };
}

export function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new UserError(`${option}: "${String(value)}" is not one of ${allowed.join(', ')}`);
  return value as T;
}

/** A duration that may be 0 but not beyond a timer's range. */
export function boundedDuration(text: unknown, option: string, maxMs = MAX_TIMER_MS): number {
  const ms = parseDuration(String(text), option);
  if (ms > maxMs) throw new UserError(`${option}: "${String(text)}" is more than the largest accepted, ${maxMs}ms`);
  return ms;
}

/** How `alter` and `plan` choose each change's path (src/strategy). */
export function addStrategyOptions(cmd: Command): Command {
  return cmd
    .option('--strategy <strategy>', 'auto (each change\'s cheapest safe path), copy (the online copy) or direct (as written, under lock_timeout)', DEFAULTS.strategy)
    .option('--copy-threshold <size>', 'under auto, a rewrite of a smaller table (heap + indexes) runs directly', `${DEFAULTS.copyThresholdBytes / 1024 ** 2}MB`)
    .option('--downtime-allowed', 'the application is down: under auto, rewrites run directly whatever the size', false);
}

export function strategyOptions(o: Record<string, unknown>): { strategy: 'auto' | 'copy' | 'direct'; copyThresholdBytes: number; downtimeAllowed: boolean } {
  return {
    strategy: oneOf('--strategy', o.strategy, ['auto', 'copy', 'direct'] as const),
    copyThresholdBytes: parseSize(String(o.copyThreshold), '--copy-threshold'),
    downtimeAllowed: o.downtimeAllowed === true,
  };
}

/** What a long-running command shows on stderr while it runs (src/terminal/output.ts). */
export function addOutputOptions(cmd: Command): Command {
  return cmd
    .option('--log-format <format>', 'stderr while it runs: human (status line and readable lines) or json (pino JSON lines); default: human on a terminal, json otherwise')
    .option('--quiet', 'on stderr only warnings and errors; the final summary still prints', false);
}

/** A run's report (src/report): alter --execute, resume, backfill --execute, migrate up. */
export function addReportOptions(cmd: Command): Command {
  return cmd
    .option('--report-dir <dir>', 'write report.md, report.json and report.html of this run directly in this folder (default: ./pgshift-reports/<id>/)')
    .option('--no-report', 'write no report of this run');
}

/** The report options; `runs`: whether this invocation changes anything (a dry run has no report). */
export function reportOptions(o: Record<string, unknown>, url: string | undefined, runs: boolean): ReportOptions {
  return { enabled: runs && o.report !== false, dir: o.reportDir as string | undefined, url };
}

export function outputOptions(o: Record<string, unknown>): OutputOptions {
  return {
    logFormat: o.logFormat === undefined ? defaultLogFormat() : oneOf('--log-format', o.logFormat, LOG_FORMATS),
    quiet: o.quiet === true,
  };
}
