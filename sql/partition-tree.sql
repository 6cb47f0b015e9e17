-- Every partition under a partitioned table, parents before their partitions: what the shadow
-- tree must repeat (bound, sub-partition key, storage, owner, comment, row level security). Read under
-- search_path = pg_catalog so the bounds' and keys' expressions name their objects fully.
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, p.relname AS parent, pn.nspname AS parent_schema,
       t.level, pg_get_expr(c.relpartbound, c.oid) AS bound,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       c.relpersistence::text AS persistence, ts.spcname AS tablespace, c.reloptions,
       tc.reloptions AS toast_reloptions, pg_get_userbyid(c.relowner) AS owner,
       obj_description(c.oid, 'pg_class') AS comment, c.relkind = 'r' AS is_leaf,
       c.relkind::text AS relkind, c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security,
       EXISTS (SELECT FROM pg_policy pol WHERE pol.polrelid = c.oid) AS has_policies,
       c.relreplident::text AS replica_identity
FROM pg_partition_tree($1::regclass) t
JOIN pg_class c ON c.oid = t.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class p ON p.oid = t.parentrelid
JOIN pg_namespace pn ON pn.oid = p.relnamespace
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
WHERE t.level > 0
ORDER BY t.level, c.relname
