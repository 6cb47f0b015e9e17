import { sqlState } from '../errors.js';

/**
 * Which failures are worth another attempt, decided by SQLSTATE (never by message text):
 * a lock that did not come within lock_timeout, a deadlock, a serialization failure, or a
 * statement cancelled by our own statement_timeout deadline.
 */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['40001', '40P01', '55P03', '57014']);

export function isRetryable(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && RETRYABLE_SQLSTATES.has(state);
}

export interface RetryPolicy {
  attempts: number;
  /** lock_timeout of the first attempt; doubles per attempt up to maxLockTimeoutMs. */
  lockTimeoutMs: number;
  maxLockTimeoutMs: number;
  /** base pause between attempts; exponential with full jitter. */
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 30,
  lockTimeoutMs: 100,
  maxLockTimeoutMs: 1000,
  backoffMs: 50,
  maxBackoffMs: 2000,
};

export function lockTimeoutFor(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxLockTimeoutMs, policy.lockTimeoutMs * 2 ** attempt);
}

export function backoffFor(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** attempt);
  return Math.round(cap / 2 + random() * (cap / 2));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn(attempt, lockTimeoutMs)` until it succeeds, a non-retryable error occurs, or the
 * budget is spent (then the last error is thrown). The caller sets the lock_timeout it is given
 * with SET LOCAL, so a failed attempt leaves nothing behind.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  fn: (attempt: number, lockTimeoutMs: number) => Promise<T>,
  onRetry?: (attempt: number, err: unknown, pauseMs: number) => void | Promise<void>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt, lockTimeoutFor(policy, attempt));
    } catch (err) {
      if (!isRetryable(err) || attempt + 1 >= policy.attempts) throw err;
      const pause = backoffFor(policy, attempt);
      await onRetry?.(attempt, err, pause);
      await sleep(pause);
    }
  }
}
