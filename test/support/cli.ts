import { spawn } from 'node:child_process';

/**
 * Runs the built CLI without blocking this process's event loop: a synchronous spawn would
 * freeze the migrations and workloads the test runs in-process, with their transactions open
 * and their locks held, while the command under test waits for those locks.
 */
export const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}
