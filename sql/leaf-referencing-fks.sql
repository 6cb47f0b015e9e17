-- The foreign keys of other tables that reference a leaf's partitioned table or one of its
-- ancestors (each one's own constraint, not the copies PostgreSQL keeps per referenced
-- partition; not the tree's own, which the leaf route refuses), in the shape of
-- dependents-defs.sql's 'fk-in' rows; read under search_path = pg_catalog so the definitions
-- name every table with its schema.
SELECT 'fk-in' AS kind, cn.nspname AS schema, con.conname AS name, cr.relname AS target, pg_get_constraintdef(con.oid) AS def,
       NULL::text AS extra, con.convalidated::text AS flag, obj_description(con.oid, 'pg_constraint') AS comment
FROM pg_constraint con JOIN pg_class cr ON cr.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cr.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0
  AND con.confrelid IN (SELECT a.relid FROM pg_partition_ancestors($1::oid::regclass) a WHERE a.relid <> $1::oid)
  AND con.conrelid NOT IN (SELECT t.relid FROM pg_partition_tree(pg_partition_root($1::oid::regclass)) t)
ORDER BY con.oid
