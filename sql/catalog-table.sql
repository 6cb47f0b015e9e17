-- One row describing a table: what preflight and the shadow builder need to know.
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
       c.relpersistence::text AS persistence, pg_get_userbyid(c.relowner) AS owner,
       t.spcname AS tablespace, c.reloptions, tc.reloptions AS toast_reloptions,
       c.relispartition AS is_partition, c.relhasrules AS has_rules,
       c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security,
       c.relreplident::text AS replica_identity, -- a partitioned table's own reltuples counts nothing: its leaves' add up
       CASE WHEN c.relkind = 'p'
         THEN (SELECT coalesce(sum(GREATEST(l.reltuples, 0)), 0) FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf)
         ELSE GREATEST(c.reltuples, 0) END::int8::text AS estimated_rows,
       obj_description(c.oid, 'pg_class') AS comment,
       (SELECT quote_ident(tn.nspname) || '.' || quote_ident(ty.typname) FROM pg_type ty JOIN pg_namespace tn ON tn.oid = ty.typnamespace
         WHERE ty.oid = c.reloftype) AS of_type,
       -- partitions are pg_inherits rows too: only inheritance outside a partition tree counts
       EXISTS (SELECT FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid
                WHERE i.inhparent = c.oid AND NOT ch.relispartition) AS has_inheritance_children,
       -- a parent's legacy inheritance children (shadow/parent.ts), by name
       ARRAY(SELECT json_build_object('oid', i.inhrelid::int8::text, 'schema', chn.nspname, 'name', ch.relname)
               FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid JOIN pg_namespace chn ON chn.oid = ch.relnamespace
              WHERE i.inhparent = c.oid AND NOT ch.relispartition ORDER BY chn.nspname, ch.relname) AS inheritance_children,
       -- a legacy inheritance child's parents, in inhseqno order (the order of its INHERITS list)
       ARRAY(SELECT json_build_object('oid', i.inhparent::int8::text, 'schema', pn.nspname, 'name', p.relname)
               FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
              WHERE i.inhrelid = c.oid AND NOT c.relispartition ORDER BY i.inhseqno) AS inherits_from,
       pg_has_role(c.relowner, 'USAGE') AS is_owner,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser,
       (SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user) AS bypass_rls
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
WHERE c.oid = $1::oid
