import pLimit from 'p-limit';
import { withClient } from '../db/session.js';
import { describeError } from '../errors.js';
import { redact } from './child.js';
import { distributedTableRefusal } from '../catalog/citus.js';
import { onTarget, readRecord, type TargetRecord } from './record.js';
import type { Target } from './targets.js';

/**
 * The fleet-wide preflight: every target, before the first one is changed. It connects
 * (read-only), reads the server's version and identity (pg_control_system()'s
 * system_identifier, so two names of one server are grouped; host:port when the function is not
 * readable), what this fleet run already did there (pgshift.fleet_targets), and asks the
 * command's own planner what it would do (alter: the library's plan(); migrate up: migratePlan;
 * ...), which also refuses what a single run would refuse. Its connections close before the
 * first wave starts: from then on a target is connected to only when its wave starts.
 */
export interface Probe {
  /** heavy: a copy, an index build, a validation, a backfill (one at a time per server) */
  heavy: boolean;
  /** what it would do, one line */
  summary: string;
  /** the tables it would change (for the Citus check) */
  tables: string[];
}

export type ProbeFn = (t: Target) => Promise<Probe>;

export interface Preflight {
  label: string;
  /** system_identifier, else host:port */
  server: string;
  serverVersion: string | null;
  /** done by this fleet run already: skipped */
  done: boolean;
  record: TargetRecord | null;
  probe: Probe | null;
  /** why it is refused (exit 2 class), null when it may run */
  refusal: string | null;
}

export async function preflightFleet(targets: Target[], fleetId: string, probe: ProbeFn, o: { concurrency?: number; readOnly?: boolean } = {}): Promise<Preflight[]> {
  const limit = pLimit(o.concurrency ?? 4);
  return Promise.all(targets.map((t) => limit(() => preflightTarget(t, fleetId, probe, o.readOnly ?? false))));
}

async function preflightTarget(t: Target, fleetId: string, probe: ProbeFn, readOnly: boolean): Promise<Preflight> {
  const out: Preflight = { label: t.label, server: t.address, serverVersion: null, done: false, record: null, probe: null, refusal: null };
  try {
    await onTarget(
      t.conn,
      (pool) =>
        withClient(pool, async (c) => {
          out.serverVersion = (await c.query(`SELECT current_setting('server_version') AS v`)).rows[0].v;
          out.server = (await systemIdentifier(c)) ?? t.address;
          out.record = await readRecord(c, fleetId, t.label);
        }),
      readOnly,
    );
    if (out.record?.outcome === 'done') {
      out.done = true;
      return out;
    }
    out.probe = await probe(t);
    const tables = out.probe.tables;
    if (tables.length) {
      const refusal = await onTarget(t.conn, (pool) => withClient(pool, async (c) => {
        for (const table of tables) {
          const why = await distributedTableRefusal(c, table);
          if (why) return why;
        }
        return null;
      }), true);
      if (refusal) out.refusal = refusal;
    }
  } catch (err) {
    out.refusal = redact(describeError(err));
  }
  return out;
}

/** pg_control_system() is readable by default on 14-18; a role it is revoked from falls back to host:port. */
async function systemIdentifier(c: Parameters<typeof distributedTableRefusal>[0]): Promise<string | null> {
  try {
    return (await c.query(`SELECT system_identifier::text AS id FROM pg_control_system()`)).rows[0]?.id ?? null;
  } catch {
    return null;
  }
}
