-- A digest of a database's user schemas (columns with their types, NOT NULL and defaults;
-- constraints; indexes), so that `pgshift migrate status --targets` can tell targets whose schema
-- differs from the rest (drift). pgshift's own schemas (state; a migration's pgshift_<id>, its own
-- tables' pgshift_<id>_log, its partitions' pgshift_<id>_<n> and rebuilt materialized views'
-- pgshift_<id>_m<oid>; a plan's trial pgshift_plan_<pid>_<n>: plan/preflight.ts schemaOwner) and
-- the system's are left out. Column order is left out too: a column dropped and added again sits at
-- another attnum than on a target that never had it, with the same schema as far as queries see.
WITH user_ns AS (
  SELECT oid, nspname FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_toast%'
     AND nspname NOT LIKE 'pg\_temp%' AND nspname <> 'pgshift'
     AND nspname !~ '^pgshift_[0-9]+(_[0-9]+|_m[0-9]+|_log)?$' AND nspname !~ '^pgshift_plan_[0-9]+_[0-9]+$'
), parts AS (
  SELECT format('column %I.%I.%I %s%s default %s', n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, coalesce(pg_get_expr(d.adbin, d.adrelid), '-')) AS part
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN user_ns n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  UNION ALL
  SELECT format('constraint %I.%I %s', n.nspname, con.conname, pg_get_constraintdef(con.oid))
    FROM pg_constraint con JOIN user_ns n ON n.oid = con.connamespace
   WHERE con.conrelid <> 0
  UNION ALL
  SELECT format('index %s', pg_get_indexdef(i.indexrelid))
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN user_ns n ON n.oid = c.relnamespace
)
SELECT md5(coalesce(string_agg(part, E'\n' ORDER BY part), '')) AS digest, count(*)::int AS objects FROM parts
