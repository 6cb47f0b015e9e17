import { RuntimeError, UserError } from '../errors.js';
import type pg from 'pg';

/**
 * Every setting an engine session relies on, set on the session itself once it is connected
 * and then read back, whatever the role, the database, the server or the URL's own `options`
 * say (a URL's `?options=` replaces startup options, and a role's default_transaction_isolation
 * would silently change what a plain BEGIN means). The one place these settings are made.
 */
export interface SessionSettings {
  /** `pgshift:<id>:<role>`: the migration (or `-` before it has an id) and what the session does */
  applicationName: string;
  lockTimeoutMs: number;
  /** the engine session refuses to work on a server in recovery (a standby) */
  writes: boolean;
}

/**
 * - row_security off: RLS must never hide rows from the copy, the replay or the validation;
 *   where the role is subject to it (FORCE ROW LEVEL SECURITY without BYPASSRLS), queries fail
 *   instead, and preflight refuses with the missing privilege.
 * - statement_timeout 0: index builds, VALIDATE and ANALYZE run as long as they need; every lock
 *   wait is bounded by lock_timeout, and the cutover sets its own deadline.
 * - idle_in_transaction_session_timeout 0: the validation holds a snapshot open, idle, while its
 *   workers compare a large table.
 * - default_transaction_isolation read committed: every BEGIN names its level anyway.
 * - extra_float_digits 3: keys and preserved values travel as text; floats must round-trip.
 */
export function settingsFor(s: SessionSettings): Record<string, string> {
  return {
    application_name: s.applicationName.slice(0, 63),
    row_security: 'off',
    lock_timeout: `${Math.max(1, Math.round(s.lockTimeoutMs))}ms`,
    statement_timeout: '0',
    idle_in_transaction_session_timeout: '0',
    default_transaction_isolation: 'read committed',
    default_transaction_read_only: 'off',
    extra_float_digits: '3',
  };
}

/** What the server reports for a setting we asked for (lock_timeout '1000ms' reads back '1s'). */
function normalise(name: string, value: string): string {
  if (name !== 'lock_timeout' && name !== 'statement_timeout' && name !== 'idle_in_transaction_session_timeout') return value;
  const m = /^(\d+)\s*(ms|s|min|h|d)?$/.exec(value);
  if (!m) return value;
  const factor = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms'] ?? 1;
  return String(Number(m[1]) * factor);
}

/** Sets every setting with set_config (session level), then reads them back with current_setting. */
export async function applySessionSettings(c: pg.ClientBase, s: SessionSettings): Promise<{ pid: number }> {
  const wanted = settingsFor(s);
  const names = Object.keys(wanted);
  await c.query(`SELECT ${names.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false)`).join(', ')}`, names.flatMap((n) => [n, wanted[n]]));
  const r = await c.query<{ settings: string[]; pid: number; recovery: boolean }>(
    `SELECT ARRAY(SELECT current_setting(n) FROM unnest($1::text[]) WITH ORDINALITY u(n, o) ORDER BY o) AS settings,
            pg_backend_pid() AS pid, pg_is_in_recovery() AS recovery`,
    [names],
  );
  const row = r.rows[0]!;
  names.forEach((name, i) => {
    const got = row.settings[i] ?? '';
    if (normalise(name, got) !== normalise(name, wanted[name]!)) {
      throw new RuntimeError(`the server did not keep the session setting ${name} = ${wanted[name]} (it reads ${got}); pgshift cannot run safely on this connection`);
    }
  });
  if (s.writes && row.recovery) throw new UserError('refused: the server is a standby (in recovery); connect to the primary');
  return { pid: row.pid };
}

/** application_name alone, when a session changes hands (a new migration id or role). */
export async function setApplicationName(c: pg.ClientBase, name: string): Promise<void> {
  await c.query(`SELECT set_config('application_name', $1, false)`, [name.slice(0, 63)]);
}
