import type { DbSample, RunRecord, RunSample } from './samples.js';

/**
 * A run's report as data: what report.json holds, and what the Markdown and HTML renderers draw.
 * Built by one pure function from the run and its samples as the state schema keeps them, so the
 * report written at the end of a run and `pgshift report <id>` are the same. Times on the charts
 * are milliseconds since the run's start.
 */
export interface ReportModel {
  format: 'pgshift-report/1';
  run: {
    id: number | null;
    command: string;
    startedAt: string;
    finishedAt: string;
    durationMs: number;
    outcome: string;
    exitCode: number;
    error: string | null;
    migrationIds: number[];
  };
  server: { version: string; database: string; pgStatStatements: string | null; note: string | null };
  /** each migration or backfill job the run drove, with its phases */
  steps: Step[];
  /** marks on the timeline (migrate up's files) */
  notes: { t: number; text: string }[];
  charts: {
    rowsPerSecond: LineChart;
    backlog: LineChart;
    lag: LineChart;
    throttle: BandChart;
    transactions: LineChart;
    lockWaits: LineChart;
    latency: LineChart;
  };
  cutovers: { migrationId: number; attempts: number; lockWaitMs: number | null; holdMs: number }[];
  validations: { migrationId: number; level: string; passed: boolean; rowsOrigin: number; rowsShadow: number; chunks: number; mismatchedChunks: number; writesHeldMs: number; ms: number }[];
  impact: { baseline: Figures & { windowMs: number; latencyBasis: string | null }; during: Figures & { windowMs: number } };
  sampling: { ticks: number; ms: number; samplesKept: number };
  /** the command's own report, as --json prints it */
  result: unknown;
}

export interface Step {
  id: number;
  kind: string;
  table: string;
  outcome: string;
  from: number;
  to: number;
  phases: Segment[];
}

export interface Segment {
  from: number;
  to: number;
  label: string;
}

export interface Point {
  t: number;
  v: number;
}

export interface Series {
  label: string;
  points: Point[];
}

export interface LineChart {
  series: Series[];
  /** the figure before the run, drawn as a dashed line; null: none */
  baseline: number | null;
  /** why nothing could be drawn (null: there is data) */
  missing: string | null;
}

export interface BandChart {
  rows: { label: string; segments: Segment[] }[];
  missing: string | null;
}

export interface Figures {
  transactionsPerSecond: number | null;
  statementsPerSecond: number | null;
  latencyMs: number | null;
  lockWaitingMax: number | null;
  longestLockWaitMs: number | null;
}

export function buildModel(run: RunRecord, samples: RunSample[]): ReportModel {
  const t0 = run.startedAt;
  const end = run.finishedAt - t0;
  const rel = (at: number): number => Math.max(0, Math.round(at - t0));
  const of = (kind: RunSample['kind']): RunSample[] => samples.filter((s) => s.kind === kind);
  const steps = buildSteps(samples, rel, end);
  const stepEnd = new Map(steps.map((s) => [s.id, s.to]));
  const labelOf = new Map(steps.map((s) => [s.id, `${s.kind === 'alter' ? 'migration' : s.kind} ${s.id}`]));
  const label = (id: number | null): string => labelOf.get(id ?? -1) ?? `step ${id}`;
  const db = of('db').map((s) => ({ t: rel(s.at), ...(s.data as unknown as DbSample) }));
  const impact = impactOf(run, db, rel);

  const perStep = (kind: 'backlog' | 'lag', field: string): Series[] =>
    groupBy(of(kind), (s) => s.migrationId).flatMap(([id, xs]) => {
      const pts = xs.filter((s) => s.data[field] !== null && s.data[field] !== undefined).map((s) => ({ t: rel(s.at), v: Number(s.data[field]) }));
      return pts.length ? [{ label: label(id), points: holdUntil(pts, stepEnd.get(id ?? -1) ?? end) }] : [];
    });

  const rows = groupBy(of('rows'), (s) => s.migrationId).flatMap(([id, xs]) => {
    const pts = ratePoints(xs.map((s) => ({ t: rel(s.at), v: Number(s.data.done) })));
    return pts.length ? [{ label: label(id), points: pts }] : [];
  });
  const throttleRows = groupBy(of('throttle'), (s) => s.migrationId).map(([id, xs]) => ({ label: label(id), segments: periods(xs, rel, stepEnd.get(id ?? -1) ?? end) }));
  const backlog = perStep('backlog', 'entries');
  const lag = perStep('lag', 'ms');
  const tx = rates(db, (d) => d.xacts);
  const latency = db.flatMap((d, i) => (i > 0 && d.calls !== null && d.execMs !== null && d.calls > 0 ? [{ t: d.t, v: d.execMs / d.calls }] : []));
  const noStatements = `not measured: ${run.server.statementsNote ?? 'pg_stat_statements saw too few of the application\'s statements during the run'}`;

  return {
    format: 'pgshift-report/1',
    run: {
      id: run.id, command: run.command, startedAt: new Date(run.startedAt).toISOString(), finishedAt: new Date(run.finishedAt).toISOString(),
      durationMs: Math.round(run.finishedAt - run.startedAt), outcome: run.outcome, exitCode: run.exitCode, error: run.error, migrationIds: run.migrationIds,
    },
    server: { version: run.server.version, database: run.server.database, pgStatStatements: run.server.statementsSchema, note: run.server.statementsNote },
    steps,
    notes: of('note').map((s) => ({ t: rel(s.at), text: String(s.data.text) })),
    charts: {
      rowsPerSecond: line(rows, null, 'no rows were copied or backfilled'),
      backlog: line(backlog, null, 'no changelog: nothing was copied online'),
      lag: line(lag, null, 'not measured: no standby or --replica to measure'),
      throttle: { rows: throttleRows, missing: throttleRows.length ? null : 'never throttled' },
      transactions: line(tx.length ? [{ label: 'transactions/s', points: tx }] : [], impact.baseline.transactionsPerSecond, 'not measured: too few database samples'),
      lockWaits: line(db.length ? [{ label: 'sessions waiting for a lock', points: db.map((d) => ({ t: d.t, v: d.waiting })) }] : [], impact.baseline.lockWaitingMax, 'not measured: no database samples'),
      latency: line(latency.length ? [{ label: 'mean statement time', points: latency }] : [], impact.baseline.latencyMs, noStatements),
    },
    cutovers: of('cutover').map((s) => ({ migrationId: s.migrationId!, attempts: Number(s.data.attempts), lockWaitMs: (s.data.lockWaitMs as number | null) ?? null, holdMs: Number(s.data.holdMs) })),
    validations: of('validation').map((s) => ({ migrationId: s.migrationId!, ...(s.data as Omit<ReportModel['validations'][number], 'migrationId'>) })),
    impact,
    sampling: { ...run.baseline.sampling, samplesKept: samples.length },
    result: run.result,
  };
}

function line(series: Series[], baseline: number | null, missing: string): LineChart {
  const drawable = series.filter((s) => s.points.length > 0);
  return { series: drawable, baseline, missing: drawable.length ? null : missing };
}

function groupBy<T, K>(xs: T[], key: (x: T) => K): [K, T[]][] {
  const m = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return [...m.entries()];
}

/** Each migration's phases from its phase events; a phase lasts until the next, the step's end, or the run's. */
function buildSteps(samples: RunSample[], rel: (at: number) => number, end: number): Step[] {
  const phases = samples.filter((s) => s.kind === 'phase' || s.kind === 'end');
  return groupBy(phases, (s) => s.migrationId!).map(([id, xs]) => {
    const first = xs.find((s) => s.kind === 'phase');
    const segments: Segment[] = [];
    let outcome = 'unfinished';
    let to = end;
    for (const s of xs) {
      const t = rel(s.at);
      const open = segments.at(-1);
      if (open && open.to < 0) open.to = t;
      if (s.kind === 'end') {
        outcome = String(s.data.outcome);
        to = t;
      } else if (s.data.phase === 'done') {
        outcome = 'done';
        to = t;
      } else {
        segments.push({ from: t, to: -1, label: String(s.data.phase) });
      }
    }
    const open = segments.at(-1);
    if (open && open.to < 0) open.to = to;
    return { id, kind: String(first?.data.kind ?? 'step'), table: String(first?.data.table ?? ''), outcome, from: segments[0]?.from ?? to, to, phases: segments };
  });
}

/** A gauge holds its last value until the step ends: the backlog or lag last measured stayed so. */
function holdUntil(points: Point[], to: number): Point[] {
  const last = points.at(-1)!;
  return last.t < to ? [...points, { t: to, v: last.v }] : points;
}

/**
 * Rows per second from a cumulative count, over windows of at least a second (or a hundredth
 * of the step): a copy's chunks arrive in bursts, and a rate per chunk would only show them.
 */
function ratePoints(cumulative: Point[]): Point[] {
  if (cumulative.length < 2) return [];
  const span = cumulative.at(-1)!.t - cumulative[0]!.t;
  const window = Math.max(1000, span / 100);
  const out: Point[] = [];
  let base = cumulative[0]!;
  for (const p of cumulative.slice(1)) {
    if (p.t - base.t < window && p !== cumulative.at(-1)) continue;
    // Drawn at the window's middle: the rate is the window's, not its end's.
    if (p.t > base.t) out.push({ t: Math.round((base.t + p.t) / 2), v: ((p.v - base.v) * 1000) / (p.t - base.t) });
    base = p;
  }
  // One window only: a level line across it.
  return out.length === 1 ? [{ t: cumulative[0]!.t, v: out[0]!.v }, { t: cumulative.at(-1)!.t, v: out[0]!.v }] : out;
}

/** Per second between consecutive database samples (the first sample only starts the count). */
function rates(db: (DbSample & { t: number })[], counter: (d: DbSample) => number): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < db.length; i++) {
    const dt = db[i]!.t - db[i - 1]!.t;
    if (dt > 0) out.push({ t: db[i]!.t, v: Math.max(0, ((counter(db[i]!) - counter(db[i - 1]!)) * 1000) / dt) });
  }
  return out;
}

/** Throttle periods: a reason opens one (or replaces the open one's), null closes it; one still open ends with its step. */
function periods(xs: RunSample[], rel: (at: number) => number, to: number): Segment[] {
  const out: Segment[] = [];
  for (const s of xs) {
    const t = rel(s.at);
    const open = out.at(-1);
    if (open && open.to < 0) open.to = t;
    if (s.data.reason) out.push({ from: t, to: -1, label: String(s.data.reason) });
  }
  const open = out.at(-1);
  if (open && open.to < 0) open.to = Math.max(open.from, to);
  return out;
}

/**
 * The database before and during the run. Before: from the counters read at the command's start to
 * those read when it first changed something (its own planning and preflight, which happen anyway:
 * no waiting period is added); the latency there falls back to the followed statements' mean since
 * pg_stat_statements' reset when they ran too rarely in that window. During: from the first change
 * to the run's end.
 */
function impactOf(run: RunRecord, db: (DbSample & { t: number })[], rel: (at: number) => number): ReportModel['impact'] {
  const changeT = run.baseline.changeAt === null ? null : rel(run.baseline.changeAt);
  // The sample taken for the change is the first at or after it.
  const split = changeT === null ? -1 : db.findIndex((d) => d.t >= changeT);
  // No change (or none before the first reading): no window before it to compare with.
  const before = changeT === null || split === 0 ? [] : split < 0 ? db : db.slice(0, split + 1);
  const during = changeT === null ? db : split < 0 ? [] : db.slice(split);
  const b = figures(before);
  const lifetime = run.baseline.statementsAtStart;
  let latencyBasis: string | null = b.latencyMs === null ? null : 'the window before the first change';
  if (b.latencyMs === null && lifetime && lifetime.calls > 0) {
    b.latencyMs = lifetime.execMs / lifetime.calls;
    latencyBasis = 'since pg_stat_statements was last reset (too few calls in the window before the first change)';
  }
  return { baseline: { ...b, windowMs: span(before), latencyBasis }, during: { ...figures(during), windowMs: span(during) } };
}

const MIN_CALLS = 20;

function span(xs: { t: number }[]): number {
  return xs.length > 1 ? xs.at(-1)!.t - xs[0]!.t : 0;
}

function figures(xs: (DbSample & { t: number })[]): Figures {
  if (xs.length === 0) return { transactionsPerSecond: null, statementsPerSecond: null, latencyMs: null, lockWaitingMax: null, longestLockWaitMs: null };
  const seconds = span(xs) / 1000;
  // Each sample's statement figures count since the one before it: the window's are its samples' after the first.
  const inside = xs.slice(1);
  const calls = inside.every((d) => d.calls !== null) && inside.length ? inside.reduce((t, d) => t + d.calls!, 0) : null;
  const execMs = calls === null ? null : inside.reduce((t, d) => t + d.execMs!, 0);
  return {
    transactionsPerSecond: seconds > 0 ? (xs.at(-1)!.xacts - xs[0]!.xacts) / seconds : null,
    statementsPerSecond: calls !== null && seconds > 0 ? calls / seconds : null,
    latencyMs: calls !== null && calls >= MIN_CALLS ? execMs! / calls : null,
    lockWaitingMax: Math.max(...xs.map((d) => d.waiting)),
    longestLockWaitMs: Math.max(...xs.map((d) => d.longestWaitMs)),
  };
}
