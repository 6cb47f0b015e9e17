import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, DEFAULTS, onlineAlter } from '../../../src/index.js';
import { revertMigration } from '../../../src/migration/revert.js';
import { onFailpoint, FAILPOINTS, type Failpoint } from '../../../src/failpoints.js';
import { startWorkload, type Workload } from '../../../src/demo/workload.js';
import type { Client } from '../../../src/db/session.js';
import type { RetryPolicy } from '../../../src/db/retry.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-db.js';
import { CLI, runCli } from '../../support/cli.js';
import { startRestartableServer, type RestartableServer } from '../../support/restartable-server.js';

/**
 * The fault x phase matrix (issue 11). Every cell: a fresh table of ROWS rows shaped like the
 * demo workload's (id int PK, u int UNIQUE, v int, note text) and its mirror, the mirrored
 * workload writing both throughout, the migration below, one fault injected at one phase. It
 * must end done (table = mirror row for row, new types, nothing of pgshift's left) or cleanly
 * rolled back (origin = mirror, old types, nothing left or everything listed and removed by
 * `pgshift cleanup`), with the documented exit code and a one-line message. The table of
 * outcomes is printed at the end and written to test-logs/fault-matrix.md.
 *
 * Faults are injected where the engine is at that moment: in-process fault-point handlers and
 * onPhase (deterministic: the engine waits for the handler), PGSHIFT_FAILPOINT for kill -9 of
 * the CLI, and for kill -9 mid-statement the CLI's backend is caught running a statement of the
 * phase and frozen (SIGSTOP) before the CLI is killed, so the statement is still in flight when
 * the resume starts; it is let go (SIGCONT) once the resume is connected.
 */
const ROWS = 20_000;
const RATE = 250;
const CELL_DEADLINE_MS = 150_000;
const ALTER = (t: string): string => `ALTER TABLE ${t} ALTER COLUMN v TYPE bigint, ADD COLUMN flag boolean DEFAULT true`;
const NEW_COLUMNS = 'id integer, u integer, v bigint, note text, flag boolean';
const OLD_COLUMNS = 'id integer, u integer, v integer, note text';
/** a retry budget a held lock outlasts: 4 attempts of 100-200 ms */
const SMALL_BUDGET: RetryPolicy = { ...DEFAULTS.retry, attempts: 4, lockTimeoutMs: 100, maxLockTimeoutMs: 200, backoffMs: 10, maxBackoffMs: 50 };

const COLUMNS = ['copy', 'index build', 'catch-up', 'validation', 'cutover', 'revert window'] as const;
type Column = (typeof COLUMNS)[number];
const TERMINATED_ROLES = ['copy', 'index', 'replay', 'validate', 'cutover', 'watchdog', 'owner', 'revert'] as const;
type Role = (typeof TERMINATED_ROLES)[number];
const FAULTS = [
  ...TERMINATED_ROLES.map((r) => `pg_terminate_backend: ${r} session`),
  'kill -9 at the phase, then resume',
  'kill -9 mid-statement, resume at once',
  'fast restart of the server',
  'deadlock with the application',
  'TRUNCATE by another session',
  'ALTER by another session',
  'GRANT by another session',
  'ENABLE ROW LEVEL SECURITY by another session',
  'prepared transaction holding a lock',
  'blocker past the retry budget',
] as const;
type Fault = (typeof FAULTS)[number];

/** Where a fault lands in each column (in-process): the fault point, or the phase's start. */
const POINT: Record<Exclude<Column, 'revert window'>, Failpoint | 'catch-up-start'> = {
  copy: 'mid-copy', 'index build': 'mid-index', 'catch-up': 'catch-up-start', validation: 'mid-validation', cutover: 'in-cutover',
};
/** The engine's phase names (pgshift.migrations.phase) of the columns. */
const PHASE_NAME: Record<Exclude<Column, 'revert window'>, string> = {
  copy: 'copy', 'index build': 'index', 'catch-up': 'catch-up', validation: 'checksum', cutover: 'cutover',
};
/** The kill -9 fault point of each column (PGSHIFT_FAILPOINT). */
const KILL_POINT: Record<Column, Failpoint> = {
  copy: 'mid-copy', 'index build': 'mid-index', 'catch-up': 'catch-up', validation: 'mid-validation', cutover: 'in-cutover', 'revert window': 'in-revert',
};

const results = new Map<Fault, Map<Column, string>>();
const record = (f: Fault, c: Column, text: string): void => {
  if (!results.has(f)) results.set(f, new Map());
  results.get(f)!.set(c, text);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | null | undefined | false>, everyMs = 5): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`waited ${ms} ms for ${what}`);
    await sleep(everyMs);
  }
}

/** A database the cells run in: the shared server's, or the restartable server's. */
interface Db {
  url: string;
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
}

/** How a run ended: an exit code (in-process: the error's), or killed. */
interface Ended {
  code: number | 'killed';
  message: string;
}

function fromError(err: unknown): Ended {
  const code = (err as { exitCode?: number }).exitCode;
  const message = err instanceof Error ? err.message : String(err);
  // Anything but a PgshiftError escaping the library is untyped: the CLI prints it in one line
  // with exit 1 (run.ts), which is the documented code; the cell says so.
  if (code === undefined) return { code: 1, message: `(untyped error) ${message.split('\n')[0]}` };
  return { code, message };
}

function cliEnded(r: { status: number | null; signal: string | null; stderr: string }): Ended {
  if (r.signal === 'SIGKILL') return { code: 'killed', message: '' };
  const lines = r.stderr.trim().split('\n').filter((l) => l.length > 0);
  expect(r.status, r.stderr).not.toBeNull();
  if (r.status !== 0) {
    // One line naming the problem, never a stack trace (DESIGN.md section 1).
    expect(lines.length, `one line on stderr:\n${r.stderr}`).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
  return { code: r.status!, message: lines.join(' ').replace(/^pgshift: /, '') };
}

function oneLine(e: Ended): void {
  expect(e.message, 'one line').not.toMatch(/\n/);
}

const short = (s: string, n = 110): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s).replace(/\|/g, '/');

// ---------------------------------------------------------------- table, mirror, workload

let cellNo = 0;
let burstBase = 10_000_000;

async function freshTable(db: Db, opts: { child?: boolean } = {}): Promise<string> {
  const t = `m${++cellNo}`;
  await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text);
    CREATE TABLE ${t}_mirror (id int, u int, v int, note text); CREATE INDEX ON ${t}_mirror (id);
    INSERT INTO ${t} SELECT g, g, g, 'n' || g FROM generate_series(1, ${ROWS}) g; INSERT INTO ${t}_mirror SELECT * FROM ${t};
    ANALYZE ${t};`);
  // A child table (empty: the workload's deletes never meet a reference) puts a second table
  // into the cutover's lock set, which a deadlock with the application needs.
  if (opts.child) await db.query(`CREATE TABLE ${t}_child (id int PRIMARY KEY, p int REFERENCES ${t} (id))`);
  return t;
}

function workloadOn(db: Db, t: string, initialRows = ROWS): Promise<Workload> {
  return startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows, ratePerSecond: RATE });
}

/** An application transaction writing many new rows to the table and its mirror (a backlog for the replay). */
async function burst(db: Db, t: string, n: number): Promise<void> {
  const lo = burstBase;
  burstBase += n;
  await db.query(`BEGIN; INSERT INTO ${t} SELECT g, g, 0, 'burst' FROM generate_series(${lo}, ${lo + n - 1}) g;
    INSERT INTO ${t}_mirror SELECT g, g, 0, 'burst' FROM generate_series(${lo}, ${lo + n - 1}) g; COMMIT;`);
}

// ---------------------------------------------------------------- what a run leaves

async function latest(db: Db, t: string): Promise<{ id: number; phase: string; outcome: string | null; error: string | null } | undefined> {
  const r = await db.query(`SELECT id::int, phase, outcome, error FROM pgshift.migrations WHERE table_name = $1 ORDER BY id DESC LIMIT 1`, [t]).catch(() => ({ rows: [] }));
  return r.rows[0];
}

async function columnsOf(db: Db, t: string): Promise<string> {
  return (await db.query(`SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, [t])).rows[0].c;
}

async function mirrorDiff(db: Db, t: string): Promise<number> {
  return (await db.query(`SELECT count(*)::int AS n FROM ((SELECT id, u, v::int, note FROM ${t} EXCEPT ALL SELECT * FROM ${t}_mirror)
    UNION ALL (SELECT * FROM ${t}_mirror EXCEPT ALL SELECT id, u, v::int, note FROM ${t})) d`)).rows[0].n;
}

/** pgshift's triggers on the table and the schemas of every migration of it. */
async function leftovers(db: Db, t: string): Promise<string[]> {
  const triggers = await db.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgname LIKE 'pgshift%'`, [t]);
  const schemas = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname IN (SELECT 'pgshift_' || id FROM pgshift.migrations WHERE table_name = $1)`, [t]);
  return [...triggers.rows.map((r) => `trigger ${r.tgname}`), ...schemas.rows.map((r) => `schema ${r.nspname}`)];
}

async function cli(args: string[], db: Db, env: Record<string, string> = {}): Promise<Ended & { stdout: string }> {
  const r = await bounded(runCli([...args, '--url', db.url], env), 120_000, `pgshift ${args[0]}`);
  return { ...cliEnded(r), stdout: r.stdout };
}

/**
 * From how the faulted run ended to a final state: a killed run, one stopped on purpose (4) or
 * one whose swap had committed is resumed (bounded); a run that exited 1 with things listed is
 * cleaned up. Then the final state is checked and described.
 */
async function settle(db: Db, t: string, first: Ended, allow: { refusal?: boolean } = {}): Promise<string> {
  const notes: string[] = [];
  if (first.code !== 'killed' && first.code !== 0) oneLine(first);
  if (first.code === 2 && !allow.refusal) throw new Error(`exit 2 is for refusals before anything changed, got: ${first.message}`);
  if (first.code === 3) throw new Error(`exit 3 (differences) from a fault: ${first.message}`);
  let last = first;
  let resumes = 0;
  for (let step = 0; step < 4; step++) {
    const m = await latest(db, t);
    if (!m || m.outcome !== null) break;
    const swapped = ['validate', 'done'].includes(m.phase);
    if (last.code === 'killed' || last.code === 4 || swapped || last.code === 0) {
      resumes++;
      last = await cli(['resume', String(m.id)], db);
      notes.push(`resume exit ${last.code}${last.code === 0 ? '' : `: ${short(last.message, 80)}`}`);
    } else if (last.code === 1) {
      const c = await cli(['cleanup', String(m.id)], db);
      expect(c.code, c.message).toBe(0);
      notes.push('pgshift cleanup finished it');
      last = { code: 0, message: '' };
    } else {
      throw new Error(`unfinished migration after exit ${last.code}: ${last.message}`);
    }
  }
  const m = await latest(db, t);
  if (!m) {
    // Refused before anything was recorded.
    expect(await mirrorDiff(db, t)).toBe(0);
    return `refused, exit ${first.code}: ${short(first.message)}`;
  }
  expect(m.outcome, `migration ${m.id} ended (${m.phase}, ${m.error})`).not.toBeNull();
  if (m.outcome === 'done') {
    expect(await mirrorDiff(db, t), 'table = mirror').toBe(0);
    expect(await columnsOf(db, t)).toBe(NEW_COLUMNS);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${t} WHERE flag IS NOT TRUE`)).rows[0].n).toBe(0);
    expect(await leftovers(db, t)).toEqual([]);
    const how = first.code === 0 ? 'done' : first.code === 'killed' ? `done (resumed${resumes > 1 ? ` ${resumes} times` : ''})` : `done after exit ${first.code} (${short(first.message, 70)}; ${notes.join('; ')})`;
    return how;
  }
  // Rolled back: the origin as it was, with every write.
  expect(await mirrorDiff(db, t), 'origin = mirror').toBe(0);
  expect(await columnsOf(db, t)).toBe(OLD_COLUMNS);
  let left = await leftovers(db, t);
  if (left.length) {
    const c = await cli(['cleanup', String(m.id)], db);
    expect(c.code, c.message).toBe(0);
    notes.push(`cleanup removed ${left.join(', ')}`);
    left = await leftovers(db, t);
  }
  expect(left).toEqual([]);
  const code = first.code === 'killed' ? 'killed' : `exit ${first.code}`;
  return `rolled back, ${code}: ${short(first.message || m.error || '')}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

/** After a revert-window column's fault: reverted (old table back, = mirror) or still done and revertible. */
async function settleRevert(db: Db, t: string, id: number, first: Ended, allow: { refusal?: boolean } = {}): Promise<string> {
  const notes: string[] = [];
  if (first.code !== 'killed' && first.code !== 0) oneLine(first);
  if (first.code === 2 && !allow.refusal) throw new Error(`exit 2 is for refusals, got: ${first.message}`);
  let outcome = (await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].outcome;
  if (outcome !== 'reverted' && first.code !== 2) {
    // The window is still open: the new table = mirror, and a second revert brings the old one back.
    expect(await mirrorDiff(db, t), 'new table = mirror').toBe(0);
    expect(await columnsOf(db, t)).toBe(NEW_COLUMNS);
    const again = await cli(['revert', String(id)], db);
    expect(again.code, again.message).toBe(0);
    notes.push('reverted by a second pgshift revert');
    outcome = (await db.query(`SELECT outcome FROM pgshift.migrations WHERE id = $1`, [id])).rows[0].outcome;
  }
  if (outcome === 'reverted') {
    expect(await mirrorDiff(db, t), 'reverted table = mirror').toBe(0);
    expect(await columnsOf(db, t)).toBe(OLD_COLUMNS);
  } else {
    expect(await mirrorDiff(db, t), 'table = mirror').toBe(0);
    expect(await columnsOf(db, t)).toBe(NEW_COLUMNS);
  }
  const c = await cli(['cleanup', String(id)], db);
  expect(c.code, c.message).toBe(0);
  expect(await leftovers(db, t)).toEqual([]);
  const head = first.code === 0 ? 'reverted' : first.code === 'killed' ? 'revert killed' : `revert exit ${first.code}: ${short(first.message, 80)}`;
  return `${head}${notes.length ? `; ${notes.join('; ')}` : ''}${outcome === 'reverted' ? '' : '; kept the new table'}`;
}

// ---------------------------------------------------------------- in-process injection

type Hook = (c: Client | undefined, id: number) => Promise<void>;

/** Arms `hook` to run once at the column's point (or at its phase's start), for one run. */
function arm(column: Exclude<Column, 'revert window'>, where: 'point' | 'start', hook: Hook): { onPhase: (phase: string, m: { id: number }) => Promise<void>; disarm: () => void } {
  let id = 0;
  let fired = false;
  const once = async (c?: Client): Promise<void> => {
    if (fired) return;
    fired = true;
    await hook(c, id);
  };
  const point = POINT[column];
  if (where === 'point' && point !== 'catch-up-start') onFailpoint(point, once);
  return {
    onPhase: async (phase, m) => {
      id = m.id;
      if (phase === PHASE_NAME[column] && (where === 'start' || point === 'catch-up-start')) await once();
    },
    disarm: () => {
      for (const f of FAILPOINTS) onFailpoint(f, null);
    },
  };
}

async function alterInProcess(db: Db, t: string, opts: { retry?: RetryPolicy; revertWindow?: boolean; onPhase?: (phase: string, m: { id: number }) => Promise<void> }): Promise<Ended> {
  try {
    await bounded(
      onlineAlter(
        alterOptions({ strategy: 'copy',
          url: db.url, statements: ALTER(t), execute: true, chunkTimeMs: 20, dropOld: !opts.revertWindow,
          revertWindowMs: opts.revertWindow ? 3_600_000 : undefined, retry: opts.retry ?? DEFAULTS.retry, onPhase: opts.onPhase,
        }),
      ),
      CELL_DEADLINE_MS, `alter of ${t}`,
    );
    return { code: 0, message: '' };
  } catch (err) {
    return fromError(err);
  }
}

async function revertInProcess(db: Db, id: number, retry: RetryPolicy = DEFAULTS.retry): Promise<Ended> {
  try {
    await bounded(revertMigration({ url: db.url, retry, deadlineMs: DEFAULTS.cutoverDeadlineMs }, String(id)), CELL_DEADLINE_MS, `revert of ${id}`);
    return { code: 0, message: '' };
  } catch (err) {
    return fromError(err);
  }
}

/** A migration with a revert window, done: the revert column's starting point. */
async function doneWithWindow(db: Db, t: string): Promise<number> {
  const r = await alterInProcess(db, t, { revertWindow: true });
  expect(r.code, r.message).toBe(0);
  return (await latest(db, t))!.id;
}

// ---------------------------------------------------------------- sessions

interface Session {
  pid: number;
  role: string;
  state: string;
  query: string;
}

async function sessions(db: Db, id: number, roles?: string[]): Promise<Session[]> {
  const r = await db.query(
    `SELECT pid, split_part(application_name, ':', 3) AS role, coalesce(state, '') AS state, left(query, 60) AS query FROM pg_stat_activity
      WHERE datname = current_database() AND application_name LIKE 'pgshift:' || $1 || ':%' AND ($2::text[] IS NULL OR split_part(application_name, ':', 3) = ANY ($2))`,
    [id, roles ?? null],
  );
  return r.rows;
}

async function terminate(db: Db, pids: number[]): Promise<void> {
  await db.query(`SELECT pg_terminate_backend(p) FROM unnest($1::int[]) p`, [pids]);
  await until('the terminated sessions to go', 10_000, async () => (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY ($1)`, [pids])).rows[0].n === 0);
}

/** Which session roles exist at each column's point (one probe migration, then its revert). */
const present = new Map<Column, Set<string>>();

/** Another session of the application: its own client, ended by the cell. */
async function appSession(db: Db): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url, application_name: 'the-application' });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

// ---------------------------------------------------------------- kill -9 mid-statement

function spawnCli(args: string[]): { child: ChildProcess; done: Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: process.env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr })),
  );
  return { child, done };
}

/**
 * Waits until a backend of the migration's `roles` runs a statement (state active) while the
 * migration is in `phase`, then freezes that backend (SIGSTOP): its statement stays in flight.
 * Null when the process ended first.
 */
async function catchStatement(db: Db, t: string, phase: string | null, roles: string[], exited: () => boolean, onTick?: () => Promise<void>): Promise<Session | null> {
  const deadline = performance.now() + 90_000;
  while (performance.now() < deadline && !exited()) {
    await onTick?.();
    const r = await db.query(
      `SELECT a.pid, split_part(a.application_name, ':', 3) AS role, a.state, left(a.query, 60) AS query
         FROM pg_stat_activity a JOIN pgshift.migrations m ON a.application_name LIKE 'pgshift:' || m.id || ':%'
        WHERE a.datname = current_database() AND m.table_name = $1 AND ($2::text IS NULL OR m.phase = $2) AND split_part(a.application_name, ':', 3) = ANY ($3)
          AND a.state = 'active' AND a.query NOT LIKE '%current_setting(n)%' AND a.query NOT LIKE '%set_config(%' LIMIT 1`,
      [t, phase, roles],
    ).catch(() => ({ rows: [] as Session[] }));
    const s = r.rows[0] as Session | undefined;
    if (s) {
      process.kill(s.pid, 'SIGSTOP');
      return s;
    }
    await sleep(1);
  }
  return null;
}

/** Lets a frozen backend go once the resume (or revert) is connected, or after a bound. */
async function releaseWhenResumed(db: Db, pid: number, id: number, role: string): Promise<void> {
  try {
    await until('the resume to connect', 10_000, async () =>
      (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name IN ('pgshift:' || $1 || ':' || $2, 'pgshift:-:' || $2)`, [id, role])).rows[0].n > 0,
    2).catch(() => undefined);
  } finally {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone already
    }
  }
}

// ---------------------------------------------------------------- the suite

describe('fault x phase matrix', { timeout: 400_000 }, () => {
  let db: TestDatabase;
  let own: RestartableServer | null = null;
  let ownDb: Db | null = null;
  const role = `matrix_${Math.random().toString(36).slice(2, 8)}`;
  const started = performance.now();

  beforeAll(async () => {
    db = await createTestDatabase('matrix');
    await db.query(`CREATE ROLE ${role}`);
    await probeSessions();
  });

  afterAll(async () => {
    for (const f of FAILPOINTS) onFailpoint(f, null);
    const seconds = (performance.now() - started) / 1000;
    const table = [
      `| fault \\ phase | ${COLUMNS.join(' | ')} |`,
      `|---|${COLUMNS.map(() => '---').join('|')}|`,
      ...FAULTS.map((f) => `| ${f} | ${COLUMNS.map((c) => results.get(f)?.get(c) ?? 'not run').join(' | ')} |`),
    ].join('\n');
    const text = `## Fault x phase matrix (test/faults/long/matrix.test.ts)\n\n${ROWS} rows per table, mirrored workload at ${RATE} tx/s; ALTER: \`${ALTER('t')}\`\n\n${table}\n\nWhole file: ${seconds.toFixed(0)} s\n`;
    console.log(text);
    fs.mkdirSync(new URL('../../../test-logs/', import.meta.url), { recursive: true });
    fs.writeFileSync(new URL('../../../test-logs/fault-matrix.md', import.meta.url), text);
    await db?.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await db?.drop();
    const admin = new pg.Client({ connectionString: db.url.replace(/\/[^/?]+(\?|$)/, '/postgres$1') });
    await admin.connect().then(() => admin.query(`DROP ROLE IF EXISTS ${role}`)).finally(() => admin.end());
    await own?.stop();
  });

  async function probeSessions(): Promise<void> {
    const t = await freshTable(db);
    const seen = (c: Column) => async (_c: Client | undefined, id: number): Promise<void> => {
      present.set(c, new Set((await sessions(db, id)).map((s) => s.role)));
    };
    const hooks = (['copy', 'index build', 'catch-up', 'validation', 'cutover'] as const).map((c) => arm(c, 'point', seen(c)));
    try {
      const r = await alterInProcess(db, t, { revertWindow: true, onPhase: async (p, m) => { for (const h of hooks) await h.onPhase(p, m); } });
      expect(r.code, r.message).toBe(0);
    } finally {
      hooks[0]!.disarm();
    }
    // The catch-up replays on a session of its own once it has begun.
    present.get('catch-up')!.add('replay');
    const id = (await latest(db, t))!.id;
    onFailpoint('in-revert', async () => {
      present.set('revert window', new Set((await sessions(db, id)).map((s) => s.role)));
    });
    try {
      expect((await revertInProcess(db, id)).code).toBe(0);
    } finally {
      onFailpoint('in-revert', null);
    }
  }

  /** Runs one cell: the outcome text is recorded whatever happens; a failed check fails the test. */
  async function cell(fault: Fault, column: Column, body: () => Promise<string>): Promise<void> {
    try {
      const text = await bounded(body(), CELL_DEADLINE_MS + 60_000, `${fault} / ${column}`);
      record(fault, column, text);
    } catch (err) {
      record(fault, column, `FAILED: ${short(err instanceof Error ? err.message.split('\n')[0]! : String(err), 150)}`);
      throw err;
    } finally {
      for (const f of FAILPOINTS) onFailpoint(f, null);
    }
  }

  /**
   * The common frame: table, workload, the migration with the fault armed, settle, workload
   * checks. `inject` gets the db, the table, and returns how to run and what failures of the
   * application's transactions it allows.
   */
  async function withWorkload(d: Db, t: string, body: (w: { current: Workload; restart: () => Promise<void> }) => Promise<string>, allowAppFailures = false): Promise<string> {
    const w = { current: await workloadOn(d, t), dead: [] as Workload[], restart: async () => undefined as void };
    w.restart = async () => {
      // The server cut the workload's connections: a new workload on fresh keys goes on writing.
      w.dead.push(w.current);
      w.current = await workloadOn(d, t, 0);
    };
    let text: string;
    let failures = 0;
    try {
      text = await body(w);
    } finally {
      for (const x of [...w.dead, w.current]) {
        const s = await bounded(x.stop(), 30_000, 'workload stop');
        failures += s.failures;
        if (!allowAppFailures) expect(s.errors, 'the application saw no failures').toEqual([]);
      }
    }
    // The workload stopped: the final comparison again, now that nothing moves.
    expect(await mirrorDiff(d, t), 'table = mirror after the workload stopped').toBe(0);
    return failures ? `${text}; ${failures} application transactions failed (the fault's)` : text;
  }

  // ------------------------------------------------------------ terminate each role

  const terminateCells = TERMINATED_ROLES.flatMap((r) => COLUMNS.map((c) => [r, c] as const));
  it.each(terminateCells)('pg_terminate_backend of the %s session in %s', async (r, column) => {
    const fault = `pg_terminate_backend: ${r} session` as Fault;
    await cell(fault, column, async () => {
      const roles = present.get(column);
      if (!roles?.has(r)) return `n/a: no ${r} session (${[...(roles ?? [])].sort().join(', ')})`;
      return terminateCell(r, column);
    });
  });

  async function terminateCell(r: Role, column: Column): Promise<string> {
    const t = await freshTable(db);
    let what = '';
    const kill = async (id: number): Promise<void> => {
      const s = await sessions(db, id, [r]);
      what = s.map((x) => x.state).join('+') || 'none';
      if (s.length) await terminate(db, s.map((x) => x.pid));
    };
    return withWorkload(db, t, async () => {
      if (column === 'revert window') {
        const id = await doneWithWindow(db, t);
        onFailpoint('in-revert', async () => kill(id));
        const first = await revertInProcess(db, id);
        return `${await settleRevert(db, t, id, first)} [${what}]`;
      }
      const hook = arm(column, 'point', async (_c, id) => {
        if (column === 'catch-up' && r === 'replay') {
          // Give the catch-up a backlog, then terminate its replay session mid-batch.
          await burst(db, t, 20_000);
          void until('the replay session to run', 30_000, async () => (await sessions(db, id, ['replay'])).find((s) => s.state === 'active'), 1)
            .then((s) => { what = 'active'; return terminate(db, [s.pid]); })
            .catch(() => { what = 'not caught'; });
          return;
        }
        await kill(id);
      });
      const first = await alterInProcess(db, t, { onPhase: hook.onPhase });
      return `${await settle(db, t, first)} [${what}]`;
    });
  }

  // ------------------------------------------------------------ kill -9 at the phase

  it.each(COLUMNS)('kill -9 of the CLI in %s, then resume', async (column) => {
    await cell('kill -9 at the phase, then resume', column, async () => {
      const t = await freshTable(db);
      return withWorkload(db, t, async () => {
        if (column === 'revert window') {
          const a = await cli(['alter', '--strategy', 'copy', ALTER(t), '--execute', '--chunk-time', '20ms', '--revert-window', '1h'], db);
          expect(a.code, a.message).toBe(0);
          const id = (await latest(db, t))!.id;
          const killed = await cli(['revert', String(id)], db, { PGSHIFT_FAILPOINT: 'in-revert' });
          expect(killed.code).toBe('killed');
          return settleRevert(db, t, id, killed);
        }
        const killed = await cli(['alter', '--strategy', 'copy', ALTER(t), '--execute', '--chunk-time', '20ms', '--drop-old'], db, { PGSHIFT_FAILPOINT: KILL_POINT[column] });
        expect(killed.code).toBe('killed');
        return settle(db, t, killed);
      });
    });
  });

  // ------------------------------------------------------------ kill -9 mid-statement

  it.each(COLUMNS)('kill -9 of the CLI mid-statement in %s, resume at once', async (column) => {
    await cell('kill -9 mid-statement, resume at once', column, async () => {
      const t = await freshTable(db);
      return withWorkload(db, t, async () => {
        let id: number;
        let run: ReturnType<typeof spawnCli>;
        let exited = false;
        let caught: Session | null;
        if (column === 'revert window') {
          const a = await cli(['alter', '--strategy', 'copy', ALTER(t), '--execute', '--chunk-time', '20ms', '--revert-window', '1h'], db);
          expect(a.code, a.message).toBe(0);
          id = (await latest(db, t))!.id;
          // A backlog in the reverse changelog: the revert's replay runs long enough to be caught.
          await burst(db, t, 20_000);
          run = spawnCli(['revert', String(id), '--url', db.url]);
          void run.done.then(() => (exited = true));
          caught = await catchStatement(db, t, null, ['replay'], () => exited);
        } else {
          run = spawnCli(['alter', '--strategy', 'copy', ALTER(t), '--execute', '--chunk-time', '20ms', '--drop-old', '--url', db.url]);
          void run.done.then(() => (exited = true));
          const roles = { copy: ['copy'], 'index build': ['index'], 'catch-up': ['replay'], validation: ['validate'], cutover: ['cutover'] }[column];
          // The catch-up is short under this load: backlogs written from the index build on keep it replaying.
          let bursting = column === 'catch-up';
          const tick = async (): Promise<void> => {
            if (!bursting) return;
            const m = await latest(db, t);
            if (m && ['index', 'catch-up'].includes(m.phase)) await burst(db, t, 3000);
            if (m && !['capture', 'copy', 'index', 'catch-up'].includes(m.phase)) bursting = false;
          };
          caught = await catchStatement(db, t, PHASE_NAME[column], roles, () => exited, tick);
          id = (await latest(db, t))!.id;
        }
        if (!caught) {
          const r = cliEnded(await run.done);
          expect(r.code, r.message).toBe(0);
          return column === 'revert window' ? `${await settleRevert(db, t, id, r)} (no statement caught)` : `${await settle(db, t, r)} (no statement caught)`;
        }
        run.child.kill('SIGKILL');
        const killed = cliEnded(await bounded(run.done, 30_000, 'the killed CLI'));
        expect(killed.code).toBe('killed');
        const inFlight = `${caught.role}: ${caught.query.replace(/\s+/g, ' ').slice(0, 40)}`;
        if (column === 'revert window') {
          // Revert again at once; the frozen backend is let go once the new revert is connected.
          const again = runCli(['revert', String(id), '--url', db.url]);
          await releaseWhenResumed(db, caught.pid, id, 'revert');
          const r = cliEnded(await bounded(again, 60_000, 'revert').catch(async (err: Error) => {
            const a = await db.query(`SELECT pid, application_name, state, wait_event_type, wait_event, left(query, 80) AS q FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'pgshift%'`);
            throw new Error(`${err.message}; frozen pid ${caught!.pid}; sessions: ${JSON.stringify(a.rows)}`);
          }));
          const text = await settleRevert(db, t, id, r.code === 0 ? { code: 0, message: '' } : r);
          return `${text} (in flight: ${short(inFlight, 50)})`;
        }
        const resumed = runCli(['resume', String(id), '--url', db.url]);
        await releaseWhenResumed(db, caught.pid, id, 'resume');
        const r = cliEnded(await bounded(resumed, 120_000, 'resume'));
        const text = r.code === 0 ? await settle(db, t, { code: 'killed', message: '' }) : await settle(db, t, r);
        return `${text} (in flight: ${short(inFlight, 50)})`;
      });
    });
  });

  // ------------------------------------------------------------ fast restart of the server

  it.each(COLUMNS)('fast restart of the server in %s', async (column) => {
    await cell('fast restart of the server', column, async () => {
      if (!own) {
        own = await startRestartableServer(['max_prepared_transactions=10']);
        const admin = new pg.Client({ connectionString: own.url() });
        await admin.connect();
        await admin.query('CREATE DATABASE matrix');
        await admin.end();
        const pool = new pg.Pool({ connectionString: own.url('matrix'), max: 4 });
        pool.on('error', () => undefined);
        ownDb = { url: own.url('matrix'), query: (sql, params) => pool.query(sql, params) };
      }
      const d = ownDb!;
      const t = await freshTable(d);
      return withWorkload(d, t, async (w) => {
        const restart = async (): Promise<void> => {
          await own!.restart();
          await w.restart();
        };
        if (column === 'revert window') {
          const id = await doneWithWindow(d, t);
          onFailpoint('in-revert', restart);
          const first = await revertInProcess(d, id);
          return settleRevert(d, t, id, first);
        }
        const hook = arm(column, 'point', restart);
        const first = await alterInProcess(d, t, { onPhase: hook.onPhase });
        return settle(d, t, first);
      }, true);
    });
  });

  // ------------------------------------------------------------ deadlock with the application

  it.each(COLUMNS)('deadlock with the application in %s', async (column) => {
    await cell('deadlock with the application', column, async () => {
      if (column === 'copy' || column === 'index build' || column === 'catch-up') {
        return 'n/a: the engine holds no lock the application waits for (ACCESS SHARE on the table, its own shadow)';
      }
      if (column === 'validation') return 'n/a: the validation locks the table alone (SHARE, one lock): no cycle';
      const t = await freshTable(db, { child: true });
      // Each lock wait long enough for the cycle to close and be found (the application's
      // deadlock_timeout is short: it is the victim unless the engine's check comes first).
      const patient: RetryPolicy = { ...DEFAULTS.retry, lockTimeoutMs: 5000, maxLockTimeoutMs: 5000 };
      const app = await appSession(db);
      let appOutcome = 'not reached';
      try {
        return await withWorkload(db, t, async () => {
          // The application holds the child table, then (once the engine holds the table and waits
          // for the child) asks for the table: a lock cycle.
          const deadlock = async (id: number): Promise<void> => {
            await app.query(`SET deadlock_timeout = '50ms'; BEGIN; UPDATE ${t}_child SET p = p WHERE false`);
            void (async () => {
              await until('the engine to hold the table and wait for the child', 60_000, async () =>
                (await db.query(
                  `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                    WHERE a.datname = current_database() AND a.application_name LIKE 'pgshift:' || $1 || ':%' AND l.relation = $2::regclass AND NOT l.granted`,
                  [id, `${t}_child`],
                )).rows[0].n > 0,
              2);
              try {
                await app.query(`UPDATE ${t} SET v = v + 1 WHERE id = 1`);
                await app.query(`UPDATE ${t}_mirror SET v = v + 1 WHERE id = 1`);
                await app.query('COMMIT');
                appOutcome = 'the engine was the victim';
              } catch (err) {
                await app.query('ROLLBACK');
                appOutcome = (err as { code?: string }).code === '40P01' ? 'the application was the deadlock victim' : `the application failed: ${(err as Error).message}`;
              }
            })().catch((err) => { appOutcome = `not caught: ${(err as Error).message}`; void app.query('ROLLBACK').catch(() => undefined); });
          };
          if (column === 'revert window') {
            const id = await doneWithWindow(db, t);
            await deadlock(id);
            const first = await revertInProcess(db, id, patient);
            return `${await settleRevert(db, t, id, first)} (${appOutcome})`;
          }
          const hook = arm('cutover', 'start', async (_c, id) => deadlock(id));
          const first = await alterInProcess(db, t, { onPhase: hook.onPhase, retry: patient });
          return `${await settle(db, t, first)} (${appOutcome})`;
        });
      } finally {
        await app.end().catch(() => undefined);
      }
    });
  });

  // ------------------------------------------------------------ other sessions' changes

  const CHANGES: { fault: Fault; sql: (t: string) => string; check: (t: string) => string; expected: unknown; mirror?: boolean }[] = [
    { fault: 'TRUNCATE by another session', sql: (t) => `TRUNCATE ${t}, ${t}_mirror`, check: (t) => `SELECT count(*)::int AS x FROM ${t} WHERE note <> 'burst'`, expected: null },
    { fault: 'ALTER by another session', sql: (t) => `ALTER TABLE ${t} ALTER COLUMN note SET DEFAULT 'changed'`, check: (t) => `SELECT pg_get_expr(adbin, adrelid) AS x FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = '${t}'::regclass AND a.attname = 'note'`, expected: "'changed'::text" },
    { fault: 'GRANT by another session', sql: (t) => `GRANT SELECT ON ${t} TO ${role}`, check: (t) => `SELECT has_table_privilege('${role}', '${t}', 'SELECT') AS x`, expected: true },
    { fault: 'ENABLE ROW LEVEL SECURITY by another session', sql: (t) => `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY`, check: (t) => `SELECT relrowsecurity AS x FROM pg_class WHERE oid = '${t}'::regclass`, expected: true },
  ];
  const changeCells = CHANGES.flatMap((ch) => COLUMNS.map((c) => [ch.fault, c, ch] as const));
  it.each(changeCells)('%s in %s', async (fault, column, ch) => {
    await cell(fault, column, async () => {
      const t = await freshTable(db);
      const app = await appSession(db);
      let note = '';
      const change = async (): Promise<void> => {
        // Bounded: a change the engine's locks would hold up is said, never waited for forever.
        await app.query(`SET lock_timeout = '10s'`);
        await app.query(ch.sql(t)).catch((err: Error) => { note = ` (the change itself failed: ${err.message})`; });
      };
      try {
        return await withWorkload(db, t, async () => {
          let text: string;
          if (column === 'revert window') {
            const id = await doneWithWindow(db, t);
            await change();
            const first = await revertInProcess(db, id);
            // Swapping back would undo the other session's change: a refusal before anything is swapped (exit 2).
            text = await settleRevert(db, t, id, first, { refusal: true });
          } else {
            // Where the engine holds locks at the point itself (the validation's snapshot, the
            // swap), the change comes at the phase's start.
            const where = column === 'validation' || column === 'cutover' ? 'start' : 'point';
            const hook = arm(column, where, async () => change());
            const first = await alterInProcess(db, t, { onPhase: hook.onPhase });
            text = await settle(db, t, first);
          }
          // The other session's change is never undone, whatever the outcome.
          if (!note && ch.expected !== null) expect((await db.query(ch.check(t))).rows[0].x, 'the change stays').toEqual(ch.expected);
          return text + note;
          // TRUNCATE wipes rows the workload still counts on: a swap of two UNIQUE values then
          // meets a missing row and fails its NOT NULL (the fault's own failure; nothing written).
        }, ch.fault === 'TRUNCATE by another session');
      } finally {
        await app.end().catch(() => undefined);
      }
    });
  });

  // ------------------------------------------------------------ held locks: prepared transaction, blocker

  it.each(COLUMNS)('a prepared transaction holding a lock from %s on', async (column) => {
    await cell('prepared transaction holding a lock', column, async () => {
      const t = await freshTable(db);
      const app = await appSession(db);
      const gid = `matrix_${t}`;
      let prepared = false;
      const prepare = async (): Promise<void> => {
        await app.query(`BEGIN; LOCK TABLE ${t} IN ROW EXCLUSIVE MODE; PREPARE TRANSACTION '${gid}'`);
        prepared = true;
      };
      const end = async (): Promise<void> => {
        if (prepared) await app.query(`ROLLBACK PREPARED '${gid}'`);
        prepared = false;
      };
      try {
        return await withWorkload(db, t, async () => {
          if (column === 'revert window') {
            const id = await doneWithWindow(db, t);
            await prepare();
            const first = await revertInProcess(db, id, SMALL_BUDGET);
            if (first.code !== 0) expect(first.message).toMatch(new RegExp(`prepared transaction '${gid}'`));
            await end();
            return settleRevert(db, t, id, first);
          }
          const where = column === 'validation' || column === 'cutover' ? 'start' : 'point';
          const hook = arm(column, where, async () => prepare());
          const first = await alterInProcess(db, t, { onPhase: hook.onPhase, retry: SMALL_BUDGET });
          if (first.code !== 0) expect(first.message, 'names the prepared transaction').toMatch(new RegExp(`prepared transaction '${gid}'`));
          await end();
          return settle(db, t, first);
        });
      } finally {
        await end().catch(() => undefined);
        await app.end().catch(() => undefined);
      }
    });
  });

  it.each(COLUMNS)('a blocker past the retry budget from %s on', async (column) => {
    await cell('blocker past the retry budget', column, async () => {
      const t = await freshTable(db);
      const app = await appSession(db);
      let open = false;
      // A long read transaction: ACCESS SHARE, which only the swap's exclusive lock waits for.
      const block = async (): Promise<void> => {
        await app.query(`BEGIN; SELECT count(*) FROM ${t}`);
        open = true;
      };
      const end = async (): Promise<void> => {
        if (open) await app.query('COMMIT');
        open = false;
      };
      try {
        return await withWorkload(db, t, async () => {
          if (column === 'revert window') {
            const id = await doneWithWindow(db, t);
            await block();
            const first = await revertInProcess(db, id, SMALL_BUDGET);
            await end();
            return settleRevert(db, t, id, first);
          }
          const where = column === 'validation' || column === 'cutover' ? 'start' : 'point';
          const hook = arm(column, where, async () => block());
          const first = await alterInProcess(db, t, { onPhase: hook.onPhase, retry: SMALL_BUDGET });
          await end();
          return settle(db, t, first);
        });
      } finally {
        await end().catch(() => undefined);
        await app.end().catch(() => undefined);
      }
    });
  });
});
