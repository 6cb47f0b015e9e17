import os from 'node:os';
import { isOwned } from '../state/ownership.js';
import type { Pool } from '../db/session.js';
import { bindMigration, createPool, withClient } from '../db/session.js';
import { qualified } from '../db/quote.js';
import { sleep } from '../db/retry.js';
import { UserError } from '../errors.js';
import { componentLog } from '../log.js';
import type { AlterOptions } from '../config.js';
import { readColumns } from '../catalog/table.js';
import { ADVISORY_NAMESPACE, artifactNames } from '../plan/names.js';
import { PHASES, type Phase } from '../state/phases.js';
import { finishMigration, setPhase } from '../state/store.js';
import type { DeferredConstraint, DeferredIndex, ShadowTable } from '../shadow/build.js';
import { makePlan } from './plan.js';
import { contextFor, continueFrom, newRun, phaseHelpers, validateConstraints } from './execute.js';
import { doneReport, planReport, runToEnd, onlineAlter, type AlterReport } from './runner.js';
import { dropArtifacts } from './artifacts.js';

const log = componentLog('resume');

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
  updated_at: Date;
  options: { transforms?: string[] };
  resume_state: { indexes: DeferredIndex[]; constraints: DeferredConstraint[]; onceDefaults: [string, string | null][]; fingerprint?: string } | null;
  validate_list: [string, string][] | null;
}

/** `pgshift resume <id>`: take over an interrupted migration and finish it. */
export async function resumeMigration(opts: Omit<AlterOptions, 'statements'>, idText: string): Promise<AlterReport> {
  if (!/^\d+$/.test(idText)) throw new UserError(`"${idText}" is not a migration id`);
  const pool = createPool({ url: opts.url, role: 'resume', lockTimeoutMs: opts.retry.lockTimeoutMs, maxClients: 5 + opts.checksumParallel });
  try {
    const m = await load(pool, Number(idText));
    return await resumeOnPool(pool, { ...opts, statements: m.statements }, m);
  } finally {
    await pool.end();
  }
}

export async function load(pool: Pool, id: number): Promise<Stored> {
  return withClient(pool, async (c) => {
    if ((await c.query(`SELECT to_regclass('pgshift.migrations') AS t`)).rows[0].t === null) throw new UserError(`no migration ${id}`);
    const r = await c.query(`SELECT *, table_oid::int8::text AS table_oid FROM pgshift.migrations WHERE id = $1 AND kind = 'alter'`, [id]);
    if (!r.rows[0]) throw new UserError(`no migration ${id}`);
    return r.rows[0] as Stored;
  });
}

export async function resumeOnPool(pool: Pool, opts: AlterOptions, m: Stored): Promise<AlterReport> {
  const started = performance.now();
  if (m.outcome !== null) throw new UserError(`migration ${m.id} already ended (${m.outcome})`);
  if (await isOwned(pool, m.id)) throw new UserError(`migration ${m.id} is still running (pid ${m.pid} on ${m.host}); stop that process first`);
  const names = artifactNames(m.id);
  await bindMigration(pool, m.id);
  await takeOver(pool, m, names.schema);
  await withClient(pool, (c) => c.query(`UPDATE pgshift.migrations SET pid = $2, host = $3, updated_at = now() WHERE id = $1`, [m.id, process.pid, os.hostname()]));
  log.info({ migration: m.id, phase: m.phase }, 'resuming');

  if (PHASES.indexOf(m.phase) >= PHASES.indexOf('validate')) {
    // The swap committed: finish what follows it.
    await validateConstraints(pool, opts.retry, m.validate_list ?? []);
    await dropArtifacts(pool, names, { schema: m.table_schema, name: m.table_name }, opts.retry, { triggers: false, keepOld: opts.dropOld ? undefined : m.table_name, keepRevertWindow: Boolean(opts.revertWindowMs) });
    await setPhase(pool, m.id, 'done', 'migration finished (resumed after the swap)');
    await finishMigration(pool, m.id, 'done', null);
    return emptyReport(m, ['the swap had committed before the interruption; its follow-up steps are done now']);
  }
  if (!m.resume_state?.fingerprint) {
    // Killed before the capture was in place: nothing worth keeping; start over.
    log.warn({ migration: m.id }, 'the migration was interrupted before its capture was in place; removing it and starting over');
    await dropArtifacts(pool, names, { schema: m.table_schema, name: m.table_name }, opts.retry, { triggers: true });
    await finishMigration(pool, m.id, 'failed', 'interrupted before the capture was in place; started over');
    return onlineAlter({ ...opts, execute: true });
  }

  const transforms = opts.transforms.length ? opts.transforms : (m.options.transforms ?? []);
  const plan = await withClient(pool, (c) => makePlan(c, opts.statements, opts.retry, transforms));
  if (plan.origin.oid !== m.table_oid) throw new UserError(`migration ${m.id} was for another table than ${plan.origin.schema}.${plan.origin.name}`);
  const run = newRun(pool, plan, { ...opts, transforms }, m.id);
  run.triggersInstalled = true;
  run.rowsCopied = Number(m.rows_copied);
  const state = m.resume_state;
  const shadow = await withClient(pool, async (c): Promise<ShadowTable> => {
    const oid = (await c.query(`SELECT to_regclass($1)::oid::int8::text AS oid`, [qualified(names.schema, m.table_name)])).rows[0].oid;
    if (!oid) throw new UserError(`migration ${m.id} cannot continue: its shadow table is gone; remove it with pgshift abort ${m.id}`);
    return { oid, columns: await readColumns(c, oid), indexes: state.indexes, constraints: state.constraints, onceDefaults: new Map(state.onceDefaults) };
  });
  const ctx = contextFor(run, shadow);
  const start: { phase: Phase; low: string[] | null } =
    m.phase === 'copy' || m.phase === 'capture' ? { phase: 'copy', low: m.watermark } : { phase: m.phase, low: null };
  const executed = await runToEnd(run, (r) =>
    continueFrom(r, { ...ctx, shadow, fingerprint: state.fingerprint!, buildMs: 0, ...phaseHelpers(r) }, start),
  );
  return doneReport(planReport(plan), m.id, executed, performance.now() - started);
}

/**
 * A killed client's backend finishes its statement and may commit after we start: terminate
 * the backends that hold the migration's advisory lock or a lock on its shadow, and wait for
 * them to be gone.
 */
async function takeOver(pool: Pool, m: Stored, schema: string): Promise<void> {
  await withClient(pool, async (c) => {
    for (let i = 0; i < 100; i++) {
      const r = await c.query(
        `SELECT DISTINCT l.pid FROM pg_locks l
          WHERE l.pid <> pg_backend_pid()
            -- pg_locks spans the cluster: advisory keys and relation OIDs repeat in other databases
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND ((l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2)
                 OR l.relation IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                    WHERE n.nspname = $3 AND c.relname <> 'changelog' AND c.relkind IN ('r', 'i')))`,
        [ADVISORY_NAMESPACE, m.id, schema],
      );
      if (r.rows.length === 0) return;
      for (const row of r.rows) {
        log.warn({ migration: m.id, pid: row.pid }, 'terminating a backend of the interrupted process');
        await c.query('SELECT pg_terminate_backend($1)', [row.pid]);
      }
      await sleep(100);
    }
    throw new UserError(`migration ${m.id}: the interrupted process's backends would not go away`);
  });
}

function emptyReport(m: Stored, plan: string[]): AlterReport {
  return {
    status: 'done', migrationId: m.id, table: `${m.table_schema}.${m.table_name}`, statements: [m.statements], plan, rowsEstimated: 0,
    rowsCopied: Number(m.rows_copied), copyRowsPerSecond: null, durationsMs: null, cutover: null, validation: null, validated: [],
  };
}
