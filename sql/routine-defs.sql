-- Functions and procedures ($1) as the swap re-binds or re-creates them, read under
-- search_path = pg_catalog: the signature and the CREATE OR REPLACE text name every type and
-- relation with its schema, so executed after the swap they mean the new table.
SELECT p.oid::int8::text AS oid, p.oid::regprocedure::text AS signature, pg_get_functiondef(p.oid) AS def,
       p.prokind::text AS kind, pg_get_userbyid(p.proowner) AS owner, obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc p
WHERE p.oid = ANY ($1::oid[])
