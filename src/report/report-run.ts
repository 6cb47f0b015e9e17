import fs from 'node:fs';
import path from 'node:path';
import { createPool, type Pool } from '../db/session.js';
import { PgshiftError, StoppedError, describeError, sqlState } from '../errors.js';
import { componentLog } from '../log.js';
import { ensureStateSchema } from '../state/store.js';
import { buildModel, type ReportModel } from './model.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import { startSampler, type Collected } from './sampler.js';
import type { RunRecord } from './samples.js';
import { loadRun, saveRun, UNDEFINED_TABLE } from './store.js';

const log = componentLog('report');

export interface ReportOptions {
  /** false: --no-report */
  enabled: boolean;
  /** --report-dir: the files go directly there; default ./pgshift-reports/<id>/ */
  dir?: string;
  url?: string;
  /** the shortest time between two database samples (default 1s) */
  intervalMs?: number;
}

/** What a command run gives its report while it runs. */
export interface RunNotes {
  /** a mark on the timeline (migrate up: a file begins) */
  note(text: string): void;
}

export const REPORT_FILES = ['report.md', 'report.json', 'report.html'] as const;

/**
 * Runs one command (alter --execute, resume, backfill --execute, migrate up) with its report:
 * sampled from the start, kept in the state schema at the end, read back, rendered, written.
 * A report that cannot be kept or written is a warning: the command's outcome and exit code are
 * the command's own. A refusal before anything changed (exit 2) leaves no report.
 */
export async function withReport<T>(o: ReportOptions & { command: string }, fn: (notes: RunNotes) => Promise<T>): Promise<T> {
  if (!o.enabled) return fn({ note: () => undefined });
  const sampler = startSampler({ url: o.url, intervalMs: o.intervalMs });
  let result: T | undefined;
  let failure: unknown = null;
  try {
    result = await fn(sampler);
  } catch (err) {
    failure = err;
  }
  const ended = performance.now();
  try {
    const collected = await sampler.stop();
    const exitCode = failure === null ? 0 : failure instanceof PgshiftError ? failure.exitCode : 1;
    if (exitCode !== 2 || collected.baseline.changeAt !== null) {
      const run: Omit<RunRecord, 'id'> = {
        command: o.command, startedAt: collected.startedAt, finishedAt: Date.now(),
        outcome: failure === null ? 'done' : failure instanceof StoppedError ? 'stopped' : 'failed',
        exitCode, error: failure === null ? null : describeError(failure), migrationIds: collected.migrationIds, result: result ?? null,
        baseline: collected.baseline, server: collected.server,
      };
      await keepAndWrite(sampler.pool, run, collected, o.dir, ended);
    }
  } catch (err) {
    log.warn({ reason: describeError(err) }, 'report not written');
  } finally {
    await sampler.pool.end().catch(() => undefined);
  }
  if (failure !== null) throw failure;
  return result as T;
}

/**
 * Keeps the run in the state schema and writes the report built from what is read back; when it
 * cannot be kept there (no privilege, the server gone), the report is built from the samples in
 * hand and says it has no id.
 */
async function keepAndWrite(pool: Pool, run: Omit<RunRecord, 'id'>, collected: Collected, dir: string | undefined, ended: number): Promise<void> {
  let model: ReportModel;
  try {
    // The command made the state schema current; a run that failed before it did gets it here.
    const id = await saveRun(pool, run, collected.samples).catch(async (err: unknown) => {
      if (sqlState(err) !== UNDEFINED_TABLE) throw err;
      await ensureStateSchema(pool);
      return saveRun(pool, run, collected.samples);
    });
    const kept = await loadRun(pool, id);
    model = buildModel(kept.run, kept.samples);
  } catch (err) {
    log.warn({ reason: describeError(err) }, 'report not kept in the state schema (pgshift report cannot rebuild it); writing it from this run\'s samples');
    model = buildModel({ ...run, id: null }, collected.samples);
  }
  const target = dir ?? defaultDir(model);
  writeReportFiles(model, target);
  // ms: what the report added after the command's own work ended (the last sample, keeping, reading back, writing).
  log.info({ run: model.run.id, dir: target, ms: Math.round(performance.now() - ended) }, 'report written');
}

export function defaultDir(m: ReportModel): string {
  return path.join('pgshift-reports', m.run.id === null ? `unkept-${m.run.startedAt.replace(/[:.]/g, '-')}` : String(m.run.id));
}

/** report.md, report.json and report.html, directly in `dir` (made when missing). */
export function writeReportFiles(m: ReportModel, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const files: Record<(typeof REPORT_FILES)[number], string> = {
    'report.md': renderMarkdown(m),
    'report.json': `${JSON.stringify(m, null, 2)}\n`,
    'report.html': renderHtml(m),
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

/** `pgshift report <id>`: the report of a past run, rebuilt from the state schema. Returns the folder written. */
export async function rebuildReport(o: { url?: string; id: number; dir?: string }): Promise<{ dir: string; model: ReportModel }> {
  const pool = createPool({ url: o.url, role: 'report', lockTimeoutMs: 1000, maxClients: 1, readOnly: true });
  try {
    const { run, samples } = await loadRun(pool, o.id);
    const model = buildModel(run, samples);
    const dir = o.dir ?? defaultDir(model);
    writeReportFiles(model, dir);
    return { dir, model };
  } finally {
    await pool.end();
  }
}
