import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_KEYS } from '../src/report/sections.js';
import { evaluate, findChromium, load, openPage, screenshot } from './support/chromium.js';
import { runCli } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { fleetEnv, withoutPassword } from './fleet/support.js';

/**
 * The HTML report of a real `alter --execute` run, opened in a real headless Chromium (Debian's
 * `chromium` package) with JavaScript disabled and from file:// : every chart is present and drawn
 * with data, nothing is fetched, the page fits a phone's width. Screenshots (desktop and phone)
 * and the report are kept in test-artifacts/report/.
 *
 * The run is made to give every chart data: an application writes the table throughout (the
 * backlog, the transaction rate, its statements' times through pg_stat_statements), a throttle
 * query throttles its first three checks (a sequence counts them: a throttled period whatever the
 * machine's speed, where one second in three was missed by a copy that took under two seconds on
 * CI), and --replica names the server
 * itself, whose lag is measured as 0 (a real measurement: a primary has nothing to replay).
 *
 * Without a browser the test is skipped, saying why; `npm run test:report` installs Debian's
 * chromium first (PGSHIFT_INSTALL_CHROMIUM=1).
 */
const browser = findChromium(process.env.PGSHIFT_INSTALL_CHROMIUM === '1');
if (!browser.path) console.warn(`[report-browser] skipped: ${browser.reason}; npm run test:report installs chromium`);

const ARTIFACTS = new URL('../test-artifacts/report/', import.meta.url).pathname;
const PHONE = 390;

let db: TestDatabase;
let statements = false;

describe.skipIf(!browser.path)('the HTML report in a real browser', () => {
  beforeAll(async () => {
    db = await createTestDatabase('report_browser');
    statements = await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').then(() => db.query('SELECT count(*) FROM pg_stat_statements')).then(() => true, () => false);
    await db.query(`CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL, note text);
                    INSERT INTO accounts SELECT g, g % 1000, repeat('x', 40) FROM generate_series(1, 150000) g; ANALYZE accounts;
                    CREATE SEQUENCE throttle_checks`);
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('draws every chart with data, with JavaScript off and no network, on a desktop and a phone', async () => {
    const dir = path.join(ARTIFACTS, 'run');
    const app = applicationWrites(db.url);
    try {
      // The application's statements run before the command starts, so the report follows them.
      await app.warm;
      const r = await runCli([
        'alter', 'ALTER TABLE accounts ALTER COLUMN balance TYPE bigint', '--url', db.url, '--execute', '--copy-threshold', '0MB', '--chunk-time', '100ms',
        '--replica', db.url, '--throttle-query', `SELECT (nextval('throttle_checks') <= 3)::int`, '--report-dir', dir,
      ]);
      expect(r.status, r.stderr).toBe(0);
    } finally {
      await app.stop();
    }

    const page = await openPage(browser.path!);
    try {
      await page.send('Network.enable');
      await page.send('Page.enable');
      await page.send('Emulation.setScriptExecutionDisabled', { value: true });
      await load(page, `file://${dir}/report.html`);
      const charts = await evaluate<ChartFacts[]>(page, CHART_FACTS);
      expect(charts.map((c) => c.key)).toEqual([...CHART_KEYS]);
      for (const c of charts) {
        if (c.key === 'latency' && !statements) {
          expect(c.missing, 'without pg_stat_statements the chart says why').toMatch(/pg_stat_statements/);
          continue;
        }
        expect(c.missing, `${c.key}: ${c.missing}`).toBeNull();
        expect(c.width, c.key).toBeGreaterThan(200);
        expect(c.lines.length + c.bands.length, c.key).toBeGreaterThan(0);
        for (const l of c.lines) {
          expect(l.points, c.key).toBeGreaterThanOrEqual(2);
          expect(l.length, c.key).toBeGreaterThan(0);
        }
        for (const b of c.bands) expect(b, c.key).toBeGreaterThan(0);
      }
      // The page itself, nothing else: no script, font, image or style was fetched.
      const requests = page.events.filter((e) => e.method === 'Network.requestWillBeSent').map((e) => (e.params.request as { url: string }).url);
      expect(requests).toEqual([`file://${dir}/report.html`]);
      await screenshot(page, 1000, false, path.join(ARTIFACTS, 'report-desktop.png'));

      // A phone: the page fits its width (wide tables scroll inside their box), the charts scale down.
      await page.send('Emulation.setDeviceMetricsOverride', { width: PHONE, height: 800, deviceScaleFactor: 2, mobile: true });
      await load(page, `file://${dir}/report.html`);
      const phone = await evaluate<{ pageWidth: number; chartWidths: number[] }>(page, `({ pageWidth: document.documentElement.scrollWidth, chartWidths: [...document.querySelectorAll('svg.chart')].map((s) => s.getBoundingClientRect().width) })`);
      expect(phone.pageWidth).toBeLessThanOrEqual(PHONE);
      for (const w of phone.chartWidths) expect(w).toBeLessThanOrEqual(PHONE);
      await screenshot(page, PHONE, true, path.join(ARTIFACTS, 'report-phone.png'));
    } finally {
      await page.close();
    }
    expect(fs.statSync(path.join(ARTIFACTS, 'report-desktop.png')).size).toBeGreaterThan(10_000);
    // a copy under a throttle on a loaded two-core machine: minutes, not seconds
  }, 600_000);
});

/**
 * A fleet's fleet.html (src/fleet/report-html.ts) from a real fleet run on the test server: six
 * databases, a canary, then up to three at once (a catalog-only change, so no server slot holds
 * them back), one target refused by the preflight (its table is missing). The timeline draws a
 * bar per target that ran, and they overlap; screenshots in test-artifacts/fleet/.
 */
const FLEET_ARTIFACTS = new URL('../test-artifacts/fleet/', import.meta.url).pathname;

describe.skipIf(!browser.path)("a fleet's HTML report in a real browser", () => {
  let dbs: TestDatabase[] = [];
  beforeAll(async () => {
    dbs = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => createTestDatabase(`fleet_html_${i}`)));
    for (const [i, d] of dbs.entries()) if (i !== 3) await d.query(`CREATE TABLE items (id int PRIMARY KEY, v int); INSERT INTO items SELECT g, g FROM generate_series(1, 1000) g`);
    fs.rmSync(FLEET_ARTIFACTS, { recursive: true, force: true });
    fs.mkdirSync(FLEET_ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('draws one bar per target that ran, overlapping where they ran at once, with JavaScript off, on a desktop and a phone', async () => {
    const dir = path.join(FLEET_ARTIFACTS, 'run');
    fs.mkdirSync(dir, { recursive: true });
    const targets = path.join(dir, 'tenants.txt');
    fs.writeFileSync(targets, `${dbs.map((d, i) => `tenant-${i + 1} ${withoutPassword(d.url)}`).join('\n')}\n`);
    const r = await runCli(['alter', 'ALTER TABLE items ADD COLUMN note text', '--targets', targets, '--execute', '--canary', '1', '--concurrency', '3', '--continue-on-error', '--report-dir', dir], fleetEnv(dir, [dbs[0]!.url]));
    // tenant-4 has no table: refused, the five others done
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'fleet.json'), 'utf8'));

    const page = await openPage(browser.path!);
    try {
      await page.send('Network.enable');
      await page.send('Page.enable');
      await page.send('Emulation.setScriptExecutionDisabled', { value: true });
      await load(page, `file://${dir}/fleet.html`);
      const charts = await evaluate<ChartFacts[]>(page, CHART_FACTS);
      expect(charts.map((c) => c.key)).toEqual(['targets', 'running']);
      const [timeline, running] = charts as [ChartFacts, ChartFacts];
      expect(timeline.missing).toBeNull();
      expect(timeline.width).toBeGreaterThan(200);
      expect(timeline.bands.length).toBe(5);
      for (const b of timeline.bands) expect(b).toBeGreaterThan(0);
      expect(running.lines.length).toBe(1);
      expect(running.lines[0]!.length).toBeGreaterThan(0);
      // The bars of the targets that ran at once overlap on the screen as they did in time.
      const bars = await evaluate<{ label: string; x: number; right: number }[]>(page, `[...document.querySelectorAll('svg[data-chart="targets"] rect.data')].map((r) => { const b = r.getBoundingClientRect(); return { label: r.querySelector('title').textContent.split(':')[0], x: b.left, right: b.right }; })`);
      expect(bars.map((b) => b.label).sort()).toEqual(['tenant-1', 'tenant-2', 'tenant-3', 'tenant-5', 'tenant-6']);
      const overlapping = bars.filter((a) => bars.some((b) => a !== b && a.x < b.right && b.x < a.right));
      expect(overlapping.length > 0, 'some bars overlap').toBe(report.figures.maxConcurrent > 1);
      const text = await evaluate<string>(page, 'document.body.innerText');
      expect(text).toMatch(/Failures\s+target\s+wave\s+outcome\s+exit\s+reason\s+log\s+tenant-4\s+rest\s+refused\s+2\s+refused: table items does not exist/);
      const requests = page.events.filter((e) => e.method === 'Network.requestWillBeSent').map((e) => (e.params.request as { url: string }).url);
      expect(requests).toEqual([`file://${dir}/fleet.html`]);
      await screenshot(page, 1000, false, path.join(FLEET_ARTIFACTS, 'fleet-desktop.png'));

      await page.send('Emulation.setDeviceMetricsOverride', { width: PHONE, height: 800, deviceScaleFactor: 2, mobile: true });
      await load(page, `file://${dir}/fleet.html`);
      const phone = await evaluate<{ pageWidth: number; chartWidths: number[] }>(page, `({ pageWidth: document.documentElement.scrollWidth, chartWidths: [...document.querySelectorAll('svg.chart')].map((s) => s.getBoundingClientRect().width) })`);
      expect(phone.pageWidth).toBeLessThanOrEqual(PHONE);
      for (const w of phone.chartWidths) expect(w).toBeLessThanOrEqual(PHONE);
      await screenshot(page, PHONE, true, path.join(FLEET_ARTIFACTS, 'fleet-phone.png'));
    } finally {
      await page.close();
    }
    expect(fs.statSync(path.join(FLEET_ARTIFACTS, 'fleet-desktop.png')).size).toBeGreaterThan(10_000);
  }, 300_000);
});

interface ChartFacts {
  key: string;
  missing: string | null;
  width: number;
  lines: { points: number; length: number }[];
  bands: number[];
}

/** Per chart, what the browser drew: its width, each data line's points and rendered length, each band's width. */
const CHART_FACTS = `[...document.querySelectorAll('svg[data-chart]')].map((s) => ({
  key: s.dataset.chart,
  missing: s.querySelector('.missing')?.textContent ?? null,
  width: s.getBoundingClientRect().width,
  lines: [...s.querySelectorAll('polyline.data')].map((p) => ({ points: p.points.numberOfItems, length: p.getTotalLength() })),
  bands: [...s.querySelectorAll('rect.data')].map((r) => r.getBBox().width),
}))`;

/** The application: two sessions updating random accounts, about 200 transactions a second, until stopped. */
function applicationWrites(url: string): { warm: Promise<void>; stop: () => Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'app' });
  pool.on('error', () => undefined);
  let running = true;
  let done = 0;
  let warmed: () => void = () => undefined;
  const warm = new Promise<void>((r) => (warmed = r));
  const worker = async (): Promise<void> => {
    while (running) {
      await pool.query('UPDATE accounts SET balance = balance + 1 WHERE id = $1', [1 + Math.floor(Math.random() * 150000)]).catch(() => undefined);
      if (++done >= 200) warmed();
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const workers = [worker(), worker()];
  return {
    warm,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      await pool.end();
    },
  };
}
