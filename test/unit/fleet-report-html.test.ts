import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeReport, type FleetReport, type TargetReport } from '../../src/fleet/report.js';

const T0 = Date.parse('2026-11-26T02:00:00.000Z');
const iso = (s: number | null): string | null => (s === null ? null : new Date(T0 + s * 1000).toISOString());

function target(label: string, server: string, outcome: TargetReport['outcome'], from: number | null, to: number | null, extra: Partial<TargetReport> = {}): TargetReport {
  return {
    label, server, serverVersion: '17.10', heavy: true, plan: 'public.items: copy (~50000 rows)', outcome, exitCode: outcome === 'not started' ? null : outcome === 'done' ? 0 : 1,
    error: null, ms: from === null || to === null ? null : (to - from) * 1000, startedAt: iso(from), finishedAt: iso(to), detail: null, validation: null, log: null, ...extra,
  };
}

/** A fleet of a canary and five others on two servers: four done (validated), one failed, one never started. */
function report(dir: string): FleetReport {
  return {
    fleetId: 'c70c47395a07', command: 'alter ALTER TABLE items ALTER COLUMN v TYPE bigint --execute --strategy copy', targetsFile: 'fleet.yaml', executed: true,
    startedAt: iso(0)!, finishedAt: iso(60)!, ms: 60_000, ended: 'failed', exitCode: 1,
    waves: [
      { name: 'canary', parallel: 1, onError: 'stop', targets: [target('s1-db1', '111', 'done', 2, 14, { validation: 'thorough passed', detail: 'migration 1, copy, validation thorough passed' })] },
      {
        name: 'rest', parallel: 2, onError: 'continue', targets: [
          target('s1-db2', '111', 'done', 15, 30, { validation: 'thorough passed' }),
          target('s2-db1', '222', 'done', 15, 27, { validation: 'thorough passed' }),
          target('s2-db2', '222', 'failed', 27, 35, { error: 'killed by SIGKILL', log: '/tmp/r/targets/s2-db2.log' }),
          target('s1-db3 <tenant & "x">', '111', 'done', 30, 44, { validation: 'thorough passed' }),
          target('s2-db3', '222', 'not started', null, null),
        ],
      },
    ],
    figures: { targets: 6, ran: 5, sumMs: 61_000, maxConcurrent: 2 },
    reportDir: dir,
  };
}

describe('fleet.html', () => {
  it('is written beside fleet.md and fleet.json: every target, its outcome, time and validation, the failures, and the timeline as inline SVG', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-fleet-html-'));
    try {
      const files = writeReport(report(dir));
      expect(fs.readdirSync(dir).sort()).toEqual(['fleet.html', 'fleet.json', 'fleet.md']);
      const html = fs.readFileSync(files.html, 'utf8');
      // self-contained: nothing fetched, no script
      expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
      expect(html).not.toMatch(/<script|<link|<img|\b(src|href)=/);
      for (const label of ['s1-db1', 's1-db2', 's2-db1', 's2-db2', 's2-db3']) expect(html).toContain(`<td>${label}</td>`);
      expect(html).toContain('<td>s1-db3 &lt;tenant &amp; &quot;x&quot;&gt;</td>');
      expect(html).toContain('<h2>Wave rest (parallel 2, on_error continue)</h2>');
      expect(html).toContain('<td>thorough passed</td>');
      expect(html).toMatch(/<h2>Failures<\/h2>.*<td>s2-db2<\/td><td>rest<\/td><td>failed<\/td><td>1<\/td><td>killed by SIGKILL<\/td>/s);

      // The timeline: one bar per target that ran (five), in wave order and by server; the one not started has a row and no bar.
      const chart = html.match(/<svg class="chart" data-chart="targets".*?<\/svg>/s)![0];
      const bars = [...chart.matchAll(/<rect class="data" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"[^>]*fill="([^"]+)"[^>]*><title>([^<]*)<\/title>/g)];
      expect(bars.map((b) => b[5]!.replace(/,.*/, ''))).toEqual(['s1-db1: done', 's1-db2: done', 's1-db3 &lt;tenant &amp; &quot;x&quot;&gt;: done', 's2-db1: done', 's2-db2: failed']);
      expect(bars.find((b) => b[5]!.startsWith('s2-db2'))![4]).toBe('#dc2626');
      expect([...chart.matchAll(/class="row-label"[^>]*>([^<]*)</g)].map((m) => m[1])).toEqual(['s1-db1', 's1-db2', 's1-db3 &lt;tenant &amp; &quot;x&quot;&gt;', 's2-db1', 's2-db2', 's2-db3']);
      // s1-db2 and s2-db1 ran at once: their bars overlap in time
      const span = (label: string): [number, number] => {
        const b = bars.find((x) => x[5]!.startsWith(label))!;
        return [Number(b[1]), Number(b[1]) + Number(b[3])];
      };
      expect(span('s2-db1')[0]).toBeLessThan(span('s1-db2')[1]);
      expect(chart).toContain('<title>wave rest starts</title>');
      // ...and the chart of how many ran at once reaches 2
      const running = html.match(/<svg class="chart" data-chart="running".*?<\/svg>/s)![0];
      expect(running).toMatch(/<polyline class="data"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a dry run (preflight only) says so and draws no bars', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-fleet-html-'));
    try {
      const r = report(dir);
      r.executed = false;
      r.ended = 'done';
      r.exitCode = 0;
      for (const w of r.waves) w.targets = w.targets.map((t) => ({ ...t, outcome: 'not started', startedAt: null, finishedAt: null, ms: null, exitCode: null }));
      const html = fs.readFileSync(writeReport(r).html, 'utf8');
      expect(html).toContain('preflight only, nothing changed (exit 0)');
      expect(html).toContain('a dry run: the preflight alone ran, no target was changed');
      expect(html).not.toContain('class="data"');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
