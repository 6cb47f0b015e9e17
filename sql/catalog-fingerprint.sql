-- md5 over everything about a table that a concurrent DDL could change under the engine.
SELECT md5(concat_ws('|',
  (SELECT string_agg(concat_ws(':', attnum, attname, atttypid, atttypmod, attnotnull, attisdropped), ',' ORDER BY attnum)
     FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0),
  (SELECT string_agg(concat_ws(':', conname, pg_get_constraintdef(oid), convalidated), ',' ORDER BY conname)
     FROM pg_constraint WHERE conrelid = $1::oid),
  (SELECT string_agg(pg_get_indexdef(indexrelid), ',' ORDER BY indexrelid)
     FROM pg_index WHERE indrelid = $1::oid),
  (SELECT string_agg(concat_ws(':', tgname, tgenabled), ',' ORDER BY tgname)
     FROM pg_trigger WHERE tgrelid = $1::oid AND NOT tgisinternal),
  (SELECT relname || relnamespace::text FROM pg_class WHERE oid = $1::oid)
)) AS fp
