import type { PlanModel } from '../dry-run/model.js';
import { renderPlan, type PlanFormat } from '../dry-run/render.js';
import { formatDuration } from '../units.js';
import { overTargets, type PerTarget } from './read.js';
import type { Target } from './targets.js';

/**
 * A plan across a fleet (`plan --targets`, `migrate up --dry-run --targets`): each target's plan
 * built by the command's own planner (the one plan model of src/dry-run), printed as a single
 * run prints it under the target's label, then the fleet's summary: what each target would do,
 * how long, what holds it up now, and the targets that refused. Read-only, like the plan of one
 * database (its rehearsals roll back).
 */
export interface FleetPlan {
  format: 'pgshift-fleet-plan/1';
  command: PlanModel['command'];
  targets: PerTarget<PlanModel>[];
  summary: FleetPlanSummary;
}

export interface FleetPlanSummary {
  targets: number;
  planned: number;
  /** unreachable or refused (a single run would refuse it too) */
  refused: number;
  /** per target, one line: its strategies, estimate, blockers and disk */
  lines: { label: string; plan: string; estimate: string; blockers: number | null; disk: string }[];
  /** the estimates added up (targets run one after another) and the longest (all at once) */
  estimateSumSeconds: number | null;
  estimateMaxSeconds: number | null;
}

export async function planTargets(command: PlanModel['command'], targets: Target[], build: (t: Target) => Promise<PlanModel>): Promise<FleetPlan> {
  // Fewer at once than the read commands: each plan rehearses the change on a sample.
  const per = await overTargets(targets, build, 4);
  return { format: 'pgshift-fleet-plan/1', command, targets: per, summary: summarize(per) };
}

function summarize(per: PerTarget<PlanModel>[]): FleetPlanSummary {
  const seconds = per.flatMap((p) => (p.value?.estimate.seconds != null ? [p.value.estimate.seconds] : []));
  const planned = per.filter((p) => p.value !== null);
  return {
    targets: per.length,
    planned: planned.length,
    refused: per.length - planned.length,
    lines: per.map((p) => {
      const m = p.value;
      if (!m) return { label: p.label, plan: refusal(p), estimate: '-', blockers: null, disk: '-' };
      const b = m.blockers;
      const short = m.changes.filter((c) => c.disk?.enough === false).length;
      return {
        label: p.label,
        plan: strategies(m),
        estimate: m.estimate.seconds === null ? 'not measured' : formatDuration(m.estimate.seconds * 1000),
        blockers: b.lockHolders.length + b.longTransactions.length + b.prepared.length,
        disk: short ? `NOT ENOUGH for ${short} change(s)` : m.changes.some((c) => c.disk) ? 'enough' : '-',
      };
    }),
    estimateSumSeconds: seconds.length ? seconds.reduce((a, b) => a + b, 0) : null,
    estimateMaxSeconds: seconds.length ? Math.max(...seconds) : null,
  };
}

/** Why a target has no plan, said once: `refused: ...` (an unreachable server is refused too, as a single run's exit 2). */
function refusal(t: PerTarget<PlanModel>): string {
  return /^refused\b/.test(t.error ?? '') ? t.error! : `refused: ${t.error}`;
}

/** A plan's strategies in a few words: `copy` for a call; `2 copy, 1 instant` for a migrate run. */
function strategies(m: PlanModel): string {
  if (m.changes.length === 0) return 'nothing pending';
  if (m.command !== 'migrate up') return m.changes.map((c) => `${c.table ?? ''}: ${c.strategy}`).join('; ');
  const n = new Map<string, number>();
  for (const c of m.changes) n.set(c.strategy, (n.get(c.strategy) ?? 0) + 1);
  return `${m.changes.length} statement(s): ${[...n].map(([k, v]) => `${v} ${k}`).join(', ')}`;
}

/** Each target's plan in the format a single run prints, under its label, then the summary; json: the FleetPlan itself. */
export function renderFleetPlan(p: FleetPlan, format: PlanFormat, written: Map<string, string> = new Map()): string {
  if (format === 'json') return `${JSON.stringify(p)}\n`;
  const out: string[] = [];
  if (format === 'md') {
    out.push(`# pgshift ${p.command} across ${p.summary.targets} target(s): plans`, '', 'Nothing was changed on any target.', '', ...summaryMarkdown(p.summary), '');
    for (const t of p.targets) {
      out.push(`## Target ${t.label}`, '');
      // The target's plan, its headings one level down under the target's.
      out.push(...(t.value ? demote(renderPlan(t.value, 'md', written.get(t.label))) : [`${refusal(t)} (exit ${t.exitCode})`, '']));
    }
    return `${out.join('\n')}\n`;
  }
  for (const t of p.targets) {
    out.push(`=== target ${t.label} ===`, t.value ? renderPlan(t.value, 'text', written.get(t.label)).trimEnd() : `${refusal(t)} (exit ${t.exitCode})`, '');
  }
  out.push(`=== fleet: ${p.summary.targets} target(s), ${p.summary.planned} planned, ${p.summary.refused} refused ===`, ...summaryText(p.summary));
  return `${out.join('\n')}\n`;
}

function totals(s: FleetPlanSummary): string {
  if (s.estimateSumSeconds === null) return 'estimated duration: not measured on any target';
  return `estimated duration: ${formatDuration(s.estimateSumSeconds * 1000)} one target after another, ${formatDuration(s.estimateMaxSeconds! * 1000)} for the longest (all at once, on servers of their own)`;
}

function summaryText(s: FleetPlanSummary): string[] {
  return [
    ['target', 'plan', 'estimate', 'blockers now', 'disk'].join('\t'),
    ...s.lines.map((l) => [l.label, l.plan, l.estimate, l.blockers === null ? '-' : String(l.blockers), l.disk].join('\t')),
    totals(s),
  ];
}

function summaryMarkdown(s: FleetPlanSummary): string[] {
  const cell = (x: string): string => x.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    '| target | plan | estimate | blockers now | disk |',
    '|---|---|---|---|---|',
    ...s.lines.map((l) => `| ${cell(l.label)} | ${cell(l.plan)} | ${l.estimate} | ${l.blockers ?? '-'} | ${l.disk} |`),
    '',
    `${totals(s)}.`,
  ];
}

/** Markdown headings one level down, outside code blocks. */
function demote(md: string): string[] {
  let code = false;
  return md.split('\n').map((l) => {
    if (l.startsWith('```')) code = !code;
    return !code && /^#{1,5} /.test(l) ? `#${l}` : l;
  });
}
