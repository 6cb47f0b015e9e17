-- Objects that depend on specific columns ($2: attnums) of the table ($1) and that offline
-- PostgreSQL would refuse to drop or retype the column under: views and rules, policies,
-- triggers (WHEN / UPDATE OF), foreign keys of other tables, and routines whose SQL-standard
-- body (BEGIN ATOMIC) reads it, and publications whose column list or row filter names it
-- (PostgreSQL 15+: "cannot alter type of a column used by a publication WHERE clause").
SELECT DISTINCT
  CASE d.classid
    WHEN 'pg_rewrite'::regclass THEN 'view'
    WHEN 'pg_policy'::regclass THEN 'policy'
    WHEN 'pg_trigger'::regclass THEN 'trigger'
    WHEN 'pg_proc'::regclass THEN 'routine'
    WHEN 'pg_publication_rel'::regclass THEN 'publication'
    ELSE 'foreign key'
  END AS kind,
  pg_describe_object(d.classid, d.objid, 0) AS description, a.attname AS column_name
FROM pg_depend d
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
LEFT JOIN pg_constraint con ON d.classid = 'pg_constraint'::regclass AND con.oid = d.objid
LEFT JOIN pg_trigger tg ON d.classid = 'pg_trigger'::regclass AND tg.oid = d.objid
WHERE d.refclassid = 'pg_class'::regclass AND d.deptype = 'n'
  AND ((d.refobjid = $1::oid AND d.refobjsubid = ANY ($2::int[])
        AND (d.classid IN ('pg_rewrite'::regclass, 'pg_policy'::regclass, 'pg_proc'::regclass, 'pg_publication_rel'::regclass)
             OR (d.classid = 'pg_trigger'::regclass AND NOT tg.tgisinternal)
             OR (d.classid = 'pg_constraint'::regclass AND con.contype = 'f' AND con.conrelid <> $1::oid)))
    -- another table's foreign key into a partition itself, on the partition's column of the name
    -- (offline, the ALTER recurses to the partition and meets it there)
    OR (d.classid = 'pg_constraint'::regclass AND con.contype = 'f' AND con.conparentid = 0
        AND d.refobjid IN (SELECT t.relid FROM pg_partition_tree($1::oid::regclass) t WHERE t.level > 0)
        AND con.conrelid NOT IN (SELECT t.relid FROM pg_partition_tree($1::oid::regclass) t)
        AND a.attname IN (SELECT r.attname FROM pg_attribute r WHERE r.attrelid = $1::oid AND r.attnum = ANY ($2::int[]))))
ORDER BY 1, 2
