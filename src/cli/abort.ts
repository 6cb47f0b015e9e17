import type { Command } from 'commander';
import { createPool } from '../db/session.js';
import { abortMigration } from '../migration/abort.js';
import { DEFAULTS } from '../config.js';
import { runCommand } from './run.js';
import { addConnectionOptions, connectionUrl } from './options.js';
import { cleanup } from '../migration/cleanup.js';
import { addFleetOptions, runFleetCommand } from './fleet.js';
import { cleanupProbe } from '../fleet/probes.js';
import { UserError } from '../errors.js';

export function registerAbort(program: Command): void {
  const cmd = program
    .command('abort')
    .description('remove an unfinished migration that is not running (e.g. kept by --rollback manual): triggers, shadow, changelog')
    .argument('<id>', 'the migration id');
  addConnectionOptions(cmd).action((id: string, o: Record<string, unknown>) =>
      runCommand(async () => {
        const pool = createPool({ url: connectionUrl(o), role: 'abort', lockTimeoutMs: DEFAULTS.retry.lockTimeoutMs });
        try {
          const dropped = await abortMigration(pool, id, DEFAULTS.retry);
          process.stdout.write(`aborted migration ${id}: dropped ${dropped.join(', ')}\n`);
        } finally {
          await pool.end();
        }
      }),
    );
}

export function registerCleanup(program: Command): void {
  const cmd = program
    .command('cleanup')
    .description('remove what finished migrations kept (the old table) and interrupted ones left behind; says what it drops')
    .argument('[id]', 'one migration (default: none; use --all for every one)')
    .option('--all', 'every migration with something left behind', false);
  addFleetOptions(addConnectionOptions(cmd), 'run').action((id: string | undefined, o: Record<string, unknown>, cmd: Command) =>
      runCommand(async () => {
        if (o.targets !== undefined && (id !== undefined || !o.all)) throw new UserError('cleanup --targets cleans up every migration of each target: give --all, not an id (ids differ between targets)');
        if (o.targets !== undefined) return runFleetCommand(o, cmd, { add: [], probe: cleanupProbe, execute: true });
        if (o.json) throw new UserError('cleanup --json: only with --targets (the fleet report); cleanup of one database prints what it drops');
        const pool = createPool({ url: connectionUrl(o), role: 'cleanup', lockTimeoutMs: DEFAULTS.retry.lockTimeoutMs });
        try {
          await cleanup(pool, { id, all: o.all === true }, DEFAULTS.retry, (line) => process.stdout.write(`${line}\n`));
        } finally {
          await pool.end();
        }
      }),
    );
}
