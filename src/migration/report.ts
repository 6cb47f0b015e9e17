import { UserError } from '../errors.js';
import { onlyDrops } from '../shadow/parent.js';
import type { AlterOptions } from '../config.js';
import type { BeforeCutoverReport, InLockReport } from '../verify/validate.js';
import { describePlan, rowsToCopy, type Plan } from './plan.js';
import type { ExecutionReport } from './run-phases.js';
import type { Decision } from '../strategy/classify.js';
import type { PlanModel } from '../dry-run/model.js';

/** The report of `pgshift alter` (printed, or one JSON object with --json). */
export interface AlterReport {
  status: 'planned' | 'done';
  migrationId: number | null;
  table: string;
  statements: string[];
  plan: string[];
  rowsEstimated: number;
  rowsCopied: number | null;
  copyRowsPerSecond: number | null;
  durationsMs: (ExecutionReport['durationsMs'] & { total: number }) | null;
  cutover: { attempts: number; lockWaitMs: number; holdMs: number; finalEntries: number; check: InLockReport } | null;
  validation: BeforeCutoverReport | null;
  validated: string[];
  /** how the change was applied: the online copy, or directly (catalog only, or a small rewrite) */
  strategy?: 'copy' | 'instant' | 'online' | 'direct';
  /** each subcommand's strategy, why, lock, hold and steps (strategy/classify.ts) */
  decisions?: Decision[];
  /** a direct application's attempts and how long it held the table's lock */
  direct?: { attempts: number; lockHeldMs: number; totalMs: number };
  /** a dry run's plan (src/dry-run): what `alter` without --execute prints */
  document?: PlanModel;
}

export function doneReport(report: AlterReport, id: number, executed: ExecutionReport, total: number): AlterReport {
  return {
    ...report,
    status: 'done',
    migrationId: id,
    rowsCopied: executed.rowsCopied,
    copyRowsPerSecond: executed.rowsCopied / Math.max(executed.durationsMs.copy / 1000, 0.001),
    durationsMs: { ...executed.durationsMs, total },
    cutover: {
      attempts: executed.cutover.attempts,
      lockWaitMs: executed.cutover.lockWaitMs,
      holdMs: executed.cutover.holdMs,
      finalEntries: executed.cutover.finalEntries,
      check: executed.cutover.check,
    },
    validation: executed.validation,
    validated: executed.validated,
  };
}

/**
 * What a revert window can and cannot carry back, said before the swap: a USING expression or a
 * transform has no inverse (refused); a dropped NOT NULL column without a default and a widened
 * type are fine until the new table holds a row the old one cannot (revert then refuses, with
 * the keys).
 */
function revertability(plan: Plan, opts: Pick<AlterOptions, 'dropOld'>): string[] {
  if (opts.dropOld) throw new UserError('--revert-window keeps the old table; it cannot go with --drop-old');
  for (const [name, s] of plan.flow.sources) {
    if (s.kind === 'origin' && s.using) throw new UserError(`refused: --revert-window: column ${name} is converted by a USING expression, which has no inverse`);
  }
  if (plan.transforms.length) throw new UserError('refused: --revert-window: a --transform has no inverse');
  if (plan.origin.hasInheritanceChildren && onlyDrops(plan.parsed.statements).length) {
    throw new UserError(
      'refused: --revert-window: ALTER TABLE ONLY ... DROP on a parent makes what its children had from it their own, which moving them back cannot undo (INHERIT never makes a column or a CHECK inherited only again)',
    );
  }
  const lines: string[] = [];
  for (const d of plan.flow.dropped) {
    const col = plan.origin.columns.find((c) => c.name === d);
    if (col?.notNull) lines.push(`  revert: rows inserted after the swap cannot go back if dropped column ${d} (NOT NULL) has no default`);
  }
  for (const o of plan.flow.typeChanged) lines.push(`  revert: values written after the swap must still fit the old type of ${o}`);
  return lines;
}

export function planReport(plan: Plan, opts: Pick<AlterOptions, 'revertWindowMs' | 'dropOld' | 'transforms'>): AlterReport {
  return {
    status: 'planned',
    migrationId: null,
    table: `${plan.origin.schema}.${plan.origin.name}`,
    statements: plan.statements,
    plan: [...describePlan(plan), ...(opts.revertWindowMs ? revertability(plan, opts) : [])],
    rowsEstimated: rowsToCopy(plan),
    rowsCopied: null,
    copyRowsPerSecond: null,
    durationsMs: null,
    cutover: null,
    validation: null,
    validated: [],
  };
}
