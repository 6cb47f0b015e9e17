import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

/**
 * A write workload on the ledger table: updates, inserts and deletes at a fixed rate (or as
 * fast as it goes), recording each transaction's latency and completion time. It runs in a
 * worker thread, as an application runs in its own process: its latencies never include time
 * the benchmark's own event loop spent on pgshift's work.
 */
export interface Load {
  stop(): Promise<LoadStats>;
  /** ms since the load started, on the clock its completion times use */
  now(): number;
}

export interface LoadStats {
  latencies: number[];
  completedAt: number[];
  failures: number;
  elapsedMs: number;
}

interface LoadOptions {
  url: string;
  tps?: number;
  workers: number;
  firstNewId: number;
  maxId: number;
  /** absolute start time (performance.timeOrigin + now()) shared by both threads */
  started: number;
}

const clock = (): number => performance.timeOrigin + performance.now();

export async function startLoad(url: string, opts: Omit<LoadOptions, 'url' | 'started'>): Promise<Load> {
  const started = clock();
  const worker = new Worker(new URL(import.meta.url), { workerData: { ...opts, url, started } satisfies LoadOptions });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    now: () => clock() - started,
    stop: () =>
      new Promise<LoadStats>((resolve, reject) => {
        worker.once('message', (stats: LoadStats) => void worker.terminate().then(() => resolve(stats)));
        worker.once('error', reject);
        worker.postMessage('stop');
      }),
  };
}

async function runLoad(opts: LoadOptions): Promise<void> {
  const latencies: number[] = [];
  const completedAt: number[] = [];
  let failures = 0;
  let running = true;
  let nextId = opts.firstNewId;
  const clients = await Promise.all(
    Array.from({ length: opts.workers }, async () => {
      const c = new pg.Client({ connectionString: opts.url, application_name: 'pgshift-bench-load' });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    }),
  );
  parentPort!.postMessage('ready');
  const interval = opts.tps ? (1000 * opts.workers) / opts.tps : 0;
  const loops = clients.map(async (c, w) => {
    let due = performance.now() + (interval * w) / opts.workers;
    while (running) {
      const t0 = performance.now();
      const r = Math.random();
      try {
        if (r < 0.6) {
          await c.query('UPDATE ledger SET amount = amount + 1 WHERE id = $1', [1 + Math.floor(Math.random() * opts.maxId)]);
        } else if (r < 0.9) {
          const id = nextId++;
          await c.query(
            `INSERT INTO ledger VALUES ($1, $2, 1.00, 'memo inserted by the benchmark load', '{"src": "load"}', now())`,
            [id, id % 100000],
          );
        } else {
          await c.query('DELETE FROM ledger WHERE id = $1', [1 + Math.floor(Math.random() * opts.maxId)]);
        }
      } catch {
        failures++;
      }
      const t1 = performance.now();
      latencies.push(t1 - t0);
      completedAt.push(clock() - opts.started);
      if (interval > 0) {
        due += interval;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
        else if (wait < -1000) due = performance.now();
      }
    }
  });
  // The only message the main thread sends is the stop request; loops end within one interval.
  await new Promise<void>((resolve) => parentPort!.once('message', () => resolve()));
  running = false;
  await Promise.all(loops);
  await Promise.all(clients.map((c) => c.end()));
  parentPort!.postMessage({ latencies, completedAt, failures, elapsedMs: clock() - opts.started } satisfies LoadStats);
}

if (!isMainThread && (workerData as LoadOptions | null)?.url) await runLoad(workerData as LoadOptions);

/** p-th percentile (0..100) of the latencies of transactions completed in [from, to). */
export function percentileIn(s: LoadStats, p: number, from = 0, to = Infinity): number {
  const xs = s.latencies.filter((_, i) => s.completedAt[i]! >= from && s.completedAt[i]! < to).sort((a, b) => a - b);
  if (xs.length === 0) return 0;
  return xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
}
