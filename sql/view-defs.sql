-- Views ($1) as the swap re-binds or re-creates them, read under search_path = pg_catalog so
-- that every name in the definitions is schema-qualified.
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, pg_get_viewdef(c.oid) AS def,
       c.reloptions, pg_get_userbyid(c.relowner) AS owner, obj_description(c.oid, 'pg_class') AS comment,
       COALESCE((SELECT json_agg(json_build_object(
                  'name', a.attname,
                  'comment', col_description(c.oid, a.attnum),
                  'default', pg_get_expr(ad.adbin, ad.adrelid)) ORDER BY a.attnum)
                 FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS columns
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = ANY ($1::oid[])
