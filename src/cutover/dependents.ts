import type { Client } from '../db/session.js';
import { sqlFile } from '../db/sql-files.js';
import { withQualifiedNames } from '../db/search-path.js';
import { ident } from '../db/quote.js';

/** One row of dependents-defs.sql: something to re-create or re-point at the new table. */
export interface DependentDef {
  kind: 'trigger' | 'rule' | 'policy' | 'fk-in' | 'statistics' | 'publication' | 'cluster' | 'replica-index' | 'serial' | 'identity';
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
  return withQualifiedNames(c, async () => {
    const defs = (await c.query<DependentDef>(sqlFile('dependents-defs.sql'), [tableOid, ownTriggers])).rows;
    // A publication's column list and row filter (PostgreSQL 15+) go after the table's name in
    // ALTER PUBLICATION ... ADD TABLE: the membership is re-created with them.
    if (defs.some((d) => d.kind === 'publication') && (await serverVersionNum(c)) >= 150000) {
      const members = (await c.query<{ name: string; def: string }>(sqlFile('publication-members.sql'), [tableOid])).rows;
      for (const d of defs) if (d.kind === 'publication') d.def = members.find((m) => m.name === d.name)?.def || null;
    }
    return defs;
  });
}

/**
 * Foreign keys into the leaf's partitioned table (or an ancestor), other tables' and the tree's
 * own (a self-referencing tree; the leaf's own and its partitions' too), read under search_path = pg_catalog.
 * The cutover drops them before DETACH (which would otherwise read every referencing row under
 * the lock for one that references the leaf's rows, and fail on one) and adds them again after
 * ATTACH, NOT VALID, validated after the commit (swap.ts), as the swap re-points foreign keys
 * into a tree; the tree's own is cloned onto every partition again, the new one included, and
 * the leaf's own, read while it was the old leaf's, goes on the new leaf of its name (one of a
 * partition below the leaf on the new partition of its name). The
 * new leaf holds the old one's rows, as the validation proved. Before PostgreSQL 18 one declared
 * on a partitioned table goes back valid (PostgreSQL checks it under the lock): preflight
 * refuses the tree's own there (plan/preflight.ts).
 */
export async function foreignKeysIntoParent(c: Client, originOid: string): Promise<DependentDef[]> {
  return withQualifiedNames(c, async () => (await c.query<DependentDef>(sqlFile('leaf-referencing-fks.sql'), [originOid])).rows);
}

/**
 * Of foreign keys read by foreignKeysIntoParent, those declared on the leaf itself or on a
 * partition below it (a sub-partitioned leaf's): the ones that move with the leaf rather than
 * stay where they are.
 */
export function declaredInTree(fks: DependentDef[], leaf: { schema: string; name: string; partitions: { schema: string; name: string }[] }): DependentDef[] {
  const mine = [leaf, ...leaf.partitions];
  return fks.filter((fk) => mine.some((t) => t.schema === fk.schema && t.name === fk.target));
}

/**
 * `ALTER PUBLICATION ... ADD TABLE` of the table, with the column list and row filter it had.
 * A relation's membership in a publication, added and dropped for the relation ONLY: a legacy
 * inheritance parent's membership lists each child on its own (FOR TABLE parent adds them all), and
 * each relation of a tree moves on its own (shadow/tree.ts); without ONLY, dropping a parent
 * dropped its children's rows and adding it failed on a child already there. ONLY does nothing
 * to a partitioned table (its partitions are never members of their own through it).
 */
export function addToPublicationSql(pub: DependentDef, table: string): string {
  return `ALTER PUBLICATION ${ident(pub.name)} ADD TABLE ONLY ${table}${pub.def ?? ''}`;
}

export function dropFromPublicationSql(pub: Pick<DependentDef, 'name'>, table: string): string {
  return `ALTER PUBLICATION ${ident(pub.name)} DROP TABLE ONLY ${table}`;
}

async function serverVersionNum(c: Client): Promise<number> {
  return Number((await c.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v);
}
