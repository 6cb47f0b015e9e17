import type { Client } from '../db/session.js';
import type { PartitionHomes } from '../plan/partition-homes.js';
import { ident, qualified, trusted } from '../db/quote.js';
import { loadParser } from '../plan/parse.js';
import { parseSync } from 'libpg-query';
import type { DeferredConstraint } from '../shadow/build.js';
import { foreignKeyColumns, orphanCondition } from './foreign-keys.js';

export interface ConstraintCheck {
  check: string;
  violations: number;
}

/**
 * Constraint checks of `--validation comprehensive` on the shadow, under the caller's snapshot:
 * no duplicate keys, NOT NULL and CHECK hold, and the foreign keys that will be validated after
 * the swap have no orphans. The foreign keys are read from their definitions with the real
 * parser (they are not on the shadow yet).
 */
export async function checkConstraints(
  c: Client,
  shadow: { schema: string; table: string; oid: string; key: string[]; homes: PartitionHomes },
  deferred: DeferredConstraint[],
): Promise<ConstraintCheck[]> {
  const rel = qualified(shadow.schema, shadow.table);
  const out: ConstraintCheck[] = [];
  const count = async (check: string, sql: string): Promise<void> => {
    out.push({ check, violations: Number((await c.query(sql)).rows[0].n) });
  };
  const keys = shadow.key.map(ident).join(', ');
  await count('no duplicate keys', `SELECT count(*) AS n FROM (SELECT 1 FROM ${rel} GROUP BY ${keys} HAVING count(*) > 1) d`);
  const notNull = (await c.query(`SELECT attname FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped AND attnotnull ORDER BY attnum`, [shadow.oid])).rows;
  for (const col of notNull) await count(`${col.attname} NOT NULL`, `SELECT count(*) AS n FROM ${rel} WHERE ${ident(col.attname)} IS NULL`);
  const checks = (await c.query(`SELECT conname, pg_get_expr(conbin, conrelid) AS expr FROM pg_constraint WHERE conrelid = $1::oid AND contype = 'c' AND convalidated ORDER BY conname`, [shadow.oid])).rows;
  for (const chk of checks) await count(`CHECK ${chk.conname}`, `SELECT count(*) AS n FROM ${rel} WHERE NOT (${trusted(chk.expr)})`);
  await loadParser();
  for (const fk of deferred.filter((d) => d.type === 'f' && d.validate)) {
    const con = parseSync(`ALTER TABLE x ADD CONSTRAINT x ${fk.def}`).stmts[0].stmt.AlterTableStmt.cmds[0].AlterTableCmd.def.Constraint;
    const orphan = orphanCondition('s', { ...(await foreignKeyColumns(c, con)), matchFull: con.fk_matchtype === 'f' });
    await count(`FOREIGN KEY ${fk.name}`, `SELECT count(*) AS n FROM ${fk.partition ? shadow.homes.inMigration({ schema: fk.partitionSchema, name: fk.partition }) : rel} s WHERE ${orphan}`);
  }
  return out;
}
