import type { Command } from 'commander';
import { runCommand } from './run.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start an embedded PostgreSQL, migrate a 1,000,000-row table online under load, and report')
    .option('--rows <n>', 'rows in the demo table', '1000000')
    .action((o: { rows: string }) =>
      runCommand(async () => {
        const { runDemo } = await import('../demo/demo.js');
        await runDemo({ rows: Number(o.rows) });
      }),
    );
}
