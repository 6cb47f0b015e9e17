import { ident, literal } from '../db/quote.js';
import type { Client } from '../db/session.js';

/** `fillfactor=70` style reloptions as the body of SET ( ... ), names and values quoted. */
export function relOptionsList(options: string[] | null, prefix?: string): string[] {
  return (options ?? []).map((opt) => {
    const eq = opt.indexOf('=');
    const name = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? 'true' : opt.slice(eq + 1);
    return `${prefix ? `${ident(prefix)}.` : ''}${ident(name)} = ${literal(value)}`;
  });
}

/**
 * The shadow's heaps are filled with autovacuum off: a table filling with rows draws autovacuum
 * (its insert threshold is reached within the first chunk), which competes with the copy for the
 * cores and holds a lock the index builds then wait for (measured on 1,000,000 rows: a vacuum
 * started as the copy ended, and the first build waited for its lock_timeout to cancel it). The
 * shadow's own settings come back, as the ALTER left them, inside the cutover under its lock
 * (given back after ANALYZE, a vacuum of the million fresh rows started at once and made the
 * cutover's first attempt wait for its lock_timeout), or before a postponed cutover's wait (a
 * shadow waiting for its cutover takes replayed writes and needs vacuuming like any table);
 * PostgreSQL vacuums the new table after the swap, as after pg_repack's.
 */
const AUTOVACUUM_SWITCHES = ['autovacuum_enabled', 'toast.autovacuum_enabled'];

/** A heap of the shadow (the table, or a leaf partition) and its own autovacuum settings, to give back. */
export interface ShadowHeap {
  relation: string;
  /** `autovacuum_enabled=...` of the heap and of its TOAST table, as the build left them */
  own: string[];
  toastOwn: string[];
}

/** Reads the shadow's heaps' settings (as the user's statements left them), then turns autovacuum off on each. */
export async function autovacuumOff(c: Client, shadowOid: string): Promise<ShadowHeap[]> {
  const r = await c.query<{ relation: string; own: string[] | null; toast_own: string[] | null }>(
    `SELECT h.oid::regclass::text AS relation,
            ARRAY(SELECT o FROM unnest(h.reloptions) o WHERE o LIKE 'autovacuum\_enabled=%') AS own,
            ARRAY(SELECT o FROM unnest(t.reloptions) o WHERE o LIKE 'autovacuum\_enabled=%') AS toast_own
       FROM (SELECT relid FROM pg_partition_tree($1::oid::regclass) WHERE isleaf UNION SELECT $1::oid) p
       JOIN pg_class h ON h.oid = p.relid LEFT JOIN pg_class t ON t.oid = h.reltoastrelid
      WHERE h.relkind = 'r' ORDER BY h.oid`,
    [shadowOid],
  );
  const heaps = r.rows.map((h) => ({ relation: h.relation, own: h.own ?? [], toastOwn: h.toast_own ?? [] }));
  for (const h of heaps) await c.query(`ALTER TABLE ${h.relation} SET (${AUTOVACUUM_SWITCHES.map((s) => `${s} = false`).join(', ')})`);
  return heaps;
}

/** The shadow's own autovacuum settings again on one heap. */
export function autovacuumBackSql(heap: ShadowHeap): string {
  const set = [...relOptionsList(heap.own), ...relOptionsList(heap.toastOwn, 'toast')];
  return `ALTER TABLE ${heap.relation} RESET (${AUTOVACUUM_SWITCHES.join(', ')})${set.length ? `, SET (${set.join(', ')})` : ''}`;
}
