import pLimit from 'p-limit';
import { withClient } from '../db/session.js';
import { describeError, PgshiftError } from '../errors.js';
import { sqlFile } from '../db/sql-files.js';
import { readStatus, type StatusRow } from '../state/control.js';
import { migrateStatus, migrateValidate, type MigrateOptions, type StatusEntry } from '../migrate/runner.js';
import { redact } from './child.js';
import { onTarget } from './record.js';
import type { Target } from './targets.js';

/**
 * The read-only commands across a fleet (status, migrate status and validate, plan): every
 * target at once (bounded), in this process; a target that cannot be reached is a row saying
 * so, never dropped.
 */
export interface PerTarget<T> {
  label: string;
  value: T | null;
  /** why there is no value: unreachable, refused, ... (one line) */
  error: string | null;
  exitCode: number;
}

export async function overTargets<T>(targets: Target[], fn: (t: Target) => Promise<T>, concurrency = 8): Promise<PerTarget<T>[]> {
  const limit = pLimit(concurrency);
  return Promise.all(
    targets.map((t) =>
      limit(async (): Promise<PerTarget<T>> => {
        try {
          return { label: t.label, value: await fn(t), error: null, exitCode: 0 };
        } catch (err) {
          return { label: t.label, value: null, error: redact(describeError(err)), exitCode: err instanceof PgshiftError ? err.exitCode : 1 };
        }
      }),
    ),
  );
}

/** One line of `pgshift status --targets`. */
export interface TargetStatus {
  /** the latest migration or backfill on the target, null when it has none */
  latest: StatusRow | null;
  /** unfinished migrations on it */
  running: number;
  /** the latest fleet run recorded there: its id, outcome and when */
  fleet: { fleetId: string; outcome: string | null; finishedAt: string | null } | null;
  /** migration files not applied (with --dir, or a migrations folder found) */
  pendingFiles: number | null;
}

export function fleetStatus(targets: Target[], migrate?: MigrateOptions): Promise<PerTarget<TargetStatus>[]> {
  return overTargets(targets, async (t) => {
    const s = await onTarget(
      t.conn,
      async (pool) => {
        const rows = await readStatus(pool);
        const fleet = await withClient(pool, async (c) => {
          if ((await c.query(`SELECT to_regclass('pgshift.fleet_targets') AS t`)).rows[0].t === null) return null;
          const r = await c.query(`SELECT fleet_id, outcome, finished_at::text FROM pgshift.fleet_targets WHERE label = $1 ORDER BY started_at DESC LIMIT 1`, [t.label]);
          return r.rows[0] ? { fleetId: r.rows[0].fleet_id, outcome: r.rows[0].outcome, finishedAt: r.rows[0].finished_at } : null;
        });
        return { latest: rows.at(-1) ?? null, running: rows.filter((m) => m.finishedAt === null).length, fleet, pendingFiles: null as number | null };
      },
      true,
    );
    if (migrate) s.pendingFiles = (await migrateStatus({ ...migrate, url: t.conn })).filter((f) => f.state !== 'applied').length;
    return s;
  });
}

/** `pgshift migrate status --targets`: each target's files, and the targets whose history or schema differs from the rest. */
export interface FleetMigrateStatus {
  targets: PerTarget<{ files: StatusEntry[]; schemaDigest: string }>[];
  drift: Drift[];
}

export interface Drift {
  label: string;
  /** versions applied here and not on most targets, and the other way round; checksums that differ */
  extra: string[];
  missing: string[];
  changed: string[];
  schemaDiffers: boolean;
}

export async function fleetMigrateStatus(targets: Target[], migrate: MigrateOptions): Promise<FleetMigrateStatus> {
  const per = await overTargets(targets, async (t) => {
    const files = await migrateStatus({ ...migrate, url: t.conn });
    const schemaDigest = await onTarget(t.conn, (pool) => withClient(pool, async (c) => (await c.query(sqlFile('fleet-schema-digest.sql'))).rows[0].digest as string), true);
    return { files, schemaDigest };
  });
  return { targets: per, drift: findDrift(per) };
}

/**
 * Drift against the majority: the history most targets share (applied versions; a changed file
 * counts as its own state) and the schema digest most share. Unreachable targets take no part.
 */
export function findDrift(per: PerTarget<{ files: StatusEntry[]; schemaDigest: string }>[]): Drift[] {
  const reached = per.filter((p) => p.value !== null);
  const history = (files: StatusEntry[]): string[] => files.filter((f) => f.state !== 'pending').map((f) => `${f.version}:${f.state}`);
  const majority = (keys: string[]): string => {
    const n = new Map<string, number>();
    for (const k of keys) n.set(k, (n.get(k) ?? 0) + 1);
    return [...n].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
  };
  const refHistory = majority(reached.map((p) => JSON.stringify(history(p.value!.files))));
  const refSchema = majority(reached.map((p) => p.value!.schemaDigest));
  const ref = new Set(JSON.parse(refHistory || '[]') as string[]);
  const out: Drift[] = [];
  for (const p of reached) {
    const mine = history(p.value!.files);
    const schemaDiffers = p.value!.schemaDigest !== refSchema;
    if (JSON.stringify(mine) === refHistory && !schemaDiffers) continue;
    const version = (k: string): string => k.slice(0, k.lastIndexOf(':'));
    const mineVersions = new Set(mine.map(version));
    const refVersions = new Set([...ref].map(version));
    out.push({
      label: p.label,
      extra: mine.filter((k) => !refVersions.has(version(k))).map(version),
      missing: [...ref].filter((k) => !mineVersions.has(version(k))).map(version),
      changed: mine.filter((k) => !ref.has(k) && refVersions.has(version(k))),
      schemaDiffers,
    });
  }
  return out;
}

/** `pgshift migrate validate --targets`: each target's notes; a changed applied file is a difference (3). */
export function fleetValidate(targets: Target[], migrate: MigrateOptions): Promise<PerTarget<string[]>[]> {
  return overTargets(targets, (t) => migrateValidate({ ...migrate, url: t.conn }));
}

/** The worst exit code of a read across targets: an unreachable or refused target (2) before a difference (3). */
export function worstReadExit(per: PerTarget<unknown>[]): number {
  const codes = per.map((p) => p.exitCode);
  if (codes.includes(2)) return 2;
  if (codes.includes(1)) return 1;
  if (codes.includes(3)) return 3;
  return 0;
}
