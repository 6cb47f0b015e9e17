-- (pg_partition_tree lists nothing for a table that is not partitioned: the table itself is added.)
-- The shadow's indexes, built after the copy, because maintaining them row by row during the copy
-- costs far more than one sorted build: the row identity first (the primary key, or the unique
-- index named $2 that is the row identity of a table without one; NULL when the table has a
-- primary key, so compared IS NOT DISTINCT FROM: `= NULL` made every other index's sort key NULL,
-- which DESC puts first), then the others, then those
-- a partition has of its own (`partition` names it, `partition_schema` its schema; the indexes PostgreSQL makes on partitions
-- for the table's come back with the table's).
SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS index_def,
       con.conname AS constraint_name, con.contype::text AS constraint_type,
       pg_get_constraintdef(con.oid) AS constraint_def,
       obj_description(i.indexrelid, 'pg_class') AS index_comment,
       obj_description(con.oid, 'pg_constraint') AS constraint_comment,
       i.indisunique AS is_unique,
       (t.level = 0 AND (i.indisprimary OR ic.relname IS NOT DISTINCT FROM $2::name)) AS is_identity,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE k.ord <= i.indnkeyatts) AS key_columns,
       i.indexprs IS NULL AS plain_columns,
       CASE WHEN t.level > 0 THEN c.relname END AS partition,
       CASE WHEN t.level > 0 THEN (SELECT nspname FROM pg_namespace WHERE oid = c.relnamespace) END AS partition_schema
FROM (SELECT $1::oid AS relid, 0 AS level UNION ALL SELECT relid, level FROM pg_partition_tree($1::oid::regclass) WHERE level > 0) t
JOIN pg_class c ON c.oid = t.relid
JOIN pg_index i ON i.indrelid = c.oid
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE t.level = 0 OR NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
ORDER BY t.level, (t.level = 0 AND (i.indisprimary OR ic.relname IS NOT DISTINCT FROM $2::name)) DESC, c.relname, i.indexrelid
