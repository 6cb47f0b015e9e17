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
  /** what the committed writes left, for lostWrites(): updates per original id, deleted ids, inserted ids */
  writes: { updated: [number, number][]; deleted: number[]; inserted: number[] };
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
  const updated = new Map<number, number>();
  const deleted = new Set<number>();
  const inserted = new Set<number>();
  /** ids a failed statement touched: whether it committed is unknown, so they are not checked */
  const uncertain = new Set<number>();
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
      const id = r < 0.6 || r >= 0.9 ? 1 + Math.floor(Math.random() * opts.maxId) : nextId++;
      try {
        if (r < 0.6) {
          const u = await c.query('UPDATE ledger SET amount = amount + 1 WHERE id = $1', [id]);
          if (u.rowCount === 1) updated.set(id, (updated.get(id) ?? 0) + 1);
        } else if (r < 0.9) {
          await c.query(
            `INSERT INTO ledger VALUES ($1, $2, 1.00, 'memo inserted by the benchmark load', '{"src": "load"}', now())`,
            [id, id % 100000],
          );
          inserted.add(id);
        } else {
          const d = await c.query('DELETE FROM ledger WHERE id = $1', [id]);
          if (d.rowCount === 1) deleted.add(id);
        }
      } catch {
        failures++;
        uncertain.add(id);
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
  const certain = (id: number): boolean => !uncertain.has(id);
  const writes = {
    updated: [...updated].filter(([id]) => certain(id) && !deleted.has(id)),
    deleted: [...deleted].filter(certain),
    inserted: [...inserted].filter(certain),
  };
  parentPort!.postMessage({ latencies, completedAt, failures, elapsedMs: clock() - opts.started, writes } satisfies LoadStats);
}

if (!isMainThread && (workerData as LoadOptions | null)?.url) await runLoad(workerData as LoadOptions);

/** p-th percentile (0..100) of the latencies of transactions completed in [from, to). */
export function percentileIn(s: LoadStats, p: number, from = 0, to = Infinity): number {
  const xs = s.latencies.filter((_, i) => s.completedAt[i]! >= from && s.completedAt[i]! < to).sort((a, b) => a - b);
  if (xs.length === 0) return 0;
  return xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
}

/**
 * Writes the load committed that the table does not show (after the migration: the new table):
 * an updated row without each of its increments over the template's amount (createLedger's
 * formula), a deleted row still there, an inserted row missing or changed.
 */
export async function lostWrites(c: pg.Client, s: LoadStats): Promise<number> {
  const r = await c.query(
    `SELECT (SELECT count(*) FROM unnest($1::bigint[], $2::int[]) e(id, n) LEFT JOIN ledger l USING (id)
              WHERE l.amount IS DISTINCT FROM (e.id * 13 % 100000) / 100.0 + e.n)
          + (SELECT count(*) FROM ledger WHERE id = ANY ($3::bigint[]))
          + (SELECT count(*) FROM unnest($4::bigint[]) i(id) LEFT JOIN ledger l USING (id) WHERE l.amount IS DISTINCT FROM 1.00) AS lost`,
    [s.writes.updated.map(([id]) => id), s.writes.updated.map(([, n]) => n), s.writes.deleted, s.writes.inserted],
  );
  return Number(r.rows[0].lost);
}
