import { DEFAULTS, type AlterOptions } from '../config.js';
import { UserError } from '../errors.js';

/**
 * The options a migration was started with are stored with it (never a URL: replicas are left
 * out), and a process taking it over runs with them. What decides the outcome is fixed for the
 * migration's life: a take-over may repeat such an option with the same value, never change
 * it. Throttling, timeouts, chunk time, hooks and the runtime limit are the operator's to
 * change on take-over.
 */
const FIXED = ['postponeCutover', 'rollback', 'revertWindowMs', 'validation', 'transforms', 'dropOld'] as const;
type Fixed = (typeof FIXED)[number];

const FLAG: Record<Fixed, string> = {
  postponeCutover: '--postpone-cutover',
  rollback: '--rollback',
  revertWindowMs: '--revert-window',
  validation: '--validation',
  transforms: '--transform',
  dropOld: '--drop-old',
};

export type StoredOptions = Partial<Omit<AlterOptions, 'url' | 'statements' | 'execute' | 'onProgress' | 'onPhase' | 'explicit' | 'strategy'>> & {
  /** how the change runs: the online copy (absent in migrations stored before strategies existed), or without one */
  strategy?: 'copy' | 'instant' | 'online' | 'direct';
};

export function storedOptions(o: AlterOptions): StoredOptions {
  const { replicas: _replicas, ...throttle } = o.throttle;
  return {
    chunkTimeMs: o.chunkTimeMs, nice: o.nice, maxParallel: o.maxParallel, retry: o.retry, cutoverDeadlineMs: o.cutoverDeadlineMs, cutoverBacklog: o.cutoverBacklog,
    validation: o.validation, rollback: o.rollback, checksumParallel: o.checksumParallel, transforms: o.transforms,
    dropOld: o.dropOld, revertWindowMs: o.revertWindowMs, maxRuntimeMs: o.maxRuntimeMs, postponeCutover: o.postponeCutover,
    cutoverAt: o.cutoverAt, hookCmd: o.hookCmd, hooksDir: o.hooksDir, throttle: { ...throttle, replicas: [] },
  };
}

/** Whether the caller set an option: the CLI says which flags were given; a library caller, what differs from the defaults. */
function given(o: AlterOptions, key: Fixed): boolean {
  if (o.explicit) return o.explicit.includes(key);
  const defaults: Record<Fixed, unknown> = {
    postponeCutover: false, rollback: DEFAULTS.rollback, revertWindowMs: undefined, validation: DEFAULTS.validation, transforms: [], dropOld: false,
  };
  return JSON.stringify(o[key]) !== JSON.stringify(defaults[key]);
}

/**
 * The options a take-over runs with: the stored ones, with what the operator may change taken
 * from `o` where given. A fixed option given with another value is a usage error.
 */
export function resumedOptions(stored: StoredOptions, o: AlterOptions, id: number): AlterOptions {
  for (const key of FIXED) {
    if (!given(o, key) || !(key in stored)) continue;
    if (JSON.stringify(o[key] ?? null) !== JSON.stringify(stored[key] ?? null)) {
      throw new UserError(
        `${FLAG[key]}: migration ${id} was started with ${describe(stored[key])}; a migration keeps its ${FLAG[key]} (run it with the same value, or without the option)`,
      );
    }
  }
  const merged: AlterOptions = { ...o };
  for (const key of FIXED) if (key in stored) (merged as unknown as Record<string, unknown>)[key] = stored[key];
  // What the operator did not give on take-over comes from the stored options too.
  const changeable = ['chunkTimeMs', 'nice', 'cutoverAt', 'hookCmd', 'hooksDir', 'checksumParallel'] as const;
  for (const key of changeable) {
    if (o.explicit && !o.explicit.includes(key) && key in stored) (merged as unknown as Record<string, unknown>)[key] = stored[key];
  }
  return merged;
}

function describe(v: unknown): string {
  if (v === undefined || v === null || v === false) return 'it off';
  if (v === true) return 'it on';
  if (Array.isArray(v)) return v.length ? v.join('; ') : 'none';
  return String(v);
}
