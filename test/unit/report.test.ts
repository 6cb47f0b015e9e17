import { describe, expect, it } from 'vitest';
import { buildModel } from '../../src/report/model.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { CHART_KEYS } from '../../src/report/sections.js';
import { bounded } from '../../src/report/samples.js';
import { compact, escapeXml, niceStep } from '../../src/report/svg.js';
import { syntheticRun } from '../support/report-fixture.js';

/** Every chart's SVG in the page, by its data-chart key. */
function chartsIn(html: string): Map<string, string> {
  return new Map([...html.matchAll(/<svg class="chart" data-chart="([^"]+)"[^>]*>([\s\S]*?)<\/svg>/g)].map((m) => [m[1]!, m[2]!]));
}

describe('report model', () => {
  const { run, samples } = syntheticRun();
  const m = buildModel(run, samples);

  it('has the timeline of phases, ending where the step did', () => {
    expect(m.steps).toHaveLength(1);
    const s = m.steps[0]!;
    expect(s).toMatchObject({ id: 7, kind: 'alter', table: 'public.orders', outcome: 'done', from: 2000, to: 17500 });
    expect(s.phases.map((p) => p.label)).toEqual(['capture', 'copy', 'index', 'catch-up', 'checksum', 'cutover', 'validate']);
    expect(s.phases[1]).toEqual({ from: 2200, to: 12000, label: 'copy' });
  });

  it('turns rows into rates over windows of at least a second, and shows the slow stretch', () => {
    const pts = m.charts.rowsPerSecond.series[0]!.points;
    expect(pts.length).toBeGreaterThan(4);
    expect(Math.max(...pts.map((p) => p.v))).toBeCloseTo(100_000, -3);
    expect(Math.min(...pts.map((p) => p.v))).toBeLessThan(20_000);
  });

  it('keeps gauges to the end of their step and throttle periods as bands', () => {
    expect(m.charts.backlog.series[0]!.points.at(-1)).toEqual({ t: 17500, v: 200 });
    expect(m.charts.lag.series[0]!.points.map((p) => p.v)).toEqual([0, 1500, 200, 200]);
    expect(m.charts.throttle.rows[0]!.segments).toEqual([
      { from: 5000, to: 7000, label: 'replication lag: standby 1.5s behind' },
      { from: 10000, to: 10500, label: '--throttle-query returned 1' },
    ]);
  });

  it('measures the impact against the window before the first change', () => {
    const b = m.impact.baseline;
    const d = m.impact.during;
    expect(b.windowMs).toBe(2000);
    expect(b.transactionsPerSecond).toBeCloseTo(350);
    expect(b.latencyMs).toBeCloseTo((350 * 1.1 + 250 * 1.8) / 600);
    expect(b.latencyBasis).toBe('the window before the first change');
    expect(d.windowMs).toBe(18000);
    expect(d.lockWaitingMax).toBe(2);
    expect(d.longestLockWaitMs).toBe(85);
    expect(d.latencyMs!).toBeGreaterThan(b.latencyMs!);
    expect(m.charts.transactions.baseline).toBeCloseTo(350);
    expect(m.charts.latency.series[0]!.points).toHaveLength(20);
  });

  it('keeps the cutover, the validation and the command\'s own report', () => {
    expect(m.cutovers).toEqual([{ migrationId: 7, attempts: 2, lockWaitMs: 12.5, holdMs: 48.25 }]);
    expect(m.validations[0]).toMatchObject({ migrationId: 7, level: 'thorough', passed: true, chunks: 9 });
    expect(m.result).toEqual({ status: 'done', migrationId: 7 });
    expect(m.run).toMatchObject({ id: 42, command: 'alter', durationMs: 20000, outcome: 'done', exitCode: 0, migrationIds: [7] });
  });

  it('falls back to the statements\' mean since their reset when the window before saw too few calls', () => {
    const few = samples.map((s) => (s.kind === 'db' && s.at <= run.startedAt + 2000 ? { ...s, data: { ...s.data, calls: 1, execMs: 5 } } : s));
    const b = buildModel(run, few).impact.baseline;
    expect(b.latencyMs).toBeCloseTo(1.1);
    expect(b.latencyBasis).toMatch(/since pg_stat_statements was last reset/);
  });

  it('says why a chart has nothing to draw', () => {
    const bare = buildModel({ ...run, server: { ...run.server, statementsSchema: null, statementsNote: 'pg_stat_statements is not installed in this database' } }, samples.filter((s) => s.kind !== 'lag' && s.kind !== 'throttle').map((s) => (s.kind === 'db' ? { ...s, data: { ...s.data, calls: null, execMs: null } } : s)));
    expect(bare.charts.lag.missing).toBe('not measured: no standby or --replica to measure');
    expect(bare.charts.throttle.missing).toBe('never throttled');
    expect(bare.charts.latency.missing).toBe('not measured: pg_stat_statements is not installed in this database');
  });
});

describe('report renderers', () => {
  const { run, samples } = syntheticRun();
  const m = buildModel(run, samples);

  it('draws every chart as inline SVG with data points', () => {
    const html = renderHtml(m);
    const charts = chartsIn(html);
    expect([...charts.keys()]).toEqual([...CHART_KEYS]);
    for (const [key, body] of charts) {
      expect(body, key).not.toContain('class="missing"');
      const lines = [...body.matchAll(/<polyline class="data"[^>]* points="([^"]+)"/g)].map((x) => x[1]!.split(' '));
      const bands = body.match(/<rect class="data"/g) ?? [];
      expect(lines.length + bands.length, key).toBeGreaterThan(0);
      for (const points of lines) {
        expect(points.length, key).toBeGreaterThanOrEqual(2);
        for (const p of points) expect(p, key).toMatch(/^-?\d+(\.\d)?,-?\d+(\.\d)?$/);
      }
    }
    // the throttle periods are shaded on the rows chart too
    expect(charts.get('rows')).toContain('class="shade"');
    // the value before the run, dashed
    expect(charts.get('transactions')).toContain('class="baseline"');
  });

  it('is one self-contained file: no script, nothing fetched, text escaped', () => {
    const html = renderHtml(m);
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('applying 20260101 add &lt;note&gt; &amp; more');
    expect(html).not.toContain('add <note>');
  });

  it('writes the same sections as Markdown, each chart summed up', () => {
    const md = renderMarkdown(m);
    expect(md).toMatch(/^# pgshift alter — run 42\n/);
    for (const heading of ['Run', 'Timeline of phases', 'Phases', 'Rows per second', 'Changelog backlog', 'Replication lag', 'Throttled periods', 'Cutover', 'Validation', 'Impact on the database', 'Transactions per second', 'Application sessions waiting for a lock', 'Application statement time', 'Notes']) {
      expect(md).toContain(`## ${heading}`);
    }
    expect(md).toContain('| 7 | 2 | 12.5ms | 48.3ms |');
    expect(md).toContain('| 7 | thorough | passed | 900,000 / 900,000 | 0 of 9 | 3.20ms | 1.4s |');
    expect(md).toContain('| transactions/s (all sessions) | 350 | ');
    expect(md).toContain('| sessions waiting for a lock (most at once) | 0 | 2 | from 0 |');
    expect(md).toContain('- migration 7: capture 2.0s–2.2s; copy 2.2s–12.0s;');
    expect(md).toContain('- migration 7: replication lag: standby 1.5s behind 5.0s–7.0s; --throttle-query returned 1 10.0s–10.5s');
    expect(md).toContain('applying 20260101 add <note> & more');
  });

  it('gives report.json every figure, and the same bytes for the same run', () => {
    const json = JSON.parse(JSON.stringify(m));
    expect(json.format).toBe('pgshift-report/1');
    expect(Object.keys(json.charts)).toEqual(['rowsPerSecond', 'backlog', 'lag', 'throttle', 'transactions', 'lockWaits', 'latency']);
    const again = buildModel(syntheticRun().run, syntheticRun().samples);
    expect(JSON.stringify(again)).toBe(JSON.stringify(m));
    expect(renderHtml(again)).toBe(renderHtml(m));
  });
});

describe('report helpers', () => {
  it('bounds a series by merging neighbours, keeping its head and its peaks', () => {
    const b = bounded<{ t: number; v: number }>(4, (x, y) => (x.v > y.v ? x : y), 1);
    for (let t = 0; t < 40; t++) b.push({ t, v: t === 21 ? 1000 : t });
    const xs = b.items();
    expect(xs.length).toBeLessThanOrEqual(8);
    expect(xs[0]).toEqual({ t: 0, v: 0 });
    expect(xs.some((x) => x.v === 1000)).toBe(true);
    expect(xs.map((x) => x.t)).toEqual([...xs.map((x) => x.t)].sort((a, b) => a - b));
  });

  it('formats ticks', () => {
    expect([compact(0), compact(1.5), compact(12.25), compact(1234), compact(3_400_000)]).toEqual(['0', '1.5', '12.3', '1.23k', '3.4M']);
    expect([niceStep(10, 5), niceStep(7, 4), niceStep(0, 4), niceStep(1234, 4)]).toEqual([2, 2, 1, 500]);
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
