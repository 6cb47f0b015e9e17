import type { Client } from '../db/session.js';
import { UserError } from '../errors.js';

/**
 * Citus distributed tables are refused until supported (README, "Citus"): pgshift's shadow table,
 * capture triggers and swap would run on the coordinator's shell table only, while the rows live
 * in shards on the workers. The check: the Citus metadata table `pg_catalog.pg_dist_partition`
 * exists (the extension is installed on this node) and lists the table (`logicalrelid`), whatever
 * its kind: hash or range distributed (partmethod 'h', 'r'), append ('a'), a reference table or
 * a Citus-managed local table ('n'). Read-only; two statements, since the second names a table
 * that exists only where Citus is installed. `decide()` (alter, plan, migrate) and the fleet's
 * preflight (backfill's table) ask it.
 */
export async function distributedTableRefusal(c: Client, table: string, display = table): Promise<string | null> {
  if ((await c.query(`SELECT to_regclass('pg_catalog.pg_dist_partition') AS t`)).rows[0].t === null) return null;
  const r = await c.query(`SELECT partmethod::text AS m FROM pg_catalog.pg_dist_partition WHERE logicalrelid = to_regclass($1)`, [table]);
  if (r.rows.length === 0) return null;
  const kind = ({ h: 'hash-distributed', r: 'range-distributed', a: 'append-distributed', n: 'a reference or Citus-managed local table' } as Record<string, string>)[r.rows[0].m] ?? 'in Citus metadata';
  return `refused: ${display} is a Citus table (${kind}, listed in pg_dist_partition): its rows live in shards that pgshift's shadow, triggers and swap would not reach; run the change through Citus (ALTER TABLE propagates to the shards)`;
}

/** The same, as the refusal a command throws (exit 2, nothing changed). */
export async function refuseDistributedTable(c: Client, table: string, display = table): Promise<void> {
  const why = await distributedTableRefusal(c, table, display);
  if (why) throw new UserError(why);
}
