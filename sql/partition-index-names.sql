-- Pairs every index of the shadow tree's partitions ($2: the shadow's root) with the origin's
-- ($1), by partition (its name and the user schema it is of: $3 lists the migration's schemas
-- partitions go through, $4 the user schema of each, plan/partition-homes.ts) and the name of
-- the top index it belongs to (the root's, or one a sub-partitioned partition has of its own):
-- PostgreSQL names an index it creates on a partition itself, and the shadow's partitions must
-- carry the origin's names. Indexes named the same already are left out.
WITH idx AS (
  SELECT tree.root AS root_table, rc.relname AS root_index, pc.relname AS partition, ic.relname AS name,
         coalesce((SELECT m.u FROM unnest($3::text[], $4::text[]) m(s, u) WHERE m.s = pn.nspname), pn.nspname) AS home,
         inn.nspname AS index_schema
  FROM (VALUES ($1::oid), ($2::oid)) tree(root)
  CROSS JOIN LATERAL pg_partition_tree(tree.root::regclass) rel
  JOIN pg_index top ON top.indrelid = rel.relid
  JOIN pg_class rc ON rc.oid = top.indexrelid
  CROSS JOIN LATERAL pg_partition_tree(top.indexrelid) t
  JOIN pg_class ic ON ic.oid = t.relid
  JOIN pg_namespace inn ON inn.oid = ic.relnamespace
  JOIN pg_index i ON i.indexrelid = t.relid
  JOIN pg_class pc ON pc.oid = i.indrelid
  JOIN pg_namespace pn ON pn.oid = pc.relnamespace
  WHERE t.level > 0 AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = top.indexrelid)
)
SELECT s.index_schema AS schema, s.name AS shadow_name, o.name AS origin_name
FROM idx s JOIN idx o ON o.root_index = s.root_index AND o.partition = s.partition AND o.home = s.home
WHERE s.root_table = $2::oid AND o.root_table = $1::oid AND s.name <> o.name
