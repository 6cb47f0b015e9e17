import type { ReportModel } from './model.js';
import { sections, title, type Section } from './sections.js';
import type { Segment } from './model.js';
import { bandChartSvg, escapeXml, lineChartSvg } from './svg.js';

/**
 * report.html: one self-contained file (styles inline, charts as inline SVG drawn now, no script,
 * no fonts or images fetched), readable on a phone (one column, charts scaled to the width,
 * wide tables scroll sideways).
 */
export function renderHtml(m: ReportModel): string {
  const charts: ChartContext = { xMax: Math.max(m.run.durationMs, 1), shade: m.charts.throttle.rows.flatMap((r) => r.segments) };
  const body = sections(m).map((s) => sectionHtml(s, charts)).join('\n');
  const own = `<section><h2>The command's own report</h2><details><summary>JSON, as --json prints it</summary><pre>${escapeXml(JSON.stringify(m.result, null, 2) ?? 'null')}</pre></details></section>`;
  return htmlPage({ title: title(m), outcome: `${m.run.outcome}${m.run.error ? `: ${m.run.error}` : ''}`, good: m.run.outcome === 'done', body: `${body}\n${own}` });
}

/**
 * The page every HTML report shares (a run's report.html, a fleet's fleet.html): its styles
 * inline, a Content-Security-Policy that allows nothing to be fetched and no script to run.
 */
export function htmlPage(p: { title: string; outcome: string; good: boolean; body: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeXml(p.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${escapeXml(p.title)}</h1><p class="outcome ${p.good ? 'good' : 'bad'}">${escapeXml(p.outcome)}</p></header>
<main>
${p.body}
</main>
</body>
</html>
`;
}

/** What a chart section needs besides its own data: the time axis' end and the periods shaded behind a line chart. */
export interface ChartContext {
  xMax: number;
  shade: Segment[];
}

/** One section of the report's content (sections.ts) as HTML. */
export function sectionHtml(s: Section, c: ChartContext): string {
  return `<section><h2>${escapeXml(s.title)}</h2>${sectionBody(s, c)}</section>`;
}

function sectionBody(s: Section, c: ChartContext): string {
  switch (s.kind) {
    case 'facts':
      return `<dl>${s.rows.map(([k, v]) => `<dt>${escapeXml(k)}</dt><dd>${escapeXml(v)}</dd>`).join('')}</dl>`;
    case 'table':
      if (!s.rows.length) return `<p class="empty">${escapeXml(s.empty)}</p>`;
      return `<div class="scroll"><table><thead><tr>${s.head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${s.rows.map((r) => `<tr>${r.map((x) => `<td>${escapeXml(x)}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
    case 'text':
      return s.lines.map((l) => `<p class="note">${escapeXml(l)}</p>`).join('');
    case 'chart':
      return 'rows' in s.chart
        ? bandChartSvg(s.key, s.title, s.chart, c.xMax, s.marks ?? [], s.colour)
        : lineChartSvg(s.key, s.title, s.unit, s.chart, c.xMax, s.shade ? c.shade : []);
  }
}

const STYLE = `
:root { color-scheme: light; --fg: #111827; --muted: #6b7280; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #f9fafb; }
header, main { max-width: 960px; margin: 0 auto; padding: 12px 14px; }
h1 { font-size: 1.35rem; margin: 8px 0 4px; }
h2 { font-size: 1.05rem; margin: 18px 0 6px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px 12px; margin: 10px 0; }
.outcome { font-weight: 600; margin: 0; }
.good { color: #15803d; } .bad { color: #b91c1c; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
.note, .empty { color: var(--muted); font-size: 0.9rem; margin: 4px 0; }
svg.chart { width: 100%; height: auto; display: block; }
svg .tick, svg .unit, svg .row-label { font-size: 11px; fill: var(--muted); }
svg .legend { font-size: 11px; }
svg .seg-label { font-size: 10px; fill: #111827; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { stroke: #9ca3af; stroke-width: 1; }
svg .baseline { stroke: #6b7280; stroke-width: 1.5; stroke-dasharray: 5 4; }
svg .shade { fill: #fde68a; fill-opacity: 0.55; }
svg .mark { stroke: #6b7280; stroke-width: 1; stroke-dasharray: 2 3; }
svg .missing { font-size: 13px; fill: var(--muted); }
pre { overflow-x: auto; font-size: 12px; background: #f3f4f6; padding: 8px; }
@media (max-width: 520px) { body { font-size: 14px; } section { padding: 6px 8px 10px; } svg .tick, svg .legend, svg .row-label, svg .unit, svg .seg-label { font-size: 15px; } }
`;
