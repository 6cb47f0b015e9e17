import type { Client } from '../db/session.js';
import { qualified } from '../db/quote.js';
import { createChangelog, installTriggers, reverseCapture } from '../capture/install.js';
import type { Tables } from '../copy/sql.js';
import type { Run } from './run.js';

/**
 * Opens the revert window inside the cutover transaction, right after the swap: the new table
 * gets pgshift_ reverse-capture triggers (keys only, like the forward ones) feeding a reverse
 * changelog, and everything on the kept old table that would fire on the revert's writes (its
 * user triggers; its foreign keys were already taken off) is disabled, its states recorded.
 */
export async function openRevertWindow(c: Client, run: Run, tables: Tables, oldForeignKeys: { name: string; def: string }[]): Promise<void> {
  const { plan, names, id } = run;
  const origin = plan.origin;
  const newTable = {
    schema: origin.schema,
    name: origin.name,
    key: tables.mapping.shadowKey.map((name, i) => ({ name, type: tables.shadowKeyTypes[i]!, collation: origin.key[i]!.collation })),
  };
  const capture = reverseCapture(names);
  await createChangelog(c, newTable, capture, id);
  await installTriggers(c, newTable, capture, id);
  const old = qualified(names.schema, origin.name);
  const triggers = (await c.query(`SELECT tgname AS name, tgenabled::text AS enabled FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [old])).rows;
  if (triggers.length) await c.query(`ALTER TABLE ${old} DISABLE TRIGGER USER`);
  await c.query(
    `UPDATE pgshift.migrations SET revert_state = $2, revert_until = now() + make_interval(secs => $3 / 1000.0) WHERE id = $1`,
    [id, JSON.stringify({ oldForeignKeys, triggers }), run.opts.revertWindowMs],
  );
}
