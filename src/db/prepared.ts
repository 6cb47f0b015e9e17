import { createHash } from 'node:crypto';
import type { Client } from './session.js';

/**
 * A session whose parameterised statements are prepared once (named by their text) and, inside a
 * transaction that sets plan_cache_mode = force_generic_plan, planned once: the cutover runs its
 * catalog reads once before taking its locks on the same session, so under the locks each costs
 * its execution only. Measured on PostgreSQL 15 (1,000,000 rows, idle): parsing and planning were
 * 16 of the 26 ms the server spent inside the cutover's 49 ms hold.
 */
export function preparingStatements(c: Client): Client {
  const names = new Map<string, string>();
  const nameOf = (text: string): string => {
    let name = names.get(text);
    if (name === undefined) {
      name = `pgshift_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      names.set(text, name);
    }
    return name;
  };
  return new Proxy(c, {
    get(target, prop) {
      if (prop === 'query') {
        return (...args: unknown[]) => {
          const [text, values] = args;
          // Only text with parameters: a statement without is sent with the simple protocol, and
          // may hold several commands (a named statement holds one).
          if (typeof text === 'string' && Array.isArray(values) && args.length === 2) {
            return (target.query as (...a: unknown[]) => unknown)({ name: nameOf(text), text, values });
          }
          return (target.query as (...a: unknown[]) => unknown)(...args);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** The setting, transaction-local, that makes a prepared statement's first plan its only one. */
export const GENERIC_PLANS_SQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`;
