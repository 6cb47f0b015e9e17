import pg from 'pg';
import { ident } from '../db/quote.js';

/**
 * An application-like write workload on a table shaped (id int PRIMARY KEY, u int UNIQUE,
 * v int, note text): updates, inserts, deletes, primary-key updates, and swaps of two rows'
 * UNIQUE values, each in one transaction that writes the same change to an optional mirror
 * table (not migrated) so a test can prove that no write was lost. Workers own disjoint key
 * partitions (id mod workers), so the workload itself never deadlocks or conflicts.
 */
export interface WorkloadOptions {
  url: string;
  schema: string;
  table: string;
  mirror?: string;
  workers: number;
  /** ids 1..initialRows exist when the workload starts */
  initialRows: number;
  /** total transactions per second over all workers; unlimited when absent */
  ratePerSecond?: number;
  /** extra session settings, e.g. "-c session_replication_role=replica" */
  sessionOptions?: string;
}

export interface WorkloadStats {
  transactions: number;
  failures: number;
  errors: string[];
  /** per-transaction latencies in ms, in completion order, with completion times (ms since start) */
  latencies: Float64Array;
  completedAt: Float64Array;
}

export interface Workload {
  stats(): WorkloadStats;
  stop(): Promise<WorkloadStats>;
}

type Op = (c: pg.Client, w: WorkerState) => Promise<void>;

interface WorkerState {
  live: number[];
  next: number;
  step: number;
}

export async function startWorkload(opts: WorkloadOptions): Promise<Workload> {
  const t = `${ident(opts.schema)}.${ident(opts.table)}`;
  const m = opts.mirror ? `${ident(opts.schema)}.${ident(opts.mirror)}` : null;
  const both = async (c: pg.Client, sql: (table: string) => string, params: unknown[]): Promise<pg.QueryResult> => {
    const r = await c.query(sql(t), params);
    if (m) await c.query(sql(m), params);
    return r;
  };
  const pick = (w: WorkerState): number => w.live[Math.floor(Math.random() * w.live.length)]!;
  const removeAt = (w: WorkerState, id: number): void => {
    const i = w.live.indexOf(id);
    w.live[i] = w.live[w.live.length - 1]!;
    w.live.pop();
  };
  const fresh = (w: WorkerState): number => {
    const id = w.next;
    w.next += w.step;
    return id;
  };

  const ops: [number, Op][] = [
    [30, async (c, w) => { await both(c, (x) => `UPDATE ${x} SET v = v + 1 WHERE id = $1`, [pick(w)]); }],
    [20, async (c, w) => {
      const id = fresh(w);
      await both(c, (x) => `INSERT INTO ${x} (id, u, v, note) VALUES ($1::int, $1::int, 0, 'new')`, [id]);
      w.live.push(id);
    }],
    [10, async (c, w) => {
      if (w.live.length < 10) return;
      const id = pick(w);
      await both(c, (x) => `DELETE FROM ${x} WHERE id = $1`, [id]);
      removeAt(w, id);
    }],
    [15, async (c, w) => {
      const old = pick(w);
      const id = fresh(w);
      await both(c, (x) => `UPDATE ${x} SET id = $2 WHERE id = $1`, [old, id]);
      removeAt(w, old);
      w.live.push(id);
    }],
    [15, async (c, w) => {
      const a = pick(w);
      const b = pick(w);
      if (a === b) return;
      const r = await c.query(`SELECT id, u FROM ${t} WHERE id IN ($1, $2) ORDER BY id FOR UPDATE`, [a, b]);
      // Number(): after an int -> bigint migration the driver returns ids as strings.
      const ua = r.rows.find((row) => Number(row.id) === a)?.u;
      const ub = r.rows.find((row) => Number(row.id) === b)?.u;
      // Swap two UNIQUE values the way applications must without a deferrable constraint.
      await both(c, (x) => `UPDATE ${x} SET u = -u WHERE id = $1`, [a]);
      await both(c, (x) => `UPDATE ${x} SET u = $2 WHERE id = $1`, [b, ua]);
      await both(c, (x) => `UPDATE ${x} SET u = $2 WHERE id = $1`, [a, ub]);
    }],
    // The value is made here, not by random() in SQL: the mirror must receive the same one.
    [10, async (c, w) => { await both(c, (x) => `UPDATE ${x} SET note = $2 WHERE id = $1`, [pick(w), Math.random().toString(36)]); }],
  ];
  const totalWeight = ops.reduce((s, [wt]) => s + wt, 0);
  const chooseOp = (): Op => {
    let r = Math.random() * totalWeight;
    for (const [wt, op] of ops) if ((r -= wt) < 0) return op;
    return ops[0]![1];
  };

  let running = true;
  const started = performance.now();
  let count = 0;
  let failures = 0;
  const errors: string[] = [];
  let latencies: Float64Array = new Float64Array(1 << 16);
  let completedAt: Float64Array = new Float64Array(1 << 16);
  const record = (ms: number): void => {
    if (count === latencies.length) {
      const grow = (a: Float64Array): Float64Array => { const b = new Float64Array(a.length * 2); b.set(a); return b; };
      latencies = grow(latencies);
      completedAt = grow(completedAt);
    }
    latencies[count] = ms;
    completedAt[count] = performance.now() - started;
    count++;
  };

  const intervalMs = opts.ratePerSecond ? (1000 * opts.workers) / opts.ratePerSecond : 0;
  const workers = await Promise.all(
    Array.from({ length: opts.workers }, async (_, i) => {
      const c = new pg.Client({ connectionString: opts.url, options: opts.sessionOptions, application_name: 'pgshift-workload' });
      c.on('error', () => undefined);
      await c.connect();
      const live: number[] = [];
      for (let id = 1; id <= opts.initialRows; id++) if (id % opts.workers === i) live.push(id);
      const base = opts.initialRows + 1_000_000;
      const state: WorkerState = { live, next: base + opts.workers - (base % opts.workers) + i, step: opts.workers };
      return { c, state };
    }),
  );
  const loops = workers.map(async ({ c, state }) => {
    let due = performance.now();
    while (running) {
      const t0 = performance.now();
      try {
        await c.query('BEGIN');
        await chooseOp()(c, state);
        await c.query('COMMIT');
      } catch (err) {
        failures++;
        if (errors.length < 20) errors.push((err as Error).message);
        await c.query('ROLLBACK').catch(() => undefined);
      }
      record(performance.now() - t0);
      if (intervalMs > 0) {
        due += intervalMs;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        else if (wait < -1000) due = performance.now(); // fell behind: do not burst to catch up
      }
    }
    await c.end();
  });

  const snapshot = (): WorkloadStats => ({
    transactions: count,
    failures,
    errors: [...errors],
    latencies: latencies.slice(0, count),
    completedAt: completedAt.slice(0, count),
  });
  return {
    stats: snapshot,
    async stop() {
      running = false;
      await Promise.all(loops);
      return snapshot();
    },
  };
}

/** The p-th percentile (0..100) of latencies within [fromMs, toMs) of the workload's clock. */
export function percentile(s: WorkloadStats, p: number, fromMs = 0, toMs = Infinity): number {
  const xs: number[] = [];
  for (let i = 0; i < s.transactions; i++) if (s.completedAt[i]! >= fromMs && s.completedAt[i]! < toMs) xs.push(s.latencies[i]!);
  if (xs.length === 0) return 0;
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
}
