-- The foreign keys that reference a leaf's partitioned table or one of its ancestors: other
-- tables', and the tree's own (a self-referencing tree: declared on the partitioned table, on a
-- level of it, on another partition, on the leaf itself or on a partition below it), each one's
-- own constraint, not the copies PostgreSQL keeps per
-- referenced partition or clones onto each partition; in the shape of dependents-defs.sql's
-- 'fk-in' rows; read under search_path = pg_catalog so the definitions name every table with
-- its schema.
SELECT 'fk-in' AS kind, cn.nspname AS schema, con.conname AS name, cr.relname AS target, pg_get_constraintdef(con.oid) AS def,
       NULL::text AS extra, con.convalidated::text AS flag, obj_description(con.oid, 'pg_constraint') AS comment
FROM pg_constraint con JOIN pg_class cr ON cr.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cr.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0
  AND con.confrelid IN (SELECT a.relid FROM pg_partition_ancestors($1::oid::regclass) a WHERE a.relid <> $1::oid)
ORDER BY con.oid
