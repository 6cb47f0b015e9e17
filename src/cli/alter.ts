import type { Command } from 'commander';
import { onlineAlter, type AlterReport } from '../migration/start.js';
import { alterOptions, DEFAULTS, type AlterOptions } from '../config.js';
import { resumeMigration } from '../migration/start.js';
import { revertMigration } from '../migration/revert.js';
import {
  addConnectionOptions, addOutputOptions, addReportOptions, addStrategyOptions, addThrottleOptions, connectionUrl, outputOptions, positiveDuration, ratio, reportOptions, strategyOptions, throttleOptions, oneOf,
} from './options.js';
import { withReport } from '../report/report-run.js';
import { withOutput } from '../terminal/output.js';
import { formatDuration, parseSize } from '../units.js';
import { runCommand } from './run.js';
import { addPlanOutputOptions, planFormat, printPlan } from './plan-output.js';
import { UserError } from '../errors.js';
import { ROLLBACK_MODES, VALIDATION_LEVELS } from '../verify/validate.js';
import { addFleetOptions, runFleetCommand } from './fleet.js';
import { alterProbe } from '../fleet/probes.js';
import { MAX_LANES } from '../copy/lanes.js';

/** The options `alter` and `resume` share (everything but the statements). */
function addAlterOptions(cmd: Command): Command {
  addStrategyOptions(addConnectionOptions(cmd))
    .option('--json', 'print one final JSON report on stdout', false)
    .option('--chunk-time <duration>', 'target duration of one copy chunk', `${DEFAULTS.chunkTimeMs}ms`)
    .option('--max-parallel <n>', `copy lanes: disjoint key ranges copied at once, each its own session (1 to 4; default: 1 while the database is busy, else max_parallel_maintenance_workers)`)
    .option('--nice <ratio>', 'after each copy chunk, pause this fraction of its time (0.5: the copy at 2/3 speed, leaving the application more of the server)', '0')
    .option('--transform <assignment>', 'compute a column of the new table during the copy, e.g. "full_name = first || \' \' || last" (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--migration-type <type>', 'schema (no transforms), both (ALTER with transforms), data (use pgshift backfill)', 'schema')
    .option('--drop-old', 'drop the old table right after the swap (default: keep it until pgshift cleanup)', false)
    .option('--max-runtime <duration>', 'stop cleanly after this long, everything kept (exit 4); pgshift resume continues')
    .option('--revert-window <duration>', 'keep the old table in sync for this long after the swap, so pgshift revert can swap back')
    .option('--postpone-cutover', 'after the copy, keep replaying until pgshift cutover <id> (or --cutover-at)', false)
    .option('--cutover-at <HH:MM>', 'cut over at this server clock time (its next occurrence)')
    .option('--hook-cmd <command>', 'run this shell command at startup, copy-done, before-cutover, after-cutover, failure, success (PGSHIFT_EVENT and the state in PGSHIFT_* variables)')
    .option('--hooks-dir <dir>', 'run the executable named after each event in this folder, like --hook-cmd')
    .option('--validation <level>', 'basic (counts), thorough (chunked checksums), comprehensive (plus row diffs and constraint checks)', DEFAULTS.validation)
    .option('--rollback <mode>', 'on a failed validation: automatic (clean up), manual (keep for inspection, exit 3), none (keep a swap already done)', DEFAULTS.rollback)
    .option('--lock-timeout <duration>', 'lock wait of the first attempt of every DDL and of the cutover', `${DEFAULTS.retry.lockTimeoutMs}ms`)
    .option('--disk-free <size>', 'free disk space for the shadow, its indexes and the WAL, when pgshift cannot read it on the server\'s host (e.g. 50GB); a copy that will not fit is refused');
  return addReportOptions(addOutputOptions(addThrottleOptions(cmd)));
}

/**
 * A lock wait queues every later reader of the table behind it (DESIGN.md section 2): beyond a
 * minute it is an outage, not a timeout. A chunk is one transaction: beyond an hour it is not a chunk.
 */
const MAX_LOCK_TIMEOUT_MS = 60_000;
const MAX_CHUNK_TIME_MS = 3_600_000;

function optionsFrom(statements: string, o: Record<string, unknown>): AlterOptions {
  const lockTimeoutMs = positiveDuration(o.lockTimeout, '--lock-timeout', MAX_LOCK_TIMEOUT_MS);
  const validation = oneOf('--validation', o.validation, VALIDATION_LEVELS);
  const rollback = oneOf('--rollback', o.rollback, ROLLBACK_MODES);
  const transforms = o.transform as string[];
  const type = oneOf('--migration-type', o.migrationType === 'schema' && transforms.length ? 'both' : o.migrationType, ['schema', 'data', 'both'] as const);
  if (type === 'data') throw new UserError('--migration-type data changes rows, not the schema: run it with pgshift backfill');
  if (type === 'both' && transforms.length === 0) throw new UserError('--migration-type both needs at least one --transform');
  if (o.revertWindow !== undefined && o.dropOld) throw new UserError('--revert-window keeps the old table; it cannot go with --drop-old');
  const cutoverAt = o.cutoverAt as string | undefined;
  if (cutoverAt !== undefined && !/^([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/.test(cutoverAt)) {
    throw new UserError(`--cutover-at: "${cutoverAt}" is not a clock time; write it as HH:MM`);
  }
  return alterOptions({
    ...strategyOptions(o),
    postponeCutover: o.postponeCutover === true,
    dropOld: o.dropOld === true,
    maxRuntimeMs: o.maxRuntime === undefined ? undefined : positiveDuration(o.maxRuntime, '--max-runtime'),
    diskFreeBytes: o.diskFree === undefined ? undefined : parseSize(String(o.diskFree), '--disk-free'),
    revertWindowMs: o.revertWindow === undefined ? undefined : positiveDuration(o.revertWindow, '--revert-window'),
    cutoverAt,
    hookCmd: o.hookCmd as string | undefined,
    hooksDir: o.hooksDir as string | undefined,
    transforms,
    validation,
    rollback,
    throttle: throttleOptions(o),
    statements,
    url: connectionUrl(o),
    execute: o.execute === true,
    chunkTimeMs: positiveDuration(o.chunkTime, '--chunk-time', MAX_CHUNK_TIME_MS),
    nice: ratio(o.nice, '--nice', 10),
    ...(o.maxParallel !== undefined ? { maxParallel: lanesOption(o.maxParallel) } : {}),
    retry: { ...DEFAULTS.retry, lockTimeoutMs, maxLockTimeoutMs: Math.max(lockTimeoutMs, DEFAULTS.retry.maxLockTimeoutMs) },
  });
}

/** The AlterOptions keys the operator gave on the command line (a take-over checks them against the stored ones). */
function explicitOptions(cmd: Command): string[] {
  const keys: Record<string, string> = {
    postponeCutover: 'postponeCutover', rollback: 'rollback', revertWindow: 'revertWindowMs', validation: 'validation', transform: 'transforms',
    dropOld: 'dropOld', chunkTime: 'chunkTimeMs', nice: 'nice', maxParallel: 'maxParallel', cutoverAt: 'cutoverAt', hookCmd: 'hookCmd', hooksDir: 'hooksDir',
    // the copy's throttling: reported unused where nothing is copied
    maxLag: 'maxLag', replica: 'replica', maxSlotLag: 'maxSlotLag', maxWalRate: 'maxWalRate', maxActive: 'maxActive', throttleQuery: 'throttleQuery',
  };
  return Object.entries(keys).filter(([flag]) => cmd.getOptionValueSource(flag) === 'cli').map(([, key]) => key);
}

function print(report: AlterReport, json: unknown): void {
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${humanReport(report).join('\n')}\n`);
}

export function registerAlter(program: Command): void {
  const alter = addFleetOptions(addAlterOptions(
    program
      .command('alter')
      .description('apply ALTER TABLE statement(s) to one table online (dry run unless --execute)')
      .argument('<statements>', 'ALTER TABLE, CREATE INDEX or DROP INDEX statement(s) on one table')
      .option('--execute', 'run the migration; without it, print the plan and change nothing', false),
  ), 'run');
  addPlanOutputOptions(alter).action((statements: string, o: Record<string, unknown>, cmd: Command) =>
    runCommand(async () => {
      if (!o.execute) planFormat(o);
      // A dry run's estimated duration counts this process from its start: a run repeats it.
      const opts = { ...optionsFrom(statements, o), explicit: explicitOptions(cmd), startedAt: 0 };
      if (o.targets !== undefined) return runFleetCommand(o, cmd, { add: ['--json', '--log-format', 'json'], probe: alterProbe(opts), execute: opts.execute });
      const report = { ...reportOptions(o, opts.url, opts.execute), command: 'alter' };
      const done = await withOutput(outputOptions(o), () => withReport(report, () => onlineAlter(opts)));
      if (done.document) printPlan(done.document, o);
      else print(done, o.json);
    }),
  );
  const revert = program
    .command('revert')
    .description('within the revert window, swap the old table back in, with every write made since the swap')
    .argument('<id>', 'the migration id');
  addConnectionOptions(revert)
    .option('--lock-timeout <duration>', 'lock wait of the first attempt of the swap back', `${DEFAULTS.retry.lockTimeoutMs}ms`)
    .action((id: string, o: Record<string, unknown>) =>
      runCommand(async () => {
        const lockTimeoutMs = positiveDuration(o.lockTimeout, '--lock-timeout', MAX_LOCK_TIMEOUT_MS);
        const r = await revertMigration({ url: connectionUrl(o), retry: { ...DEFAULTS.retry, lockTimeoutMs }, deadlineMs: DEFAULTS.cutoverDeadlineMs }, id);
        process.stdout.write(`reverted migration ${r.migrationId}: ${r.table} is the old table again (${r.entriesReplayed} keys replayed in the swap, ${r.attempts} attempt(s), ${r.holdMs.toFixed(0)}ms)\n`);
      }),
    );
  addAlterOptions(
    program
      .command('resume')
      .description('take over an interrupted migration (its process died) and finish it')
      .argument('<id>', 'the migration id'),
  ).action((id: string, o: Record<string, unknown>, cmd: Command) =>
    runCommand(async () => {
      const opts = { ...optionsFrom('', o), execute: true, explicit: explicitOptions(cmd) };
      const report = { ...reportOptions(o, opts.url, true), command: 'resume' };
      print(await withOutput(outputOptions(o), () => withReport(report, () => resumeMigration(opts, id))), o.json);
    }),
  );
}

export function humanReport(r: AlterReport): string[] {
  const lines = [...r.plan];
  if (r.status === 'planned') {
    lines.push('preflight: ok. Dry run: nothing was changed; add --execute to run it.');
    return lines;
  }
  const d = r.durationsMs;
  if (r.direct) {
    lines.push(`done: migration ${r.migrationId} (${r.strategy}) in ${formatDuration(r.direct.totalMs)}: ${r.direct.attempts} lock attempt(s), table locked ${r.direct.lockHeldMs.toFixed(1)}ms in all`);
    return lines;
  }
  if (!d || !r.cutover) {
    lines.push(`done: migration ${r.migrationId}`);
    return lines;
  }
  lines.push(
    `done: migration ${r.migrationId}, ${r.rowsCopied} rows copied in ${formatDuration(d.copy)} (${Math.round(r.copyRowsPerSecond ?? 0)} rows/s), total ${formatDuration(d.total)}`,
    `  indexes ${formatDuration(d.index)}, catch-up ${formatDuration(d.catchUp)}, cutover ${formatDuration(d.cutover)} (${r.cutover.attempts} attempt(s), lock wait ${r.cutover.lockWaitMs.toFixed(1)}ms, held ${r.cutover.holdMs.toFixed(1)}ms)`,
  );
  const v = r.validation;
  if (v) {
    lines.push(
      `  validation ${v.level}: ${v.passed ? 'passed' : 'FAILED'}; ${v.rowsOrigin} rows origin, ${v.rowsShadow} shadow, ` +
        (v.rowsLookedUp
          ? `rows written since the capture began looked up: ${v.rowsLookedUp.origin} origin, ${v.rowsLookedUp.shadow} shadow, 0 differ;`
          : `${v.chunks} chunks, ${v.mismatchedChunks} differ;`) +
        ` writes held ${v.writesHeldMs.toFixed(1)}ms, ${formatDuration(v.ms)}` +
        (v.columns.length ? `; columns ${v.columns.join(', ')}` : ''),
    );
    const k = r.cutover.check;
    lines.push(`  in the cutover: counts ${typeof k.counts === 'string' ? k.counts : `${k.counts.origin} = ${k.counts.shadow}`}, ${k.sampledRows} sampled rows, ${k.sampleMismatches} differ`);
  }
  return lines;
}

function lanesOption(text: unknown): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LANES) throw new UserError(`--max-parallel: "${String(text)}" is not a whole number from 1 to ${MAX_LANES}`);
  return n;
}
