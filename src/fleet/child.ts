import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Outcome } from './scheduler.js';

/**
 * One target's run: the same CLI as a child process (`node dist/src/cli/main.js <command> --url
 * <target> --json ...`), so each target has its own process, logs, failpoints and crash, and
 * its exit code means what it means for a single run. The child's stderr (JSON log lines) goes
 * to the target's log file; its last `pgshift: ...` line is the target's error line.
 * PGSHIFT_TARGET carries the label (failpoints may be scoped to it: `mid-copy@<label>`).
 */
export interface ChildRun {
  exitCode: number;
  /** the child's outcome by its exit code: 0 done, 2 refused, 4 stopped, else failed */
  outcome: Outcome;
  error: string | null;
  /** what the child printed with --json, when it printed a JSON document */
  report: unknown;
  ms: number;
}

/** The CLI the children run: this build's, or PGSHIFT_CLI. */
export function cliPath(): string {
  return process.env.PGSHIFT_CLI ?? fileURLToPath(new URL('../cli/main.js', import.meta.url));
}

export function runChild(args: string[], o: { label: string; logFile: string; env?: NodeJS.ProcessEnv }): Promise<ChildRun> {
  const started = performance.now();
  const log = fs.createWriteStream(o.logFile, { flags: 'a' });
  log.write(`# ${new Date().toISOString()} pgshift ${redactArgs(args).join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath(), ...args], { env: { ...(o.env ?? process.env), PGSHIFT_TARGET: o.label }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let lastLine: string | null = null;
    let partial = '';
    // Without a `pgshift: ...` line (a crash): the last error record, or the last line that is not a log record.
    let fallback: string | null = null;
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      log.write(d);
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        if (l.startsWith('pgshift: ')) lastLine = l.slice('pgshift: '.length);
        else if (l.trim() !== '') fallback = errorOf(l) ?? fallback;
      }
    });
    const done = (exitCode: number, error: string | null): void => {
      if (partial.startsWith('pgshift: ')) lastLine = partial.slice('pgshift: '.length);
      const report = parseReport(stdout);
      // What a command without a JSON report printed (cleanup: what it dropped) is kept in the target's log.
      if (report === undefined && stdout.trim()) log.write(`# stdout\n${stdout.endsWith('\n') ? stdout : `${stdout}\n`}`);
      log.end(`# exit ${exitCode}\n`);
      resolve({ exitCode, outcome: outcomeOf(exitCode), error: exitCode === 0 ? null : (error ?? lastLine ?? fallback ?? `exit ${exitCode}`), report, ms: performance.now() - started });
    };
    child.on('error', (err) => done(1, `cannot start the child process: ${err.message}`));
    child.on('close', (status, signal) => (signal ? done(1, `killed by ${signal}`) : done(status ?? 1, null)));
  });
}

/** A stderr line's error, if it is one: a pino record of level error or worse, or a line that is no log record at all. */
function errorOf(line: string): string | null {
  if (!line.startsWith('{')) return line.trim();
  try {
    const r = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
    return (r.level ?? 0) >= 50 ? [r.msg, r.err?.message].filter(Boolean).join(': ') : null;
  } catch {
    return null;
  }
}

export function outcomeOf(exitCode: number): Outcome {
  return exitCode === 0 ? 'done' : exitCode === 2 ? 'refused' : exitCode === 4 ? 'stopped' : 'failed';
}

function parseReport(stdout: string): unknown {
  const text = stdout.trim();
  if (!text.startsWith('{') && !text.startsWith('[')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Connection strings carry no password (targets.ts refuses one), but options may (--replica): redacted for logs and records. */
export function redact(text: string): string {
  return text.replace(/(:\/\/[^:/?#@\s]*:)[^@/\s]*@/g, '$1***@').replace(/(\bpassword\s*=\s*)\S+/gi, '$1***');
}

export function redactArgs(args: string[]): string[] {
  return args.map(redact);
}
