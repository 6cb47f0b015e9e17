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

/**
 * After app.acct is created (empty): its mirror, `rows` rows in both, and an application role
 * with DML privileges only on the two; returns the URL the application connects with.
 */
export async function fillWithMirrorAndAppRole(db: TestDatabase, role: string, rows: number): Promise<string> {
  await db.query(`
    CREATE TABLE app.acct_mirror (id int, u int, v int, note text);
    CREATE INDEX ON app.acct_mirror (id);
    INSERT INTO app.acct SELECT g, g, g % 100, 'row ' || g FROM generate_series(1, ${rows}) g;
    INSERT INTO app.acct_mirror SELECT * FROM app.acct;
    ANALYZE app.acct;
    CREATE ROLE ${role} LOGIN PASSWORD 'app';
    GRANT USAGE ON SCHEMA app TO ${role};
    GRANT SELECT, INSERT, UPDATE, DELETE ON app.acct, app.acct_mirror TO ${role};
  `);
  const u = new URL(db.url);
  u.username = role;
  u.password = 'app';
  return u.toString();
}
