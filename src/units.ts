import { UserError } from './errors.js';

/**
 * Durations and sizes always carry a unit (DESIGN.md section 1): a bare number is ambiguous,
 * so it is a usage error rather than a guess.
 */
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { B: 1, kB: 1024, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

export function parseDuration(text: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(text);
  const factor = m ? DURATION_UNITS[m[2]!] : undefined;
  if (!m || factor === undefined) {
    throw new UserError(`${option}: "${text}" is not a duration; write it with a unit, e.g. 500ms, 5s, 10m, 24h`);
  }
  return Math.round(Number(m[1]) * factor);
}

export function parseSize(text: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(text);
  const factor = m ? SIZE_UNITS[m[2]!] : undefined;
  if (!m || factor === undefined) {
    throw new UserError(`${option}: "${text}" is not a size; write it with a unit, e.g. 50MB, 10GB`);
  }
  return Math.round(Number(m[1]) * factor);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000); // round once, so 119.6s reads 2m0s rather than 1m60s
  return `${Math.floor(s / 60)}m${s % 60}s`;
}
