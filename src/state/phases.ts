/** The forward path of a migration, compared by index; terminal outcomes are kept apart. */
export const PHASES = ['plan', 'capture', 'copy', 'index', 'ready', 'catch-up', 'checksum', 'cutover', 'validate', 'done'] as const;
export type Phase = (typeof PHASES)[number];

export const OUTCOMES = ['done', 'failed', 'aborted'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export function isBefore(a: Phase, b: Phase): boolean {
  return PHASES.indexOf(a) < PHASES.indexOf(b);
}
