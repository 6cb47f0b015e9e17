-- (pg_partition_tree lists nothing for a table that is not partitioned: the table itself is added.)
-- Constraints that check writes but may not hold for rows the copy carries (NOT VALID checks)
-- or that must not fire while the shadow is filled (foreign keys): attached at the swap. The
-- table's own ($1), and those a partition of it has of its own (`partition` names it, `partition_schema` its schema; the ones
-- PostgreSQL clones from the parent come back with the parent's, and so do those it keeps under
-- a foreign key into a partitioned table, one per referenced partition).
SELECT con.conname AS name, con.contype::text AS type, pg_get_constraintdef(con.oid) AS def, con.convalidated AS validated,
       obj_description(con.oid, 'pg_constraint') AS comment,
       NULLIF(con.confrelid, 0)::int8::text AS referenced,
       CASE WHEN t.level > 0 THEN c.relname END AS partition,
       CASE WHEN t.level > 0 THEN (SELECT nspname FROM pg_namespace WHERE oid = c.relnamespace) END AS partition_schema
FROM (SELECT $1::oid AS relid, 0 AS level UNION ALL SELECT relid, level FROM pg_partition_tree($1::oid::regclass) WHERE level > 0) t
JOIN pg_class c ON c.oid = t.relid
JOIN pg_constraint con ON con.conrelid = c.oid
WHERE (con.contype = 'f' OR (con.contype = 'c' AND NOT con.convalidated))
  AND con.conparentid = 0 AND (t.level = 0 OR con.conislocal)
ORDER BY t.level, c.relname, con.oid
