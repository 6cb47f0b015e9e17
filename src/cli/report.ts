import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { createPool } from '../db/session.js';
import { rebuildReport, REPORT_FILES } from '../report/report-run.js';
import { listRuns } from '../report/store.js';
import { addConnectionOptions, connectionUrl } from './options.js';
import { runCommand } from './run.js';

/** `pgshift report [id]`: rebuild a past run's report from the state schema; without an id, list the runs. */
export function registerReport(program: Command): void {
  addConnectionOptions(
    program
      .command('report')
      .description('rebuild the report (report.md, report.json, report.html) of a past run from the state schema; without an id, list the runs')
      .argument('[id]', 'the run id (the report of alter --execute, backfill --execute, migrate up)')
      .option('--report-dir <dir>', 'write the files directly in this folder (default: ./pgshift-reports/<id>/)')
      .option('--json', 'print the report (or the list of runs) as JSON on stdout', false),
  ).action((id: string | undefined, o: Record<string, unknown>) =>
    runCommand(async () => {
      const url = connectionUrl(o);
      if (id === undefined) {
        const pool = createPool({ url, role: 'report', lockTimeoutMs: 1000, maxClients: 1, readOnly: true });
        const runs = await listRuns(pool).finally(() => pool.end());
        const lines = runs.length ? runs.map((r) => `${r.id}\t${r.command}\t${r.startedAt}\t${r.outcome}\tmigrations ${r.migrationIds.join(', ') || '-'}`) : ['no runs with a report'];
        process.stdout.write(o.json ? `${JSON.stringify(runs)}\n` : `${lines.join('\n')}\n`);
        return;
      }
      if (!/^\d+$/.test(id)) throw new UserError(`"${id}" is not a run id`);
      const { dir, model } = await rebuildReport({ url, id: Number(id), dir: o.reportDir as string | undefined });
      process.stdout.write(o.json ? `${JSON.stringify(model)}\n` : `report of run ${id} (pgshift ${model.run.command}, ${model.run.outcome}): ${REPORT_FILES.map((f) => `${dir}/${f}`).join(', ')}\n`);
    }),
  );
}
