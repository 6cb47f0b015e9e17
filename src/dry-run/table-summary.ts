import type { Client } from '../db/session.js';
import { rowsNow } from '../estimate/sample.js';
import type { Dependents, TableSummary } from './model.js';

/**
 * What a DBA wants to know of a table before changing it: its size, its row estimate, its
 * indexes, and what depends on it or it on (foreign keys in and out, views and materialized
 * views, triggers, policies, publications). Names are schema-qualified whatever the search_path.
 */
export async function tableSummary(c: Client, oid: string): Promise<TableSummary> {
  const t = (
    await c.query(
      `SELECT n.nspname AS schema, c.relname AS name, format('%I.%I', n.nspname, c.relname) AS qualified,
              pg_table_size(c.oid)::float8 AS table_bytes, pg_indexes_size(c.oid)::float8 AS index_bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid`,
      [oid],
    )
  ).rows[0];
  const indexes = (
    await c.query(
      `SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, pg_relation_size(i.indexrelid)::float8 AS bytes, i.indisvalid AS valid
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::oid ORDER BY ic.relname`,
      [oid],
    )
  ).rows.map((r) => ({ name: r.name, definition: r.definition, bytes: Number(r.bytes), valid: r.valid }));
  return {
    name: t.qualified,
    tableBytes: Number(t.table_bytes),
    indexBytes: Number(t.index_bytes),
    rows: await rowsNow(c, { schema: t.schema, name: t.name }),
    indexes,
    dependents: await dependents(c, oid, t.schema, t.name),
  };
}

async function dependents(c: Client, oid: string, schema: string, name: string): Promise<Dependents> {
  const rows = async (sql: string, params: unknown[] = [oid]): Promise<Record<string, string>[]> => (await c.query(sql, params)).rows;
  const relname = `format('%I.%I', n.nspname, r.relname)`;
  return {
    foreignKeysOut: (await rows(
      `SELECT k.conname AS name, ${relname} AS references, pg_get_constraintdef(k.oid) AS definition
         FROM pg_constraint k JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE k.conrelid = $1::oid AND k.contype = 'f' ORDER BY k.conname`,
    )).map((r) => ({ name: r.name!, references: r.references!, definition: r.definition! })),
    // Also other tables' foreign keys into one of its partitions itself (the swap re-points them too).
    foreignKeysIn: (await rows(
      `SELECT k.conname AS name, ${relname} AS "from", pg_get_constraintdef(k.oid) AS definition
         FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE k.contype = 'f' AND k.conparentid = 0
          AND ((k.confrelid = $1::oid AND k.conrelid <> $1::oid)
            OR (k.confrelid IN (SELECT relid FROM pg_partition_tree($1::oid::regclass) WHERE level > 0)
                AND k.conrelid NOT IN (SELECT relid FROM pg_partition_tree($1::oid::regclass)))) ORDER BY 2, 1`,
    )).map((r) => ({ name: r.name!, from: r.from!, definition: r.definition! })),
    views: (await rows(
      `SELECT DISTINCT ${relname} AS name, r.relkind = 'm' AS materialized
         FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class r ON r.oid = w.ev_class JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid AND r.oid <> $1::oid ORDER BY 1`,
    )).map((r) => ({ name: r.name!, materialized: r.materialized as unknown as boolean })),
    triggers: (await rows(
      `SELECT tgname AS name, CASE tgenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' ELSE 'always' END AS enabled,
              pg_get_triggerdef(oid) AS definition
         FROM pg_trigger WHERE tgrelid = $1::oid AND NOT tgisinternal ORDER BY tgname`,
    )).map((r) => ({ name: r.name!, enabled: r.enabled!, definition: r.definition! })),
    policies: (await rows(
      `SELECT polname AS name, CASE polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command
         FROM pg_policy WHERE polrelid = $1::oid ORDER BY polname`,
    )).map((r) => ({ name: r.name!, command: r.command! })),
    // pg_publication_tables covers FOR TABLE, FOR ALL TABLES and (15+) FOR TABLES IN SCHEMA.
    publications: (await rows(`SELECT DISTINCT pubname AS name FROM pg_publication_tables WHERE schemaname = $1 AND tablename = $2 ORDER BY 1`, [schema, name])).map((r) => r.name!),
  };
}
