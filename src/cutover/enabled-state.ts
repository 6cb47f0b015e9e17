import { ident, type SqlText } from '../db/quote.js';

/**
 * The statement that gives a created trigger or rule the firing state it had (pg_trigger.tgenabled,
 * pg_rewrite.ev_enabled: O origin, D disabled, R replica, A always), or null for O, the state a
 * new one has.
 */
export function enabledStateSql(what: 'TRIGGER' | 'RULE', table: string, name: string, state: string | null): SqlText | null {
  const mode = { D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' }[state ?? 'O'];
  return mode ? (`ALTER TABLE ${table} ${mode} ${what} ${ident(name)}` as SqlText) : null;
}
