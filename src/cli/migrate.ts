import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULTS } from '../config.js';
import { UserError, DifferenceError } from '../errors.js';
import { formatDuration } from '../units.js';
import { LAYOUTS, migrationsDir, readMigrations, type MigrationFile } from '../migrate/files.js';
import { SOURCES, baseline, mark, repair } from '../migrate/adopt.js';
import { lint } from '../lint/lint.js';
import { createPool, type Pool } from '../db/session.js';
import { migrateDown, migrateOptions, migrateStatus, migrateUp, migrateValidate, type FileRun, type MigrateOptions, type PlannedStatement } from '../migrate/runner.js';
import { addConnectionOptions, addOutputOptions, addReportOptions, addStrategyOptions, connectionUrl, oneOf, outputOptions, positiveDuration, reportOptions, strategyOptions } from './options.js';
import { withReport } from '../report/report-run.js';
import { withOutput } from '../terminal/output.js';
import { componentLog } from '../log.js';
import { runCommand } from './run.js';
import { addPlanOutputOptions, planFormat, printPlan } from './plan-output.js';
import { migratePlanModel } from '../dry-run/migrate-plan.js';
import { VALIDATION_LEVELS } from '../verify/validate.js';
import { addFleetOptions, exitFromReads, migrateStatusAcrossTargets, plansAcrossTargets, runFleetCommand } from './fleet.js';
import { migrateProbe } from '../fleet/probes.js';
import { fleetValidate } from '../fleet/read.js';
import { readTargetsFile } from '../fleet/targets.js';

/** `pgshift migrate create|up|down|status|validate`: the migration files teams already have (src/migrate). */
export function registerMigrate(program: Command): void {
  const migrate = program.command('migrate').description('run migration files (dbmate, node-pg-migrate or Flyway SQL) with the cheapest safe strategy for every statement');
  const withDir = (cmd: Command): Command =>
    cmd
      .option('--dir <dir>', 'the migrations folder (default: $DBMATE_MIGRATIONS_DIR, else ./db/migrations when it exists, else ./migrations)')
      .option('--layout <layout>', `the files' layout: ${LAYOUTS.join(', ')} (default: detected)`);

  withDir(migrate.command('create').description('write a new dbmate-style migration file').argument('<name>', 'what it does, e.g. add_orders_note')).action(
    (name: string, o: Record<string, unknown>) =>
      runCommand(async () => {
        if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new UserError(`"${name}" is not a migration name: use letters, digits, _ and -`);
        const dir = migrationsDir(o.dir as string | undefined);
        fs.mkdirSync(dir, { recursive: true });
        const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
        const file = path.join(dir, `${stamp}_${name}.sql`);
        fs.writeFileSync(file, '-- migrate:up\n\n\n-- migrate:down\n\n', { flag: 'wx' });
        process.stdout.write(`${file}\n`);
      }),
  );

  const runner = (cmd: Command): Command =>
    addOutputOptions(addStrategyOptions(addConnectionOptions(withDir(cmd))))
      .option('--lock-timeout <duration>', 'lock wait of the first attempt of every statement', `${DEFAULTS.retry.lockTimeoutMs}ms`)
      .option('--validation <level>', 'of online copies: basic, thorough, comprehensive', DEFAULTS.validation)
      .option('--keep-old', 'keep the old tables online copies leave (default: dropped once the copy is done)', false)
      .option('--history-compat <tool>', 'also keep this tool\'s history table in step: dbmate')
      .option('--rollback <mode>', 'a file that fails: automatic (undo its applied statements by their inverses), manual (stop, listing them and what to run), none (stop)', 'automatic')
      .option('--json', 'print the result as JSON', false);

  addPlanOutputOptions(addFleetOptions(runner(addReportOptions(migrate.command('up').description('apply the pending files in order').option('--to <version>', 'stop after this version').option('--dry-run', 'print each statement\'s strategy; change nothing', false))), 'run')).action(
    (o: Record<string, unknown>, cmd: Command) =>
      runCommand(async () => {
        const opts = optionsFrom(o);
        if (o.dryRun) {
          // The lint pass over the pending files: what each statement would risk run as written, and whether pgshift makes it safe.
          const notes = (url: string | undefined) => async (planned: PlannedStatement[]): Promise<string[]> => {
            const pendingFiles = new Set(planned.map((s) => path.resolve(s.file)));
            const report = await lint({ dir: opts.dir, layout: opts.layout, url });
            return report.findings
              .filter((f) => f.section === 'up' && pendingFiles.has(path.resolve(f.file)))
              .map((f) => `lint ${f.rule} ${path.basename(f.file)}:${f.line}: ${f.message}${f.madeSafeByMigrateUp ? ' (pgshift migrate up makes it safe)' : ` (not made safe by pgshift: ${f.alternative})`}`);
          };
          // Across a fleet: each target's plan as below, under its label, and the fleet's summary.
          const startup = performance.now();
          if (o.targets !== undefined) return plansAcrossTargets(o, 'migrate up', (t) => migratePlanModel({ ...opts, url: t.conn }, { startedAt: performance.now() - startup, notes: notes(t.conn) }));
          planFormat(o);
          return printPlan(await migratePlanModel(opts, { startedAt: 0, notes: notes(opts.url) }), o);
        }
        if (o.targets !== undefined) {
          // The folder's files name the change: the fleet id changes with them.
          const identity = (await readMigrations(opts.dir, opts.layout)).files.map((f) => `${f.version}:${f.checksum}`).join(',');
          return runFleetCommand(o, cmd, { add: ['--json', '--log-format', 'json'], probe: migrateProbe(opts), identity, execute: true });
        }
        // One report for the command run, its files marked on the timeline as each begins.
        const report = { ...reportOptions(o, opts.url, true), command: 'migrate up' };
        const runs = await withOutput(outputOptions(o), () => withReport(report, (notes) => migrateUp({ ...opts, say: (line) => (opts.say(line), notes.note(line)) })));
        print(o.json ? runs : describeRuns(runs, 'applied'), o.json);
      }),
  );

  runner(migrate.command('down').description('run the down sections of the last applied files').option('--steps <n>', 'how many files (default 1)').option('--to <version>', 'take down every applied file newer than this version (it stays applied)')).action((o: Record<string, unknown>) =>
    runCommand(async () => {
      if (o.steps !== undefined && o.to !== undefined) throw new UserError('--steps and --to: give one of them');
      const steps = Number(o.steps ?? 1);
      if (!Number.isSafeInteger(steps) || steps < 1) throw new UserError(`--steps: "${String(o.steps)}" is not a positive whole number`);
      const opts = optionsFrom(o);
      const runs = await withOutput(outputOptions(o), () => migrateDown(opts, o.to === undefined ? { steps } : { to: String(o.to) }));
      print(o.json ? runs : describeRuns(runs, 'taken down'), o.json);
    }),
  );

  addFleetOptions(addConnectionOptions(withDir(migrate.command('status').description('applied, pending, changed and missing files'))), 'read')
    .option('--json', 'print the files as JSON', false)
    .option('--exit-code', 'exit 3 when something is pending, changed or missing (with --targets: or a target drifts)', false)
    .action((o: Record<string, unknown>) =>
      runCommand(async () => {
        if (o.targets !== undefined) return migrateStatusAcrossTargets(o, optionsFrom(o));
        const status = await migrateStatus(optionsFrom(o));
        print(o.json ? status : status.length ? status.map((s) => `${s.state}\t${s.version}\t${s.name}${s.appliedAt ? `\t${s.appliedAt}` : ''}`) : ['no migration files'], o.json);
        const open = status.filter((s) => s.state !== 'applied');
        if (o.exitCode && open.length) throw new DifferenceError(`${open.length} file(s) not applied as they are: ${open.map((s) => `${s.version} (${s.state})`).join(', ')}`);
      }),
    );

  addConnectionOptions(withDir(migrate.command('baseline').description('adopt another tool\'s history: every version it applied is applied here; nothing runs')))
    .requiredOption('--from <tool>', `the tool whose history to import: ${SOURCES.join(', ')}`)
    .option('--table <name>', 'its history table, when not the tool\'s default (schema_migrations, flyway_schema_history, pgmigrations)')
    .action((o: Record<string, unknown>) =>
      runCommand(async () => {
        const from = oneOf('--from', o.from, SOURCES);
        const opts = optionsFrom(o);
        const { files } = await readMigrations(opts.dir, opts.layout);
        const imported = await withPool(opts, (p) => baseline(p, from, files, o.table as string | undefined));
        print([...imported.map((i) => `applied\t${i.version}${i.changed ? '\tchanged since the other tool applied it' : ''}`), `${imported.length} version(s) adopted from ${from}`], false);
      }),
    );

  addConnectionOptions(withDir(migrate.command('repair').description('accept the current checksum of an edited applied file').argument('<version>', 'the file\'s version')))
    .option('--yes', 'confirm: the file was edited on purpose and its applied statements stand', false)
    .action((version: string, o: Record<string, unknown>) =>
      runCommand(async () => {
        if (!o.yes) throw new UserError('repair accepts an edited file as applied without running it: confirm with --yes');
        const opts = optionsFrom(o);
        print([await withPool(opts, async (p) => repair(p, await oneFile(opts, version)))], false);
      }),
    );

  addConnectionOptions(withDir(migrate.command('mark').description('set a version applied or pending by hand (nothing runs)').argument('<state>', 'applied or pending').argument('<version>', 'the file\'s version'))).action(
    (state: string, version: string, o: Record<string, unknown>) =>
      runCommand(async () => {
        const s = oneOf('<state>', state, ['applied', 'pending'] as const);
        const opts = optionsFrom(o);
        print([await withPool(opts, async (p) => mark(p, await oneFile(opts, version), s))], false);
      }),
  );

  addFleetOptions(addConnectionOptions(withDir(migrate.command('validate').description('every file parses, no applied file was edited, down sections and order'))), 'read').action(
    (o: Record<string, unknown>) =>
      runCommand(async () => {
        if (o.targets !== undefined) {
          if (o.url !== undefined || o.urlFile !== undefined) throw new UserError('--targets and --url / --url-file exclude each other: the targets file says where to connect');
          const per = await fleetValidate(readTargetsFile(String(o.targets)).waves.flatMap((w) => w.targets), optionsFrom(o));
          print(per.map((p) => `${p.label}\t${p.value ? ['valid', ...p.value].join('; ') : p.error}`), false);
          return exitFromReads(per);
        }
        const notes = await migrateValidate(optionsFrom(o));
        print([...notes, 'valid'], false);
      }),
  );
}

function optionsFrom(o: Record<string, unknown>): MigrateOptions {
  const lockTimeoutMs = positiveDuration(o.lockTimeout ?? `${DEFAULTS.retry.lockTimeoutMs}ms`, '--lock-timeout', 60_000);
  return migrateOptions({
    url: connectionUrl(o),
    dir: migrationsDir(o.dir as string | undefined),
    layout: o.layout === undefined ? undefined : oneOf('--layout', o.layout, LAYOUTS),
    to: o.to as string | undefined,
    ...(o.strategy === undefined ? {} : strategyOptions(o)),
    retry: { ...DEFAULTS.retry, lockTimeoutMs, maxLockTimeoutMs: Math.max(lockTimeoutMs, DEFAULTS.retry.maxLockTimeoutMs) },
    validation: oneOf('--validation', o.validation ?? DEFAULTS.validation, VALIDATION_LEVELS),
    keepOld: o.keepOld === true,
    rollback: oneOf('--rollback', o.rollback ?? 'automatic', ['automatic', 'manual', 'none'] as const),
    historyCompat: o.historyCompat === undefined ? undefined : oneOf('--history-compat', o.historyCompat, ['dbmate'] as const),
    // A log record: readable on a terminal, a JSON line otherwise (stderr carries nothing else).
    say: (line) => componentLog('migrate').info(line),
  });
}

function describeRuns(runs: FileRun[], verb: string): string[] {
  if (runs.length === 0) return ['nothing to do'];
  return runs.map((r) => `${verb} ${r.version} ${r.name} in ${formatDuration(r.ms)}: ${r.steps.map((s) => `line ${s.line} ${s.strategy} ${formatDuration(s.ms)}`).join(', ')}`);
}

function print(value: unknown, json: unknown): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${(value as string[]).join('\n')}\n`);
}

async function oneFile(o: MigrateOptions, version: string): Promise<MigrationFile> {
  const f = (await readMigrations(o.dir, o.layout)).files.find((x) => x.version === version);
  if (!f) throw new UserError(`no migration file with version ${version} in ${o.dir}`);
  return f;
}

async function withPool<T>(o: MigrateOptions, fn: (p: Pool) => Promise<T>): Promise<T> {
  const p = createPool({ url: o.url, role: 'migrate', lockTimeoutMs: o.retry.lockTimeoutMs, maxClients: 2 });
  try {
    return await fn(p);
  } finally {
    await p.end();
  }
}
