-- A partition changed alone (a leaf): its direct parent, its bound, a default partition beside it
-- that ATTACH would read, and the foreign keys that reference the partitioned table or one of its
-- ancestors: those declared below the leaf (a sub-partitioned level's partitions); the leaf's own
-- (both carried around DETACH and ATTACH, not by the shadow); before PostgreSQL 18, those declared
-- on a partitioned table of the tree itself (a self-referencing tree), which only a check of the
-- whole tree under the lock could put back (refused); and all of them, as the cutover drops and
-- adds them again.
SELECT p.oid::int8::text AS parent_oid, pn.nspname AS parent_schema, p.relname AS parent_name,
       pg_get_expr(c.relpartbound, c.oid) AS bound,
       d.oid::int8::text AS default_oid, dn.nspname AS default_schema, d.relname AS default_name,
       GREATEST(d.reltuples, 0)::int8::text AS default_rows,
       (SELECT string_agg(format('%s on %s', r.conname, r.conrelid::regclass), ', ' ORDER BY r.conname)
          FROM pg_constraint r
         WHERE r.contype = 'f' AND r.conparentid = 0
           AND r.confrelid IN (SELECT a.relid FROM pg_partition_ancestors(c.oid) a WHERE a.relid <> c.oid)
           AND r.conrelid IN (SELECT t.relid FROM pg_partition_tree(c.oid) t WHERE t.relid <> c.oid)) AS keys_below,
       ARRAY(SELECT r.conname::text
          FROM pg_constraint r
         WHERE r.contype = 'f' AND r.conparentid = 0 AND r.conrelid = c.oid
           AND r.confrelid IN (SELECT a.relid FROM pg_partition_ancestors(c.oid) a WHERE a.relid <> c.oid)
         ORDER BY r.conname) AS own_keys_into_tree,
       (SELECT string_agg(format('%s on %s', r.conname, r.conrelid::regclass), ', ' ORDER BY r.conname)
          FROM pg_constraint r JOIN pg_class rr ON rr.oid = r.conrelid
         WHERE r.contype = 'f' AND r.conparentid = 0 AND rr.relkind = 'p'
           AND current_setting('server_version_num')::int < 180000
           AND r.confrelid IN (SELECT a.relid FROM pg_partition_ancestors(c.oid) a WHERE a.relid <> c.oid)
           AND r.conrelid IN (SELECT t.relid FROM pg_partition_tree(pg_partition_root(c.oid)) t)) AS tree_keys_checked_in_lock,
       ARRAY(SELECT format('%s on %s', r.conname, r.conrelid::regclass)
          FROM pg_constraint r
         WHERE r.contype = 'f' AND r.conparentid = 0
           AND r.confrelid IN (SELECT a.relid FROM pg_partition_ancestors(c.oid) a WHERE a.relid <> c.oid)
         ORDER BY r.conname) AS foreign_keys_in
FROM pg_class c
JOIN pg_inherits i ON i.inhrelid = c.oid
JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace pn ON pn.oid = p.relnamespace
LEFT JOIN pg_partitioned_table pt ON pt.partrelid = p.oid
LEFT JOIN pg_class d ON d.oid = pt.partdefid AND d.oid <> c.oid
LEFT JOIN pg_namespace dn ON dn.oid = d.relnamespace
WHERE c.oid = $1::oid AND c.relispartition
