-- For a CREATE INDEX on a partitioned table: the index each partition ($2) already has that
-- PostgreSQL would attach in place of building one (DefineIndex: the first, in OID order, that
-- has no parent index and that CompareIndexInfo finds equal). $1 is the new index, built on an
-- empty temporary table LIKE the partitioned table (the same column names), so that PostgreSQL
-- resolves its definition: equal uniqueness, NULLS NOT DISTINCT, access method, number of
-- columns and of key columns, the same column (by name) or expression at each position, and on
-- each key column the same collation and operator family; the same predicate; exclusion indexes
-- are never equal. What CompareIndexInfo leaves out (name, options, tablespace, ASC/DESC) may differ.
SELECT DISTINCT ON (p.relid) p.relid::text AS partition_oid, ic.relname AS index
FROM unnest($2::oid[]) p(relid)
JOIN pg_index i ON i.indrelid = p.relid
JOIN pg_class ic ON ic.oid = i.indexrelid
CROSS JOIN pg_index n
JOIN pg_class nc ON nc.oid = n.indexrelid
WHERE n.indexrelid = $1::regclass
  AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
  AND NOT EXISTS (SELECT FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.contype = 'x')
  AND i.indisunique = n.indisunique AND ic.relam = nc.relam
  AND to_jsonb(i) -> 'indnullsnotdistinct' IS NOT DISTINCT FROM to_jsonb(n) -> 'indnullsnotdistinct'
  AND i.indnatts = n.indnatts AND i.indnkeyatts = n.indnkeyatts
  AND pg_get_expr(i.indexprs, i.indrelid) IS NOT DISTINCT FROM pg_get_expr(n.indexprs, n.indrelid)
  AND pg_get_expr(i.indpred, i.indrelid) IS NOT DISTINCT FROM pg_get_expr(n.indpred, n.indrelid)
  AND NOT EXISTS (
    SELECT FROM generate_series(0, n.indnatts - 1) k
    WHERE (SELECT attname FROM pg_attribute WHERE attrelid = i.indrelid AND attnum = i.indkey[k])
            IS DISTINCT FROM (SELECT attname FROM pg_attribute WHERE attrelid = n.indrelid AND attnum = n.indkey[k])
       OR (i.indkey[k] = 0) <> (n.indkey[k] = 0)
       OR (k < n.indnkeyatts AND (i.indcollation[k] <> n.indcollation[k]
             OR (SELECT opcfamily FROM pg_opclass WHERE oid = i.indclass[k]) <> (SELECT opcfamily FROM pg_opclass WHERE oid = n.indclass[k]))))
ORDER BY p.relid, i.indexrelid
