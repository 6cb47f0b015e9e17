-- The shadow's secondary indexes (everything but the primary key, or the unique index named $2
-- that is the row identity of a table without one): built after the copy, because maintaining
-- them row by row during the copy costs far more than one sorted build.
SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS index_def,
       con.conname AS constraint_name, con.contype::text AS constraint_type,
       pg_get_constraintdef(con.oid) AS constraint_def,
       obj_description(i.indexrelid, 'pg_class') AS index_comment,
       obj_description(con.oid, 'pg_constraint') AS constraint_comment,
       i.indisunique AS is_unique,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE k.ord <= i.indnkeyatts) AS key_columns,
       i.indexprs IS NULL AS plain_columns
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('u', 'x')
WHERE i.indrelid = $1::oid AND NOT i.indisprimary AND ic.relname IS DISTINCT FROM $2::name
ORDER BY i.indexrelid
