-- The user's triggers defined on one partition itself (not cloned from a parent's), read
-- under search_path = pg_catalog: re-created on the new partition at the swap.
SELECT t.tgname AS name, pg_get_triggerdef(t.oid) AS def, t.tgenabled::text AS enabled,
       obj_description(t.oid, 'pg_trigger') AS comment, c.relname AS partition,
       (SELECT nspname FROM pg_namespace WHERE oid = c.relnamespace) AS schema
FROM pg_partition_tree($1::oid::regclass) p
JOIN pg_class c ON c.oid = p.relid
JOIN pg_trigger t ON t.tgrelid = c.oid
WHERE p.level > 0 AND NOT t.tgisinternal AND t.tgparentid = 0 AND t.tgname <> ALL ($2::text[])
ORDER BY 6, c.relname, t.tgname
