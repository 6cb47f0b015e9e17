import type { Client } from './db/session.js';

/**
 * Deterministic fault points. When PGSHIFT_FAILPOINT names a point, the process kills itself
 * there with SIGKILL, exactly as an operator's kill -9 or a host crash would end it (no
 * cleanup, no finally blocks, connections cut). In-process tests (the fault suite) register a
 * handler instead, which runs there with the session in use, and may stall, fail, or do what
 * another session would do at that moment.
 */
export const FAILPOINTS = [
  'after-build', 'after-capture', 'mid-copy', 'after-copy', 'mid-index', 'after-index',
  'catch-up', 'mid-validation', 'checksum', 'in-cutover', 'after-cutover', 'after-validate', 'in-revert',
  'without-copy-unit', 'in-route',
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

type Handler = (c?: Client) => Promise<void> | void;
const handlers = new Map<Failpoint, Handler>();

/** Registers (or with null removes) the in-process handler of a point. */
export function onFailpoint(name: Failpoint, handler: Handler | null): void {
  if (handler) handlers.set(name, handler);
  else handlers.delete(name);
}

/**
 * PGSHIFT_FAILPOINT=<point>, or <point>@<label> to fire only in the fleet child of that target
 * (a fleet sets PGSHIFT_TARGET to each child's label): one environment for a whole fleet run.
 */
function armed(name: Failpoint, env = process.env): boolean {
  const v = env.PGSHIFT_FAILPOINT ?? '';
  const at = v.indexOf('@');
  return (at < 0 ? v : v.slice(0, at)) === name && (at < 0 || v.slice(at + 1) === env.PGSHIFT_TARGET);
}

export async function failpoint(name: Failpoint, c?: Client): Promise<void> {
  if (armed(name)) process.kill(process.pid, 'SIGKILL');
  await handlers.get(name)?.(c);
}
