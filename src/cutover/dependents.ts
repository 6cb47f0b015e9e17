import type { Client } from '../db/session.js';
import { sqlFile } from '../db/sql-files.js';
import { withQualifiedNames } from '../db/search-path.js';

/** One row of dependents-defs.sql: something to re-create or re-point at the new table. */
export interface DependentDef {
  kind: 'trigger' | 'policy' | 'fk-in' | 'statistics' | 'publication' | 'cluster' | 'replica-index' | 'serial' | 'identity';
  schema: string | null;
  name: string;
  target: string | null;
  def: string | null;
  extra: string | null;
  flag: string | null;
  comment: string | null;
}

/**
 * Reads the dependents' definitions with search_path = pg_catalog so every name in them is
 * schema-qualified; executed later under the same search_path they resolve identically, except
 * that the table's name then means the new table, which is the point.
 */
export async function readDependentDefs(c: Client, tableOid: string, ownTriggers: string[]): Promise<DependentDef[]> {
  return withQualifiedNames(c, async () => (await c.query<DependentDef>(sqlFile('dependents-defs.sql'), [tableOid, ownTriggers])).rows);
}
