import type { Pool } from '../db/session.js';
import type { ThrottleOptions } from '../config.js';
import { createThrottler, type Throttler } from './throttler.js';
import {
  activeBackendsProbe, lockWaitProbe, longTransactionProbe, manualProbe, replicaLagProbe, slotLagProbe,
  standbyLagProbe, userQueryProbe, walRateProbe, type Probe,
} from './probes.js';

/** The throttler an ALTER runs with: every probe the options ask for, and the operator's. */
export function throttlerFor(pool: Pool, migrationId: number, o: ThrottleOptions, tables: { origin: string; shadow: string; changelog: string }): Throttler {
  const probes: Probe[] = [
    manualProbe(migrationId),
    standbyLagProbe(o.maxLagMs),
    ...o.replicas.map((url) => replicaLagProbe(url, o.maxLagMs)),
    slotLagProbe(o.maxSlotLagBytes),
    lockWaitProbe(() => [tables.origin, tables.shadow, tables.changelog]),
    longTransactionProbe(o.maxXactAgeMs, () => tables.origin),
  ];
  if (o.maxWalRate !== undefined) probes.push(walRateProbe(o.maxWalRate));
  if (o.maxActive !== undefined) probes.push(activeBackendsProbe(o.maxActive));
  if (o.throttleQuery) probes.push(userQueryProbe(o.throttleQuery, 'throttle'));
  if (o.criticalQuery) probes.push(userQueryProbe(o.criticalQuery, 'critical'));
  return createThrottler({ pool, migrationId, probes, intervalMs: 250, pauseMs: 500 });
}
