import type { Command } from 'commander';
import { createPool } from '../db/session.js';
import { applyControl, readStatus, type Control } from '../state/control.js';
import { parseDuration } from '../units.js';
import { UserError } from '../errors.js';
import { runCommand } from './run.js';

function withPool(url: string | undefined, fn: (pool: ReturnType<typeof createPool>) => Promise<void>): Promise<void> {
  const pool = createPool({ url, applicationName: 'pgshift:control', lockTimeoutMs: 1000, maxClients: 1 });
  return fn(pool).finally(() => pool.end());
}

export function registerControls(program: Command): void {
  const control = (name: string, description: string, make: (o: Record<string, string | undefined>) => Control): void => {
    const cmd = program
      .command(name)
      .description(description)
      .argument('<id>', 'the migration id')
      .option('--url <url>', 'connection URL (default: DATABASE_URL, then the libpq variables)');
    if (name === 'throttle') cmd.requiredOption('--for <duration>', 'how long, e.g. 10m');
    cmd.action((id: string, o: Record<string, string | undefined>) =>
      runCommand(() =>
        withPool(o.url, async (pool) => {
          process.stdout.write(`${await applyControl(pool, id, make(o))}\n`);
        }),
      ),
    );
  };
  control('pause', 'pause the copy and the replay of a running migration (from any host)', () => ({ kind: 'pause' }));
  control('unpause', 'let a paused or throttled migration go on', () => ({ kind: 'unpause' }));
  control('throttle', 'slow a running migration down to a stop for a while', (o) => ({ kind: 'throttle', forMs: parseDuration(String(o.for), '--for') }));

  program
    .command('status')
    .description('migrations with phase, progress and throttle reason')
    .argument('[id]', 'one migration')
    .option('--url <url>', 'connection URL (default: DATABASE_URL, then the libpq variables)')
    .option('--json', 'print JSON', false)
    .action((id: string | undefined, o: { url?: string; json?: boolean }) =>
      runCommand(() =>
        withPool(o.url, async (pool) => {
          if (id !== undefined && !/^\d+$/.test(id)) throw new UserError(`"${id}" is not a migration id`);
          const rows = await readStatus(pool, id);
          if (o.json) {
            process.stdout.write(`${JSON.stringify(rows)}\n`);
            return;
          }
          if (rows.length === 0) process.stdout.write('no migrations\n');
          for (const m of rows) {
            const progress = m.progressPct === null ? `${m.rowsCopied} rows` : `${m.progressPct.toFixed(0)}% (${m.rowsCopied} rows)`;
            const state = m.outcome ?? (m.paused ? `${m.phase}, paused` : m.phase);
            process.stdout.write(`${m.id}\t${m.kind === 'backfill' ? `backfill ${m.name} on ` : ''}${m.table}\t${state}\t${progress}${m.throttleReason ? `\tthrottled: ${m.throttleReason}` : ''}${m.error ? `\t${m.error}` : ''}\n`);
          }
        }),
      ),
    );
}
