-- Materialized views ($1) as a rebuild needs them, read under search_path = pg_catalog so that
-- every name in the definitions is schema-qualified: the query, where and how it is stored,
-- its columns' settings, its indexes and extended statistics (ACLs are copied by acl-items.sql).
SELECT c.oid::int8::text AS oid, n.nspname AS schema, n.oid::int8::text AS schema_oid, c.relname AS name,
       pg_get_viewdef(c.oid) AS def, c.relispopulated AS populated,
       c.reloptions, ts.spcname AS tablespace, am.amname AS access_method,
       pg_get_userbyid(c.relowner) AS owner, obj_description(c.oid, 'pg_class') AS comment,
       COALESCE((SELECT json_agg(json_build_object(
                  'name', a.attname,
                  'storage', NULLIF(a.attstorage, t.typstorage)::text,
                  'compression', NULLIF(a.attcompression::text, ''),
                  'statTarget', NULLIF(a.attstattarget::int, -1),
                  'options', a.attoptions,
                  'comment', col_description(c.oid, a.attnum)) ORDER BY a.attnum)
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS columns,
       COALESCE((SELECT json_agg(json_build_object(
                  'oid', ic.oid::int8::text,
                  'name', ic.relname,
                  'def', pg_get_indexdef(ic.oid),
                  'tablespace', its.spcname,
                  'clustered', i.indisclustered,
                  'comment', obj_description(ic.oid, 'pg_class')) ORDER BY ic.oid)
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                 LEFT JOIN pg_tablespace its ON its.oid = ic.reltablespace
                WHERE i.indrelid = c.oid), '[]') AS indexes,
       COALESCE((SELECT json_agg(json_build_object(
                  'oid', s.oid::int8::text,
                  'schema', sn.nspname,
                  'schemaOid', sn.oid::int8::text,
                  'name', s.stxname,
                  'def', pg_get_statisticsobjdef(s.oid),
                  'statTarget', NULLIF(s.stxstattarget::int, -1),
                  'comment', obj_description(s.oid, 'pg_statistic_ext')) ORDER BY s.oid)
                 FROM pg_statistic_ext s JOIN pg_namespace sn ON sn.oid = s.stxnamespace
                WHERE s.stxrelid = c.oid), '[]') AS statistics
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
WHERE c.oid = ANY ($1::oid[])
