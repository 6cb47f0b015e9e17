import type { Command } from 'commander';
import { DifferenceError, UserError } from '../errors.js';
import { LAYOUTS, type Layout } from '../migrate/files.js';
import { lint, type LintReport } from '../lint/lint.js';
import { addConnectionOptions, connectionUrl } from './options.js';
import { runCommand } from './run.js';

/**
 * `pgshift lint [files or folders]`: the statements of migration files that would take a long
 * lock, rewrite a table or break running code when a migration tool runs them as written. Exit 0
 * when nothing is found, 3 when unsuppressed findings remain, 2 for a file that does not parse.
 */
export function registerLint(program: Command): void {
  const cmd = program
    .command('lint')
    .description('find statements in migration files that lock or rewrite tables, or break running code; exit 3 when any is found')
    .argument('[paths...]', 'migration files or folders (default: --dir)')
    .option('--dir <dir>', 'the migrations folder when no path is given (default: $DBMATE_MIGRATIONS_DIR, ./db/migrations, ./migrations)')
    .option('--layout <layout>', `the files' tool: ${LAYOUTS.join(', ')} (default: detected)`)
    .option('--pg-version <version>', 'PostgreSQL version to lint for, e.g. 14 or 14.3 (default 14; with --url the server\'s)')
    .option('--json', 'print the report as JSON', false);
  addConnectionOptions(cmd).action((paths: string[], o: Record<string, unknown>) =>
    runCommand(async () => {
      const layout = o.layout as string | undefined;
      if (layout !== undefined && !(LAYOUTS as readonly string[]).includes(layout)) throw new UserError(`--layout: "${layout}" is not one of ${LAYOUTS.join(', ')}`);
      const url = connectionUrl(o);
      if (url !== undefined && o.pgVersion !== undefined) throw new UserError('--pg-version and --url exclude each other: with --url the server\'s version is used');
      const report = await lint({ paths, dir: o.dir as string | undefined, layout: layout as Layout | undefined, url, pgVersion: o.pgVersion as string | undefined });
      process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : describe(report));
      for (const w of report.warnings) process.stderr.write(`pgshift: warning: ${w}\n`);
      if (report.findings.length) throw new DifferenceError(`lint: ${count(report.findings.length, 'finding')} in ${count(report.files, 'file')}`);
    }),
  );
}

function describe(r: LintReport): string {
  const lines: string[] = [];
  for (const f of r.findings) {
    lines.push(`${f.file}:${f.line}${f.section === 'down' ? ' (down)' : ''}: ${f.rule}: ${f.statement}`);
    lines.push(`  ${f.message}${f.lock ? ` [${f.lock}${f.table ? ` on ${f.table}` : ''}]` : ''}`);
    lines.push(`  safe: ${f.alternative}`);
    lines.push(`  made safe by pgshift migrate up: ${f.madeSafeByMigrateUp ? 'yes' : 'no'}`);
  }
  const v = `${Math.floor(r.pgVersion / 10000)}${r.versionFrom === 'server' ? `.${r.pgVersion % 100} (the server's)` : ''}`;
  lines.push(`${count(r.findings.length, 'finding')}${r.suppressed.length ? ` (${r.suppressed.length} suppressed)` : ''} in ${count(r.statements, 'statement')} of ${count(r.files, 'file')}, for PostgreSQL ${v}`);
  return `${lines.join('\n')}\n`;
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
