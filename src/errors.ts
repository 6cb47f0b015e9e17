/**
 * Typed errors. Each carries the exit code DESIGN.md assigns to its class of outcome, so the CLI
 * maps errors to exit codes in one place and never prints a stack trace for a user error.
 */
export type ExitCode = 0 | 1 | 2 | 3 | 4;

export abstract class PgshiftError extends Error {
  abstract readonly exitCode: ExitCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Refused before anything changed: usage, bad input, unsupported change, preflight, privilege. */
export class UserError extends PgshiftError {
  readonly exitCode = 2 as const;
}

/** Failed at run time; what the run created was removed (or listed), the origin is untouched. */
export class RuntimeError extends PgshiftError {
  readonly exitCode = 1 as const;
}

/** A comparison found differences. */
export class DifferenceError extends PgshiftError {
  readonly exitCode = 3 as const;
}

/** Stopped on purpose before finishing; resumable. */
export class StoppedError extends PgshiftError {
  readonly exitCode = 4 as const;
}

/** The SQLSTATE of a PostgreSQL error, or undefined for anything else. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A one-line description of any error, for logs and reports (never a stack). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const state = sqlState(err);
    const first = err.message.split('\n')[0] ?? err.message;
    return state ? `${first} (SQLSTATE ${state})` : first;
  }
  return String(err);
}
