import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, findChromium, load, openPage, screenshot } from './support/chromium.js';
import { CLI, runCli } from './support/cli.js';
import { replayScreen, type TerminalScreen } from './support/terminal-screen.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';

/**
 * Issue 14's terminal, as a person sees it: the CLI under a pseudo-terminal (util-linux
 * `script`), its screen read back. Assertions are on content, never on timing: the redraw
 * cadence is the renderer's unit test (test/unit/terminal.test.ts, with a hand-turned clock).
 */
const hasScript = spawnSync('script', ['--version']).status === 0;
/** The pseudo-terminal's size: wide enough that no status line wraps. */
const SIZE = { cols: 400, rows: 50 };
/** The screen as a person saw it, kept as screenshots when a browser is there (README's come from here). */
const ARTIFACTS = new URL('../test-artifacts/terminal/', import.meta.url).pathname;
const browser = findChromium(false);
const ROWS = 200_000;
const COLOUR = /\x1b\[[0-9;]*m/;
/** Colour, cursor movement and erase sequences, and the carriage returns of a terminal's newlines. */
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]|\r/g;

// The engine's logs on stderr (the suite sends them to a file otherwise); a terminal wide
// enough that the status line is not wrapped.
const ENV = { PGSHIFT_LOG_FILE: '', DATABASE_URL: '', TERM: 'xterm-256color', NO_COLOR: '' };

function sh(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs the CLI with stdout and stderr on a pseudo-terminal; `stdoutTo` sends stdout to a file instead. */
function onTerminal(args: string[], env: Record<string, string> = {}, stdoutTo?: string): Promise<{ code: number | null; screen: string; text: string }> {
  const command = `stty cols ${SIZE.cols} rows ${SIZE.rows}; exec ${sh(process.execPath)} ${[CLI, ...args].map(sh).join(' ')}${stdoutTo ? ` > ${sh(stdoutTo)}` : ''}`;
  return new Promise((resolve) => {
    // -e: the command's exit code; -f: flush as it comes; the output file is /dev/null, the screen is script's stdout.
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (d) => (screen += d));
    child.stderr.on('data', (d) => (screen += d));
    child.on('close', (code) => resolve({ code, screen, text: screen.replace(ESCAPES, '') }));
  });
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

function expectJsonLines(text: string): void {
  expect(lines(text).length).toBeGreaterThan(0);
  for (const l of lines(text)) {
    const record = JSON.parse(l) as Record<string, unknown>;
    expect(record, l).toHaveProperty('level');
    expect(record, l).toHaveProperty('msg');
  }
}

describe.skipIf(!hasScript)('the terminal (script gives the CLI a pseudo-terminal)', () => {
  let db: TestDatabase;
  let n = 0;
  // Every run adds a column of its own, through the online copy, so that each copies every row.
  // One lane, each chunk followed by a pause as long as it (--nice 1): the copy lasts long enough
  // for the status line to be drawn many times, however fast the machine copies.
  const alter = (...more: string[]): string[] => ['alter', '--strategy', 'copy', `ALTER TABLE big ADD COLUMN c${++n} int`, '--execute', '--chunk-time', '20ms', '--max-parallel', '1', '--nice', '1', '--url', db.url, ...more];

  beforeAll(async () => {
    db = await createTestDatabase('terminal');
    await db.query(`CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, note text);
      INSERT INTO big SELECT g, g, 'n' || g FROM generate_series(1, ${ROWS}) g;
      ANALYZE big;
      CREATE SEQUENCE throttle_checks;`);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('alter --execute: a live status line, a line per phase, warnings readable, the summary, and no JSON', async () => {
    // Throttled for the throttler's first three checks, then free: a throttle to show, whatever the timing.
    const r = await onTerminal(alter('--throttle-query', `SELECT (nextval('throttle_checks') <= 3)::int`));
    expect(r.code, r.text).toBe(0);
    const t = r.text;
    // The status line of the copy, with every figure in place.
    expect(t).toMatch(/migration \d+ public\.big {2}copy \d+s {2}[ \d]\d% [█░]{20} {2}[\d,]+\/[\d,]+ rows {2}[\d,]+ rows\/s {2}ETA \d+(m\d\d)?s {2}backlog [\d,]+ {2}lag -/);
    // ... and while throttled, why.
    expect(t).toMatch(/migration \d+ public\.big {2}copy \d+s .*throttled: --throttle-query returned 1/);
    for (const [phase, message] of [
      ['capture', 'installing capture triggers'], ['copy', 'copying rows'], ['index', 'building indexes'], ['catch-up', 'replaying the changelog'],
      ['checksum', 'validating \\(thorough\\)'], ['cutover', 'swapping tables'], ['validate', 'validating constraints'], ['done', 'migration finished'],
    ]) {
      expect(t).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d migration \\d+ public\\.big ${phase}: ${message}$`, 'm'));
    }
    expect(t).toMatch(/^\d\d:\d\d:\d\d warning: throttled: --throttle-query returned 1 \(migration \d+\)$/m);
    expect(t).toMatch(/^\d\d:\d\d:\d\d throttle cleared \(migration \d+\)$/m);
    expect(t).toMatch(new RegExp(`^done: migration \\d+, ${ROWS} rows copied in `, 'm'));
    expect(t).not.toMatch(/\{"level"/);
    // Colour, on a terminal without NO_COLOR.
    expect(r.screen).toMatch(COLOUR);
    // The status line is drawn in place: log-update erases the lines it drew before redrawing.
    expect(r.screen).toContain('\x1b[2K');

    // The screen a person saw, replayed through a terminal emulator. Mid-copy: the phase lines,
    // then ONE status line, the last line on the screen (drawn in place, not appended).
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.writeFileSync(path.join(ARTIFACTS, 'alter.typescript'), r.screen);
    const copying = /^migration \d+ public\.big {2}copy \d+s {2}[ \d]\d% .* rows\/s {2}ETA .* lag -/;
    const during = await replayScreen(r.screen, SIZE, (l) => copying.test(l.at(-1) ?? '') && Number(/(\d+)% /.exec(l.at(-1)!)![1]) >= 40);
    expect(during, 'no screen showed the copy at 40% or more').not.toBeNull();
    expect(during!.lines.filter((l) => /rows\/s {2}ETA/.test(l))).toHaveLength(1);
    expect(during!.lines.at(-2)).toMatch(/^\d\d:\d\d:\d\d (migration \d+ public\.big copy: copying rows|throttle cleared .*|warning: throttled: .*)$/);
    // At the end: no status line left, the phase lines once each and in order, the summary last.
    const end = (await replayScreen(r.screen, SIZE))!;
    expect(end.lines.filter((l) => /rows\/s {2}ETA|backlog \S+ {2}lag/.test(l)), end.lines.join("\n")).toEqual([]);
    const phases = end.lines.map((l) => / public\.big ([a-z-]+): /.exec(l)?.[1]).filter((p) => p !== undefined);
    expect(phases).toEqual(['capture', 'copy', 'index', 'catch-up', 'checksum', 'cutover', 'validate', 'done']);
    const summary = end.lines.findIndex((l) => /^done: migration \d+, 200000 rows copied in /.test(l));
    expect(summary).toBeGreaterThan(end.lines.findIndex((l) => / public\.big done: /.test(l)));
    await keepScreenshots({ 'terminal-copy': during!, 'terminal-done': end });
  });

  it('NO_COLOR: the same screen without a colour code', async () => {
    const r = await onTerminal(alter(), { NO_COLOR: '1' });
    expect(r.code, r.text).toBe(0);
    expect(r.text).toMatch(/migration \d+ public\.big {2}copy /);
    expect(r.screen).not.toMatch(COLOUR);
  });

  it('--quiet: no status line and no phase lines; the summary', async () => {
    const r = await onTerminal(alter('--quiet'));
    expect(r.code, r.text).toBe(0);
    expect(r.text).not.toMatch(/rows\/s {2}ETA|backlog|public\.big {1,2}copy/);
    expect(r.text).toMatch(new RegExp(`^done: migration \\d+, ${ROWS} rows copied in `, 'm'));
  });

  it('--log-format json on a terminal: stderr is pino JSON lines only', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-terminal-')), 'stdout.txt');
    const r = await onTerminal(alter('--log-format', 'json'), {}, out);
    expect(r.code, r.text).toBe(0);
    expectJsonLines(r.text);
    expect(r.text).toMatch(/"msg":"swapped"/);
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^done: migration \d+/m);
  });

  it('without a terminal: stderr is pino JSON lines only, as before', async () => {
    const r = await runCli(alter(), ENV);
    expect(r.status, r.stderr).toBe(0);
    expectJsonLines(r.stderr);
    expect(r.stdout).toMatch(/^done: migration \d+/m);
  });

  it('a user error on a terminal is still its one line and exit 2', async () => {
    const r = await onTerminal(['alter', 'ALTER TABLE big ADD COLUMN x int', '--execute', '--log-format', 'yaml', '--url', db.url]);
    expect(r.code).toBe(2);
    expect(lines(r.text)).toEqual(['pgshift: --log-format: "yaml" is not one of human, json']);
  });

  it('backfill --execute: its status line and phases, then its summary', async () => {
    const r = await onTerminal(['backfill', '--table', 'big', '--set', `note = 'b' || id`, '--where', `note IS DISTINCT FROM 'b' || id`, '--execute', '--batch-time', '20ms', '--url', db.url]);
    expect(r.code, r.text).toBe(0);
    expect(r.text).toMatch(/backfill \d+ public\.big {2}copy \d+s {2}[ \d]\d% [█░]{20} {2}[\d,]+\/[\d,]+ rows {2}[\d,]+ rows\/s {2}ETA \d+(m\d\d)?s {2}lag -/);
    expect(r.text).toMatch(/^\d\d:\d\d:\d\d backfill \d+ public\.big copy: updating rows in key order$/m);
    expect(r.text).toMatch(/^\d\d:\d\d:\d\d backfill \d+ public\.big done: 200000 rows updated$/m);
    expect(r.text).toMatch(/^ {2}done: 200000 rows updated in \d+ batches/m);
    expect(r.text).not.toMatch(/\{"level"/);
  });

  it('migrate up: its file lines readable, the copy step under its status line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-terminal-migrations-'));
    fs.writeFileSync(path.join(dir, '20260101000001_retype_v.sql'), '-- migrate:up\nALTER TABLE big ALTER COLUMN v TYPE bigint;\n\n-- migrate:down\nALTER TABLE big ALTER COLUMN v TYPE int;\n');
    const r = await onTerminal(['migrate', 'up', '--strategy', 'copy', '--dir', dir, '--url', db.url]);
    expect(r.code, r.text).toBe(0);
    expect(r.text).toMatch(/^\d\d:\d\d:\d\d applying 20260101000001 retype_v$/m);
    expect(r.text).toMatch(/^\d\d:\d\d:\d\d migration \d+ public\.big copy: copying rows$/m);
    expect(r.text).toMatch(/^applied 20260101000001 retype_v in /m);
    expect(r.text).not.toMatch(/\{"level"/);
  });
});

/** Each screen as a PNG in test-artifacts/terminal/ (with its HTML), when there is a browser to draw it. */
async function keepScreenshots(screens: Record<string, TerminalScreen>): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const [name, screen] of Object.entries(screens)) fs.writeFileSync(path.join(ARTIFACTS, `${name}.html`), screen.html);
  if (!browser.path) {
    console.warn(`[terminal] no screenshots: ${browser.reason} (npm run test:report installs it); the screens are in ${ARTIFACTS} as HTML`);
    return;
  }
  const page = await openPage(browser.path);
  try {
    await page.send('Page.enable');
    for (const name of Object.keys(screens)) {
      await load(page, `file://${path.join(ARTIFACTS, `${name}.html`)}`);
      // A viewport one pixel high first, so that the page's height is the screen's lines, not the window's.
      await page.send('Emulation.setDeviceMetricsOverride', { width: 800, height: 1, deviceScaleFactor: 1, mobile: false });
      const width = await evaluate<number>(page, 'Math.ceil(document.querySelector("pre").getBoundingClientRect().width)');
      await screenshot(page, width, false, path.join(ARTIFACTS, `${name}.png`));
    }
  } finally {
    await page.close();
  }
}
