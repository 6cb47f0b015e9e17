import type { Pool } from '../db/session.js';
import { withClient, withTransaction } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { componentLog } from '../log.js';
import type { AlterOptions } from '../config.js';
import { tableFingerprint } from '../catalog/table.js';
import { artifactNames } from '../plan/names.js';
import { deriveMapping } from '../plan/mapping.js';
import { buildShadow, type ShadowTable } from '../shadow/build.js';
import { createChangelog, forwardCapture, installTriggers } from '../capture/install.js';
import { createReplayer, type Replayer } from '../capture/replayer.js';
import { noopThrottler } from '../throttle/throttler.js';
import { createHooks } from './hooks.js';
import { throttlerFor } from '../throttle/from-options.js';
import type { RowMapping } from '../plan/mapping.js';
import type { Tables } from '../copy/sql.js';
import { cutover, type CutoverResult } from '../cutover/cutover.js';
import { setPhase } from '../state/store.js';
import { isBefore, type Phase } from '../state/phases.js';
import { failpoint } from '../failpoints.js';
import { alterSides, hashableTypes } from '../verify/alter-sides.js';
import { ValidationFailed, validateBeforeCutover, type BeforeCutoverReport } from '../verify/validate.js';
import type { Plan } from './plan.js';
import type { Run } from './run.js';
import { buildIndexes, catchUp, copyAll, waitForCutover } from './copy-phases.js';
import { cutoverInput } from './cutover-inputs.js';
import { openRevertWindow } from './revert-window.js';
import { foreignKeysToProve, proveBeforeCutover } from '../verify/foreign-keys.js';
import { swapStatements } from '../shadow/build.js';

const log = componentLog('runner');

export interface ExecutionReport {
  rowsCopied: number;
  chunks: number;
  durationsMs: { build: number; copy: number; index: number; catchUp: number; checksum: number; cutover: number };
  validation: BeforeCutoverReport;
  cutover: CutoverResult;
  validated: string[];
}

export function newRun(pool: Pool, plan: Plan, opts: AlterOptions, id: number): Run {
  return {
    pool, plan, opts, id, names: artifactNames(id), triggersInstalled: false, swapped: false, throttler: noopThrottler,
    hooks: createHooks({ cmd: opts.hookCmd, dir: opts.hooksDir }), rowsCopied: 0, startedAt: performance.now(),
  };
}

/** What hooks receive (PGSHIFT_<KEY> environment variables). */
export function hookState(run: Run, phase: string, error?: string): Record<string, string | number | null> {
  return {
    migration_id: run.id,
    table: `${run.plan.origin.schema}.${run.plan.origin.name}`,
    statements: run.plan.statements.join('; '),
    phase,
    rows_copied: run.rowsCopied,
    rows_estimated: run.plan.origin.estimatedRows,
    artifact_schema: run.names.schema,
    error: error ?? null,
  };
}

/** The phases after planning: build, capture, copy, index, catch-up, cutover, validate. */
export async function execute(run: Run): Promise<ExecutionReport> {
  const { pool, plan, opts, id, names } = run;
  const origin = plan.origin;
  const retry = opts.retry;
  const { enter, timed } = phaseHelpers(run);

  const [shadow, buildMs] = await timed(() => buildShadowAndChangelog(run));
  await failpoint('after-build');
  const ctx = contextFor(run, shadow);

  await enter('capture', 'installing capture triggers');
  await withRetry(retry, (_a, lockTimeoutMs) =>
    withTransaction(pool, async (c) => {
      await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
      await installTriggers(c, origin, forwardCapture(names), id);
    }),
  );
  run.triggersInstalled = true;
  const fingerprint = await withClient(pool, async (c) => {
    const fp = await tableFingerprint(c, origin.oid);
    await c.query(`UPDATE pgshift.migrations SET resume_state = resume_state || jsonb_build_object('fingerprint', $2::text) WHERE id = $1`, [id, fp]);
    return fp;
  });
  await failpoint('after-capture');
  return continueFrom(run, { ...ctx, shadow, fingerprint, buildMs, enter, timed }, { phase: 'copy', low: null });
}

/** The shadow-derived pieces every later phase uses: tables, mapping, replayer. */
export function contextFor(run: Run, shadow: ShadowTable): { tables: Tables; mapping: RowMapping; replayer: Replayer } {
  const { plan, names } = run;
  const origin = plan.origin;
  const mapping = deriveMapping(plan.flow, shadow.columns, shadow.onceDefaults, origin.key, ident, plan.transforms);
  const typeOf = (name: string): string => shadow.columns.find((c) => c.name === name)!.type;
  const tables: Tables = {
    origin: qualified(origin.schema, origin.name),
    shadow: qualified(names.schema, origin.name),
    changelog: qualified(names.schema, names.changelog),
    mapping,
    shadowKeyTypes: mapping.shadowKey.map(typeOf),
  };
  const replayer = createReplayer({ tables, preservedTypes: mapping.preserved.map(typeOf), lockKey: names.lockKey });
  return { tables, mapping, replayer };
}

/** Runs the phases from `start` on (a fresh run starts at the copy; a resume where it stopped). */
export async function continueFrom(run: Run, k: Captured, start: { phase: Phase; low: string[] | null }): Promise<ExecutionReport> {
  run.throttler = throttlerFor(run.pool, run.id, run.opts.throttle, k.tables);
  try {
    return await afterCapture(run, k, start);
  } finally {
    await run.throttler.close();
  }
}

/** The phase functions' shared helpers for one run. */
export function phaseHelpers(run: Run): Pick<Captured, 'enter' | 'timed'> {
  return {
    enter: async (phase, message) => {
      await setPhase(run.pool, run.id, phase, message);
      await run.opts.onPhase?.(phase, { id: run.id, schema: run.names.schema, table: run.plan.origin.name });
    },
    timed: async (fn) => {
      const t0 = performance.now();
      const r = await fn();
      return [r, performance.now() - t0];
    },
  };
}

export interface Captured {
  shadow: ShadowTable;
  tables: Tables;
  replayer: Replayer;
  mapping: RowMapping;
  fingerprint: string;
  buildMs: number;
  enter: (phase: Phase, message: string) => Promise<void>;
  timed: <T>(fn: () => Promise<T>) => Promise<[T, number]>;
}

/** Copy, indexes, catch-up, validation, cutover, constraint validation: from `start` on. */
async function afterCapture(run: Run, k: Captured, start: { phase: Phase; low: string[] | null }): Promise<ExecutionReport> {
  const { pool, plan, opts, id, names } = run;
  const { shadow, tables, replayer, mapping, fingerprint, buildMs, enter, timed } = k;
  const origin = plan.origin;
  let copied = { rows: run.rowsCopied, chunks: 0 };
  let copyMs = 0;
  if (isBefore(start.phase, 'index')) {
    await enter('copy', start.low ? 'copying rows (resumed)' : 'copying rows');
    [copied, copyMs] = await timed(() => copyAll(run, tables, replayer, start.low));
    run.rowsCopied = copied.rows;
    await failpoint('after-copy');
    await run.hooks.run('copy-done', hookState(run, 'copy'));
  }

  await enter('index', 'building secondary indexes');
  const [, indexMs] = await timed(() => buildIndexes(run, shadow, tables, replayer));
  await withClient(pool, (c) => c.query(`ANALYZE ${tables.shadow}`));
  await failpoint('after-index');
  if (opts.postponeCutover || opts.cutoverAt) {
    await enter('ready', opts.cutoverAt ? `ready; cutover at ${opts.cutoverAt}` : 'ready; waiting for pgshift cutover');
    await waitForCutover(run, replayer, tables);
  }

  await enter('catch-up', 'replaying the changelog');
  const [, catchUpMs] = await timed(() => catchUp(run, replayer, tables));
  await failpoint('catch-up');

  const hashable = await withClient(pool, (c) => hashableTypes(c, shadow.columns.map((col) => col.type)));
  const sides = alterSides(tables, shadow.columns, hashable);
  await enter('checksum', `validating (${opts.validation})`);
  const [validation, checksumMs] = await timed(() =>
    validateBeforeCutover({
      pool,
      level: opts.validation,
      origin: sides.origin,
      shadow: sides.shadow,
      columns: sides.columns,
      replayer,
      retry: opts.retry,
      parallel: opts.checksumParallel,
      constraintTarget: { schema: names.schema, table: origin.name, oid: shadow.oid, key: mapping.shadowKey },
      deferred: shadow.constraints,
    }),
  );
  run.validation = validation;
  log.info({ migration: id, level: validation.level, passed: validation.passed, writesHeldMs: Math.round(validation.writesHeldMs), ms: Math.round(checksumMs) }, 'validated');
  if (!validation.passed) throw new ValidationFailed(describeFailure(validation), 'before cutover');
  await failpoint('checksum');

  // Constraints the new table gets that the old rows did not prove (added foreign keys, ones on
  // retyped columns, NOT VALID ones the statements VALIDATE): proven before the swap, never after.
  const validatedByUser = swapStatements(plan.parsed.statements, origin.schema, origin.name).validate;
  const retyped = [...plan.flow.sources].filter(([, s]) => s.kind === 'origin' && (s.typeChanged || s.using)).map(([n]) => n);
  const proofs = await withClient(pool, (c) =>
    foreignKeysToProve(c, { originOid: origin.oid, shadowSchema: names.schema, table: origin.name, constraints: shadow.constraints, retyped, validated: validatedByUser }),
  );
  const proven = proofs.length
    ? await proveBeforeCutover(pool, {
        migrationId: id, shadowSchema: names.schema, shadow: tables.shadow, key: mapping.shadowKey, keyTypes: tables.shadowKeyTypes, proofs, retry: opts.retry,
        record: (recheck) => replayer.recordKeysIn(recheck),
      })
    : null;

  await run.hooks.run('before-cutover', hookState(run, 'cutover'));
  await enter('cutover', 'swapping tables');
  const { input, validate } = await cutoverInput(run, { shadow, replayer, fingerprint, sides, copiedRows: copied.rows });
  if (proven) input.proofs = { proofs, shadow: proven };
  const userValidate = validate.map((v) => [tables.origin, v] as [string, string]);
  // The swap and the record that it happened commit together: a resume knows which side it is on.
  input.onSwapped = async (c, swapped) => {
    await c.query(`UPDATE pgshift.migrations SET phase = 'validate', validate_list = $2 WHERE id = $1`, [id, JSON.stringify([...swapped.validate, ...userValidate])]);
    if (opts.revertWindowMs) await openRevertWindow(c, run, tables, swapped.oldForeignKeys);
    await failpoint('in-cutover', c);
  };
  // What the application wrote during the validation is replayed before the lock, not under it.
  await catchUp(run, replayer, tables);
  const [result, cutoverMs] = await timed(() => withClient(pool, (c) => cutover(c, input), 'cutover'));
  run.swapped = true;
  await run.hooks.run('after-cutover', hookState(run, 'cutover'));
  log.info({ migration: id, attempts: result.attempts, holdMs: Math.round(result.holdMs), lockWaitMs: Math.round(result.lockWaitMs) }, 'swapped');

  await failpoint('after-cutover');
  await enter('validate', 'validating constraints');
  const validated = await validateConstraints(pool, opts.retry, [...result.validate, ...userValidate]);
  await failpoint('after-validate');
  return {
    rowsCopied: copied.rows,
    chunks: copied.chunks,
    durationsMs: { build: buildMs, copy: copyMs, index: indexMs, catchUp: catchUpMs, checksum: checksumMs, cutover: cutoverMs },
    cutover: result,
    validation,
    validated,
  };
}

/** The shadow and the changelog, in one transaction (retried when a lock does not come). */
function buildShadowAndChangelog(run: Run): Promise<ShadowTable> {
  const { plan, names, id } = run;
  return withRetry(run.opts.retry, () =>
    withTransaction(run.pool, async (c) => {
      const s = await buildShadow(c, { origin: plan.origin, flow: plan.flow, statements: plan.parsed.statements, schema: names.schema });
      await createChangelog(c, plan.origin, forwardCapture(names), id);
      await c.query(`INSERT INTO pgshift.artifacts (migration_id, kind, schema_name, name) VALUES ($1, 'schema', $2, $2)`, [id, names.schema]);
      await c.query(`UPDATE pgshift.migrations SET resume_state = $2 WHERE id = $1`, [
        id,
        JSON.stringify({ indexes: s.indexes, constraints: s.constraints, onceDefaults: [...s.onceDefaults] }),
      ]);
      return s;
    }),
  );
}

function describeFailure(v: BeforeCutoverReport): string {
  const violations = v.constraintChecks.filter((c) => c.violations > 0);
  return (
    `validation (${v.level}) found differences before the cutover: origin ${v.rowsOrigin} rows, shadow ${v.rowsShadow}, ` +
    `${v.mismatchedChunks} of ${v.chunks} chunks differ` +
    (v.differences.length ? ` (first keys: ${v.differences.slice(0, 5).map((d) => `${d.key.join(',')} ${d.kind}`).join('; ')})` : '') +
    (violations.length ? `; constraint violations: ${violations.map((c) => `${c.check} (${c.violations})`).join(', ')}` : '')
  );
}

/** After the swap: VALIDATE the constraints re-added NOT VALID (SHARE UPDATE EXCLUSIVE, retried). */
export async function validateConstraints(pool: Pool, retry: RetryPolicy, constraints: [string, string][]): Promise<string[]> {
  const validated: string[] = [];
  for (const [table, constraint] of constraints) {
    await withRetry(retry, (_a, lockTimeoutMs) =>
      withTransaction(pool, async (c) => {
        await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        await c.query(`ALTER TABLE ${table} VALIDATE CONSTRAINT ${ident(constraint)}`);
      }),
    );
    validated.push(constraint);
  }
  return validated;
}
