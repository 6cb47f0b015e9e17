import type { Client } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import type { ArtifactNames } from '../plan/names.js';
import { dropTriggersSql, reverseCapture } from '../capture/install.js';
import { addToPublicationSql, readDependentDefs, type DependentDef } from './dependents.js';
import { exchangeTables, foreignKeysCheckedInLock, ownForeignKeys, repointForeignKeysIn, type KeptTrigger, type OldForeignKey } from './swap.js';
import { carryBound, readBoundDefs } from './bound-swap.js';

export interface SwapBackInput {
  names: ArtifactNames;
  userSchema: string;
  name: string;
  /** the new table (in the user's schema) and the kept old one (in the migration's) */
  newOid: string;
  oldOid: string;
  /** RENAME COLUMN statements that give the new table the old names, and their inverses */
  renameNew: string[];
  unrenameNew: string[];
  /** new column name -> old column name (absent for columns the ALTER added) */
  oldColumnName: (newName: string) => string | undefined;
  oldForeignKeys: OldForeignKey[];
  /** the new table's partitions, in the order of TableInfo.partitions (their reverse truncate triggers) */
  partitions: string[];
  oldTriggers: KeptTrigger[];
}

/**
 * The revert's swap, inside its transaction with every lock held and the reverse changelog
 * replayed: the kept old table takes its place and name back, and everything the forward swap
 * re-pointed at the new table is re-pointed at it (materialized views rebuilt on it beforehand). What the old table kept of its own (indexes,
 * grants, policies, comments, triggers, options) is simply there again. Returns the constraints
 * to VALIDATE after commit.
 */
export async function swapBack(c: Client, x: SwapBackInput): Promise<[string, string][]> {
  const exec = async (sql: string): Promise<void> => {
    await c.query(sql);
  };
  const table = qualified(x.userSchema, x.name);
  await exec('SET LOCAL search_path = pg_catalog');
  for (const sql of x.renameNew) await exec(sql);
  const rc = reverseCapture(x.names);
  const defs = await readDependentDefs(c, x.newOid, [rc.captureTrigger, rc.truncateTrigger]);
  const bound = await readBoundDefs(c, x.newOid);
  for (const sql of x.unrenameNew) await exec(sql);
  const of = (kind: DependentDef['kind']): DependentDef[] => defs.filter((d) => d.kind === kind);

  for (const sql of dropTriggersSql(x.userSchema, x.name, rc, x.partitions)) await exec(sql);
  // The new table becomes the kept one: its foreign keys (its partitions' own too) must not hold the parents either.
  for (const fk of await ownForeignKeys(c, x.newOid)) {
    await exec(`ALTER TABLE ${fk.partition !== null ? qualified(x.userSchema, fk.partition) : table} DROP CONSTRAINT ${ident(fk.conname)}`);
  }
  for (const s of of('serial')) await exec(`ALTER SEQUENCE ${qualified(s.schema!, s.name)} OWNED BY NONE`);
  const identityState = new Map<string, { last_value: string; is_called: boolean }>();
  for (const s of of('identity')) {
    identityState.set(s.target!, (await c.query(`SELECT last_value::text, is_called FROM ${qualified(s.schema!, s.name)}`)).rows[0]);
  }
  for (const st of of('statistics')) await exec(`ALTER STATISTICS ${qualified(st.schema!, st.name)} SET SCHEMA ${ident(x.names.schema)}`);

  await exchangeTables(c, { userSchema: x.userSchema, name: x.name, names: x.names, incomingOid: x.oldOid });

  for (const s of of('serial')) {
    const col = x.oldColumnName(s.target!);
    if (col) await exec(`ALTER SEQUENCE ${qualified(s.schema!, s.name)} OWNED BY ${table}.${ident(col)}`);
  }
  for (const [newCol, state] of identityState) {
    const col = x.oldColumnName(newCol);
    if (col) await c.query(`SELECT setval(pg_get_serial_sequence($1, $2), $3::bigint, $4)`, [table, col, state.last_value, state.is_called]);
  }
  const validate = await repointForeignKeysIn(c, of('fk-in'));
  const checkedNow = await foreignKeysCheckedInLock(c, table);
  for (const fk of x.oldForeignKeys) {
    const on = fk.partition ? qualified(x.userSchema, fk.partition) : table;
    const later = !/ NOT VALID$/.test(fk.def) && !(fk.partition ? await foreignKeysCheckedInLock(c, on) : checkedNow);
    await exec(`ALTER TABLE ${on} ADD CONSTRAINT ${ident(fk.name)} ${fk.def}${later ? ' NOT VALID' : ''}`);
    if (later) validate.push([on, fk.name]);
  }
  await carryBound(c, bound, x.names.schema);
  for (const t of x.oldTriggers) {
    const mode = { O: 'ENABLE', D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' }[t.enabled] ?? 'ENABLE';
    await exec(`ALTER TABLE ${t.partition ? qualified(x.userSchema, t.partition) : table} ${mode} TRIGGER ${ident(t.name)}`);
  }
  for (const pub of of('publication')) {
    await exec(`ALTER PUBLICATION ${ident(pub.name)} DROP TABLE ${qualified(x.names.schema, x.name)}`);
    await exec(addToPublicationSql(pub, table));
  }
  const oldStats = await c.query(
    `SELECT s.stxname AS name, n.nspname AS schema FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE s.stxrelid = $1::oid`,
    [x.oldOid],
  );
  for (const st of oldStats.rows) {
    const home = of('statistics').find((d) => d.name === st.name)?.schema;
    if (home && home !== st.schema) await exec(`ALTER STATISTICS ${qualified(st.schema, st.name)} SET SCHEMA ${ident(home)}`);
  }
  return validate;
}
