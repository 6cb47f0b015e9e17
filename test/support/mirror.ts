import type { TestDatabase } from './test-db.js';

/**
 * Rows that differ between a migrated table and its mirror (the no-lost-writes oracle), a few
 * of them, for a readable failure. Both have the workload's columns: id, u, v, note.
 */
export async function mirrorDifferences(db: TestDatabase, table = 'app.acct', mirror = 'app.acct_mirror'): Promise<string[]> {
  const r = await db.query(`
    SELECT side, id, u, v, note FROM (
      (SELECT 'table only' AS side, id, u, v, note FROM ${table} EXCEPT ALL SELECT 'table only', id, u, v, note FROM ${mirror})
      UNION ALL
      (SELECT 'mirror only', id, u, v, note FROM ${mirror} EXCEPT ALL SELECT 'mirror only', id, u, v, note FROM ${table})) d
    ORDER BY id, side LIMIT 20`);
  return r.rows.map((row) => `${row.side}: ${row.id} ${row.u} ${row.v} ${row.note}`);
}
