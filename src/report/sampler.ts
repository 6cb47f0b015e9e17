import type { Client, Pool } from '../db/session.js';
import { createPool, withClient } from '../db/session.js';
import { ident } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import { describeError } from '../errors.js';
import { progress, type ProgressEvent } from '../progress.js';
import { bounded, type Baseline, type Bounded, type DbSample, type RunSample, type SampleKind, type ServerFacts } from './samples.js';

/**
 * The one sampler of a command run's report. It keeps the engine's progress events (src/progress.ts)
 * and samples the database on a connection of its own: pg_stat_database's transaction counter,
 * pg_stat_activity and pg_locks for the application's active and lock-waiting sessions, and
 * pg_stat_statements for the application's statements when the extension can be read.
 *
 * Cheap by construction: one query a tick (two while someone waits for a lock), a tick every
 * second at most and never more often than 100 times its own duration (so sampling keeps its
 * connection busy 1% of the time at most), progress events appended to bounded lists (nothing
 * is written to the database until the run ends), and nothing waited for at the start: the
 * baseline is the counters read at the start and again when the run first changes something
 * (the work before that, planning and preflight, happens anyway).
 */
export interface Sampler {
  /** a mark on the report's timeline (migrate up: each file as it begins) */
  note(text: string): void;
  /** stops sampling (one last sample) and hands over what was kept; the pool stays open for saving */
  stop(): Promise<Collected>;
  readonly pool: Pool;
}

export interface Collected {
  startedAt: number;
  baseline: Baseline;
  server: ServerFacts;
  samples: RunSample[];
  migrationIds: number[];
}

export interface SamplerOptions {
  url?: string;
  /** the shortest time between two database samples (default 1s) */
  intervalMs?: number;
}

/** Bounds: per series (a migration's rows, backlog, lag; the database's samples) and per kind of rare event. */
export const SERIES_MAX = 300;
export const EVENTS_MAX = 500;

/** How long the end of a run waits for its last database sample. */
const STOP_WAIT_MS = 2000;

/** A tick takes at most 1% of the time between ticks. */
const COST_FACTOR = 100;

export function startSampler(o: SamplerOptions): Sampler {
  const intervalMs = o.intervalMs ?? 1000;
  const startedAt = Date.now();
  // The session's settings are verified like every pgshift session's; a short lock_timeout:
  // nothing here takes a lock on a user's table.
  const pool = createPool({ url: o.url, role: 'report', lockTimeoutMs: 1000, maxClients: 1 });
  const series = new Map<string, Bounded<RunSample>>();
  const events = new Map<string, { list: RunSample[]; dropped: number }>();
  const db = bounded<RunSample>(SERIES_MAX, mergeDb, 2);
  const migrationIds = new Set<number>();
  const sampling = { ticks: 0, ms: 0 };
  let changeAt: number | null = null;
  let server: ServerFacts = { version: '', database: '', statementsSchema: null, statementsNote: 'not read', statementsTracked: 0 };
  let datid = 0;
  let statements: StatementCounters | null = null;
  let statementsAtStart: Baseline['statementsAtStart'] = null;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> | null = null;
  let lastTickMs = 0;

  const keepEvent = (kind: SampleKind, at: number, migrationId: number | null, data: Record<string, unknown>): void => {
    const s: RunSample = { at, kind, migrationId, data };
    if (kind === 'rows' || kind === 'backlog' || kind === 'lag') {
      const key = `${kind}:${migrationId}`;
      let b = series.get(key);
      if (!b) series.set(key, (b = bounded<RunSample>(SERIES_MAX, kind === 'rows' ? later : larger)));
      b.push(s);
      return;
    }
    let e = events.get(kind);
    if (!e) events.set(kind, (e = { list: [], dropped: 0 }));
    if (e.list.length < EVENTS_MAX) e.list.push(s);
    else e.dropped++;
  };

  const tick = (): Promise<void> => {
    inFlight ??= (async () => {
      try {
        const s = await withClient(pool, async (c) => {
          // Timed from the connection in hand: connecting once is not what each sample costs.
          const t0 = performance.now();
          try {
            return await sampleDb(c, datid, statements);
          } finally {
            lastTickMs = performance.now() - t0;
            sampling.ticks++;
            sampling.ms += lastTickMs;
          }
        });
        db.push({ at: Date.now(), kind: 'db', migrationId: null, data: s as unknown as Record<string, unknown> });
      } catch {
        // A sample that fails (the server busy, the connection lost) is a gap in a chart, never a failure of the run.
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void tick().then(schedule), Math.max(intervalMs, COST_FACTOR * lastTickMs));
    // The timer alone must not keep a finished command's process alive.
    timer.unref();
  };

  const changed = (): void => {
    if (changeAt !== null) return;
    changeAt = Date.now();
    // The baseline's second reading: taken now, while the run's first change begins.
    void ready.then(() => tick());
  };

  const ready = (async () => {
    try {
      ({ server, datid, statements } = await withClient(pool, readServer));
      if (statements) {
        const all = [...statements.last.values()];
        statementsAtStart = { calls: all.reduce((t, x) => t + x.calls, 0), execMs: all.reduce((t, x) => t + x.ms, 0) };
      }
      await tick();
    } catch (err) {
      server = { ...server, statementsNote: `the database could not be sampled: ${describeError(err)}` };
    }
    schedule();
  })();

  const unsubscribe = progress.subscribe((e: ProgressEvent) => {
    const { type, id, ...data } = e;
    migrationIds.add(id);
    keepEvent(type, Date.now(), id, data);
    changed();
  });

  return {
    pool,
    note(text) {
      keepEvent('note', Date.now(), null, { text });
      changed();
    },
    async stop() {
      unsubscribe();
      await ready;
      stopped = true;
      if (timer) clearTimeout(timer);
      // The last reading, unless the server no longer answers: a report never holds up the command's end for long.
      await Promise.race([(inFlight ?? Promise.resolve()).then(tick), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
      const samples = [...db.items(), ...[...series.values()].flatMap((b) => b.items()), ...[...events.values()].flatMap((e) => e.list)];
      const dropped = [...events.entries()].filter(([, e]) => e.dropped > 0).map(([k, e]) => `${e.dropped} ${k} events`);
      if (dropped.length) samples.push({ at: Date.now(), kind: 'note', migrationId: null, data: { text: `more events than a report keeps; left out: ${dropped.join(', ')}` } });
      samples.sort((a, b) => a.at - b.at);
      const baseline: Baseline = { startAt: startedAt, changeAt, statementsAtStart, sampling: { ...sampling, ms: Math.round(sampling.ms) } };
      return { startedAt, baseline, server, samples, migrationIds: [...migrationIds].sort((a, b) => a - b) };
    },
  };
}

/** Counters are cumulative: the later one stands for both. */
const later = (_a: RunSample, b: RunSample): RunSample => b;
/** Gauges keep their peaks. */
const larger = (a: RunSample, b: RunSample): RunSample => (Number(a.data.entries ?? a.data.ms ?? 0) > Number(b.data.entries ?? b.data.ms ?? 0) ? a : b);

/** Two database samples as one: the later counters, the larger gauges, the statement deltas added. */
function mergeDb(a: RunSample, b: RunSample): RunSample {
  const x = a.data as unknown as DbSample & StatementDelta;
  const y = b.data as unknown as DbSample & StatementDelta;
  const data: DbSample & StatementDelta = {
    ...y,
    waiting: Math.max(x.waiting, y.waiting),
    longestWaitMs: Math.max(x.longestWaitMs, y.longestWaitMs),
    active: Math.max(x.active, y.active),
    calls: x.calls === null || y.calls === null ? null : x.calls + y.calls,
    execMs: x.execMs === null || y.execMs === null ? null : x.execMs + y.execMs,
  };
  return { ...b, data: data as unknown as Record<string, unknown> };
}

/** In a stored sample, calls and execMs are what the followed statements did since the previous sample (the first: since their statistics began). */
type StatementDelta = Pick<DbSample, 'calls' | 'execMs'>;

/**
 * The application's statements, followed from the start: per role and statement, the counters last
 * read. A statement seen running in a pgshift session (pg_stat_activity.query_id) is dropped from
 * then on: the engine's queries on the user's table name no pgshift schema.
 */
interface StatementCounters {
  schema: string;
  last: Map<string, { queryid: string; calls: number; ms: number }>;
  excluded: Set<string>;
}

async function readServer(c: Client): Promise<{ server: ServerFacts; datid: number; statements: StatementCounters | null }> {
  const r = (await c.query(
    `/* pgshift report sampler */ SELECT current_setting('server_version') AS version, current_database() AS database,
            (SELECT oid FROM pg_database WHERE datname = current_database())::int AS datid,
            (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements') AS schema`,
  )).rows[0];
  const server: ServerFacts = { version: r.version, database: r.database, statementsSchema: null, statementsNote: null, statementsTracked: 0 };
  if (r.schema === null) return { server: { ...server, statementsNote: 'pg_stat_statements is not installed in this database' }, datid: r.datid, statements: null };
  try {
    const rows = (await c.query(sqlFile('report-statements-start.sql', { statements: ident(r.schema) }), [r.datid])).rows;
    const last = new Map<string, { queryid: string; calls: number; ms: number }>(rows.map((x) => [x.key, { queryid: x.queryid, calls: x.calls, ms: x.ms }]));
    return { server: { ...server, statementsSchema: r.schema, statementsTracked: last.size }, datid: r.datid, statements: { schema: r.schema, last, excluded: new Set() } };
  } catch (err) {
    // Installed but not loaded (shared_preload_libraries), or not readable by this role.
    return { server: { ...server, statementsNote: `pg_stat_statements cannot be read: ${describeError(err)}` }, datid: r.datid, statements: null };
  }
}

async function sampleDb(c: Client, datid: number, statements: StatementCounters | null): Promise<DbSample> {
  const r = (await c.query(sqlFile('report-sample.sql'), [datid])).rows[0];
  const longestWaitMs = r.waiting > 0 ? Number((await c.query(sqlFile('report-lock-wait.sql'), [datid])).rows[0].ms) : 0;
  const s: DbSample = { xacts: r.xacts, waiting: r.waiting, longestWaitMs, active: r.active, calls: null, execMs: null };
  if (!statements) return s;
  for (const q of r.pgshift_queries as string[]) statements.excluded.add(q);
  const ids = [...new Set([...statements.last.values()].map((x) => x.queryid))].filter((q) => !statements.excluded.has(q));
  const rows = ids.length ? (await c.query(sqlFile('report-statements.sql', { statements: ident(statements.schema) }), [datid, ids])).rows : [];
  let calls = 0;
  let ms = 0;
  for (const x of rows) {
    const before = statements.last.get(x.key);
    if (!before) continue;
    // An entry evicted and made anew starts from zero again.
    const reset = x.calls < before.calls;
    calls += reset ? x.calls : x.calls - before.calls;
    ms += reset ? x.ms : x.ms - before.ms;
    statements.last.set(x.key, { queryid: x.queryid, calls: x.calls, ms: x.ms });
  }
  return { ...s, calls, execMs: ms };
}
