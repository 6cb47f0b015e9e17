-- What each partition has of its own, beyond what it inherits from its parent (PostgreSQL clones
-- the parent's indexes, constraints and row triggers onto every partition; these it does not):
-- indexes not attached to a parent's index and not owned by a constraint, constraints defined on
-- the partition itself (a CHECK it also inherits, merged, counts: its conislocal is set), in the
-- order they are created again on the shadow's partition of the same name (and schema's) (policies: the
-- dependents' definitions of each partition that has some, cutover/dependents.ts).
-- Read under search_path = pg_catalog, so the definitions name their objects fully. An index's
-- `def` is its definition after `CREATE [UNIQUE] INDEX name ON [ONLY] partition ` (the caller puts
-- the shadow's partition there), `parsed` false when the definition does not start so; a
-- constraint's is pg_get_constraintdef. Not a foreign key into the tree above the table (a
-- sub-partitioned leaf's partition's, referencing the leaf's partitioned table): the cutover takes
-- it off before DETACH and puts it back after ATTACH (cutover/swap.ts), as the leaf's own.
SELECT 'index' AS kind, c.relname AS partition, n.nspname AS partition_schema, ic.relname AS name, i.indisunique AS is_unique, NULL AS type, true AS validated,
       substr(d.def, length(d.prefix) + 1) AS def, starts_with(d.def, d.prefix) AS parsed,
       obj_description(i.indexrelid, 'pg_class') AS comment, 1 AS ord, i.indexrelid AS oid
FROM pg_partition_tree($1::oid::regclass) t
JOIN pg_class c ON c.oid = t.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_index i ON i.indrelid = c.oid
JOIN pg_class ic ON ic.oid = i.indexrelid
CROSS JOIN LATERAL (
  SELECT pg_get_indexdef(i.indexrelid) AS def,
         format('CREATE %sINDEX %s ON %s%s ', CASE WHEN i.indisunique THEN 'UNIQUE ' END, quote_ident(ic.relname),
                CASE WHEN c.relkind = 'p' THEN 'ONLY ' END, c.oid::regclass) AS prefix
) d
WHERE t.level > 0 AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
  AND NOT EXISTS (SELECT FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.conrelid = c.oid AND con.contype IN ('p', 'u', 'x'))
UNION ALL
SELECT 'constraint', c.relname, n.nspname, con.conname, NULL, con.contype::text, con.convalidated, pg_get_constraintdef(con.oid), true,
       obj_description(con.oid, 'pg_constraint'), 2, con.oid
FROM pg_partition_tree($1::oid::regclass) t
JOIN pg_class c ON c.oid = t.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_constraint con ON con.conrelid = c.oid
WHERE t.level > 0 AND con.conislocal AND con.conparentid = 0 AND con.contype IN ('c', 'u', 'p', 'x', 'f')
  AND NOT (con.contype = 'f' AND con.confrelid IN (SELECT a.relid FROM pg_partition_ancestors($1::oid::regclass) a WHERE a.relid <> $1::oid))
ORDER BY ord, partition_schema, partition, oid
