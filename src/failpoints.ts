/**
 * Deterministic crash points for the kill -9 tests: when PGSHIFT_FAILPOINT names a point, the
 * process kills itself there with SIGKILL, exactly as an operator's kill -9 or a host crash
 * would end it (no cleanup, no finally blocks, connections cut).
 */
export const FAILPOINTS = [
  'after-build', 'after-capture', 'mid-copy', 'after-copy', 'mid-index', 'after-index',
  'catch-up', 'checksum', 'in-cutover', 'after-cutover', 'after-validate',
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

export function failpoint(name: Failpoint): void {
  if (process.env.PGSHIFT_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
