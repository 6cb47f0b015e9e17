import type { Client, Pool } from '../db/session.js';
import { withClient, withTransaction } from '../db/session.js';
import { ident, literal, qualified } from '../db/quote.js';
import { withRetry, sleep } from '../db/retry.js';
import { RuntimeError, describeError, sqlState } from '../errors.js';
import { componentLog } from '../log.js';
import type { AlterOptions } from '../config.js';
import { tableFingerprint } from '../catalog/table.js';
import { artifactNames, type ArtifactNames } from '../plan/names.js';
import { deriveMapping } from '../plan/mapping.js';
import { buildShadow, swapStatements, type DeferredIndex, type ShadowTable } from '../shadow/build.js';
import pLimit from 'p-limit';
import { createChangelog, installTriggers } from '../capture/install.js';
import { createReplayer, type Replayer } from '../capture/replayer.js';
import { createChunker } from '../copy/chunker.js';
import { copyRange, findBound } from '../copy/copier.js';
import type { Tables } from '../copy/sql.js';
import { cutover, type CutoverResult } from '../cutover/cutover.js';
import { renamesApplyInOrder } from '../plan/preflight.js';
import { isTruncated, setPhase } from '../state/store.js';
import type { Phase } from '../state/phases.js';
import { alterSides, hashableTypes } from '../verify/alter-sides.js';
import { ValidationFailed, validateBeforeCutover, type BeforeCutoverReport } from '../verify/validate.js';
import type { Plan } from './plan.js';

const log = componentLog('runner');

export interface ExecutionReport {
  rowsCopied: number;
  chunks: number;
  durationsMs: { build: number; copy: number; index: number; catchUp: number; checksum: number; cutover: number };
  validation: BeforeCutoverReport;
  cutover: CutoverResult;
  validated: string[];
}

interface Run {
  pool: Pool;
  plan: Plan;
  opts: AlterOptions;
  id: number;
  names: ArtifactNames;
  /** set once the capture triggers exist on the origin: cleanup must remove them */
  triggersInstalled: boolean;
  swapped: boolean;
  validation?: BeforeCutoverReport;
}

export function newRun(pool: Pool, plan: Plan, opts: AlterOptions, id: number): Run {
  return { pool, plan, opts, id, names: artifactNames(id), triggersInstalled: false, swapped: false };
}

/** The phases after planning: build, capture, copy, index, catch-up, cutover, validate. */
export async function execute(run: Run): Promise<ExecutionReport> {
  const { pool, plan, opts, id, names } = run;
  const origin = plan.origin;
  const retry = opts.retry;
  const enter = async (phase: Phase, message: string): Promise<void> => {
    await setPhase(pool, id, phase, message);
    await opts.onPhase?.(phase, { id, schema: names.schema, table: origin.name });
  };
  const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const r = await fn();
    return [r, performance.now() - t0];
  };

  const [shadow, buildMs] = await timed(() =>
    withRetry(retry, () =>
      withTransaction(pool, async (c) => {
        const s = await buildShadow(c, { origin, flow: plan.flow, statements: plan.parsed.statements, schema: names.schema });
        await createChangelog(c, origin, names, id);
        await c.query(`INSERT INTO pgshift.artifacts (migration_id, kind, schema_name, name) VALUES ($1, 'schema', $2, $2)`, [id, names.schema]);
        return s;
      }),
    ),
  );
  const mapping = deriveMapping(plan.flow, shadow.columns, shadow.onceDefaults, origin.key, ident);
  const tables: Tables = {
    origin: qualified(origin.schema, origin.name),
    shadow: qualified(names.schema, origin.name),
    changelog: qualified(names.schema, names.changelog),
    mapping,
    shadowKeyTypes: mapping.shadowKey.map((k) => shadow.columns.find((c) => c.name === k)!.type),
  };
  const replayer = createReplayer({
    tables,
    preservedTypes: mapping.preserved.map((p) => shadow.columns.find((c) => c.name === p)!.type),
    lockKey: names.lockKey,
  });

  await enter('capture', 'installing capture triggers');
  await withRetry(retry, (_a, lockTimeoutMs) =>
    withTransaction(pool, async (c) => {
      await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
      await installTriggers(c, origin, names, id);
    }),
  );
  run.triggersInstalled = true;
  const fingerprint = await withClient(pool, (c) => tableFingerprint(c, origin.oid));

  await enter('copy', 'copying rows');
  const [copied, copyMs] = await timed(() => copyAll(run, tables, replayer));

  await enter('index', 'building secondary indexes');
  const [, indexMs] = await timed(() => buildIndexes(run, shadow, tables, replayer));
  await withClient(pool, (c) => c.query(`ANALYZE ${tables.shadow}`));

  await enter('catch-up', 'replaying the changelog');
  const [, catchUpMs] = await timed(() => catchUp(run, replayer, tables));

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
      retry,
      parallel: opts.checksumParallel,
      constraintTarget: { schema: names.schema, table: origin.name, oid: shadow.oid, key: mapping.shadowKey },
      deferred: shadow.constraints,
    }),
  );
  run.validation = validation;
  log.info({ migration: id, level: validation.level, passed: validation.passed, writesHeldMs: Math.round(validation.writesHeldMs), ms: Math.round(checksumMs) }, 'validated');
  if (!validation.passed) {
    throw new ValidationFailed(
      `validation (${validation.level}) found differences before the cutover: origin ${validation.rowsOrigin} rows, shadow ${validation.rowsShadow}, ` +
        `${validation.mismatchedChunks} of ${validation.chunks} chunks differ` +
        (validation.differences.length ? ` (first keys: ${validation.differences.slice(0, 5).map((d) => `${d.key.join(',')} ${d.kind}`).join('; ')})` : '') +
        (validation.constraintChecks.some((c) => c.violations > 0)
          ? `; constraint violations: ${validation.constraintChecks.filter((c) => c.violations > 0).map((c) => `${c.check} (${c.violations})`).join(', ')}`
          : ''),
      'before cutover',
    );
  }

  await enter('cutover', 'swapping tables');
  // Replaying the renames on the origin inside the cutover lets PostgreSQL rewrite the
  // dependents' definitions; preflight refused the cases where that cannot be done.
  const renameable = renamesApplyInOrder(origin.columns.map((c) => c.name), plan.flow);
  const renameOrigin = renameable ? plan.flow.renames.map((r) => renameColumnSql(origin.schema, origin.name, r.from, r.to)) : [];
  const unrenameOrigin = renameable
    ? plan.flow.renames.slice().reverse().map((r) => renameColumnSql(origin.schema, origin.name, r.to, r.from))
    : [];
  const { swap, validate } = swapStatements(plan.parsed.statements, origin.schema, origin.name);
  const locks = await lockTargets(pool, origin.oid, shadow);
  const [result, cutoverMs] = await timed(() =>
    withClient(pool, (c) =>
      cutover(c, {
        migrationId: id,
        fingerprint,
        replayer,
        origin,
        names,
        shadowOid: shadow.oid,
        newColumnName: (o) => [...plan.flow.sources.entries()].find(([, s]) => s.kind === 'origin' && s.origin === o)?.[0],
        renameOrigin,
        unrenameOrigin,
        constraints: shadow.constraints,
        swapStatements: swap,
        exclusiveLocks: [shadow.oid, ...locks.exclusive],
        shareLocks: locks.share,
        retry,
        deadlineMs: opts.cutoverDeadlineMs,
        inLockCheck: { origin: sides.origin, shadow: { ...sides.shadow }, estimatedRows: Math.max(origin.estimatedRows, copied.rows), budgetMs: 20, keepOnFailure: opts.rollback === 'none' },
        onRetry: (attempt, err, pauseMs) => log.warn({ migration: id, attempt, pauseMs, reason: describeError(err) }, 'cutover attempt failed; retrying'),
      }),
    ),
  );
  run.swapped = true;
  log.info({ migration: id, attempts: result.attempts, holdMs: Math.round(result.holdMs), lockWaitMs: Math.round(result.lockWaitMs) }, 'swapped');

  await enter('validate', 'validating constraints');
  const validated: string[] = [];
  for (const [table, constraint] of [...result.validate, ...validate.map((v) => [tables.origin, v] as [string, string])]) {
    await withRetry(retry, (_a, lockTimeoutMs) =>
      withTransaction(pool, async (c) => {
        await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        await c.query(`ALTER TABLE ${table} VALIDATE CONSTRAINT ${ident(constraint)}`);
      }),
    );
    validated.push(constraint);
  }
  return {
    rowsCopied: copied.rows,
    chunks: copied.chunks,
    durationsMs: { build: buildMs, copy: copyMs, index: indexMs, catchUp: catchUpMs, checksum: checksumMs, cutover: cutoverMs },
    cutover: result,
    validation,
    validated,
  };
}

function renameColumnSql(schema: string, table: string, from: string, to: string): string {
  return `ALTER TABLE ${qualified(schema, table)} RENAME COLUMN ${ident(from)} TO ${ident(to)}`;
}

/**
 * Keyset copy, with the replay of entries below the watermark interleaved between chunks, and
 * the next chunk's bound looked up on a second connection while the current chunk is inserted.
 */
async function copyAll(run: Run, tables: Tables, replayer: Replayer): Promise<{ rows: number; chunks: number }> {
  const chunker = createChunker({ targetMs: run.opts.chunkTimeMs, initial: 5000, min: 500, max: 200_000, maxStep: 2 });
  const started = performance.now();
  let rows = 0;
  let chunks = 0;
  await withClient(run.pool, (c) =>
    withClient(run.pool, async (bounds) => {
      let low: string[] | null = null;
      let size = chunker.size();
      let nextBound = findBound(bounds, tables, low, size);
      for (;;) {
        await stopIfTruncated(c, run.id);
        const high = await nextBound;
        const requested = size;
        if (high) {
          size = chunker.size();
          nextBound = findBound(bounds, tables, high, size);
        }
        const chunk = await copyRange(c, tables, low, high, run.id, run.names.lockKey);
        chunks++;
        rows += chunk.rows;
        if (high === null) break; // the last chunk: every key is copied
        chunker.feedback(chunk.rows, chunk.ms, requested);
        low = high;
        // Keep the changelog from growing during a long copy; entries above the watermark wait.
        await replayer.replayBatch(c, low, 5000);
        const rate = rows / ((performance.now() - started) / 1000);
        run.opts.onProgress?.({ phase: 'copy', rowsCopied: rows, rowsEstimated: run.plan.origin.estimatedRows, rowsPerSecond: rate });
        if (chunks % 20 === 0) log.info({ migration: run.id, rows, chunk: chunker.size(), rowsPerSecond: Math.round(rate) }, 'copying');
      }
    }),
  );
  return { rows, chunks };
}

/**
 * Secondary indexes are built once the shadow is full: one sorted build is far cheaper than
 * maintaining them row by row. Builds run on two connections at once (CREATE INDEX takes a
 * SHARE lock, which does not conflict with itself); the replay waits meanwhile, and never runs
 * from two connections. A unique index may meet a duplicate that exists only because a change
 * is still pending in the changelog: those are retried one by one after a replay.
 */
async function buildIndexes(run: Run, shadow: ShadowTable, tables: Tables, replayer: Replayer): Promise<void> {
  const drain = (): Promise<void> =>
    withClient(run.pool, async (c) => {
      while ((await replayer.replayBatch(c, null, 20_000)) > 0);
    });
  const resolved: string[][] = [];
  const built = async (idx: DeferredIndex, c: Client): Promise<void> => {
    if (idx.unique && idx.columns) resolved.push(idx.columns);
    for (const comment of idx.comments) {
      const on = comment.on === 'INDEX' ? `INDEX ${qualified(run.names.schema, idx.name)}` : `CONSTRAINT ${ident(idx.name)} ON ${tables.shadow}`;
      await c.query(`COMMENT ON ${on} IS ${literal(comment.text)}`);
    }
  };
  const build = (idx: DeferredIndex): Promise<void> =>
    withClient(run.pool, async (c) => {
      await c.query(`SET maintenance_work_mem = '256MB'`);
      try {
        await c.query(idx.create);
        await built(idx, c);
      } finally {
        await c.query('RESET maintenance_work_mem');
      }
    });

  await drain();
  const limit = pLimit(2);
  const failed: DeferredIndex[] = [];
  await Promise.all(
    shadow.indexes.map((idx) =>
      limit(() =>
        build(idx).catch((err: unknown) => {
          if (sqlState(err) !== '23505') throw err;
          failed.push(idx);
        }),
      ),
    ),
  );
  for (const idx of failed) {
    for (let attempt = 1; ; attempt++) {
      log.warn({ migration: run.id, index: idx.name, attempt }, 'unique index met a pending duplicate; replaying and retrying');
      replayer.enableUniqueResolution(resolved);
      await drain();
      try {
        await build(idx);
        break;
      } catch (err) {
        if (sqlState(err) !== '23505' || attempt >= 10) throw err;
        await sleep(50 * attempt);
      }
    }
  }
  // From now on the replay resolves conflicts on every unique index.
  replayer.enableUniqueResolution(resolved);
}

/** Replays until the backlog is small enough for the cutover's final replay to be short. */
async function catchUp(run: Run, replayer: Replayer, tables: Tables): Promise<void> {
  await withClient(run.pool, async (c) => {
    for (;;) {
      await stopIfTruncated(c, run.id);
      const n = await replayer.replayBatch(c, null, 20_000);
      if (n < run.opts.cutoverBacklog) {
        const left = Number((await c.query(`SELECT count(*) AS n FROM ${tables.changelog}`)).rows[0].n);
        if (left < run.opts.cutoverBacklog) return;
      }
    }
  });
}

async function stopIfTruncated(c: Client, id: number): Promise<void> {
  if (await isTruncated(c, id)) throw new RuntimeError('the table was truncated during the migration; stopping without a swap');
}

/** Tables with foreign keys into the origin and views on it (exclusive), referenced tables (share). */
async function lockTargets(pool: Pool, originOid: string, shadow: ShadowTable): Promise<{ exclusive: string[]; share: string[] }> {
  return withClient(pool, async (c) => {
    const ex = await c.query<{ oid: string }>(
      `SELECT DISTINCT conrelid::int8::text AS oid FROM pg_constraint WHERE contype = 'f' AND confrelid = $1::oid AND conrelid <> $1::oid
       UNION SELECT DISTINCT r.ev_class::int8::text FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1::oid AND r.ev_class <> $1::oid`,
      [originOid],
    );
    const share = shadow.constraints.flatMap((con) => (con.referenced && con.referenced !== originOid ? [con.referenced] : []));
    return { exclusive: ex.rows.map((r) => r.oid), share };
  });
}
