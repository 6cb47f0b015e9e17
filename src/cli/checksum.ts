import type { Command } from 'commander';
import { createPool } from '../db/session.js';
import { DifferenceError, UserError } from '../errors.js';
import { DEFAULT_COMPARE } from '../verify/compare.js';
import { compareTables } from '../verify/tables.js';
import { formatDuration } from '../units.js';
import { runCommand } from './run.js';
import { addConnectionOptions, connectionUrl } from './options.js';

export function registerChecksum(program: Command): void {
  const cmd = program
    .command('checksum')
    .description('compare two tables with the same key chunk by chunk; exit 0 when equal, 3 when different')
    .argument('<table-a>')
    .argument('<table-b>');
  addConnectionOptions(cmd)
    .option('--columns <list>', 'comma-separated columns to compare (default: the columns both tables have)')
    .option('--key <list>', 'comma-separated key columns (default: the primary key of table-a, else its unique index over NOT NULL columns)')
    .option('--chunk-rows <n>', 'rows per checksum chunk', String(DEFAULT_COMPARE.chunkRows))
    .option('--parallel <n>', 'connections checksumming chunks at once', String(DEFAULT_COMPARE.parallel))
    .option('--json', 'print one JSON report on stdout instead of the differing keys and a summary', false)
    .action((tableA: string, tableB: string, o: Record<string, string | boolean | undefined>) =>
      runCommand(async () => {
        const count = (name: string, v: unknown): number => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1) throw new UserError(`${name}: "${String(v)}" is not a positive whole number`);
          return n;
        };
        const list = (v: unknown): string[] | undefined => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
        const pool = createPool({ url: connectionUrl(o), role: 'checksum', lockTimeoutMs: 1000, maxClients: 8, readOnly: true });
        try {
          const report = await compareTables(pool, tableA, tableB, {
            ...DEFAULT_COMPARE,
            chunkRows: count('--chunk-rows', o.chunkRows),
            parallel: count('--parallel', o.parallel),
            maxDifferences: o.json ? 1000 : 0,
            columns: list(o.columns),
            key: list(o.key),
            onDifference: o.json ? undefined : (d) => process.stdout.write(`${d.kind}\t${d.key.join('\t')}\n`),
          });
          if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
          else {
            process.stdout.write(
              `${report.tableA}: ${report.rowsA} rows, ${report.tableB}: ${report.rowsB} rows; ${report.chunks} chunks compared, ` +
                `${report.mismatchedChunks} differ, ${report.differenceCount} differing rows; columns ${report.columns.join(', ')}; ${formatDuration(report.ms)}\n`,
            );
          }
          if (report.mismatchedChunks > 0) throw new DifferenceError(`${report.tableA} and ${report.tableB} differ in ${report.differenceCount} rows`);
        } finally {
          await pool.end();
        }
      }),
    );
}
