import { formatDuration } from '../units.js';
import type { BandChart, Figures, LineChart, ReportModel } from './model.js';
import { compact, THROTTLED } from './svg.js';

/**
 * The report's content in order, independent of its format: the Markdown and HTML renderers walk
 * the same sections, so the two files never say different things. A chart is a line or band
 * chart of the model (drawn as SVG in the HTML, summed up in a line in the Markdown).
 */
export type Section =
  | { kind: 'facts'; title: string; rows: [string, string][] }
  | { kind: 'table'; title: string; head: string[]; rows: string[][]; empty: string }
  | { kind: 'chart'; key: ChartKey; title: string; unit: string; chart: LineChart | BandChart; shade: boolean; marks?: { t: number; text: string }[]; colour?: (label: string, i: number) => string }
  | { kind: 'text'; title: string; lines: string[] };

export type ChartKey = 'timeline' | 'rows' | 'backlog' | 'lag' | 'throttle' | 'transactions' | 'lock-waits' | 'latency' | FleetChartKey;

/** The charts of a fleet's report (src/fleet/report-html.ts). */
export type FleetChartKey = 'targets' | 'running';

/** Every chart a report has, in the order it shows them (the browser test checks each is drawn). */
export const CHART_KEYS: readonly ChartKey[] = ['timeline', 'rows', 'backlog', 'lag', 'throttle', 'transactions', 'lock-waits', 'latency'];

export function title(m: ReportModel): string {
  return `pgshift ${m.run.command}${m.run.id === null ? '' : ` — run ${m.run.id}`}`;
}

export function sections(m: ReportModel): Section[] {
  const c = m.charts;
  const timeline: BandChart = {
    rows: m.steps.map((s) => ({ label: `${s.kind === 'alter' ? 'migration' : s.kind} ${s.id}`, segments: s.phases })),
    missing: m.steps.length ? null : 'the run drove no migration or backfill',
  };
  return [
    { kind: 'facts', title: 'Run', rows: runFacts(m) },
    { kind: 'chart', key: 'timeline', title: 'Timeline of phases', unit: '', chart: timeline, shade: false, marks: m.notes },
    {
      kind: 'table', title: 'Phases', head: ['step', 'table', 'phase', 'from', 'to', 'took'], empty: 'none',
      rows: m.steps.flatMap((s) => s.phases.map((p) => [`${s.kind} ${s.id}`, s.table, p.label, seconds(p.from), seconds(p.to), formatDuration(p.to - p.from)])),
    },
    { kind: 'chart', key: 'rows', title: 'Rows per second (throttled periods shaded)', unit: 'rows/s', chart: c.rowsPerSecond, shade: true },
    { kind: 'chart', key: 'backlog', title: 'Changelog backlog', unit: 'entries', chart: c.backlog, shade: false },
    { kind: 'chart', key: 'lag', title: 'Replication lag', unit: 'ms', chart: c.lag, shade: false },
    { kind: 'chart', key: 'throttle', title: 'Throttled periods', unit: '', chart: c.throttle, shade: false, colour: THROTTLED },
    {
      kind: 'table', title: 'Cutover', head: ['migration', 'attempts', 'lock wait', 'locks held'], empty: 'no cutover in this run',
      rows: m.cutovers.map((x) => [String(x.migrationId), String(x.attempts), x.lockWaitMs === null ? 'not measured' : ms(x.lockWaitMs), ms(x.holdMs)]),
    },
    {
      kind: 'table', title: 'Validation', head: ['migration', 'level', 'result', 'rows (origin / new)', 'chunks differing', 'writes held', 'took'], empty: 'no validation in this run',
      rows: m.validations.map((v) => [String(v.migrationId), v.level, v.passed ? 'passed' : 'FAILED', `${count(v.rowsOrigin)} / ${count(v.rowsShadow)}`, `${v.mismatchedChunks} of ${v.chunks}`, ms(v.writesHeldMs), formatDuration(v.ms)]),
    },
    { kind: 'table', title: 'Impact on the database', head: ['measure', 'before', 'during', 'change'], empty: 'no database samples', rows: impactRows(m) },
    { kind: 'text', title: 'How impact is measured', lines: impactNotes(m) },
    { kind: 'chart', key: 'transactions', title: 'Transactions per second (all sessions)', unit: 'tx/s', chart: c.transactions, shade: false },
    { kind: 'chart', key: 'lock-waits', title: 'Application sessions waiting for a lock', unit: 'sessions', chart: c.lockWaits, shade: false },
    { kind: 'chart', key: 'latency', title: 'Application statement time (mean, pg_stat_statements)', unit: 'ms', chart: c.latency, shade: false },
    ...(m.notes.length ? [{ kind: 'table' as const, title: 'Notes', head: ['at', 'note'], empty: 'none', rows: m.notes.map((n) => [seconds(n.t), n.text]) }] : []),
  ];
}

function runFacts(m: ReportModel): [string, string][] {
  const r = m.run;
  const rows: [string, string][] = [
    ['command', `pgshift ${r.command}`],
    ['outcome', `${r.outcome} (exit ${r.exitCode})${r.error ? `: ${r.error}` : ''}`],
    ['started', r.startedAt],
    ['finished', r.finishedAt],
    ['duration', formatDuration(r.durationMs)],
    ['migrations', r.migrationIds.length ? r.migrationIds.join(', ') : 'none'],
    ['server', `PostgreSQL ${m.server.version}, database ${m.server.database}`],
  ];
  for (const s of m.steps) rows.push([`${s.kind} ${s.id}`, `${s.table}: ${s.outcome} after ${formatDuration(s.to - s.from)}`]);
  return rows;
}

function impactRows(m: ReportModel): string[][] {
  const b = m.impact.baseline;
  const d = m.impact.during;
  const row = (name: string, pick: (f: Figures) => number | null, show: (v: number) => string): string[] => {
    const x = pick(b);
    const y = pick(d);
    return [name, x === null ? '-' : show(x), y === null ? '-' : show(y), x === null || y === null ? '-' : change(x, y)];
  };
  return [
    row('transactions/s (all sessions)', (f) => f.transactionsPerSecond, (v) => compact(v)),
    row('application statements/s', (f) => f.statementsPerSecond, (v) => compact(v)),
    row('application statement time (mean)', (f) => f.latencyMs, ms),
    row('sessions waiting for a lock (most at once)', (f) => f.lockWaitingMax, (v) => String(v)),
    row('longest lock wait seen', (f) => f.longestLockWaitMs, ms),
  ];
}

function impactNotes(m: ReportModel): string[] {
  const b = m.impact.baseline;
  const lines = [
    `Before: the database's counters read when the command started and again when it first changed something (${formatDuration(b.windowMs)} of its own planning and preflight; no waiting was added for it)${b.windowMs < 2000 ? ', a short window: its rates are rough' : ''}. During: from then to the end (${formatDuration(m.impact.during.windowMs)}).`,
    'Transactions per second are pg_stat_database\'s, pgshift\'s own included; sessions and lock waits are the application\'s (pg_stat_activity and pg_locks sampled about once a second, pgshift\'s sessions left out: a wait shorter than a second may fall between two samples).',
    m.server.pgStatStatements
      ? `Statement time: pg_stat_statements (schema ${m.server.pgStatStatements}), over the application's statements it knew at the start, minus any seen running in a pgshift session${b.latencyBasis ? `; the figure before is ${b.latencyBasis}` : ''}.`
      : `Statement time: not measured (${m.server.note ?? 'pg_stat_statements unavailable'}).`,
    `Sampling took ${m.sampling.ticks} queries and ${formatDuration(m.sampling.ms)} on the report's own connection; ${m.sampling.samplesKept} samples kept.`,
  ];
  return lines;
}

function change(before: number, during: number): string {
  if (before === 0) return during === 0 ? '0%' : 'from 0';
  const p = ((during - before) / before) * 100;
  return `${p >= 0 ? '+' : ''}${p.toFixed(p > -10 && p < 10 ? 1 : 0)}%`;
}

export function ms(v: number): string {
  return v >= 1000 ? formatDuration(v) : `${v < 10 ? v.toFixed(2) : v.toFixed(1)}ms`;
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function seconds(t: number): string {
  return `${(t / 1000).toFixed(1)}s`;
}

/** A chart in one line of text: per series its peak and mean; per band row its periods. */
export function chartSummary(s: Extract<Section, { kind: 'chart' }>): string[] {
  const chart = s.chart;
  if (chart.missing !== null) return [chart.missing];
  if ('rows' in chart) return chart.rows.map((r) => `${r.label}: ${r.segments.map((p) => `${p.label} ${seconds(p.from)}–${seconds(p.to)}`).join('; ')}`);
  const lines = chart.series.map((x) => {
    const vs = x.points.map((p) => p.v);
    return `${x.label}: peak ${compact(Math.max(...vs))} ${s.unit}, mean ${compact(vs.reduce((a, b) => a + b, 0) / vs.length)} ${s.unit} (${vs.length} points)`;
  });
  if (chart.baseline !== null) lines.push(`before the run: ${compact(chart.baseline)} ${s.unit}`);
  return lines;
}
