import { describe, expect, it, vi } from 'vitest';
import {
  backoffFor, DEFAULT_RETRY, isRetryable, lockTimeoutFor, RETRYABLE_SQLSTATES, withRetry, type RetryPolicy,
} from '../../src/db/retry.js';

// Tiny pauses so withRetry's real sleeps cost nothing.
const FAST: RetryPolicy = { attempts: 4, lockTimeoutMs: 10, maxLockTimeoutMs: 50, backoffMs: 1, maxBackoffMs: 2 };

const pgError = (code: string): { code: string; message: string } => ({ code, message: `failed with ${code}` });

describe('lockTimeoutFor', () => {
  it('doubles per attempt and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 20].map((a) => lockTimeoutFor(DEFAULT_RETRY, a))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect([0, 1, 2, 3].map((a) => lockTimeoutFor(FAST, a))).toEqual([10, 20, 40, 50]);
  });
});

describe('backoffFor', () => {
  it('is within [cap/2, cap], the cap doubling per attempt up to maxBackoffMs', () => {
    // DEFAULT_RETRY: backoff 50ms doubling, max 2000ms
    const caps = [50, 100, 200, 400, 800, 1600, 2000, 2000];
    caps.forEach((cap, attempt) => {
      expect(backoffFor(DEFAULT_RETRY, attempt, () => 0)).toBe(cap / 2);
      expect(backoffFor(DEFAULT_RETRY, attempt, () => 0.5)).toBe(Math.round(cap * 0.75));
      expect(backoffFor(DEFAULT_RETRY, attempt, () => 0.999_999)).toBe(cap);
    });
  });

  it('stays within bounds for many random draws', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const cap = Math.min(DEFAULT_RETRY.maxBackoffMs, DEFAULT_RETRY.backoffMs * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const b = backoffFor(DEFAULT_RETRY, attempt);
        expect(b).toBeGreaterThanOrEqual(cap / 2);
        expect(b).toBeLessThanOrEqual(cap);
      }
    }
  });
});

describe('isRetryable', () => {
  it('is decided by SQLSTATE only', () => {
    expect([...RETRYABLE_SQLSTATES].sort()).toEqual(['40001', '40P01', '55P03', '57014']);
    for (const code of ['40001', '40P01', '55P03', '57014']) expect(isRetryable(pgError(code))).toBe(true);
    for (const code of ['23505', '42P01', '57P01', '08006', 'ECONNREFUSED']) expect(isRetryable(pgError(code))).toBe(false);
    expect(isRetryable(new Error('deadlock detected'))).toBe(false);
    expect(isRetryable(null)).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
    expect(isRetryable('40001')).toBe(false);
  });
});

describe('withRetry', () => {
  it('returns the first success without retrying', async () => {
    const fn = vi.fn(async () => 'ok');
    const onRetry = vi.fn();
    await expect(withRetry(FAST, fn, onRetry)).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(fn).toHaveBeenCalledWith(0, 10);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it.each(['40001', '40P01', '55P03', '57014'])('retries SQLSTATE %s with a doubling lock_timeout, calling onRetry', async (code) => {
    const err = pgError(code);
    const calls: [number, number][] = [];
    const fn = async (attempt: number, lockTimeoutMs: number): Promise<string> => {
      calls.push([attempt, lockTimeoutMs]);
      if (attempt < 2) throw err;
      return 'done';
    };
    const onRetry = vi.fn();
    await expect(withRetry(FAST, fn, onRetry)).resolves.toBe('done');
    expect(calls).toEqual([[0, 10], [1, 20], [2, 40]]);
    expect(onRetry).toHaveBeenCalledTimes(2);
    expect(onRetry.mock.calls.map((c) => [c[0], c[1]])).toEqual([[0, err], [1, err]]);
    for (const [attempt, , pause] of onRetry.mock.calls as [number, unknown, number][]) {
      const cap = Math.min(FAST.maxBackoffMs, FAST.backoffMs * 2 ** attempt);
      expect(pause).toBeGreaterThanOrEqual(cap / 2);
      expect(pause).toBeLessThanOrEqual(cap);
    }
  });

  it('stops after `attempts` and throws the last error', async () => {
    let n = 0;
    const fn = vi.fn(async () => {
      n++;
      throw pgError('55P03');
    });
    const onRetry = vi.fn();
    await expect(withRetry(FAST, fn, onRetry)).rejects.toMatchObject({ code: '55P03' });
    expect(fn).toHaveBeenCalledTimes(FAST.attempts);
    expect(n).toBe(4);
    expect(onRetry).toHaveBeenCalledTimes(FAST.attempts - 1);
  });

  it('makes exactly one attempt when attempts is 1', async () => {
    const fn = vi.fn(async () => {
      throw pgError('40P01');
    });
    await expect(withRetry({ ...FAST, attempts: 1 }, fn)).rejects.toMatchObject({ code: '40P01' });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['a unique violation', pgError('23505')],
    ['a lost connection', pgError('57P01')],
    ['a connection refused', { code: 'ECONNREFUSED' }],
    ['an Error without a code', new Error('could not obtain lock (but no SQLSTATE)')],
  ])('rethrows %s immediately', async (_what, err) => {
    const fn = vi.fn(async () => {
      throw err;
    });
    const onRetry = vi.fn();
    await expect(withRetry(FAST, fn, onRetry)).rejects.toBe(err);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('stops retrying at the first non-retryable error', async () => {
    const errors = [pgError('40001'), pgError('42P01')];
    const fn = vi.fn(async (attempt: number) => {
      throw errors[attempt];
    });
    await expect(withRetry(FAST, fn)).rejects.toBe(errors[1]);
    expect(fn).toHaveBeenCalledTimes(2);
  });
});
