import type { Client } from '../db/session.js';
import { ident, literal, qualified, trusted } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import { withQualifiedNames } from '../db/search-path.js';
import { RuntimeError } from '../errors.js';
import type { TableInfo } from '../catalog/table.js';
import { readDependentDefs } from '../cutover/dependents.js';
import { relOptionsList } from './reloptions.js';
import type { PartitionHomes } from '../plan/partition-homes.js';

/**
 * Which of them: what may stay on the shadow while it is filled (indexes, which are taken off
 * with the table's right after the statements, valid checks, unique and exclusion constraints,
 * policies, row level security), and what must not (foreign keys, checks NOT VALID), created
 * where the table's own are, after the build's sample row went in (which the origin's valid ones
 * hold for; NOT VALID ones do not check it); an estimate's rehearsal
 * leaves the foreign keys out (shadow/build.ts).
 */
type OwnPart = 'kept during the copy' | 'attached at the swap' | 'unvalidated checks';

function partOf(o: { kind: string; type: string | null; validated: boolean }): OwnPart {
  if (o.kind === 'constraint' && o.type === 'f') return 'attached at the swap';
  return o.kind === 'constraint' && o.type === 'c' && !o.validated ? 'unvalidated checks' : 'kept during the copy';
}

/**
 * What a partition has of its own rather than from its parent (its own indexes, CHECK, UNIQUE,
 * EXCLUDE and foreign-key constraints, policies, row level security), created again on the
 * shadow's partition of the same name (plan/partition-homes.ts), under the same names and with their comments, before the
 * user's statements run: PostgreSQL then adapts them to the ALTER exactly as it does offline (a
 * retyped column's index is rebuilt, a dropped column takes its index or constraint with it, a
 * renamed column is renamed in them, and what offline refuses fails the same way). Indexes and
 * foreign keys are then taken off with the others (shadow/build.ts) and come back after the copy
 * and at the swap. Runs inside the shadow's build transaction, once the partitions exist.
 */
export async function repeatPartitionOwnObjects(c: Client, origin: TableInfo, homes: PartitionHomes, part: OwnPart): Promise<void> {
  const own = await withQualifiedNames(c, async () => (await c.query(sqlFile('partition-own-objects.sql'), [origin.oid])).rows);
  for (const o of own.filter((row) => partOf(row) === part || (part === 'attached at the swap' && partOf(row) === 'unvalidated checks'))) {
    const on = homes.inMigration({ schema: o.partition_schema, name: o.partition });
    if (o.kind === 'index') {
      if (!o.parsed) throw new RuntimeError(`the definition of index ${o.name} of partition ${o.partition} does not read as expected`);
      await c.query(`CREATE ${o.is_unique ? 'UNIQUE ' : ''}INDEX ${ident(o.name)} ON ${on} ${trusted(o.def)}`);
      if (o.comment !== null) await c.query(`COMMENT ON INDEX ${qualified(homes.side(o.partition_schema), o.name)} IS ${literal(o.comment)}`);
    } else {
      await c.query(`ALTER TABLE ${on} ADD CONSTRAINT ${ident(o.name)} ${trusted(o.def)}`);
      if (o.comment !== null) await c.query(`COMMENT ON CONSTRAINT ${ident(o.name)} ON ${on} IS ${literal(o.comment)}`);
    }
  }
  if (part !== 'kept during the copy') return;
  for (const p of origin.partitions) {
    const on = homes.inMigration(p);
    if (p.hasPolicies) {
      for (const pol of (await readDependentDefs(c, p.oid, [])).filter((d) => d.kind === 'policy')) {
        await c.query(`CREATE POLICY ${ident(pol.name)} ON ${on} ${trusted(pol.def!)}`);
        if (pol.comment !== null) await c.query(`COMMENT ON POLICY ${ident(pol.name)} ON ${on} IS ${literal(pol.comment)}`);
      }
    }
    if (p.rowSecurity) await c.query(`ALTER TABLE ${on} ENABLE ROW LEVEL SECURITY`);
    if (p.forceRowSecurity) await c.query(`ALTER TABLE ${on} FORCE ROW LEVEL SECURITY`);
  }
}

const STORAGE: Record<string, string> = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' };
const COMPRESSION: Record<string, string> = { '': 'DEFAULT', p: 'pglz', l: 'lz4' };

/**
 * A partition's own column settings (statistics target, n_distinct and other options, storage,
 * compression, NOT NULL), where the shadow's partition of its name does not have them from the
 * root already: set as the plain table's own are (shadow/build.ts), before the user's statements.
 */
export async function repeatPartitionColumnSettings(c: Client, originOid: string, shadowOid: string, homes: PartitionHomes): Promise<void> {
  for (const s of (await c.query(sqlFile('partition-column-settings.sql'), [originOid, shadowOid, homes.pairs.side, homes.pairs.user])).rows) {
    const col = `ALTER TABLE ${qualified(s.schema, s.partition)} ALTER COLUMN ${ident(s.column)}`;
    if (s.stat_target !== null) await c.query(`${col} SET STATISTICS ${Number(s.stat_target)}`);
    if (s.options_differ) {
      const reset = relOptionsList(s.shadow_options).map((o) => o.slice(0, o.indexOf(' = ')));
      if (reset.length) await c.query(`${col} RESET (${reset.join(', ')})`);
      const set = relOptionsList(s.options);
      if (set.length) await c.query(`${col} SET (${set.join(', ')})`);
    }
    if (s.storage !== null) await c.query(`${col} SET STORAGE ${STORAGE[s.storage]}`);
    if (s.compression !== null) await c.query(`${col} SET COMPRESSION ${COMPRESSION[s.compression] ?? 'DEFAULT'}`);
    if (s.not_null) await c.query(`${col} SET NOT NULL`);
  }
}
