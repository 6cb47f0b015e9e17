import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { formatDuration, parseDuration, parseSize } from '../../src/units.js';

function usageError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(2);
    return err as UserError;
  }
  throw new Error('expected a UserError, nothing was thrown');
}

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['10m', 600_000],
    ['10min', 600_000],
    ['24h', 86_400_000],
    ['2d', 172_800_000],
    ['1.5s', 1500],
    [' 5 s ', 5000],
    ['0s', 0],
  ])('%j is %i ms', (text, ms) => {
    expect(parseDuration(text, '--timeout')).toBe(ms);
  });

  it.each(['500', '0', '', '   ', '5x', '5 parsecs', '5S', 's', '-5s', '5s5', '1e3ms'])('refuses %j as a usage error', (text) => {
    const err = usageError(() => parseDuration(text, '--timeout'));
    expect(err.message).toContain('--timeout');
  });
});

describe('parseSize', () => {
  it.each([
    ['1B', 1],
    ['1kB', 1024],
    ['1KB', 1024],
    ['50MB', 50 * 1024 ** 2],
    ['10GB', 10 * 1024 ** 3],
    ['2TB', 2 * 1024 ** 4],
    ['1.5MB', 1.5 * 1024 ** 2],
  ])('%j is %i bytes (1024-based)', (text, bytes) => {
    expect(parseSize(text, '--max-log')).toBe(bytes);
  });

  it.each(['50', '', '50XB', '50mb', '50 megabytes', 'MB', '-1MB'])('refuses %j as a usage error', (text) => {
    const err = usageError(() => parseSize(text, '--max-log'));
    expect(err.message).toContain('--max-log');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [0.4, '0ms'],
    [999, '999ms'],
    [1000, '1.0s'],
    [1500, '1.5s'],
    [59_000, '59.0s'],
    [60_000, '1m0s'],
    [90_000, '1m30s'],
    [125_000, '2m5s'],
    [3_600_000, '60m0s'],
  ])('%i ms is %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  // Rounding must carry into the next unit rather than print 60 of the smaller one.
  it.each([
    [119_600, '2m0s'],
    [59_960, '1m0s'],
  ])('carries rounding into the next unit: %i ms is %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
