-- The shadow's indexes, built after the copy, because maintaining them row by row during the copy
-- costs far more than one sorted build: the row identity first (the primary key, or the unique
-- index named $2 that is the row identity of a table without one), then the others.
SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS index_def,
       con.conname AS constraint_name, con.contype::text AS constraint_type,
       pg_get_constraintdef(con.oid) AS constraint_def,
       obj_description(i.indexrelid, 'pg_class') AS index_comment,
       obj_description(con.oid, 'pg_constraint') AS constraint_comment,
       i.indisunique AS is_unique,
       (i.indisprimary OR ic.relname = $2::name) AS is_identity,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE k.ord <= i.indnkeyatts) AS key_columns,
       i.indexprs IS NULL AS plain_columns
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = $1::oid
ORDER BY (i.indisprimary OR ic.relname = $2::name) DESC, i.indexrelid
