import type { Command } from 'commander';
import { DEFAULTS } from '../config.js';
import { runBackfill, type BackfillOptions, type BackfillReport } from '../backfill/backfill.js';
import { parseWindow } from '../backfill/window.js';
import { formatDuration } from '../units.js';
import { addConnectionOptions, addOutputOptions, addReportOptions, addThrottleOptions, connectionUrl, outputOptions, positiveDuration, reportOptions, throttleOptions } from './options.js';
import { withReport } from '../report/report-run.js';
import { withOutput } from '../terminal/output.js';
import { runCommand } from './run.js';
import { addFleetOptions, runFleetCommand } from './fleet.js';
import { backfillProbe } from '../fleet/probes.js';

export function registerBackfill(program: Command): void {
  const cmd = program
    .command('backfill')
    .description('UPDATE a table in throttled primary-key batches with a checkpoint per batch (dry run unless --execute)')
    .requiredOption('--table <table>', 'the table (schema-qualified or on the search_path)')
    .requiredOption('--set <assignments>', 'the SET list, e.g. "total = price * qty"')
    .option('--where <predicate>', 'which rows; make it exclude rows already done (e.g. "total IS NULL") so reruns are harmless')
    .option('--from <from>', 'other tables the SET or WHERE reads, as in UPDATE ... FROM')
    .option('--execute', 'run it; without it, print the plan, a sample and an estimate, and change nothing', false)
    .option('--name <name>', 'the job name keeping its checkpoint apart from others (default: the table)')
    .option('--max-runtime <duration>', 'stop cleanly after this long (exit 4; run again to continue)')
    .option('--window <HH:MM-HH:MM>', 'run only inside this daily window, server time (exit 4 at its edge)')
    .option('--batch-time <duration>', 'target duration of one batch: the longest an application row waits for it', `${DEFAULTS.backfillBatchTimeMs}ms`)
    .option('--lock-timeout <duration>', 'lock wait of each batch before it yields and retries', `${DEFAULTS.retry.lockTimeoutMs}ms`)
    .option('--json', 'print one JSON report on stdout', false);
  addReportOptions(cmd);
  addFleetOptions(addOutputOptions(addThrottleOptions(addConnectionOptions(cmd))), 'run').action((o: Record<string, unknown>, cmd: Command) =>
    runCommand(async () => {
      if (o.targets !== undefined) return runFleetCommand(o, cmd, { add: ['--json', '--log-format', 'json'], probe: backfillProbe(String(o.table)), execute: o.execute === true });
      const lockTimeoutMs = positiveDuration(o.lockTimeout, '--lock-timeout', 60_000);
      const options: BackfillOptions = {
        url: connectionUrl(o),
        table: String(o.table),
        set: String(o.set),
        where: o.where as string | undefined,
        from: o.from as string | undefined,
        execute: o.execute === true,
        name: o.name as string | undefined,
        maxRuntimeMs: o.maxRuntime === undefined ? undefined : positiveDuration(o.maxRuntime, '--max-runtime'),
        window: o.window === undefined ? undefined : parseWindow(String(o.window)),
        batchTimeMs: positiveDuration(o.batchTime, '--batch-time', 3_600_000),
        retry: { ...DEFAULTS.retry, lockTimeoutMs },
        throttle: { ...DEFAULTS.throttle, ...throttleOptions(o) },
      };
      const reported = { ...reportOptions(o, options.url, options.execute), command: 'backfill' };
      const report = await withOutput(outputOptions(o), () => withReport(reported, () => runBackfill(options)));
      process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${describe(report).join('\n')}\n`);
    }),
  );
}

function describe(r: BackfillReport): string[] {
  const lines = [`backfill ${r.name}: ${r.statement}`];
  if (r.warning) lines.push(`  warning: ${r.warning}`);
  if (r.status === 'planned') {
    lines.push(
      `  ${r.matchingRows} rows match; about ${r.estimatedBatches} batches; estimated ${r.estimatedMs === null ? '?' : formatDuration(r.estimatedMs)} of update work (before throttling)`,
    );
    for (const s of r.sample) lines.push(`  key ${s.key.join(', ')}: ${JSON.stringify(s.before)} -> ${JSON.stringify(s.after)}`);
    lines.push('Dry run: nothing was changed; add --execute to run it.');
  } else if (r.status === 'already done') {
    lines.push(`  already done (job ${r.migrationId}); give a new --name to run it again`);
  } else {
    lines.push(`  done: ${r.rowsUpdated} rows updated in ${r.batches} batches (${r.retriedKeys} keys retried after the application released them), ${formatDuration(r.ms)}`);
  }
  return lines;
}
