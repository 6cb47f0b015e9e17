import type { Command } from 'commander';
import { runCommand } from './run.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start an embedded PostgreSQL, migrate a 1,000,000-row table online under load, and report')
    .option('--rows <n>', 'rows in the demo table', '1000000')
    .option('--load-tps <n>', 'write transactions per second during the migration', '300')
    .action((o: { rows: string; loadTps: string }) =>
      runCommand(async () => {
        // Loaded on demand: only the demo needs the embedded server package.
        const { runDemo } = await import('../demo/demo.js');
        await runDemo({ rows: Number(o.rows), loadTps: Number(o.loadTps) });
      }),
    );
}
