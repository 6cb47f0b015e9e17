import type { Command } from 'commander';
import { DEFAULTS, type ThrottleOptions } from '../config.js';
import { UserError } from '../errors.js';
import { parseDuration, parseSize } from '../units.js';

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
  const count = (name: string, v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UserError(`${name}: "${String(v)}" is not a whole number`);
    return n;
  };
  if (o.cancelBlockers && o.terminateBlockers) throw new UserError('--cancel-blockers and --terminate-blockers exclude each other');
  return {
    maxLagMs: parseDuration(String(o.maxLag), '--max-lag'),
    replicas: o.replica as string[],
    maxSlotLagBytes: parseSize(String(o.maxSlotLag), '--max-slot-lag'),
    maxWalRate: o.maxWalRate === undefined ? undefined : parseSize(String(o.maxWalRate), '--max-wal-rate'),
    maxXactAgeMs: parseDuration(String(o.maxXactAge), '--max-xact-age'),
    maxActive: count('--max-active', o.maxActive),
    throttleQuery: o.throttleQuery as string | undefined,
    criticalQuery: o.criticalQuery as string | undefined,
    blockers: o.terminateBlockers ? 'terminate' : o.cancelBlockers ? 'cancel' : 'wait',
    blockerGraceMs: parseDuration(String(o.blockerGrace), '--blocker-grace'),
  };
}

export function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new UserError(`${option}: "${String(value)}" is not one of ${allowed.join(', ')}`);
  return value as T;
}
