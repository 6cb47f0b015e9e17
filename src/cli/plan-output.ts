import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import type { PlanModel } from '../dry-run/model.js';
import { PLAN_FORMATS, renderPlan, type PlanFormat } from '../dry-run/render.js';
import { oneOf } from './options.js';

/** `--format md|json|text` and `--runbook-dir DIR` on plan, alter and migrate up (their dry runs). */
export function addPlanOutputOptions(cmd: Command): Command {
  return cmd
    .option('--format <format>', `how a plan (a dry run) is printed: ${PLAN_FORMATS.join(', ')} (--json is --format json)`)
    .option('--runbook-dir <dir>', "write the plan's runbook there: forward.sql, abort.sql, revert.sql, cleanup.sql");
}

/** --json means --format json; both at once must agree. */
export function planFormat(o: Record<string, unknown>): PlanFormat {
  const format = o.format === undefined ? undefined : oneOf('--format', o.format, PLAN_FORMATS);
  if (o.json && format !== undefined && format !== 'json') throw new UserError(`--json is --format json: not with --format ${format}`);
  return o.json ? 'json' : (format ?? 'text');
}

/** Prints the plan in its format, after writing its runbook to --runbook-dir when given (a directory that cannot be written is a usage error). */
export function printPlan(m: PlanModel, o: Record<string, unknown>): void {
  const format = planFormat(o);
  const written = o.runbookDir === undefined ? undefined : writeRunbook(m, String(o.runbookDir));
  process.stdout.write(renderPlan(m, format, written));
}

/** The plan's runbook scripts into `dir` (made when missing); the folder when it wrote any. */
export function writeRunbook(m: PlanModel, dir: string): string | undefined {
  const abs = path.resolve(dir);
  try {
    fs.mkdirSync(abs, { recursive: true });
    for (const s of m.runbook.scripts) fs.writeFileSync(path.join(abs, s.file), s.sql);
  } catch (err) {
    throw new UserError(`--runbook-dir ${abs}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return m.runbook.scripts.length ? abs : undefined;
}
