-- Objects outside the table itself that depend on it, classified. Anything of kind 'other'
-- is refused by preflight: the engine would not know how to carry it across the swap. Views,
-- materialized views, routines and whatever is built on the table's row type are looked at
-- more closely by catalog/bound-objects.ts.
SELECT DISTINCT
  CASE
    WHEN d.classid = 'pg_rewrite'::regclass AND rc.relkind = 'v' THEN 'view'
    WHEN d.classid = 'pg_rewrite'::regclass AND rc.relkind = 'm' THEN 'materialized view'
    WHEN d.classid = 'pg_rewrite'::regclass AND rc.oid = $1::oid THEN 'rule'
    WHEN d.classid = 'pg_rewrite'::regclass THEN 'rule'
    WHEN d.classid = 'pg_constraint'::regclass AND con.contype = 'f' AND con.conrelid <> $1::oid THEN 'fk-in'
    WHEN d.classid = 'pg_constraint'::regclass AND con.conrelid = $1::oid THEN 'own'
    WHEN d.classid = 'pg_proc'::regclass THEN 'function'
    WHEN d.classid = 'pg_policy'::regclass AND pol.polrelid <> $1::oid THEN 'policy-in'
    WHEN d.classid = 'pg_policy'::regclass THEN 'own'
    WHEN d.classid = 'pg_trigger'::regclass AND tg.tgrelid <> $1::oid THEN 'trigger-in'
    WHEN d.classid = 'pg_trigger'::regclass THEN 'own'
    WHEN d.classid = 'pg_statistic_ext'::regclass THEN 'own'
    WHEN d.classid = 'pg_publication_rel'::regclass THEN 'own'
    WHEN d.classid = 'pg_class'::regclass AND dc.relkind IN ('i', 'I', 'S', 't') THEN 'own'
    WHEN d.classid = 'pg_type'::regclass THEN 'own'
    WHEN d.classid = 'pg_attrdef'::regclass THEN 'own'
    WHEN d.classid = 'pg_class'::regclass AND dc.oid = $1::oid THEN 'own'
    -- a partition: the shadow tree repeats it (shadow/partitions.ts)
    WHEN d.classid = 'pg_class'::regclass AND dc.relispartition THEN 'own'
    -- a legacy inheritance child: moved to the new table in the swap (shadow/parent.ts)
    WHEN d.classid = 'pg_class'::regclass AND EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = dc.oid AND i.inhparent = $1::oid) THEN 'own'
    ELSE 'other'
  END AS kind,
  COALESCE(rc.oid, dc.oid, con.conrelid)::int8::text AS rel_oid,
  COALESCE(rn.nspname || '.' || rc.relname, cn.nspname || '.' || conrel.relname || ' (' || con.conname || ')',
           pg_describe_object(d.classid, d.objid, d.objsubid)) AS description,
  con.conname AS constraint_name, d.refobjsubid AS column_attnum
FROM pg_depend d
LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
LEFT JOIN pg_class rc ON rc.oid = r.ev_class
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
LEFT JOIN pg_constraint con ON d.classid = 'pg_constraint'::regclass AND con.oid = d.objid
LEFT JOIN pg_class conrel ON conrel.oid = con.conrelid
LEFT JOIN pg_namespace cn ON cn.oid = conrel.relnamespace
LEFT JOIN pg_class dc ON d.classid = 'pg_class'::regclass AND dc.oid = d.objid
LEFT JOIN pg_policy pol ON d.classid = 'pg_policy'::regclass AND pol.oid = d.objid
LEFT JOIN pg_trigger tg ON d.classid = 'pg_trigger'::regclass AND tg.oid = d.objid
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid
  AND d.deptype IN ('n', 'a')
  AND NOT (rc.oid IS NOT NULL AND rc.oid = $1::oid AND r.rulename = '_RETURN')
-- Another table's foreign key into one of a partitioned table's partitions itself depends on the
-- partition, not on the table: the swap re-points it with the rest (sql/dependents-defs.sql).
UNION
SELECT 'fk-in', con.conrelid::int8::text, cn.nspname || '.' || conrel.relname || ' (' || con.conname || ')', con.conname, 0
FROM pg_constraint con JOIN pg_class conrel ON conrel.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = conrel.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0
  AND con.confrelid IN (SELECT t.relid FROM pg_partition_tree($1::oid::regclass) t WHERE t.level > 0)
  AND con.conrelid NOT IN (SELECT t.relid FROM pg_partition_tree($1::oid::regclass) t)
