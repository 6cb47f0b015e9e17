import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../errors.js';
import { componentLog } from '../log.js';

/**
 * gh-ost style hooks: a command (`--hook-cmd`, run by the shell with PGSHIFT_EVENT set) or a
 * folder (`--hooks-dir`, one executable per event, named after it), called at these points with
 * the migration's state in environment variables. A hook that fails at startup or before the
 * cutover stops the migration (nothing is swapped); at other points it is logged.
 */
export const HOOK_EVENTS = ['startup', 'copy-done', 'before-cutover', 'after-cutover', 'failure', 'success'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

const BLOCKING: ReadonlySet<HookEvent> = new Set(['startup', 'before-cutover']);
const log = componentLog('hooks');

export interface Hooks {
  run(event: HookEvent, state: Record<string, string | number | null | undefined>): Promise<void>;
}

export const noHooks: Hooks = { run: async () => undefined };

export function createHooks(opts: { cmd?: string; dir?: string; timeoutMs?: number }): Hooks {
  if (!opts.cmd && !opts.dir) return noHooks;
  return {
    async run(event, state) {
      const env: NodeJS.ProcessEnv = { ...process.env, PGSHIFT_EVENT: event };
      for (const [k, v] of Object.entries(state)) if (v !== null && v !== undefined) env[`PGSHIFT_${k.toUpperCase()}`] = String(v);
      const commands: [string, string[]][] = [];
      if (opts.cmd) commands.push(['/bin/sh', ['-c', opts.cmd]]);
      if (opts.dir) {
        const file = path.join(opts.dir, event);
        if (fs.existsSync(file)) commands.push([file, []]);
      }
      for (const [cmd, args] of commands) {
        const code = await execute(cmd, args, env, opts.timeoutMs ?? 60_000);
        if (code === 0) continue;
        log.warn({ event, hook: cmd === '/bin/sh' ? opts.cmd : cmd, code }, 'hook failed');
        if (BLOCKING.has(event)) throw new RuntimeError(`the ${event} hook failed (exit ${code}); nothing was swapped`);
      }
    },
  };
}

function execute(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    // The hook's output goes to our stderr (stdout is kept for --json).
    const child = spawn(cmd, args, { env, stdio: ['ignore', 2, 2], timeout: timeoutMs });
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
