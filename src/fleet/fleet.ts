import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alive } from '../backfill/job.js';
import { UserError } from '../errors.js';
import { runChild, redactArgs } from './child.js';
import { controlPath, readControl, writeControl } from './control.js';
import { preflightFleet, type Preflight, type ProbeFn } from './preflight.js';
import { beginRecord, endRecord } from './record.js';
import { maxOverlap, writeReport, type FleetReport, type TargetReport } from './report.js';
import { runWaves, type Job, type JobResult, type ScheduledWave } from './scheduler.js';
import type { Target, TargetsFile, Wave } from './targets.js';

/**
 * A fleet run, top to bottom: the fleet id; the preflight of every target; the waves, each
 * target a child process of the same CLI (child.ts) recorded on the target (record.ts); the
 * report. What a command contributes is its child's arguments and its probe (the preflight's
 * plan of one target).
 */
export interface FleetCommand {
  /** the child's arguments before `--url <target>`: the command, its statements and options */
  args: string[];
  /** what else names the change, for the fleet id (a migrations folder's files) */
  identity?: string;
  probe: ProbeFn;
}

export interface FleetOptions {
  targets: TargetsFile;
  waves: Wave[];
  command: FleetCommand;
  /** false: the preflight alone (a dry run) */
  execute: boolean;
  reportDir?: string;
  pauseAfterWave: boolean;
  /** the command writes a report of its own (--report-dir): each child's goes to <report dir>/targets/<label>/ */
  childReports?: boolean;
  /** the environment of the children (default: this process's) */
  env?: NodeJS.ProcessEnv;
  /** progress lines for the operator */
  say: (line: string) => void;
}

/** The fleet id: a hash of the command (arguments, statements), what else names the change, and the targets file. */
export function fleetId(args: string[], identity: string, targetsText: string): string {
  return createHash('sha256').update(JSON.stringify([args, identity, targetsText])).digest('hex').slice(0, 12);
}

export async function runFleet(o: FleetOptions): Promise<FleetReport> {
  const started = Date.now();
  const targets = o.waves.flatMap((w) => w.targets);
  const id = fleetId(o.command.args, o.command.identity ?? '', fs.readFileSync(o.targets.file, 'utf8'));
  const reportDir = o.reportDir ?? path.join('pgshift-reports', id);
  const logDir = path.join(reportDir, 'targets');
  fs.mkdirSync(logDir, { recursive: true });
  const control = controlPath(o.targets.file);
  const command = redactArgs(o.command.args).join(' ');
  if (o.execute) {
    // One fleet at a time per targets file: its pause, resume and abort go through one state file.
    const other = readControl(control);
    if (other && other.state !== 'ended' && other.host === os.hostname() && other.pid !== process.pid && alive(other.pid)) {
      throw new UserError(`fleet ${other.fleetId} is running with ${o.targets.file} (pid ${other.pid}, ${other.state}): wait for it, or pgshift fleet abort --targets ${o.targets.file}`);
    }
    writeControl(control, { fleetId: id, state: 'running', wave: null, next: null });
  }

  o.say(`fleet ${id}: preflight of ${targets.length} target(s)`);
  const pre = new Map((await preflightFleet(targets, id, o.command.probe)).map((p) => [p.label, p]));
  for (const p of pre.values()) {
    if (p.done) o.say(`  ${p.label}: done by an earlier run of this fleet: skipped`);
    else if (p.refusal) o.say(`  ${p.label}: ${/^refused\b/.test(p.refusal) ? '' : 'refused: '}${p.refusal}`);
    else o.say(`  ${p.label}: ${p.probe?.summary ?? ''}${p.probe?.heavy ? ' (heavy: one at a time on its server)' : ''}`);
  }
  // A refusal where the wave stops on errors would stop the fleet there anyway: refuse it now,
  // before any target is changed. Under on_error: continue the refused target is left out.
  const blocking = o.waves.flatMap((w) => (w.onError === 'stop' ? w.targets : [])).filter((t) => pre.get(t.label)!.refusal !== null);
  const results = new Map<string, JobResult>();
  const details = new Map<string, Detail>();
  let ended: FleetReport['ended'];
  if (blocking.length || !o.execute) {
    ended = blocking.length || [...pre.values()].some((p) => p.refusal) ? 'refused' : 'done';
    if (blocking.length) o.say(`fleet ${id}: refused before any target was changed: ${blocking.map((t) => t.label).join(', ')} failed the preflight in a wave with on_error: stop`);
  } else {
    const waves: ScheduledWave[] = o.waves.map((w) => ({ name: w.name, parallel: w.parallel, onError: w.onError, jobs: w.targets.map((t) => job(t, pre.get(t.label)!)) }));
    const byLabel = new Map(targets.map((t) => [t.label, t]));
    const r = await runWaves(waves, {
      run: (j) => runTarget(byLabel.get(j.label)!, o, { id, command, logDir, details, wave: waves.find((w) => w.jobs.includes(j))!.name }),
      aborted: () => readControl(control)?.state === 'abort requested',
      betweenWaves: (done, next) => (o.pauseAfterWave ? pause(control, id, done.name, next.name, o) : Promise.resolve(true)),
      onStart: (j, w) => o.say(`wave ${w.name}: ${j.label} started${j.heavy ? ` (heavy, server ${j.server})` : ''}`),
      onEnd: (res, w) => o.say(`wave ${w.name}: ${res.label} ${res.outcome}${res.exitCode ? ` (exit ${res.exitCode})` : ''}${res.error ? `: ${res.error}` : ''}`),
    });
    for (const w of r.waves) for (const x of w.results) results.set(x.label, x);
    ended = r.ended;
    writeControl(control, { fleetId: id, state: 'ended', wave: null, next: null });
  }

  const report = assemble(o, { id, command, reportDir, started, ended, pre, results, details });
  writeReport(report);
  return report;
}

function job(t: Target, p: Preflight): Job {
  const j: Job = { label: t.label, server: p.server, heavy: p.probe?.heavy ?? false };
  if (p.done) j.settled = { label: t.label, outcome: 'skipped', exitCode: 0, error: null, startedAt: null, finishedAt: null };
  else if (p.refusal) j.settled = { label: t.label, outcome: 'refused', exitCode: 2, error: p.refusal, startedAt: null, finishedAt: null };
  return j;
}

async function runTarget(t: Target, o: FleetOptions, f: { id: string; command: string; logDir: string; wave: string; details: Map<string, Detail> }): Promise<JobResult> {
  const startedAt = Date.now();
  const key = { conn: t.conn, fleetId: f.id, label: t.label };
  try {
    await beginRecord(key, f.wave, f.command);
  } catch (err) {
    // The target cannot be reached (or written) now: nothing was changed on it.
    return { label: t.label, outcome: 'refused', exitCode: 2, error: (err as Error).message, startedAt, finishedAt: Date.now() };
  }
  const logFile = path.join(f.logDir, `${slug(t.label)}.log`);
  const own = o.childReports ? ['--report-dir', path.join(f.logDir, slug(t.label))] : [];
  const child = await runChild([...o.command.args, ...own, '--url', t.conn], { label: t.label, logFile, env: o.env });
  const finishedAt = Date.now();
  await endRecord(key, { outcome: child.outcome, exitCode: child.exitCode, error: child.error, result: child.report }).catch((err: unknown) => {
    o.say(`wave ${f.wave}: ${t.label}: its outcome could not be recorded on the target (${(err as Error).message}); a rerun runs it again`);
  });
  f.details.set(t.label, { ...describeChild(child.report), log: logFile });
  return { label: t.label, outcome: child.outcome, exitCode: child.exitCode, error: child.error, startedAt, finishedAt };
}

/** Per target, what the report shows beside the outcome (the child's own report, summed up) and its log. */
interface Detail {
  detail: string | null;
  validation: string | null;
  log: string;
}

function describeChild(report: unknown): Omit<Detail, 'log'> {
  if (typeof report !== 'object' || report === null) return { detail: null, validation: null };
  // migrate up prints the files it ran
  if (Array.isArray(report)) return { detail: `${report.length} file(s) run`, validation: null };
  const r = report as { migrationId?: number; strategy?: string; validation?: { level: string; passed: boolean } };
  const validation = r.validation ? `${r.validation.level} ${r.validation.passed ? 'passed' : 'FAILED'}` : null;
  const parts: string[] = [];
  if (r.migrationId !== undefined) parts.push(`migration ${r.migrationId}`);
  if (r.strategy) parts.push(r.strategy);
  if (validation) parts.push(`validation ${validation}`);
  return { detail: parts.length ? parts.join(', ') : null, validation };
}

async function pause(control: string, id: string, wave: string, next: string, o: FleetOptions): Promise<boolean> {
  writeControl(control, { fleetId: id, state: 'paused', wave, next });
  o.say(`fleet ${id}: paused after wave ${wave}; \`pgshift fleet resume --targets ${o.targets.file}\` starts wave ${next} (\`pgshift fleet abort --targets ${o.targets.file}\` stops here)`);
  for (;;) {
    const state = readControl(control)?.state;
    if (state === 'abort requested') return false;
    if (state === 'resume requested') {
      writeControl(control, { fleetId: id, state: 'running', wave, next: null });
      o.say(`fleet ${id}: resumed: wave ${next} starts`);
      return true;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A label as a file name (its log, its report folder, its runbook folder). */
export function slug(label: string): string {
  return label.replace(/[^\w.-]+/g, '_');
}

/** DESIGN.md: a fleet run is 0 only when every target is done, 1 when any failed or was refused, 4 when stopped on purpose. */
export function exitCodeOf(ended: FleetReport['ended'], executed: boolean): number {
  if (ended === 'done') return 0;
  // Refused before any target was changed (the fleet's preflight): exit 2, as a single run's preflight.
  if (ended === 'refused') return 2;
  if (!executed) return 0;
  return ended === 'failed' ? 1 : 4;
}

function assemble(
  o: FleetOptions,
  s: { id: string; command: string; reportDir: string; started: number; ended: FleetReport['ended']; pre: Map<string, Preflight>; results: Map<string, JobResult>; details: Map<string, Detail> },
): FleetReport {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const ran: { start: number; end: number }[] = [];
  const waves = o.waves.map((w) => ({
    name: w.name,
    parallel: w.parallel,
    onError: w.onError,
    targets: w.targets.map((t): TargetReport => {
      const p = s.pre.get(t.label)!;
      const r = s.results.get(t.label);
      if (r?.startedAt && r.finishedAt) ran.push({ start: r.startedAt, end: r.finishedAt });
      const outcome = r?.outcome ?? (p.done ? 'skipped' : p.refusal ? 'refused' : 'not started');
      return {
        label: t.label,
        server: p.server,
        serverVersion: p.serverVersion,
        heavy: p.probe?.heavy ?? false,
        plan: p.done ? 'done by an earlier run of this fleet' : (p.probe?.summary ?? null),
        outcome,
        exitCode: r?.exitCode ?? (p.refusal ? 2 : p.done ? 0 : null),
        error: r?.error ?? p.refusal,
        ms: r?.startedAt && r.finishedAt ? r.finishedAt - r.startedAt : null,
        startedAt: iso(r?.startedAt ?? null),
        finishedAt: iso(r?.finishedAt ?? null),
        detail: s.details.get(t.label)?.detail ?? null,
        validation: s.details.get(t.label)?.validation ?? null,
        log: s.details.get(t.label)?.log ?? null,
      };
    }),
  }));
  const finished = Date.now();
  return {
    fleetId: s.id,
    command: s.command,
    targetsFile: o.targets.file,
    executed: o.execute,
    startedAt: new Date(s.started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    ms: finished - s.started,
    ended: s.ended,
    exitCode: exitCodeOf(s.ended, o.execute),
    waves,
    figures: { targets: waves.reduce((n, w) => n + w.targets.length, 0), ran: ran.length, sumMs: ran.reduce((n, i) => n + i.end - i.start, 0), maxConcurrent: maxOverlap(ran) },
    reportDir: s.reportDir,
  };
}
