import { PgshiftError, describeError } from '../errors.js';
import { log } from '../log.js';
import { redactSecrets } from './redact.js';

/**
 * Runs a command and turns its outcome into an exit code: PgshiftErrors carry theirs and print
 * one line; anything else is a run-time failure (1), still without a stack trace unless
 * PGSHIFT_DEBUG is set.
 */
export async function runCommand(fn: () => Promise<void>): Promise<never> {
  try {
    await fn();
    process.exit(0);
  } catch (err) {
    const code = err instanceof PgshiftError ? err.exitCode : 1;
    // One line, and never a password, whatever the error quotes (a URL in a driver's message).
    process.stderr.write(`pgshift: ${redactSecrets(describeError(err))}\n`);
    if (process.env.PGSHIFT_DEBUG) log.error({ err }, 'details');
    process.exit(code);
  }
}
