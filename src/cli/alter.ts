import type { Command } from 'commander';
import { onlineAlter, type AlterReport } from '../migration/runner.js';
import { alterOptions, DEFAULTS, type ThrottleOptions } from '../config.js';
import { parseDuration, parseSize } from '../units.js';
import { formatDuration } from '../units.js';
import { runCommand } from './run.js';
import { UserError } from '../errors.js';
import { ROLLBACK_MODES, VALIDATION_LEVELS } from '../verify/validate.js';

export function registerAlter(program: Command): void {
  program
    .command('alter')
    .description('apply ALTER TABLE statement(s) to one table online (dry run unless --execute)')
    .argument('<statements>', 'one or more ALTER TABLE statements on one table')
    .option('--url <url>', 'connection URL (default: DATABASE_URL, then PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSWORD)')
    .option('--execute', 'run the migration; without it, print the plan and change nothing', false)
    .option('--json', 'print one final JSON report on stdout', false)
    .option('--chunk-time <duration>', 'target duration of one copy chunk', `${DEFAULTS.chunkTimeMs}ms`)
    .option('--validation <level>', 'basic (counts), thorough (chunked checksums), comprehensive (plus row diffs and constraint checks)', DEFAULTS.validation)
    .option('--rollback <mode>', 'on a failed validation: automatic (clean up), manual (keep for inspection, exit 3), none (keep a swap already done)', DEFAULTS.rollback)
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
    .option('--blocker-grace <duration>', 'how old a blocking transaction must be before it is cancelled or terminated', `${DEFAULTS.throttle.blockerGraceMs}ms`)
    .option('--lock-timeout <duration>', 'lock wait of the first attempt of every DDL and of the cutover', `${DEFAULTS.retry.lockTimeoutMs}ms`)
    .action((statements: string, o: Record<string, unknown>) =>
      runCommand(async () => {
        const lockTimeoutMs = parseDuration(String(o.lockTimeout), '--lock-timeout');
        const validation = oneOf('--validation', o.validation, VALIDATION_LEVELS);
        const rollback = oneOf('--rollback', o.rollback, ROLLBACK_MODES);
        const opts = alterOptions({
          validation,
          rollback,
          throttle: throttleOptions(o),
          statements,
          url: o.url as string | undefined,
          execute: o.execute === true,
          chunkTimeMs: parseDuration(String(o.chunkTime), '--chunk-time'),
          retry: { ...DEFAULTS.retry, lockTimeoutMs, maxLockTimeoutMs: Math.max(lockTimeoutMs, DEFAULTS.retry.maxLockTimeoutMs) },
        });
        const report = await onlineAlter(opts);
        if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else process.stdout.write(`${humanReport(report).join('\n')}\n`);
      }),
    );
}

function throttleOptions(o: Record<string, unknown>): Partial<ThrottleOptions> {
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

function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new UserError(`${option}: "${String(value)}" is not one of ${allowed.join(', ')}`);
  return value as T;
}

export function humanReport(r: AlterReport): string[] {
  const lines = [...r.plan];
  if (r.status === 'planned') {
    lines.push('preflight: ok. Dry run: nothing was changed; add --execute to run it.');
    return lines;
  }
  const d = r.durationsMs!;
  lines.push(
    `done: migration ${r.migrationId}, ${r.rowsCopied} rows copied in ${formatDuration(d.copy)} (${Math.round(r.copyRowsPerSecond ?? 0)} rows/s), total ${formatDuration(d.total)}`,
    `  indexes ${formatDuration(d.index)}, catch-up ${formatDuration(d.catchUp)}, cutover ${formatDuration(d.cutover)} (${r.cutover!.attempts} attempt(s), lock wait ${r.cutover!.lockWaitMs.toFixed(1)}ms, held ${r.cutover!.holdMs.toFixed(1)}ms)`,
  );
  const v = r.validation;
  if (v) {
    lines.push(
      `  validation ${v.level}: ${v.passed ? 'passed' : 'FAILED'}; ${v.rowsOrigin} rows origin, ${v.rowsShadow} shadow, ${v.chunks} chunks, ${v.mismatchedChunks} differ;` +
        ` writes held ${v.writesHeldMs.toFixed(1)}ms, ${formatDuration(v.ms)}` +
        (v.columns.length ? `; columns ${v.columns.join(', ')}` : ''),
    );
    const k = r.cutover!.check;
    lines.push(`  in the cutover: counts ${typeof k.counts === 'string' ? k.counts : `${k.counts.origin} = ${k.counts.shadow}`}, ${k.sampledRows} sampled rows, ${k.sampleMismatches} differ`);
  }
  return lines;
}
