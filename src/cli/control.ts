import type { Command } from 'commander';
import { createPool } from '../db/session.js';
import { applyControl, readStatus, type Control, type StatusRow } from '../state/control.js';
import { parseDuration } from '../units.js';
import { UserError } from '../errors.js';
import { runCommand } from './run.js';
import { addConnectionOptions, connectionUrl } from './options.js';
import { addFleetOptions, statusAcrossTargets } from './fleet.js';
import { migrationsDir } from '../migrate/files.js';
import { migrateOptions } from '../migrate/runner.js';

function withPool(url: string | undefined, fn: (pool: ReturnType<typeof createPool>) => Promise<void>, readOnly = false): Promise<void> {
  const pool = createPool({ url, role: readOnly ? 'status' : 'control', lockTimeoutMs: 1000, maxClients: 1, readOnly });
  return fn(pool).finally(() => pool.end());
}

export function registerControls(program: Command): void {
  const control = (name: string, description: string, make: (o: Record<string, string | undefined>) => Control): void => {
    const cmd = program
      .command(name)
      .description(description)
      .argument('<id>', 'the migration id');
    addConnectionOptions(cmd);
    if (name === 'throttle') cmd.requiredOption('--for <duration>', 'how long, e.g. 10m');
    cmd.action((id: string, o: Record<string, string | undefined>) =>
      runCommand(() =>
        withPool(connectionUrl(o), async (pool) => {
          process.stdout.write(`${await applyControl(pool, id, make(o))}\n`);
        }),
      ),
    );
  };
  control('pause', 'pause the copy and the replay of a running migration (from any host)', () => ({ kind: 'pause' }));
  control('unpause', 'let a paused or throttled migration go on', () => ({ kind: 'unpause' }));
  control('cutover', 'swap now a migration started with --postpone-cutover (from any host)', () => ({ kind: 'cutover' }));
  control('throttle', 'slow a running migration down to a stop for a while', (o) => ({ kind: 'throttle', forMs: parseDuration(String(o.for), '--for') }));

  const status = program
    .command('status')
    .description('migrations and backfills: phase, progress, rows/s, ETA, backlog, lag, throttle reason, outcome')
    .argument('[id]', 'one migration');
  addFleetOptions(addConnectionOptions(status), 'read')
    .option('--dir <dir>', 'with --targets: also count each target\'s pending migration files in this folder')
    .option('--json', 'print JSON', false)
    .option('--watch', 'print again every 2 seconds until every migration shown has ended', false)
    .action((id: string | undefined, o: { url?: string; urlFile?: string; json?: boolean; watch?: boolean; targets?: string; dir?: string }) =>
      runCommand(() =>
        o.targets !== undefined ? statusAcrossTargets(o, o.dir === undefined ? undefined : migrateOptions({ dir: migrationsDir(o.dir) })) :
        withPool(connectionUrl(o), async (pool) => {
          if (id !== undefined && !/^\d+$/.test(id)) throw new UserError(`"${id}" is not a migration id`);
          for (;;) {
            const rows = await readStatus(pool, id);
            process.stdout.write(o.json ? `${JSON.stringify(rows)}\n` : `${statusLines(rows).join('\n')}\n`);
            if (!o.watch || rows.every((m) => m.finishedAt !== null)) return;
            await new Promise((r) => setTimeout(r, 2000));
          }
        }, true),
      ),
    );
}

export function statusLines(rows: StatusRow[]): string[] {
  if (rows.length === 0) return ['no migrations'];
  return rows.map((m) => {
    const what = m.kind === 'backfill' ? `backfill ${m.name} on ${m.table}` : `${m.table} (${m.strategy ?? 'copy'})`;
    const progress = m.progressPct === null ? `${m.rowsCopied} rows` : `${m.progressPct}% (${m.rowsCopied} rows)`;
    const parts = [String(m.id), what, m.state, progress];
    if (m.rowsPerSecond !== null) parts.push(`${m.rowsPerSecond} rows/s`);
    if (m.eta) parts.push(`ETA ${m.eta}`);
    if (m.backlog !== null) parts.push(`backlog ${m.backlog}`);
    if (m.lagMs !== null) parts.push(`lag ${(m.lagMs / 1000).toFixed(1)}s`);
    if (m.throttleReason) parts.push(`throttled: ${m.throttleReason}`);
    if (m.error) parts.push(m.error);
    return parts.join('\t');
  });
}
