import type { BandChart, LineChart, Segment } from './model.js';

/**
 * The report's charts as inline SVG strings, drawn when the report is written: readable with
 * JavaScript off, with no network, at any width (a viewBox scaled by CSS, text sized for a
 * phone). Hand-written rather than a charting library: the charts are lines over time and bands
 * of periods, which a hundred lines draw deterministically (the same model gives the same bytes,
 * so a rebuilt report equals the first), and the libraries that render SVG without a DOM bring
 * far more than that (a layout engine, fonts, a scene graph) for these two shapes.
 *
 * Every element drawn from data has class "data" (a polyline's points are its samples); a chart
 * with nothing to draw says why in an element of class "missing".
 */
const W = 560;
const H = 200;
const M = { left: 52, right: 12, top: 26, bottom: 26 };
const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];
const PHASE_COLOURS: Record<string, string> = {
  capture: '#a78bfa', copy: '#60a5fa', index: '#34d399', ready: '#fde68a', 'catch-up': '#fbbf24', checksum: '#f472b6', cutover: '#ef4444', validate: '#22d3ee',
};

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** 0, 1.5, 12, 1.2k, 3.4M: tick labels that fit a phone's width. */
export function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

function trim(v: number): string {
  return String(Number(v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2)));
}

/** A round step (1, 2 or 5 times a power of ten) giving about `count` intervals over `max`. */
export function niceStep(max: number, count: number): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

interface Frame {
  x: (t: number) => number;
  y: (v: number) => number;
  parts: string[];
}

/** The chart's box, its title and the time axis in seconds since the run began. */
function frame(key: string, title: string, xMax: number, yMax: number, unit: string | null, height = H, left = M.left): Frame {
  const xSpan = Math.max(xMax, 1);
  const x = (t: number): number => left + (Math.min(Math.max(t, 0), xSpan) / xSpan) * (W - left - M.right);
  const y = (v: number): number => height - M.bottom - (Math.min(Math.max(v, 0), yMax) / yMax) * (height - M.top - M.bottom);
  // The section's heading names the chart on the page; the <title> names it for screen readers.
  const parts = [`<title id="${key}-title">${escapeXml(title)}</title>`];
  const stepS = niceStep(xSpan / 1000, 6);
  for (let s = 0; s * 1000 <= xSpan + 1e-9; s += stepS) {
    const px = fix(x(s * 1000));
    parts.push(`<line class="grid" x1="${px}" y1="${M.top}" x2="${px}" y2="${height - M.bottom}"/>`, `<text class="tick" x="${px}" y="${height - 8}" text-anchor="middle">${compact(s)}s</text>`);
  }
  if (unit !== null) {
    const stepV = niceStep(yMax, 4);
    for (let v = 0; v <= yMax + 1e-9; v += stepV) {
      const py = fix(y(v));
      parts.push(`<line class="grid" x1="${left}" y1="${py}" x2="${W - M.right}" y2="${py}"/>`, `<text class="tick" x="${left - 4}" y="${py + 4}" text-anchor="end">${compact(v)}</text>`);
    }
    parts.push(`<text class="unit" x="${left - 4}" y="${M.top - 10}" text-anchor="end">${escapeXml(unit)}</text>`);
  }
  parts.push(`<line class="axis" x1="${left}" y1="${height - M.bottom}" x2="${W - M.right}" y2="${height - M.bottom}"/>`);
  return { x, y, parts };
}

function svg(key: string, parts: string[], height = H): string {
  return `<svg class="chart" data-chart="${key}" viewBox="0 0 ${W} ${height}" role="img" aria-labelledby="${key}-title" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

function fix(n: number): number {
  return Math.round(n * 10) / 10;
}

function missing(parts: string[], why: string, height = H): void {
  parts.push(`<text class="missing" x="${W / 2}" y="${height / 2}" text-anchor="middle">${escapeXml(why)}</text>`);
}

/** Lines over time, one per series; shaded periods behind them (the throttle's); the value before the run dashed. */
export function lineChartSvg(key: string, title: string, unit: string, chart: LineChart, xMax: number, shade: Segment[] = []): string {
  const values = chart.series.flatMap((s) => s.points.map((p) => p.v));
  const yMax = niceCeiling(Math.max(0, ...values, chart.baseline ?? 0));
  const f = frame(key, title, xMax, yMax, unit);
  for (const p of shade) {
    f.parts.splice(1, 0, `<rect class="shade" x="${fix(f.x(p.from))}" y="${M.top}" width="${fix(Math.max(1, f.x(p.to) - f.x(p.from)))}" height="${H - M.top - M.bottom}"><title>${escapeXml(p.label)}</title></rect>`);
  }
  if (chart.missing !== null) {
    missing(f.parts, chart.missing);
    return svg(key, f.parts);
  }
  if (chart.baseline !== null) {
    const py = fix(f.y(chart.baseline));
    f.parts.push(`<line class="baseline" x1="${M.left}" y1="${py}" x2="${W - M.right}" y2="${py}"/>`, `<text class="legend" x="${W - M.right}" y="${py - 4}" text-anchor="end">before: ${compact(chart.baseline)}</text>`);
  }
  chart.series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    // A single sample is a dot; two or more a line through them.
    const pts = s.points.length === 1 ? [s.points[0]!, s.points[0]!] : s.points;
    f.parts.push(`<polyline class="data" fill="none" stroke="${colour}" stroke-width="2" points="${pts.map((p) => `${fix(f.x(p.t))},${fix(f.y(p.v))}`).join(' ')}"><title>${escapeXml(s.label)}</title></polyline>`);
    f.parts.push(`<text class="legend" x="${M.left + 6 + i * 150}" y="${M.top + 12}" fill="${colour}">${escapeXml(s.label)}</text>`);
  });
  return svg(key, f.parts);
}

/** Rows of periods over time: the phases of each migration (the timeline), or its throttled periods. */
export function bandChartSvg(key: string, title: string, chart: BandChart, xMax: number, marks: { t: number; text: string }[] = [], colour: (label: string, i: number) => string = phaseColour): string {
  const rowH = 26;
  const height = M.top + Math.max(1, chart.rows.length) * rowH + M.bottom + 6;
  // Row labels sit left of the axis: a margin wide enough for the longest (a fleet's target names), within reason.
  const left = Math.min(170, Math.max(M.left, ...chart.rows.map((r) => Math.ceil(shortLabel(r.label).length * 6.2) + 10)));
  const f = frame(key, title, xMax, 1, null, height, left);
  const parts = f.parts;
  if (chart.missing !== null) {
    missing(parts, chart.missing, height);
    return svg(key, parts, height);
  }
  chart.rows.forEach((row, i) => {
    const top = M.top + 4 + i * rowH;
    parts.push(`<text class="row-label" x="${left - 4}" y="${top + 15}" text-anchor="end">${escapeXml(shortLabel(row.label))}</text>`);
    row.segments.forEach((s, j) => {
      const x1 = f.x(s.from);
      const w = Math.max(2, f.x(s.to) - x1);
      parts.push(`<rect class="data" x="${fix(x1)}" y="${top}" width="${fix(w)}" height="${rowH - 6}" fill="${colour(s.label, j)}" fill-opacity="0.85"><title>${escapeXml(`${row.label}: ${s.label}, ${compact(s.from / 1000)}s to ${compact(s.to / 1000)}s`)}</title></rect>`);
      if (w > s.label.length * 6.5 + 6) parts.push(`<text class="seg-label" x="${fix(x1 + 3)}" y="${top + 14}">${escapeXml(s.label)}</text>`);
    });
  });
  for (const m of marks) {
    const px = fix(f.x(m.t));
    parts.push(`<line class="mark" x1="${px}" y1="${M.top - 2}" x2="${px}" y2="${height - M.bottom}"><title>${escapeXml(m.text)}</title></line>`);
  }
  return svg(key, parts, height);
}

/** Each phase its colour on the timeline (others from the palette). */
export function phaseColour(label: string, i: number): string {
  return PHASE_COLOURS[label] ?? PALETTE[i % PALETTE.length]!;
}

/** The colour of a throttled period, whatever its reason (the reason is in its tooltip and the Markdown). */
export const THROTTLED = (): string => '#f59e0b';

function shortLabel(s: string): string {
  return s.replace(/^migration /, 'mig. ').replace(/^backfill /, 'bf. ');
}

/** The axis' top: the largest value rounded up to its step, so the top line is labelled. */
function niceCeiling(max: number): number {
  if (!(max > 0)) return 1;
  const step = niceStep(max, 4);
  return Math.ceil(max / step) * step;
}
