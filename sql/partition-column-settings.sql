-- The column settings of the origin's partitions ($1: the origin's root) that the shadow's
-- partition of the same name and user schema ($2: the shadow's root; $3 the migration's schemas
-- partitions go through, $4 the user schema of each, plan/partition-homes.ts) does not have yet: statistics target,
-- attribute options (n_distinct, ...), storage, compression, and a NOT NULL a partition has of
-- its own. Compared with the shadow's partitions as built (some settings recurse from the root,
-- some are copied by PARTITION OF, some neither, and that differs between them and versions),
-- so only the differences are set, whatever PostgreSQL did on its own.
WITH cols AS (
  SELECT t.level, c.relname AS partition,
         coalesce((SELECT m.u FROM unnest($3::text[], $4::text[]) m(s, u) WHERE m.s = n.nspname), n.nspname) AS home,
         n.nspname AS schema, a.attnum, a.attname, a.attstattarget, a.attoptions,
         a.attstorage, a.attcompression, a.attnotnull, root.oid AS root
  FROM (VALUES ($1::oid), ($2::oid)) root(oid)
  CROSS JOIN LATERAL pg_partition_tree(root.oid::regclass) t
  JOIN pg_class c ON c.oid = t.relid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE t.level > 0
)
SELECT o.partition, s.schema, o.attname AS column,
       CASE WHEN o.attstattarget IS DISTINCT FROM s.attstattarget THEN coalesce(o.attstattarget::int, -1) END AS stat_target,
       o.attoptions IS DISTINCT FROM s.attoptions AS options_differ, o.attoptions AS options, s.attoptions AS shadow_options,
       CASE WHEN o.attstorage <> s.attstorage THEN o.attstorage::text END AS storage,
       CASE WHEN o.attcompression <> s.attcompression THEN o.attcompression::text END AS compression,
       o.attnotnull AND NOT s.attnotnull AS not_null
FROM cols o JOIN cols s ON s.root = $2::oid AND s.partition = o.partition AND s.home = o.home AND s.attname = o.attname
WHERE o.root = $1::oid
  AND (o.attstattarget IS DISTINCT FROM s.attstattarget OR o.attoptions IS DISTINCT FROM s.attoptions
       OR o.attstorage <> s.attstorage OR o.attcompression <> s.attcompression OR (o.attnotnull AND NOT s.attnotnull))
ORDER BY o.level, o.home, o.partition, o.attnum
