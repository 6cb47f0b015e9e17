#!/usr/bin/env node
import { redactProcessTitle } from './redact.js';

// Before anything else loads: a password given with --url leaves the process title (ps).
redactProcessTitle();

const { Command, CommanderError } = await import('commander');
const { registerAlter } = await import('./alter.js');
const { registerDemo } = await import('./demo.js');
const { registerChecksum } = await import('./checksum.js');
const { registerAbort, registerCleanup } = await import('./abort.js');
const { registerControls } = await import('./control.js');
const { registerBackfill } = await import('./backfill.js');
const { registerPlan } = await import('./plan.js');
const { registerMigrate } = await import('./migrate.js');

const program = new Command();
program
  .name('pgshift')
  .description('Online schema changes for PostgreSQL')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({
    writeErr: (s) => process.stderr.write(s),
    // A usage error is one line like every other refusal: "pgshift: unknown option '--x'".
    outputError: (s, write) => write(`pgshift: ${s.replace(/^error: /, '').trim().split('\n').join(' ')}\n`),
  });
registerAlter(program);
registerDemo(program);
registerChecksum(program);
registerAbort(program);
registerCleanup(program);
registerControls(program);
registerBackfill(program);
registerPlan(program);
(await import('./lint.js')).registerLint(program);
registerMigrate(program);
(await import('./report.js')).registerReport(program);
(await import('./fleet.js')).registerFleet(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Usage errors (unknown option, missing argument) are exit 2; --help and --version exit 0.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  throw err;
}
