import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { sleep } from '../db/retry.js';
import { RuntimeError, describeError } from '../errors.js';
import { componentLog } from '../log.js';
import { progress } from '../progress.js';
import { writeState } from '../state/store.js';
import type { Probe, ProbeResult } from './probes.js';

/**
 * Consulted before every copy chunk and every replay batch: waits while any probe says the
 * database is under stress, records why (pgshift.migrations.throttle_reason, shown by status,
 * and the logs), and aborts safely on a critical verdict.
 */
export interface Throttler {
  wait(): Promise<void>;
  close(): Promise<void>;
}

export const noopThrottler: Throttler = { wait: async () => undefined, close: async () => undefined };

export interface ThrottlerOptions {
  pool: Pool;
  migrationId: number;
  probes: Probe[];
  /** how often the probes are asked at most while nothing is wrong */
  intervalMs: number;
  /** the pause between checks while throttled */
  pauseMs: number;
}

const log = componentLog('throttler');

export function createThrottler(opts: ThrottlerOptions): Throttler {
  let lastCheck = 0;
  let recorded: string | null = null;
  let warned: string | null = null;

  const evaluate = async (): Promise<ProbeResult[]> =>
    withClient(opts.pool, async (c) => {
      const out: ProbeResult[] = [];
      for (const probe of opts.probes) {
        try {
          const r = await probe.check(c);
          if (r) out.push(r);
        } catch (err) {
          // A probe that cannot see (a replica down) is no reason to go faster.
          out.push({ verdict: 'throttle', reason: `${probe.name} probe failed: ${describeError(err)}` });
        }
      }
      return out;
    }, 'throttle');
  const record = async (reason: string | null): Promise<void> => {
    if (reason === recorded) return;
    recorded = reason;
    progress.emit({ type: 'throttle', id: opts.migrationId, reason });
    if (reason) log.warn({ migration: opts.migrationId, reason }, 'throttled');
    else log.info({ migration: opts.migrationId }, 'throttle cleared');
    await withClient(opts.pool, (c) => writeState(c, `UPDATE pgshift.migrations SET throttle_reason = $2, updated_at = now() WHERE id = $1`, [opts.migrationId, reason]), 'throttle');
  };

  let lastLag: number | null = null;
  const recordLag = async (): Promise<void> => {
    const lags = opts.probes.map((p) => p.lastLagMs?.() ?? null).filter((x): x is number => x !== null);
    const lag = lags.length ? Math.max(...lags) : null;
    if (lag === lastLag || (lag !== null && lastLag !== null && Math.abs(lag - lastLag) < 100)) return;
    lastLag = lag;
    progress.emit({ type: 'lag', id: opts.migrationId, ms: lag });
    await withClient(opts.pool, (c) => writeState(c, `UPDATE pgshift.migrations SET lag_ms = $2 WHERE id = $1`, [opts.migrationId, lag]), 'throttle');
  };

  return {
    async wait() {
      for (;;) {
        if (recorded === null && Date.now() - lastCheck < opts.intervalMs) return;
        lastCheck = Date.now();
        const results = await evaluate();
        await recordLag();
        const critical = results.find((r) => r.verdict === 'critical');
        if (critical) throw new RuntimeError(`stopped safely: ${critical.reason}`);
        const warning = results.filter((r) => r.verdict === 'warn').map((r) => r.reason).join('; ') || null;
        if (warning !== warned) {
          warned = warning;
          if (warning) log.warn({ migration: opts.migrationId, warning }, 'warning');
        }
        const throttles = results.filter((r) => r.verdict === 'throttle').map((r) => r.reason);
        await record(throttles.length ? throttles.join('; ') : null);
        if (throttles.length === 0) return;
        await sleep(opts.pauseMs);
      }
    },
    async close() {
      await Promise.all(opts.probes.map((p) => p.close?.()));
      if (recorded !== null) await record(null).catch(() => undefined);
    },
  };
}
