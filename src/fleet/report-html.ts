import { htmlPage, sectionHtml } from '../report/html.js';
import type { BandChart, LineChart, Point } from '../report/model.js';
import type { Section } from '../report/sections.js';
import { formatDuration } from '../units.js';
import type { FleetReport, TargetReport } from './report.js';

/**
 * fleet.html: the fleet's report as one self-contained page, on the single-run report's page,
 * styles and SVG charts (src/report/html.ts, svg.ts): no script, nothing fetched, readable on a
 * phone. Its timeline has one bar per target from its start to its end, rows in wave order and
 * within a wave by server, so the bars that overlap are the targets that ran at once; a second
 * chart counts them.
 */
export function renderFleetHtml(r: FleetReport): string {
  const body = fleetSections(r).map((s) => sectionHtml(s, { xMax: Math.max(r.ms, 1), shade: [] })).join('\n');
  return htmlPage({ title: `pgshift fleet ${r.fleetId}`, outcome: `${r.executed ? r.ended : 'preflight only, nothing changed'} (exit ${r.exitCode})`, good: r.exitCode === 0, body });
}

/** Outcome colours: green done, grey skipped, red failed, orange refused, amber stopped. */
const OUTCOME_COLOURS: Record<string, string> = { done: '#16a34a', skipped: '#9ca3af', failed: '#dc2626', refused: '#f97316', stopped: '#eab308', 'not started': '#d1d5db' };
const outcomeColour = (label: string): string => OUTCOME_COLOURS[label] ?? '#4b5563';

export function fleetSections(r: FleetReport): Section[] {
  const start = Date.parse(r.startedAt);
  const at = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso) - start);
  const servers = [...new Set(r.waves.flatMap((w) => w.targets.map((t) => t.server)))];
  const serverName = (s: string): string => `server ${servers.indexOf(s) + 1}`;
  const f = r.figures;
  const all = r.waves.flatMap((w) => w.targets.map((t) => ({ wave: w.name, t })));
  const ran = all.filter(({ t }) => t.startedAt !== null && t.finishedAt !== null);

  // Rows in wave order, then by server, then as listed: targets sharing a server sit together.
  const rows = r.waves.flatMap((w) => [...w.targets].sort((a, b) => servers.indexOf(a.server) - servers.indexOf(b.server)));
  const timeline: BandChart = {
    rows: rows.map((t) => ({ label: t.label, segments: t.startedAt && t.finishedAt ? [{ from: at(t.startedAt)!, to: at(t.finishedAt)!, label: t.outcome }] : [] })),
    missing: ran.length ? null : r.executed ? 'no target ran' : 'a dry run: the preflight alone ran, no target was changed',
  };
  const waveMarks = r.waves.flatMap((w) => {
    const starts = w.targets.map((t) => at(t.startedAt)).filter((x): x is number => x !== null);
    return starts.length ? [{ t: Math.min(...starts), text: `wave ${w.name} starts` }] : [];
  });

  const sections: Section[] = [
    {
      kind: 'facts', title: 'Fleet run', rows: [
        ['command', `pgshift ${r.command}`],
        ['targets', `${r.targetsFile}: ${f.targets} target(s) in ${r.waves.length} wave(s) on ${servers.length} server(s)`],
        ['outcome', `${r.executed ? r.ended : 'preflight only (dry run)'}, exit ${r.exitCode}`],
        ['started', r.startedAt],
        ['finished', r.finishedAt],
        ['duration', formatDuration(r.ms)],
        ['targets run', `${f.ran}, their times added up ${formatDuration(f.sumMs)} against ${formatDuration(r.ms)} in all`],
        ['most at once', String(f.maxConcurrent)],
        ['report', r.reportDir],
      ],
    },
    { kind: 'chart', key: 'targets', title: 'Targets over time (one bar each, by wave, then server)', unit: '', chart: timeline, shade: false, marks: waveMarks, colour: outcomeColour },
    { kind: 'chart', key: 'running', title: 'Targets running at once', unit: 'targets', chart: runningChart(ran.map(({ t }) => ({ start: at(t.startedAt)!, end: at(t.finishedAt)! }))), shade: false },
    ...r.waves.map((w): Section => ({
      kind: 'table', title: `Wave ${w.name} (parallel ${w.parallel}, on_error ${w.onError})`, empty: 'no targets',
      head: ['target', 'server', 'plan', 'outcome', 'exit', 'started', 'took', 'validation', 'detail'],
      rows: w.targets.map((t) => [
        t.label, serverName(t.server), t.plan ?? '-', t.outcome, t.exitCode === null ? '-' : String(t.exitCode),
        t.startedAt === null ? '-' : `+${formatDuration(at(t.startedAt)!)}`, t.ms === null ? '-' : formatDuration(t.ms), t.validation ?? '-', t.error ?? t.detail ?? '',
      ]),
    })),
    {
      kind: 'table', title: 'Failures', head: ['target', 'wave', 'outcome', 'exit', 'reason', 'log'], empty: 'none: every target that ran succeeded',
      rows: all.filter(({ t }) => failed(t)).map(({ wave, t }) => [t.label, wave, t.outcome, t.exitCode === null ? '-' : String(t.exitCode), t.error ?? '', t.log ?? '-']),
    },
    {
      kind: 'table', title: 'Servers (one heavy target at a time on each)', head: ['server', 'identifier', 'version', 'targets'], empty: 'none',
      rows: servers.map((s) => {
        const on = all.filter(({ t }) => t.server === s);
        return [serverName(s), s, on.find(({ t }) => t.serverVersion)?.t.serverVersion ?? '-', on.map(({ t }) => t.label).join(', ')];
      }),
    },
  ];
  return sections;
}

function failed(t: TargetReport): boolean {
  return t.outcome === 'failed' || t.outcome === 'refused' || t.outcome === 'stopped';
}

function runningChart(intervals: { start: number; end: number }[]): LineChart {
  return { series: intervals.length ? [{ label: 'running', points: runningSteps(intervals) }] : [], baseline: null, missing: intervals.length ? null : 'no target ran' };
}

/**
 * How many intervals are open at each moment, as a step line through every start and end (from
 * 0 at time 0). An interval ends before one starting at the same instant.
 */
export function runningSteps(intervals: { start: number; end: number }[]): Point[] {
  const edges = intervals.flatMap((i) => [{ at: i.start, d: 1 }, { at: i.end, d: -1 }]).sort((a, b) => a.at - b.at || a.d - b.d);
  const points: Point[] = [{ t: 0, v: 0 }];
  let now = 0;
  for (const e of edges) {
    points.push({ t: e.at, v: now });
    now += e.d;
    points.push({ t: e.at, v: now });
  }
  return points;
}
