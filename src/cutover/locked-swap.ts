import type { Client, Pool } from '../db/session.js';
import { checkout, inTransaction } from '../db/session.js';
import { ident, qualified, trusted } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { describeError } from '../errors.js';
import { componentLog } from '../log.js';
import { cancelAutovacuum, describeBlockers, lockGaveUp, removeBlockers } from './blockers.js';
import type { LockSet } from './lock-set.js';

const log = componentLog('cutover');

export interface LockedSwapSpec<T> {
  pool: Pool;
  migrationId: number;
  /** 'cutover' or 'revert': for logs and messages */
  label: string;
  locks: LockSet;
  retry: RetryPolicy;
  /** the whole transaction's deadline, from its BEGIN: a stuck step must not hold the locks */
  deadlineMs: number;
  blockers: { mode: 'wait' | 'cancel' | 'terminate'; graceMs: number };
  /** runs with every lock held: the checks, the final replay, the swap; its result is returned */
  body: (c: Client) => Promise<T>;
}

export interface LockedSwapResult<T> {
  result: T;
  attempts: number;
  lockWaitMs: number;
  holdMs: number;
}

/**
 * The one cutover transaction, used by the swap and by the swap back: take every lock in one
 * go, the views it re-binds first (a query on a view takes the view before its tables:
 * lock-set.ts), the application's own table next (its transactions take it before what they
 * cascade into), then the rest in OID order, under a short lock_timeout; run the body; commit. One
 * deadline covers the whole transaction (a watchdog cancels whatever statement runs when it
 * passes). A lock that does not come rolls the attempt back; between attempts the holders are
 * logged, autovacuum on these tables is cancelled, and blockers are cancelled or terminated
 * when asked; when the attempts run out, the error names who held the locks.
 */
export async function lockedSwap<T>(c: Client, spec: LockedSwapSpec<T>): Promise<LockedSwapResult<T>> {
  const all = [...spec.locks.views, spec.locks.first, ...spec.locks.exclusive, ...spec.locks.share, ...spec.locks.shareUpdate];
  const { shareUpdate } = weakerModes(spec.locks);
  let attempts = 0;
  return withRetry(
    spec.retry,
    async (_attempt, lockTimeoutMs) => {
      attempts++;
      return withDeadline(spec.pool, c, spec.deadlineMs, (dc) =>
        inTransaction(dc, async () => {
          // Generic plans: a session preparing its statements planned them before the locks (db/prepared.ts).
          await dc.query(
            `SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true), set_config('plan_cache_mode', 'force_generic_plan', true)`,
            [`${lockTimeoutMs}ms`, `${spec.deadlineMs}ms`],
          );
          const t0 = performance.now();
          for (const sql of await lockStatements(dc, spec.locks)) await dc.query(sql);
          const t1 = performance.now();
          const result = await spec.body(dc);
          return { result, attempts, lockWaitMs: t1 - t0, holdMs: performance.now() - t1 };
        }),
      );
    },
    async (attempt, err, pauseMs) => {
      const holders = await describeBlockers(spec.pool, all);
      log.warn({ migration: spec.migrationId, attempt, pauseMs, reason: describeError(err), holders }, `${spec.label} attempt failed; retrying`);
      await cancelAutovacuum(spec.pool, all);
      if (spec.blockers.mode !== 'wait') {
        await removeBlockers(spec.pool, all.filter((o) => !shareUpdate.includes(o)), spec.blockers.mode, spec.blockers.graceMs, shareUpdate);
      }
    },
  ).catch((err: unknown) => lockGaveUp(spec.pool, all, `the ${spec.label} could not take its locks in ${attempts} attempts`, err));
}

/**
 * The LOCK TABLE statements of a lock set, as the cutover runs them (and a runbook writes them:
 * runbook/copy.ts): ACCESS EXCLUSIVE on the views, then on the first relation, then the rest in OID order; SHARE ROW
 * EXCLUSIVE, then SHARE UPDATE EXCLUSIVE, on what only needs those.
 */
export async function lockStatements(c: Client, locks: LockSet): Promise<string[]> {
  const out = await viewLockStatements(c, locks.views);
  out.push(`LOCK TABLE ${(await namesByOid(c, [locks.first, ...locks.exclusive.filter((o) => o !== locks.first)])).join(', ')} IN ACCESS EXCLUSIVE MODE`);
  const { share, shareUpdate } = weakerModes(locks);
  if (share.length) out.push(`LOCK TABLE ${(await namesByOid(c, share)).join(', ')} IN SHARE ROW EXCLUSIVE MODE`);
  if (shareUpdate.length) out.push(`LOCK TABLE ${(await namesByOid(c, shareUpdate)).join(', ')} IN SHARE UPDATE EXCLUSIVE MODE`);
  return out;
}

/**
 * A view's ACCESS EXCLUSIVE lock and no other: ALTER VIEW ... OWNER TO its own owner changes
 * nothing (PostgreSQL skips an owner that is already the owner) and locks the view alone, where
 * LOCK TABLE would lock every table the view reads too. Only its owner may run it, as only its
 * owner may re-bind it (catalog/bound-objects.ts refuses a view the engine cannot act as the owner of).
 */
async function viewLockStatements(c: Client, views: string[]): Promise<string[]> {
  if (views.length === 0) return [];
  const r = await c.query<{ oid: string; name: string; owner: string }>(
    `SELECT v.oid::int8::text AS oid, quote_ident(n.nspname) || '.' || quote_ident(v.relname) AS name, pg_get_userbyid(v.relowner) AS owner
       FROM pg_class v JOIN pg_namespace n ON n.oid = v.relnamespace WHERE v.oid = ANY ($1::oid[]) AND v.relkind = 'v'`,
    [views],
  );
  const byOid = new Map(r.rows.map((row) => [row.oid, row]));
  return views.flatMap((o) => {
    const v = byOid.get(o);
    return v ? [`ALTER VIEW ${trusted(v.name)} OWNER TO ${ident(v.owner)}`] : [];
  });
}

/** What a lock set takes SHARE ROW EXCLUSIVE, and SHARE UPDATE EXCLUSIVE, that it does not take stronger already. */
function weakerModes(locks: LockSet): { share: string[]; shareUpdate: string[] } {
  const share = locks.share.filter((o) => o !== locks.first && !locks.exclusive.includes(o));
  return { share, shareUpdate: locks.shareUpdate.filter((o) => o !== locks.first && !locks.exclusive.includes(o) && !share.includes(o)) };
}

/** Relation names (quoted, qualified), the first one first, the rest in OID order. */
async function namesByOid(c: Client, oids: string[]): Promise<string[]> {
  const r = await c.query<{ nspname: string; relname: string }>(
    `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY ($1::oid[]) ORDER BY c.oid <> $2::oid, c.oid`,
    [[...new Set(oids)], oids[0]],
  );
  return r.rows.map((row) => qualified(row.nspname, row.relname));
}

/**
 * Runs `fn` with a deadline over all its statements: a watchdog on another session cancels the
 * statement running when it passes, and no statement starts after it (both fail with SQLSTATE
 * 57014, query_canceled, which the retry policy treats like a lock that did not come).
 */
export async function withDeadline<T>(pool: Pool, c: Client, ms: number, fn: (c: Client) => Promise<T>): Promise<T> {
  const until = performance.now() + ms;
  const watchdog = await checkout(pool, 'watchdog');
  let fired = false;
  let cancelling: Promise<unknown> = Promise.resolve();
  const timer = setTimeout(() => {
    fired = true;
    const pid = (c as unknown as { processID?: number }).processID;
    if (pid) cancelling = watchdog.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
  }, ms);
  const expired = (): Error => Object.assign(new Error(`the deadline of ${ms}ms passed`), { code: '57014' });
  const bounded = new Proxy(c, {
    get(target, prop) {
      if (prop === 'query') {
        return (...args: unknown[]) => {
          if (fired || performance.now() >= until) {
            // ROLLBACK must still get through.
            const text = typeof args[0] === 'string' ? args[0] : '';
            if (!/^\s*ROLLBACK/i.test(text)) return Promise.reject(expired());
          }
          return (target.query as (...a: unknown[]) => unknown)(...args);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  try {
    return await fn(bounded);
  } finally {
    clearTimeout(timer);
    // A cancel on its way must land before the session runs anything else.
    await cancelling;
    watchdog.release();
  }
}
