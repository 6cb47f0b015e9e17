import type { Command } from 'commander';
import { describeStrategies, plan } from '../strategy/preview.js';
import { addConnectionOptions, addStrategyOptions, connectionUrl, strategyOptions } from './options.js';
import { runCommand } from './run.js';
import { addFleetOptions, planAcrossTargets } from './fleet.js';

/**
 * `pgshift plan "<statements>"`: the cheapest safe path of every subcommand (issue 12's
 * classifier), its lock and how long it is held, whether it rewrites or scans the table, and the
 * SQL steps. Read-only. `alter` takes the same paths (its dry run prints the same, and the copy's plan when it copies).
 */
export function registerPlan(program: Command): void {
  const cmd = program
    .command('plan')
    .description("show each subcommand's cheapest safe strategy (instant, concurrent, NOT VALID + VALIDATE, copy, direct), its lock and steps; changes nothing")
    .argument('<statements>', 'ALTER TABLE, CREATE INDEX or DROP INDEX statement(s) on one table')
    .option('--json', 'print the decisions as JSON', false);
  addFleetOptions(addStrategyOptions(addConnectionOptions(cmd)), 'read').action((statements: string, o: Record<string, unknown>) =>
    runCommand(async () => {
      if (o.targets !== undefined) return planAcrossTargets(o, { statements, ...strategyOptions(o) });
      const preview = await plan({ url: connectionUrl(o), statements, ...strategyOptions(o) });
      process.stdout.write(o.json ? `${JSON.stringify(preview)}\n` : `${describeStrategies(preview).join('\n')}\n`);
    }),
  );
}
