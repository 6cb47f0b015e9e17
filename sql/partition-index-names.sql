-- Pairs every index of the shadow tree's partitions ($2: the shadow's root) with the origin's
-- ($1), by partition name and the name of the root's index it belongs to: PostgreSQL names an
-- index it creates on a partition itself, and the shadow's partitions must carry the origin's
-- names. Indexes named the same already are left out.
WITH idx AS (
  SELECT root.indrelid AS root_table, rc.relname AS root_index, pc.relname AS partition, ic.relname AS name
  FROM pg_index root
  JOIN pg_class rc ON rc.oid = root.indexrelid
  CROSS JOIN LATERAL pg_partition_tree(root.indexrelid) t
  JOIN pg_class ic ON ic.oid = t.relid
  JOIN pg_index i ON i.indexrelid = t.relid
  JOIN pg_class pc ON pc.oid = i.indrelid
  WHERE root.indrelid IN ($1::oid, $2::oid) AND t.level > 0
)
SELECT s.name AS shadow_name, o.name AS origin_name
FROM idx s JOIN idx o ON o.root_index = s.root_index AND o.partition = s.partition
WHERE s.root_table = $2::oid AND o.root_table = $1::oid AND s.name <> o.name
