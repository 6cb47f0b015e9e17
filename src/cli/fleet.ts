import path from 'node:path';
import type { Command } from 'commander';
import { DifferenceError, RuntimeError, StoppedError, UserError } from '../errors.js';
import { runFleet, slug, type FleetCommand } from '../fleet/fleet.js';
import { requestControl } from '../fleet/control.js';
import { summaryLines, type FleetReport } from '../fleet/report.js';
import { readTargetsFile, shapeWaves, type Target } from '../fleet/targets.js';
import { fleetMigrateStatus, fleetStatus, worstReadExit, type PerTarget, type TargetStatus } from '../fleet/read.js';
import type { ProbeFn } from '../fleet/preflight.js';
import type { PlanModel } from '../dry-run/model.js';
import { planTargets, renderFleetPlan } from '../fleet/plans.js';
import { planFormat, writeRunbook } from './plan-output.js';
import type { MigrateOptions } from '../migrate/runner.js';
import { runCommand } from './run.js';

/**
 * `--targets <file>` on the commands that run across a fleet (src/fleet): the commands that
 * change something run each target as a child process in waves; the read-only ones (status,
 * plan, migrate status / validate) ask every target from this process.
 */
export function addFleetOptions(cmd: Command, kind: 'run' | 'read'): Command {
  cmd.option('--targets <file>', 'run across a fleet: a file of targets (URL, LABEL URL or LABEL service=NAME lines, or YAML waves); passwords come from PGPASSFILE, PGPASSWORD or the service file');
  if (kind === 'read') return cmd;
  cmd
    .option('--concurrency <n>', 'with --targets (plain list): targets running at once in a wave (default 1)')
    .option('--canary <n>', 'with --targets (plain list): the first N targets run as a wave of their own first')
    .option('--continue-on-error', 'with --targets (plain list): a failed target does not stop the rest of its wave (the next wave still waits)', false)
    .option('--pause-after-wave', 'with --targets: after each wave, wait for pgshift fleet resume (or abort)', false);
  // A command with a report of its own (src/report) has --report-dir already: with --targets it
  // names the fleet's folder, and each child writes its report under it, in targets/<label>/.
  // The fleet's report is printed as JSON with --json: a command without one of its own (cleanup) gets it for --targets.
  if (!cmd.options.some((x) => x.long === '--json')) cmd.option('--json', 'with --targets: print the fleet report as JSON', false);
  if (cmd.options.some((x) => x.long === '--report-dir')) childReports.add(cmd);
  else cmd.option('--report-dir <dir>', 'with --targets: where the fleet report goes (default ./pgshift-reports/<fleet id>/)');
  return cmd;
}

const childReports = new WeakSet<Command>();

/** The fleet's own options and the parent's output options: not passed to the children. */
const PARENT_VALUE_OPTIONS = ['--targets', '--concurrency', '--canary', '--report-dir', '--log-format'];
const PARENT_FLAGS = ['--continue-on-error', '--pause-after-wave', '--json', '--quiet'];

/** The child's command line: this one without the fleet's options, plus what the parent reads back (`add`). */
export function childArgs(argv: string[], add: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (PARENT_VALUE_OPTIONS.includes(a)) i++;
    else if (PARENT_FLAGS.includes(a) || PARENT_VALUE_OPTIONS.some((o) => a.startsWith(`${o}=`))) continue;
    else out.push(a);
  }
  return [...out, ...add];
}

function count(v: unknown, option: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(String(v)) || Number(v) < 1) throw new UserError(`${option}: "${String(v)}" is not a positive whole number`);
  return Number(v);
}

function targetsOf(o: Record<string, unknown>): { file: ReturnType<typeof readTargetsFile>; targets: Target[] } {
  if (o.url !== undefined || o.urlFile !== undefined) throw new UserError('--targets and --url / --url-file exclude each other: the targets file says where to connect');
  const file = readTargetsFile(String(o.targets));
  return { file, targets: file.waves.flatMap((w) => w.targets) };
}

/** A command that changes something, across the fleet: preflight, waves of children, the report; exit by DESIGN's fleet rule. */
export async function runFleetCommand(o: Record<string, unknown>, cmd: Command, spec: { add: string[]; probe: ProbeFn; identity?: string; execute: boolean }): Promise<void> {
  const { file } = targetsOf(o);
  const waves = shapeWaves(file, { concurrency: count(o.concurrency, '--concurrency'), canary: count(o.canary, '--canary'), continueOnError: o.continueOnError === true });
  const command: FleetCommand = { args: childArgs(process.argv.slice(2), spec.add), identity: spec.identity, probe: spec.probe };
  const report = await runFleet({
    targets: file,
    waves,
    command,
    execute: spec.execute,
    reportDir: o.reportDir as string | undefined,
    pauseAfterWave: o.pauseAfterWave === true,
    childReports: childReports.has(cmd),
    say: (line) => {
      if (!o.quiet) process.stderr.write(`${line}\n`);
    },
  });
  process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${summaryLines(report).join('\n')}\n`);
  failWith(report);
}

function failWith(r: FleetReport): void {
  if (r.exitCode === 0) return;
  const bad = r.waves.flatMap((w) => w.targets).filter((t) => t.outcome !== 'done' && t.outcome !== 'skipped');
  const named = bad.filter((t) => t.error).map((t) => `${t.label} (${t.outcome}${t.exitCode === null ? '' : `, exit ${t.exitCode}`}: ${t.error})`);
  const line = `fleet ${r.fleetId}: ${r.ended}; ${bad.length} of ${r.figures.targets} target(s) not done${named.length ? `: ${named.join('; ')}` : ''}`;
  if (r.exitCode === 2) throw new UserError(line);
  if (r.exitCode === 4) throw new StoppedError(line);
  throw new RuntimeError(line);
}

/** `pgshift fleet resume|abort --targets FILE`: the operator's word to a running fleet. */
export function registerFleet(program: Command): void {
  const fleet = program.command('fleet').description('control a fleet run (--targets) from another terminal: resume after a paused wave, or abort');
  for (const [name, what] of [['resume', 'start the next wave of a fleet paused by --pause-after-wave'], ['abort', 'stop a fleet cleanly: no further target starts, running ones finish (exit 4)']] as const) {
    fleet
      .command(name)
      .description(what)
      .requiredOption('--targets <file>', 'the targets file the fleet runs with')
      .action((o: { targets: string }) => runCommand(async () => void process.stdout.write(`${requestControl(o.targets, name)}\n`)));
  }
}

/** `pgshift status --targets`: one table of every target. */
export async function statusAcrossTargets(o: Record<string, unknown>, migrate?: MigrateOptions): Promise<void> {
  const { targets } = targetsOf(o);
  for (;;) {
    const rows = await fleetStatus(targets, migrate);
    process.stdout.write(o.json ? `${JSON.stringify(rows)}\n` : `${statusTable(rows).join('\n')}\n`);
    // --watch: again every 2 seconds while a reachable target has a migration running
    if (!o.watch || rows.every((r) => (r.value?.running ?? 0) === 0)) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export function statusTable(rows: PerTarget<TargetStatus>[]): string[] {
  const lines = [['target', 'phase', 'progress', 'lag', 'throttle', 'outcome', 'fleet', 'pending files'].join('\t')];
  for (const r of rows) {
    if (!r.value) {
      lines.push([r.label, 'unreachable', '-', '-', '-', '-', '-', '-'].join('\t') + `\t${r.error}`);
      continue;
    }
    const m = r.value.latest;
    const phase = m === null ? 'no migrations' : m.finishedAt === null ? m.state : 'idle';
    const progress = m === null ? '-' : m.progressPct === null ? `${m.rowsCopied} rows` : `${m.progressPct}%`;
    const outcome = m === null ? '-' : m.finishedAt === null ? 'running' : `${m.state} (${m.id} ${m.table})`;
    const f = r.value.fleet;
    lines.push([
      r.label, phase, progress, m?.lagMs === null || m === null ? '-' : `${(m.lagMs / 1000).toFixed(1)}s`, m?.throttleReason ?? '-', outcome,
      f ? `${f.fleetId} ${f.outcome ?? 'running'}` : '-', r.value.pendingFiles === null ? '-' : String(r.value.pendingFiles),
    ].join('\t'));
  }
  return lines;
}

/**
 * `pgshift plan --targets` and `migrate up --dry-run --targets`: each target's plan (the one plan
 * model, `build`), printed in --format under its label, then the fleet's summary; --runbook-dir
 * writes each target's runbook into DIR/<label>/. Exit 2 when any target refuses or cannot be reached.
 */
export async function plansAcrossTargets(o: Record<string, unknown>, command: PlanModel['command'], build: (t: Target) => Promise<PlanModel>): Promise<void> {
  const format = planFormat(o);
  const { targets } = targetsOf(o);
  const p = await planTargets(command, targets, build);
  const written = new Map<string, string>();
  if (o.runbookDir !== undefined) {
    for (const t of p.targets) {
      const dir = t.value && writeRunbook(t.value, path.join(String(o.runbookDir), slug(t.label)));
      if (dir) written.set(t.label, dir);
    }
  }
  process.stdout.write(renderFleetPlan(p, format, written));
  exitFromReads(p.targets);
}

/** `pgshift migrate status --targets`: every target's files, then the drift. --exit-code: 3 when anything is not applied or drifts. */
export async function migrateStatusAcrossTargets(o: Record<string, unknown>, migrate: MigrateOptions): Promise<void> {
  const { targets } = targetsOf(o);
  const s = await fleetMigrateStatus(targets, migrate);
  if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
  else {
    const lines: string[] = [];
    for (const t of s.targets) {
      if (!t.value) {
        lines.push(`${t.label}\tunreachable\t${t.error}`);
        continue;
      }
      const by = new Map<string, number>();
      for (const f of t.value.files) by.set(f.state, (by.get(f.state) ?? 0) + 1);
      lines.push(`${t.label}\t${[...by].map(([k, n]) => `${n} ${k}`).join(', ') || 'no migration files'}\tschema ${t.value.schemaDigest.slice(0, 12)}`);
    }
    lines.push(s.drift.length ? `drift: ${s.drift.length} target(s) differ from the rest:` : 'drift: none (every reachable target has the same history and schema)');
    for (const d of s.drift) {
      const parts = [d.missing.length && `missing ${d.missing.join(', ')}`, d.extra.length && `extra ${d.extra.join(', ')}`, d.changed.length && `differs at ${d.changed.join(', ')}`, d.schemaDiffers && 'schema differs'].filter(Boolean);
      lines.push(`  ${d.label}: ${parts.join('; ')}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  exitFromReads(s.targets);
  const open = s.targets.some((t) => t.value?.files.some((f) => f.state !== 'applied'));
  if (o.exitCode && (open || s.drift.length)) throw new DifferenceError(`${s.drift.length} target(s) drift; ${open ? 'files not applied on some targets' : 'every file applied'}`);
}

export function exitFromReads(per: PerTarget<unknown>[]): void {
  const code = worstReadExit(per);
  if (code === 0) return;
  const bad = per.filter((p) => p.exitCode !== 0).map((p) => `${p.label}: ${p.error}`);
  const line = `${bad.length} of ${per.length} target(s): ${bad.join('; ')}`;
  if (code === 2) throw new UserError(line);
  if (code === 3) throw new DifferenceError(line);
  throw new RuntimeError(line);
}
