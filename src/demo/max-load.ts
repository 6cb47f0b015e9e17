import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { literal, qualified } from '../db/quote.js';

/**
 * A pgbench-style write load at the machine's maximum: `clients` connections, no rate limit,
 * each transaction ONE round trip, on a table shaped (id int PRIMARY KEY, u int UNIQUE, v int,
 * note text). The mix is workload.ts's (updates, inserts, deletes, primary-key updates, swaps
 * of two rows' UNIQUE values, note changes), and every change is written in the same
 * transaction to a mirror table that is not migrated, so a test can prove no write was lost.
 *
 * One round trip: each transaction is one simple-protocol string of statements with integer
 * literals only (the note is a [a-z0-9] string through literal()). PostgreSQL runs a
 * multi-statement string as one implicit transaction: an error rolls all of it back, nothing
 * to send afterwards. No prepared statement either: a cached plan would fail with "cached plan
 * must not change result type" once the migrated table's key is bigint.
 *
 * Clients own disjoint key partitions (id mod clients) and know their rows' UNIQUE values, so
 * the load never conflicts with itself and a swap needs no SELECT ... FOR UPDATE first. Every
 * statement must touch exactly one row; one that touches none (a row the client believes live
 * is gone) is counted in `misses`.
 *
 * It runs in a worker thread, as an application runs in its own process: the engine's work
 * on the caller's event loop never slows it, and its counters are shared memory the caller
 * reads at any moment without stopping it.
 */
export interface MaxLoadOptions {
  url: string;
  schema: string;
  table: string;
  mirror: string;
  /** connections, each in a tight loop (default 5) */
  clients?: number;
  /** ids 1..initialRows exist with u = id when the load starts */
  initialRows: number;
}

export interface MaxLoadCounters {
  /** committed transactions */
  transactions: number;
  failures: number;
}

export interface MaxLoadStats extends MaxLoadCounters {
  elapsedMs: number;
  transactionsPerSecond: number;
  /** failed transactions by SQLSTATE ('none' for a lost connection) */
  failuresByCode: Record<string, number>;
  /** the first few failure messages */
  errors: string[];
  /** statements that touched no row where one was expected (a sign of a lost row) */
  misses: number;
  /** committed transactions by kind */
  byKind: Record<Kind, number>;
  latencyMs: { p50: number; p99: number; max: number };
}

export interface MaxLoad {
  /** the shared counters, read without stopping the load */
  counters(): MaxLoadCounters;
  stop(): Promise<MaxLoadStats>;
}

const KINDS = ['update', 'insert', 'delete', 'key-update', 'unique-swap', 'note'] as const;
type Kind = (typeof KINDS)[number];
/** The mix of workload.ts, in percent. */
const WEIGHTS: Record<Kind, number> = { update: 30, insert: 20, delete: 10, 'key-update': 15, 'unique-swap': 15, note: 10 };

// Shared Int32 counters: transactions, failures.
const TX = 0;
const FAIL = 1;

interface WorkerInput {
  kind: 'pgshift-max-load';
  opts: Required<MaxLoadOptions>;
  counters: SharedArrayBuffer;
}

/**
 * Under vitest this module is the TypeScript source, which a worker thread cannot load: the
 * worker runs the built copy (`npm run build`), which the long suites build first. Bundled into
 * the command line (dist/src/cli/main.js, scripts/bundle-cli.ts), it runs the built module beside.
 */
function workerEntry(): URL {
  const self = new URL(import.meta.url);
  if (self.pathname.endsWith('.ts')) return new URL('../../dist/src/demo/max-load.js', self);
  return self.pathname.endsWith('/max-load.js') ? self : new URL('../demo/max-load.js', self);
}

export async function startMaxLoad(options: MaxLoadOptions): Promise<MaxLoad> {
  const opts: Required<MaxLoadOptions> = { clients: 5, ...options };
  const buffer = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
  const shared = new Int32Array(buffer);
  const worker = new Worker(workerEntry(), { workerData: { kind: 'pgshift-max-load', opts, counters: buffer } satisfies WorkerInput });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    counters: () => ({ transactions: Atomics.load(shared, TX), failures: Atomics.load(shared, FAIL) }),
    stop: () =>
      new Promise<MaxLoadStats>((resolve, reject) => {
        worker.once('message', (stats: MaxLoadStats) => void worker.terminate().then(() => resolve(stats)));
        worker.once('error', reject);
        worker.postMessage('stop');
      }),
  };
}

interface ClientState {
  live: number[];
  /** a row's UNIQUE value where it differs from its id (after a key update or a swap) */
  u: Map<number, number>;
  next: number;
  step: number;
}

/** One transaction: the SQL string, the row count each statement must report, and the state change once committed. */
interface Tx {
  kind: Kind;
  sql: string;
  statements: number;
  commit: () => void;
}

function transactions(t: string, m: string): (s: ClientState) => Tx | null {
  const int = (n: number): string => {
    if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`);
    return String(n);
  };
  const uOf = (s: ClientState, id: number): number => s.u.get(id) ?? id;
  const pickIndex = (s: ClientState): number => Math.floor(Math.random() * s.live.length);
  const removeAt = (s: ClientState, i: number): void => {
    s.live[i] = s.live[s.live.length - 1]!;
    s.live.pop();
  };
  const both = (stmt: (x: string) => string): string => `${stmt(t)}; ${stmt(m)}`;

  const make: Record<Kind, (s: ClientState) => Tx | null> = {
    update: (s) => {
      const id = int(s.live[pickIndex(s)]!);
      return { kind: 'update', sql: both((x) => `UPDATE ${x} SET v = v + 1 WHERE id = ${id}`), statements: 2, commit: () => undefined };
    },
    insert: (s) => {
      const id = s.next;
      const sql = both((x) => `INSERT INTO ${x} (id, u, v, note) VALUES (${int(id)}, ${int(id)}, 0, 'new')`);
      return { kind: 'insert', sql, statements: 2, commit: () => { s.next += s.step; s.live.push(id); } };
    },
    delete: (s) => {
      if (s.live.length < 10) return null;
      const i = pickIndex(s);
      const id = s.live[i]!;
      return { kind: 'delete', sql: both((x) => `DELETE FROM ${x} WHERE id = ${int(id)}`), statements: 2, commit: () => { removeAt(s, i); s.u.delete(id); } };
    },
    'key-update': (s) => {
      const i = pickIndex(s);
      const old = s.live[i]!;
      const id = s.next;
      const sql = both((x) => `UPDATE ${x} SET id = ${int(id)} WHERE id = ${int(old)}`);
      return {
        kind: 'key-update', sql, statements: 2,
        commit: () => {
          s.next += s.step;
          s.u.set(id, uOf(s, old));
          s.u.delete(old);
          s.live[i] = id;
        },
      };
    },
    'unique-swap': (s) => {
      const a = s.live[pickIndex(s)]!;
      const b = s.live[pickIndex(s)]!;
      if (a === b) return null;
      const ua = uOf(s, a);
      const ub = uOf(s, b);
      // The way applications swap without a deferrable constraint: park one value on its negative.
      const sql = both((x) =>
        `UPDATE ${x} SET u = ${int(-ua)} WHERE id = ${int(a)}; UPDATE ${x} SET u = ${int(ua)} WHERE id = ${int(b)}; UPDATE ${x} SET u = ${int(ub)} WHERE id = ${int(a)}`,
      );
      return { kind: 'unique-swap', sql, statements: 6, commit: () => { s.u.set(a, ub); s.u.set(b, ua); } };
    },
    note: (s) => {
      const id = int(s.live[pickIndex(s)]!);
      // The value is made here, not by random() in SQL: the mirror must receive the same one.
      const note = literal(Math.random().toString(36).slice(2));
      return { kind: 'note', sql: both((x) => `UPDATE ${x} SET note = ${note} WHERE id = ${id}`), statements: 2, commit: () => undefined };
    },
  };
  const total = KINDS.reduce((sum, k) => sum + WEIGHTS[k], 0);
  return (s) => {
    let r = Math.random() * total;
    for (const k of KINDS) if ((r -= WEIGHTS[k]) < 0) return make[k](s);
    return make.update(s);
  };
}

async function runLoad(input: WorkerInput): Promise<void> {
  const { opts } = input;
  const shared = new Int32Array(input.counters);
  const next = transactions(qualified(opts.schema, opts.table), qualified(opts.schema, opts.mirror));
  const failuresByCode: Record<string, number> = {};
  const errors: string[] = [];
  const byKind = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  let misses = 0;
  let latencies = new Float32Array(1 << 20);
  let count = 0;
  let running = true;

  const clients = await Promise.all(
    Array.from({ length: opts.clients }, async (_, i) => {
      const c = new pg.Client({ connectionString: opts.url, application_name: 'pgshift-max-load' });
      c.on('error', () => undefined);
      await c.connect();
      const live: number[] = [];
      for (let id = 1; id <= opts.initialRows; id++) if (id % opts.clients === i) live.push(id);
      // Fresh ids far above the initial ones, each client's in its own residue class.
      const base = opts.initialRows + 1_000_000;
      const state: ClientState = { live, u: new Map(), next: base + opts.clients - (base % opts.clients) + i, step: opts.clients };
      return { c, state };
    }),
  );
  parentPort!.postMessage('ready');
  const started = performance.now();

  const loops = clients.map(async ({ c, state }) => {
    while (running) {
      const tx = next(state);
      if (tx === null) continue;
      const t0 = performance.now();
      try {
        const r = (await c.query(tx.sql)) as unknown as pg.QueryResult | pg.QueryResult[];
        const results = Array.isArray(r) ? r : [r];
        misses += results.filter((x) => x.rowCount !== 1).length + Math.max(0, tx.statements - results.length);
        tx.commit();
        byKind[tx.kind]++;
        Atomics.add(shared, TX, 1);
        if (count === latencies.length) {
          const grown = new Float32Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[count++] = performance.now() - t0;
      } catch (err) {
        Atomics.add(shared, FAIL, 1);
        const code = (err as { code?: unknown }).code;
        const key = typeof code === 'string' ? code : 'none';
        failuresByCode[key] = (failuresByCode[key] ?? 0) + 1;
        if (errors.length < 20) errors.push(`${tx.kind}: ${(err as Error).message}`);
        // No SQLSTATE: the connection is gone; this client stops rather than spin on it.
        if (key === 'none') return;
      }
    }
  });

  await new Promise<void>((resolve) => parentPort!.once('message', () => resolve()));
  running = false;
  await Promise.all(loops);
  const elapsedMs = performance.now() - started;
  await Promise.all(clients.map(({ c }) => c.end().catch(() => undefined)));
  const sorted = latencies.slice(0, count).sort();
  const at = (p: number): number => (count ? sorted[Math.min(count - 1, Math.floor(p * count))]! : 0);
  const transactions_ = Atomics.load(shared, TX);
  parentPort!.postMessage({
    transactions: transactions_,
    failures: Atomics.load(shared, FAIL),
    elapsedMs,
    transactionsPerSecond: transactions_ / (elapsedMs / 1000),
    failuresByCode,
    errors,
    misses,
    byKind,
    latencyMs: { p50: at(0.5), p99: at(0.99), max: count ? sorted[count - 1]! : 0 },
  } satisfies MaxLoadStats);
}

if (!isMainThread && (workerData as WorkerInput | null)?.kind === 'pgshift-max-load') await runLoad(workerData as WorkerInput);
