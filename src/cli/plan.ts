import type { Command } from 'commander';
import { plan } from '../dry-run/plan.js';
import { DEFAULTS } from '../config.js';
import { parseSize } from '../units.js';
import { VALIDATION_LEVELS } from '../verify/validate.js';
import { addConnectionOptions, addStrategyOptions, connectionUrl, oneOf, positiveDuration, strategyOptions } from './options.js';
import { addPlanOutputOptions, planFormat, printPlan } from './plan-output.js';
import { runCommand } from './run.js';
import { addFleetOptions, plansAcrossTargets } from './fleet.js';
import type { PlanModel } from '../dry-run/model.js';

/**
 * `pgshift plan "<statements>"`: the plan `alter`'s dry run prints (src/dry-run): the cheapest
 * safe path of every subcommand, every step with its SQL, lock and hold, the table, the blockers
 * now, the disk, an estimated duration rehearsed on a sample, and the runbook. It writes only in
 * transactions it rolls back.
 */
export function registerPlan(program: Command): void {
  const cmd = program
    .command('plan')
    .description("show each subcommand's cheapest safe strategy (instant, concurrent, NOT VALID + VALIDATE, copy, direct), its lock and steps; changes nothing")
    .argument('<statements>', 'ALTER TABLE, CREATE INDEX or DROP INDEX statement(s) on one table')
    .option('--json', 'print the plan as JSON (--format json)', false)
    .option('--chunk-time <duration>', "target duration of one copy chunk (sizes the runbook's chunks)", `${DEFAULTS.chunkTimeMs}ms`)
    .option('--validation <level>', 'the validation the estimate counts: basic, thorough, comprehensive', DEFAULTS.validation)
    .option('--lock-timeout <duration>', "lock wait of the runbook's statements", `${DEFAULTS.retry.lockTimeoutMs}ms`)
    .option('--disk-free <size>', 'free disk space for what the change writes, when pgshift cannot read it on the server\'s host (e.g. 50GB)');
  addPlanOutputOptions(addFleetOptions(addStrategyOptions(addConnectionOptions(cmd)), 'read')).action((statements: string, o: Record<string, unknown>) =>
    runCommand(async () => {
      // The estimated duration counts this process from its start: a run repeats it (each target's child too).
      const startup = performance.now();
      const build = (url: string | undefined, startedAt: number): Promise<PlanModel> =>
        plan({
          url, statements, ...strategyOptions(o),
          chunkTimeMs: positiveDuration(o.chunkTime, '--chunk-time', 3_600_000),
          validation: oneOf('--validation', o.validation, VALIDATION_LEVELS),
          lockTimeoutMs: positiveDuration(o.lockTimeout, '--lock-timeout', 60_000),
          diskFreeBytes: o.diskFree === undefined ? undefined : parseSize(String(o.diskFree), '--disk-free'),
          startedAt,
        });
      if (o.targets !== undefined) return plansAcrossTargets(o, 'plan', (t) => build(t.conn, performance.now() - startup));
      planFormat(o);
      printPlan(await build(connectionUrl(o), 0), o);
    }),
  );
}
