#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerAlter } from './alter.js';
import { registerDemo } from './demo.js';
import { registerChecksum } from './checksum.js';
import { registerAbort, registerCleanup } from './abort.js';
import { registerControls } from './control.js';
import { registerBackfill } from './backfill.js';

const program = new Command();
program
  .name('pgshift')
  .description('Online schema changes for PostgreSQL')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });
registerAlter(program);
registerDemo(program);
registerChecksum(program);
registerAbort(program);
registerCleanup(program);
registerControls(program);
registerBackfill(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Usage errors (unknown option, missing argument) are exit 2; --help and --version exit 0.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  throw err;
}
