-- What a partition has of its own, beyond what it inherits from its parent: the shadow tree
-- repeats the parent's indexes, constraints and row triggers on every partition, not these.
SELECT 'index ' || ic.relname AS what, c.relname AS partition
FROM pg_partition_tree($1::oid::regclass) t
JOIN pg_class c ON c.oid = t.relid
JOIN pg_index i ON i.indrelid = c.oid
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE t.level > 0 AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
UNION ALL
SELECT 'constraint ' || con.conname, c.relname
FROM pg_partition_tree($1::oid::regclass) t
JOIN pg_class c ON c.oid = t.relid
JOIN pg_constraint con ON con.conrelid = c.oid
WHERE t.level > 0 AND con.conislocal AND con.conparentid = 0 AND con.contype <> 'n'
UNION ALL
SELECT 'policy ' || pol.polname, c.relname
FROM pg_partition_tree($1::oid::regclass) t
JOIN pg_class c ON c.oid = t.relid
JOIN pg_policy pol ON pol.polrelid = c.oid
WHERE t.level > 0
UNION ALL
SELECT 'row level security', c.relname
FROM pg_partition_tree($1::oid::regclass) t
JOIN pg_class c ON c.oid = t.relid
WHERE t.level > 0 AND (c.relrowsecurity OR c.relforcerowsecurity)
ORDER BY 2, 1
