-- One row describing a table: what preflight and the shadow builder need to know.
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
       c.relpersistence::text AS persistence, pg_get_userbyid(c.relowner) AS owner,
       t.spcname AS tablespace, c.reloptions, tc.reloptions AS toast_reloptions,
       c.relispartition AS is_partition, c.relhasrules AS has_rules,
       c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security,
       c.relreplident::text AS replica_identity, GREATEST(c.reltuples, 0)::int8::text AS estimated_rows,
       obj_description(c.oid, 'pg_class') AS comment,
       EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid) AS has_inheritance,
       pg_has_role(c.relowner, 'USAGE') AS is_owner,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser,
       (SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user) AS bypass_rls
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
WHERE c.oid = $1::oid
