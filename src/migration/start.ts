import type { Pool } from '../db/session.js';
import { bindMigration, createPool, withClient, withTransaction } from '../db/session.js';
import { qualified } from '../db/quote.js';
import { UserError } from '../errors.js';
import { componentLog } from '../log.js';
import type { AlterOptions } from '../config.js';
import { readColumns } from '../catalog/table.js';
import { PHASES, type Phase } from '../state/phases.js';
import { ensureStateSchema, finishMigration, registerMigration } from '../state/store.js';
import { takeOwnership } from '../state/ownership.js';
import type { DeferredConstraint, DeferredIndex, ShadowTable } from '../shadow/build.js';
import type { ShadowHeap } from '../shadow/reloptions.js';
import { makePlan, rowsToCopy, type Plan } from './plan.js';
import { doneReport, planReport, type AlterReport } from './report.js';
import { continueFrom, execute } from './run-phases.js';
import { newRun, phaseHelpers } from './run.js';
import { captureContext, createCopyXactsSql } from './phases/capture.js';
import { dropArtifacts, migrationNames } from './artifacts.js';
import { finishAfterSwap, runOwned, takeOver } from './lifecycle.js';
import { resumedOptions, storedOptions, type StoredOptions } from './stored-options.js';
import { applyWithoutCopy, continueWithoutCopy, unitsOf, type Unit, type WithoutCopy } from './without-copy.js';
import { decide, describeStrategies, summarize, type Decided } from '../strategy/preview.js';
import { nameIndexes, type ClassifyOptions } from '../strategy/classify.js';
import { deparseStatement } from '../plan/parse.js';
import { alterDryRun } from '../dry-run/plan.js';
import { MAX_LANES } from '../copy/lanes.js';

export type { AlterReport } from './report.js';

const log = componentLog('start');

/**
 * `pgshift alter`: decide each change's strategy (src/strategy), then plan it; with `execute`,
 * run it: through the online copy (register, every phase to the swap), or on the table itself
 * (without-copy.ts). An interrupted migration of the same statements on the table is taken over.
 */
export async function onlineAlter(given: AlterOptions): Promise<AlterReport> {
  // A dry run's estimate counts what came before its rehearsal: a run repeats it.
  const opts = given.execute ? given : { ...given, startedAt: given.startedAt ?? performance.now() };
  const pool = enginePool(opts, 'alter');
  try {
    const planFor = (sql: string): Promise<Plan> => withClient(pool, (c) => makePlan(c, sql, opts.retry, opts.transforms, opts.diskFreeBytes));
    // The copy's plan (its trial shadow above all) is begun beside the strategy's decision, on a
    // second session: both are catalog reads and DDL rolled back, and most of either is waiting
    // on the server. It is used only when the decision is a copy of the same statements;
    // otherwise it is waited for and dropped, its refusal too (the decision's comes first).
    const early = settle(planFor(opts.statements));
    const decided = await withClient(pool, (c) => decide(c, opts.statements, classifyOptions(opts))).catch(async (err: unknown) => {
      await early;
      throw err;
    });
    const { classification, facts } = decided;
    const lines = describeStrategies(summarize(decided));
    if (classification.overall.strategy !== 'copy') {
      await early;
      return await alterWithoutCopy(pool, decided, opts, lines);
    }
    // The statements as the copy runs them: CREATE INDEX named as on the table itself.
    const named = nameIndexes(decided.parsed.statements, facts).join(';\n');
    const begun = await early;
    const same = decided.parsed.statements.map(deparseStatement).join(';\n') === named;
    const plan = !same ? await planFor(named) : begun.ok ? begun.value : begun.rethrow();
    const report = { ...planReport(plan, opts), strategy: 'copy' as const, decisions: classification.decisions };
    const revertNotes = report.plan.filter((l) => l.startsWith('  revert:')).map((l) => l.trim());
    report.plan = [...lines, ...report.plan];
    if (!opts.execute) return { ...report, document: await alterDryRun(pool, decided, plan, opts, revertNotes) };
    await ensureStateSchema(pool);
    const interrupted = await interruptedMigration(pool, plan.origin.oid, plan.statements);
    if (interrupted !== null) return await takeOverMigration(pool, { ...opts, statements: named }, await load(pool, interrupted));
    return { ...(await startMigration(pool, plan, opts)), strategy: 'copy', decisions: classification.decisions, plan: report.plan };
  } finally {
    await pool.end();
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; rethrow: () => never };

/** A promise whose failure waits to be asked for (never an unhandled rejection meanwhile). */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, rethrow: (): never => { throw err; } }),
  );
}

export function classifyOptions(opts: AlterOptions): ClassifyOptions {
  const copyOnly: [string, boolean][] = [
    ['--postpone-cutover', opts.postponeCutover], ['--cutover-at', opts.cutoverAt !== undefined],
    ['--revert-window', opts.revertWindowMs !== undefined], ['--transform', opts.transforms.length > 0],
  ];
  return { strategy: opts.strategy, copyThresholdBytes: opts.copyThresholdBytes, downtimeAllowed: opts.downtimeAllowed, copyOnlyOptions: copyOnly.filter(([, on]) => on).map(([flag]) => flag) };
}

async function interruptedMigration(pool: Pool, tableOid: string, statements: string[]): Promise<number | null> {
  const r = await withClient(pool, (c) =>
    c.query(`SELECT id::int FROM pgshift.migrations WHERE kind = 'alter' AND outcome IS NULL AND table_oid = $1 AND statements = $2`, [tableOid, statements.join(';\n')]),
  );
  return r.rows[0]?.id ?? null;
}

/** Options that tune a copy, given where nothing is copied: said, not silently ignored. */
const COPY_TUNING: Record<string, string> = {
  chunkTimeMs: '--chunk-time', nice: '--nice', maxParallel: '--max-parallel', validation: '--validation', rollback: '--rollback', dropOld: '--drop-old',
  maxLag: '--max-lag', replica: '--replica', maxSlotLag: '--max-slot-lag', maxWalRate: '--max-wal-rate', maxActive: '--max-active', throttleQuery: '--throttle-query',
};

/** A change that needs no copy (decide() has applied the refusals of every strategy): its units, on the table itself. */
async function alterWithoutCopy(pool: Pool, decided: Decided, opts: AlterOptions, lines: string[]): Promise<AlterReport> {
  const { facts, classification, parsed } = decided;
  const table = facts.table;
  const strategy = classification.overall.strategy as WithoutCopy;
  const statements = parsed.statements.map(deparseStatement);
  const unused = (opts.explicit ?? []).flatMap((k) => (COPY_TUNING[k] ? [COPY_TUNING[k]] : []));
  const plan = [...lines, ...(unused.length ? [`unused (nothing is copied): ${unused.join(', ')}`] : [])];
  const report: AlterReport = {
    status: 'planned', migrationId: null, table: `${table.schema}.${table.name}`, statements, plan, rowsEstimated: table.estimatedRows,
    rowsCopied: null, copyRowsPerSecond: null, durationsMs: null, cutover: null, validation: null, validated: [], strategy, decisions: classification.decisions,
  };
  if (!opts.execute) return { ...report, document: await alterDryRun(pool, decided, null, opts, unused.length ? [`unused (nothing is copied): ${unused.join(', ')}`] : []) };
  await ensureStateSchema(pool);
  const interrupted = await interruptedMigration(pool, table.oid, statements);
  if (interrupted !== null) return { ...(await takeOverMigration(pool, opts, await load(pool, interrupted))), plan, decisions: classification.decisions };
  const target = { oid: table.oid, schema: table.schema, name: table.name, estimatedRows: table.estimatedRows };
  const done = await applyWithoutCopy(pool, { target, statements, units: unitsOf(classification, parsed.statements), strategy }, opts);
  return { ...done, plan, decisions: classification.decisions };
}

/** `pgshift resume <id>`: take over an interrupted migration and finish it, with its stored options. */
export async function resumeMigration(opts: Omit<AlterOptions, 'statements'>, idText: string): Promise<AlterReport> {
  if (!/^\d+$/.test(idText)) throw new UserError(`"${idText}" is not a migration id`);
  const pool = enginePool(opts, 'resume');
  try {
    const m = await load(pool, Number(idText));
    return await takeOverMigration(pool, { ...opts, statements: m.statements }, m);
  } finally {
    await pool.end();
  }
}

// Connections: copy + bound look-ups, index build, replay, the validation's lock and snapshot
// holders and its workers, the cutover and its deadline's watchdog, the owner.
function enginePool(opts: Omit<AlterOptions, 'statements'>, role: string): Pool {
  return createPool({ url: opts.url, role, lockTimeoutMs: opts.retry.lockTimeoutMs, maxClients: 7 + opts.checksumParallel + 2 * (MAX_LANES - 1) });
}

/** A new migration: registered with its options, owned by this process, run from the start. */
async function startMigration(pool: Pool, plan: Plan, opts: AlterOptions): Promise<AlterReport> {
  const started = performance.now();
  const id = await withTransaction(pool, (c) =>
    registerMigration(c, {
      tableOid: plan.origin.oid,
      schema: plan.origin.schema,
      table: plan.origin.name,
      statements: plan.statements.join(';\n'),
      rowsEstimated: rowsToCopy(plan),
      options: { ...storedOptions(opts), strategy: 'copy' },
    }),
  );
  await bindMigration(pool, id);
  const ownership = await takeOwnership(pool, id);
  log.info({ migration: id, table: `${plan.origin.schema}.${plan.origin.name}` }, 'migration started');
  const executed = await runOwned(newRun(pool, plan, opts, id), ownership, execute);
  return doneReport(planReport(plan, opts), id, executed, performance.now() - started);
}

export interface Stored {
  id: number;
  table_oid: string;
  table_schema: string;
  table_name: string;
  statements: string;
  phase: Phase;
  outcome: string | null;
  watermark: string[] | null;
  rows_copied: string;
  pid: number | null;
  host: string | null;
  options: StoredOptions;
  resume_state: { indexes: DeferredIndex[]; constraints: DeferredConstraint[]; onceDefaults: [string, string | null][]; heaps?: ShadowHeap[]; fingerprint?: string; since?: string; identity?: string | null } | null;
  validate_list: [string, string][] | null;
}

export async function load(pool: Pool, id: number): Promise<Stored> {
  return withClient(pool, async (c) => {
    if ((await c.query(`SELECT to_regclass('pgshift.migrations') AS t`)).rows[0].t === null) throw new UserError(`no migration ${id}`);
    const r = await c.query(`SELECT *, table_oid::int8::text AS table_oid FROM pgshift.migrations WHERE id = $1 AND kind = 'alter'`, [id]);
    if (!r.rows[0]) throw new UserError(`no migration ${id}`);
    return r.rows[0] as Stored;
  });
}

/**
 * Ownership first, then the dead process's sessions go; then, by where it stopped: after a
 * committed swap only its follow-ups remain; before its capture was in place nothing is worth
 * keeping, so it is removed and the same change starts afresh; otherwise every phase from the
 * saved one on, with the stored options.
 */
async function takeOverMigration(pool: Pool, given: AlterOptions, m: Stored): Promise<AlterReport> {
  const started = performance.now();
  if (m.outcome !== null) throw new UserError(`migration ${m.id} already ended (${m.outcome})`);
  const opts = resumedOptions(m.options ?? {}, given, m.id);
  await bindMigration(pool, m.id);
  const ownership = await takeOver(pool, m.id);
  const withoutCopy = m.options?.strategy;
  if (withoutCopy === 'instant' || withoutCopy === 'online' || withoutCopy === 'direct') {
    log.info({ migration: m.id, strategy: withoutCopy }, 'taking over a change without a copy');
    const target = { oid: m.table_oid, schema: m.table_schema, name: m.table_name, estimatedRows: 0 };
    const progress = m.resume_state as unknown as { units: Unit[]; done: number };
    return continueWithoutCopy(pool, { id: m.id, target, statements: m.statements.split(';\n'), strategy: withoutCopy, progress, ownership }, opts);
  }
  let handedOn = false;
  try {
    log.info({ migration: m.id, phase: m.phase }, 'taking over');
    if (PHASES.indexOf(m.phase) >= PHASES.indexOf('validate')) {
      await finishAfterSwap(pool, { ...m, options: { dropOld: opts.dropOld, revertWindowMs: opts.revertWindowMs } }, opts.retry);
      return emptyReport(m, ['the swap had committed before the interruption; its follow-up steps are done now']);
    }
    const plan = await withClient(pool, (c) => makePlan(c, opts.statements, opts.retry, opts.transforms, opts.diskFreeBytes));
    if (plan.origin.oid !== m.table_oid) throw new UserError(`migration ${m.id} was for another table than ${plan.origin.schema}.${plan.origin.name}`);
    if (!m.resume_state?.fingerprint) {
      log.warn({ migration: m.id }, 'the migration was interrupted before its capture was in place; removing it and starting over');
      await dropArtifacts(pool, await migrationNames(pool, m.id), opts.retry, { triggers: true });
      await finishMigration(pool, m.id, 'failed', 'interrupted before the capture was in place; started over');
      await ownership.release();
      handedOn = true;
      return await startMigration(pool, plan, opts);
    }
    const keyedBy = m.resume_state.identity;
    if (keyedBy !== undefined && keyedBy !== (plan.origin.identity?.name ?? null)) {
      throw new UserError(
        `migration ${m.id} cannot continue: its changelog is keyed by index ${keyedBy}, but the table's row identity is now ${plan.origin.identity?.name ?? 'none'} (its indexes were changed meanwhile); remove it with pgshift abort ${m.id}`,
      );
    }
    const names = await migrationNames(pool, m.id);
    const run = newRun(pool, plan, opts, m.id, names);
    run.triggersInstalled = true;
    run.rowsCopied = Number(m.rows_copied);
    const state = m.resume_state;
    const shadow = await withClient(pool, async (c): Promise<ShadowTable> => {
      const oid = (await c.query(`SELECT to_regclass($1)::oid::int8::text AS oid`, [qualified(names.schema, m.table_name)])).rows[0].oid;
      if (!oid) throw new UserError(`migration ${m.id} cannot continue: its shadow table is gone; remove it with pgshift abort ${m.id}`);
      await c.query(createCopyXactsSql(names));
      return { oid, columns: await readColumns(c, oid), indexes: state.indexes, constraints: state.constraints, onceDefaults: new Map(state.onceDefaults), heaps: state.heaps ?? [] };
    });
    const ctx = await captureContext(run, shadow);
    const start: { phase: Phase; low: string[] | null } =
      m.phase === 'copy' || m.phase === 'capture' ? { phase: 'copy', low: m.watermark } : { phase: m.phase, low: null };
    handedOn = true;
    const executed = await runOwned(run, ownership, (r) =>
      continueFrom(r, { ...ctx, shadow, fingerprint: state.fingerprint!, since: state.since, buildMs: 0, ...phaseHelpers(r) }, start),
    );
    return doneReport(planReport(plan, opts), m.id, executed, performance.now() - started);
  } finally {
    if (!handedOn) await ownership.release();
  }
}

function emptyReport(m: Stored, plan: string[]): AlterReport {
  return {
    status: 'done', migrationId: m.id, table: `${m.table_schema}.${m.table_name}`, statements: [m.statements], plan, rowsEstimated: 0,
    rowsCopied: Number(m.rows_copied), copyRowsPerSecond: null, durationsMs: null, cutover: null, validation: null, validated: [],
  };
}

