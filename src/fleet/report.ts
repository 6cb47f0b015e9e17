import fs from 'node:fs';
import path from 'node:path';
import { renderFleetHtml, runningSteps } from './report-html.js';
import type { Outcome } from './scheduler.js';

/** A fleet run's report: what `--json` prints and what `fleet.json`, `fleet.md` and `fleet.html` in the report folder hold. */
export interface FleetReport {
  fleetId: string;
  /** the child's command line, without any URL */
  command: string;
  targetsFile: string;
  /** preflight only (a dry run), or the fleet was run */
  executed: boolean;
  startedAt: string;
  finishedAt: string;
  ms: number;
  /** done: every target succeeded; failed: a target failed or was refused; aborted: stopped on purpose */
  ended: 'done' | 'failed' | 'aborted' | 'refused';
  exitCode: number;
  waves: { name: string; parallel: number; onError: string; targets: TargetReport[] }[];
  figures: Figures;
  reportDir: string;
}

export interface TargetReport {
  label: string;
  server: string;
  serverVersion: string | null;
  heavy: boolean;
  /** the preflight's plan, one line */
  plan: string | null;
  outcome: Outcome;
  exitCode: number | null;
  error: string | null;
  ms: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** e.g. the migration id and the validation's verdict, from the child's --json report */
  detail: string | null;
  /** the validation's level and verdict (`thorough passed`), when the child validated */
  validation: string | null;
  log: string | null;
}

export interface Figures {
  targets: number;
  ran: number;
  /** the targets' own durations added up */
  sumMs: number;
  /** the most targets running at once, as the parent saw them */
  maxConcurrent: number;
}

/** The most intervals overlapping at one moment (an interval ends before one starting at that instant). */
export function maxOverlap(intervals: { start: number; end: number }[]): number {
  return Math.max(0, ...runningSteps(intervals).map((p) => p.v));
}

export function writeReport(r: FleetReport): { json: string; markdown: string; html: string } {
  fs.mkdirSync(r.reportDir, { recursive: true });
  const json = path.join(r.reportDir, 'fleet.json');
  const markdown = path.join(r.reportDir, 'fleet.md');
  const html = path.join(r.reportDir, 'fleet.html');
  fs.writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(markdown, renderMarkdown(r));
  fs.writeFileSync(html, renderFleetHtml(r));
  return { json, markdown, html };
}

const seconds = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);
const cell = (s: string | null): string => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderMarkdown(r: FleetReport): string {
  const f = r.figures;
  const lines = [
    `# pgshift fleet ${r.fleetId}`,
    '',
    `- command: \`pgshift ${cell(r.command)}\``,
    `- targets: ${r.targetsFile} (${f.targets} targets)`,
    `- ${r.executed ? 'ran' : 'preflight only (dry run)'}: ${r.startedAt} to ${r.finishedAt}, ${seconds(r.ms)}; ended: ${r.ended}, exit ${r.exitCode}`,
    `- ${f.ran} target(s) run, their times added up ${seconds(f.sumMs)} against ${seconds(r.ms)} in all; at most ${f.maxConcurrent} at once`,
    '',
  ];
  for (const w of r.waves) {
    lines.push(`## wave ${w.name} (parallel ${w.parallel}, on_error ${w.onError})`, '', '| target | server | plan | outcome | exit | time | detail |', '|---|---|---|---|---|---|---|');
    for (const t of w.targets) {
      lines.push(`| ${cell(t.label)} | ${cell(t.server)} | ${cell(t.plan)} | ${t.outcome} | ${t.exitCode ?? '-'} | ${seconds(t.ms)} | ${cell(t.error ?? t.detail)} |`);
    }
    lines.push('');
  }
  const failed = r.waves.flatMap((w) => w.targets).filter((t) => t.outcome === 'failed' || t.outcome === 'refused');
  if (failed.length) {
    lines.push('## failures', '');
    for (const t of failed) lines.push(`- ${t.label}: ${t.outcome}${t.exitCode === null ? '' : ` (exit ${t.exitCode})`}: ${t.error ?? ''}${t.log ? ` (log: ${t.log})` : ''}`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** The console's closing table: one line per target. */
export function summaryLines(r: FleetReport): string[] {
  const head = r.executed ? `${r.ended} (exit ${r.exitCode})` : `preflight only, nothing changed (add --execute to run it; exit ${r.exitCode})`;
  const lines = [`fleet ${r.fleetId}: ${head}; report in ${r.reportDir}`];
  for (const w of r.waves) {
    lines.push(`wave ${w.name}:`);
    for (const t of w.targets) {
      const why = t.error ? `: ${t.error}` : t.detail ? `: ${t.detail}` : '';
      lines.push(`  ${t.label}\t${t.outcome}${t.exitCode === null ? '' : ` (exit ${t.exitCode})`}\t${seconds(t.ms)}\t${t.plan ?? ''}${why}`);
    }
  }
  lines.push(`${r.figures.ran} run, ${seconds(r.figures.sumMs)} of target time in ${seconds(r.ms)}, at most ${r.figures.maxConcurrent} at once`);
  return lines;
}
