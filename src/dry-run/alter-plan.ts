import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { describeError } from '../errors.js';
import { describePlan, type Plan } from '../migration/plan.js';
import { deparseStatement } from '../plan/parse.js';
import { describeRoute, type Decision, type Step } from '../strategy/classify.js';
import type { Decided } from '../strategy/preview.js';
import type { ValidationLevel } from '../verify/validate.js';
import { copyEstimate, rehearseCopy } from '../estimate/copy-rehearsal.js';
import { inPlaceEstimate, rehearseInPlace, type InPlaceSample } from '../estimate/in-place-rehearsal.js';
import { SAMPLE_CHUNK_ROWS, type Estimate } from '../estimate/sample.js';
import { copyRunbook } from '../runbook/copy.js';
import { routesRunbook } from '../runbook/routes.js';
import { blockersNow } from './blockers.js';
import { tableSummary } from './table-summary.js';
import type { PlanModel, PlanStep, PlannedChange, Runbook } from './model.js';
import { diskLine, inPlaceDisk } from './disk.js';

export interface DryRunOptions {
  command: PlanModel['command'];
  lockTimeoutMs: number;
  chunkTimeMs: number;
  validation: ValidationLevel;
  diskFreeBytes?: number;
  /** performance.now() when the command began (0: the process's start): the run repeats what came before the rehearsal */
  startedAt: number;
  /** lines the caller adds (the preflight verdict, unused options) */
  notes: string[];
}

/**
 * The plan of one `pgshift plan` or `alter` call: the table now, what holds it up now, the
 * change as it would run (every step, its SQL, lock and hold), the disk it needs against what
 * is free, an estimated duration from a rehearsal on a sample, and the runbook. Nothing is
 * changed: every write happens in a transaction that is rolled back.
 */
export async function alterPlanModel(pool: Pool, decided: Decided, plan: Plan | null, o: DryRunOptions): Promise<PlanModel> {
  return withClient(pool, async (c) => {
    const { facts, classification, parsed } = decided;
    const oid = facts.table.oid;
    const table = await tableSummary(c, oid);
    const blockers = await blockersNow(c, [oid]);
    const startupSeconds = (performance.now() - o.startedAt) / 1000;
    const copy = classification.overall.strategy === 'copy' && plan !== null;
    const searchPath = (await c.query(`SELECT current_setting('search_path') AS p`)).rows[0].p as string;

    let estimate: Estimate | null = null;
    let unmeasured: string | undefined;
    let sample: InPlaceSample | null = null;
    let chunkRows = SAMPLE_CHUNK_ROWS;
    try {
      if (copy) {
        const s = await rehearseCopy(c, plan, o.validation);
        // Rows a chunk of --chunk-time holds at the rate the rehearsal's chunks were copied.
        chunkRows = Math.round(Math.min(200_000, Math.max(500, (s.scale.sampleRows / Math.max(1, s.copyMs)) * o.chunkTimeMs)));
        estimate = copyEstimate(s);
      } else {
        const key = facts.key?.columns ?? [];
        sample = await rehearseInPlace(c, { oid, schema: facts.table.schema, name: facts.table.name, key }, { strategy: classification.overall.strategy, decisions: classification.decisions, statements: parsed.statements });
        estimate = inPlaceEstimate(sample);
      }
    } catch (err) {
      unmeasured = `the rehearsal failed: ${describeError(err)}`;
    }

    let runbook: Runbook;
    let steps: PlanStep[] | null = null;
    if (copy) {
      const r = await copyRunbook(c, { plan, lockTimeoutMs: o.lockTimeoutMs, chunkRows });
      runbook = r.runbook;
      steps = r.steps;
    } else {
      runbook = await routesRunbook(c, { table: facts.table, statements: parsed.statements, classification, lockTimeoutMs: o.lockTimeoutMs, searchPath });
    }
    const disk = copy ? diskLine(plan.disk) : sample ? await inPlaceDisk(c, oid, sample, o.diskFreeBytes) : null;
    const change: PlannedChange = {
      label: 'the call',
      table: table.name,
      sql: parsed.statements.map(deparseStatement).join(';\n'),
      strategy: classification.overall.strategy,
      why: classification.overall.why,
      decisions: classification.decisions,
      ...strongest(classification.decisions),
      steps: steps ?? decisionSteps(classification.decisions, table.name),
      estimate,
      ...(unmeasured ? { unmeasured } : {}),
      disk,
      // The copy's own plan, less what the model says elsewhere (the statements, the disk).
      details: copy ? describePlan(plan).slice(1).map((l) => l.trim()).filter((l) => !/^(statement|disk): /.test(l)) : [],
    };
    return {
      format: 'pgshift-plan/1',
      command: o.command,
      createdAt: new Date().toISOString(),
      server: { version: (await c.query(`SELECT current_setting('server_version') AS v`)).rows[0].v },
      tables: [table],
      changes: [change],
      blockers,
      estimate: totalEstimate(startupSeconds, [change]),
      runbook,
      notes: o.notes,
    };
  });
}

/** The whole run: start-up and planning once, then every change; null when one could not be measured. */
export function totalEstimate(startupSeconds: number, changes: PlannedChange[]): PlanModel['estimate'] {
  const measured = changes.filter((ch) => ch.estimate);
  const missing = changes.length - measured.length;
  const seconds = missing ? null : startupSeconds + measured.reduce((t, ch) => t + ch.estimate!.seconds, 0);
  const basis = missing
    ? `${missing} change(s) could not be rehearsed`
    : `this process's start-up and planning (${startupSeconds.toFixed(1)} s, measured), which the run repeats, then each change rehearsed on a sample now; plus any wait for a lock and any throttling`;
  return { seconds, basis, startupSeconds };
}

const LOCK_ORDER = ['SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'];

/** The strongest lock the decisions take, and the hold of the decision that takes it. */
function strongest(decisions: Decision[]): { lock: string | null; hold: string | null; rewrites: boolean } {
  const top = [...decisions].sort((a, b) => LOCK_ORDER.indexOf(b.lock) - LOCK_ORDER.indexOf(a.lock))[0];
  return { lock: top?.lock ?? null, hold: top?.hold ?? null, rewrites: decisions.some((d) => d.rewrites) };
}

/** A change without a copy: each step of each subcommand's route, with its SQL, lock and hold. */
export function decisionSteps(decisions: Decision[], table: string): PlanStep[] {
  return decisions.flatMap((d): PlanStep[] => {
    if (d.route.length === 0) return [{ name: `${d.strategy}: ${d.subcommand}`, sql: d.steps, lock: d.lock, on: table, hold: d.hold }];
    return d.route.map((step) => ({ name: `${stepKind(step)}: ${d.subcommand}`, sql: describeRoute([step]), ...stepLock(step, d), on: stepOn(step) ?? table }));
  });
}

function stepKind(step: Step): string {
  return { check: 'read-only check', 'check-foreign-key': 'read-only check', locked: 'catalog change', 'build-index': 'index build CONCURRENTLY', 'drop-index': 'index drop CONCURRENTLY', validate: 'VALIDATE' }[step.kind];
}

/** The partition a step acts on, when it is not the table itself. */
function stepOn(step: Step): string | undefined {
  if (step.kind === 'build-index' && step.attachTo) return `${step.schema}.${step.node.relation.relname}`;
  return step.kind === 'locked' || step.kind === 'validate' ? step.on : undefined;
}

function stepLock(step: Step, d: Decision): { lock: string; hold: string } {
  switch (step.kind) {
    case 'check':
    case 'check-foreign-key':
      return { lock: 'ACCESS SHARE', hold: 'a read-only scan (reads and writes go on)' };
    case 'locked':
      return { lock: step.lock ?? d.lock, hold: 'catalog only (milliseconds)' };
    case 'build-index':
      return { lock: 'SHARE UPDATE EXCLUSIVE', hold: `the build (reads and writes go on)${step.attach ? '; then ACCESS EXCLUSIVE for milliseconds to attach it' : step.attachTo ? `; then ACCESS EXCLUSIVE on the new index for milliseconds to attach it to ${step.attachTo}` : ''}` };
    case 'drop-index':
      return { lock: 'SHARE UPDATE EXCLUSIVE', hold: 'catalog only, after running transactions end' };
    case 'validate':
      return { lock: 'SHARE UPDATE EXCLUSIVE', hold: 'the scan (reads and writes go on)' };
  }
}
