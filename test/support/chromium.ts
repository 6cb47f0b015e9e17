import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/**
 * A real headless Chromium (Debian's `chromium` package) driven over the DevTools protocol on a
 * pipe (--remote-debugging-pipe: JSON messages separated by NUL on file descriptors 3 and 4), so a
 * test needs no browser library and no download: only the browser binary.
 */
export const CHROMIUM_CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The browser's path, installing Debian's package when apt-get can (root, CI); null with the reason when there is none. */
export function findChromium(install: boolean): { path: string | null; reason: string } {
  const found = (): string | null => {
    for (const name of CHROMIUM_CANDIDATES) {
      const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
      if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
    }
    return null;
  };
  let p = found();
  if (p) return { path: p, reason: '' };
  if (!install) return { path: null, reason: 'no chromium on PATH' };
  const apt = spawnSync('sh', ['-c', 'apt-get install -y chromium || (apt-get update && apt-get install -y chromium)'], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
  p = found();
  return p ? { path: p, reason: '' } : { path: null, reason: `chromium is not installed and apt-get could not install it (exit ${apt.status}: ${(apt.stderr || '').trim().split('\n').at(-1) ?? ''})` };
}

export interface Page {
  /** a DevTools command on the page's session */
  send<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** resolves at the next event of this name */
  next(event: string): Promise<Record<string, unknown>>;
  /** every event received so far */
  events: { method: string; params: Record<string, unknown> }[];
  close(): Promise<void>;
}

export async function openPage(chromium: string): Promise<Page> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-chromium-'));
  const child: ChildProcess = spawn(
    chromium,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--hide-scrollbars', '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
  );
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const waiters: { method: string; resolve: (p: Record<string, unknown>) => void }[] = [];
  const events: Page['events'] = [];
  let buffer = '';
  fromBrowser.setEncoding('utf8');
  fromBrowser.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buffer.slice(0, end)) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, unknown> };
      buffer = buffer.slice(end + 1);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(msg.error.message));
        else p?.resolve(msg.result ?? {});
      } else if (msg.method) {
        events.push({ method: msg.method, params: msg.params ?? {} });
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i]!.method === msg.method) waiters.splice(i, 1)[0]!.resolve(msg.params ?? {});
        }
      }
    }
  });
  const raw = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  const { targetId } = (await raw('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
  const { sessionId } = (await raw('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
  return {
    send: (method, params) => raw(method, params, sessionId) as never,
    next: (method) => new Promise((resolve) => waiters.push({ method, resolve })),
    events,
    async close() {
      await raw('Browser.close').catch(() => undefined);
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Navigates and waits for the load event (the page's Page domain must be enabled). */
export async function load(page: Page, url: string): Promise<void> {
  const loaded = page.next('Page.loadEventFired');
  await page.send('Page.navigate', { url });
  await loaded;
}

/** An expression's value in the page. */
export async function evaluate<T>(page: Page, expression: string): Promise<T> {
  const r = await page.send<{ result: { value: T }; exceptionDetails?: { text: string } }>('Runtime.evaluate', { expression, returnByValue: true });
  if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.text}`);
  return r.result.value;
}

/** The whole page at this width, as a PNG. */
export async function screenshot(page: Page, width: number, mobile: boolean, file: string): Promise<void> {
  const height = Math.ceil((await evaluate<number>(page, 'document.documentElement.scrollHeight')));
  await page.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: mobile ? 2 : 1, mobile });
  const shot = await page.send<{ data: string }>('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true });
  fs.writeFileSync(file, Buffer.from(shot.data, 'base64'));
}
