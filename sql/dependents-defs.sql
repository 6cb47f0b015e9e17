-- Definitions of everything outside the table that must be re-created or re-pointed at the new
-- table, read under search_path = pg_catalog so every name in them is schema-qualified. Views,
-- materialized views and routines bound to the table are catalog/bound-objects.ts's.
SELECT 'trigger' AS kind, NULL AS schema, t.tgname AS name, NULL::text AS target, pg_get_triggerdef(t.oid) AS def,
       NULL::text AS extra, t.tgenabled::text AS flag, obj_description(t.oid, 'pg_trigger') AS comment
FROM pg_trigger t
-- a partition's triggers cloned from its parent's come back with ATTACH PARTITION
WHERE t.tgrelid = $1::oid AND NOT t.tgisinternal AND t.tgparentid = 0 AND t.tgname <> ALL ($2::text[])
UNION ALL
-- the table's own rules (not the _RETURN rule of a view): created on the new table from their
-- text, dropped from the old one (cutover/swap.ts moveRules)
SELECT 'rule', NULL, r.rulename, NULL, pg_get_ruledef(r.oid), NULL, r.ev_enabled::text, obj_description(r.oid, 'pg_rewrite')
FROM pg_rewrite r WHERE r.ev_class = $1::oid AND r.rulename <> '_RETURN'
UNION ALL
SELECT 'policy', NULL, p.polname, NULL,
       concat_ws(' ',
         'AS', CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
         'FOR', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
         'TO', (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END, ', ')
                FROM unnest(p.polroles) r),
         'USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
         'WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')'),
       NULL, NULL, obj_description(p.oid, 'pg_policy')
FROM pg_policy p WHERE p.polrelid = $1::oid
UNION ALL
SELECT 'fk-in', cn.nspname, con.conname, cr.relname, pg_get_constraintdef(con.oid), NULL,
       con.convalidated::text, obj_description(con.oid, 'pg_constraint')
FROM pg_constraint con JOIN pg_class cr ON cr.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cr.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0
  AND ((con.confrelid = $1::oid AND con.conrelid <> $1::oid)
  -- a foreign key of another table that references one of a partitioned table's partitions
  -- itself (not the copies PostgreSQL keeps per partition of one into the table): re-pointed at
  -- the new partition of the same name with the rest; the tree's own go with its constraints
    OR (con.confrelid IN (SELECT t.relid FROM pg_partition_tree($1::oid::regclass) t WHERE t.level > 0)
        AND con.conrelid NOT IN (SELECT t.relid FROM pg_partition_tree($1::oid::regclass) t)))
UNION ALL
SELECT 'statistics', sn.nspname, s.stxname, NULL, pg_get_statisticsobjdef(s.oid), s.stxstattarget::text, NULL,
       obj_description(s.oid, 'pg_statistic_ext')
FROM pg_statistic_ext s JOIN pg_namespace sn ON sn.oid = s.stxnamespace
WHERE s.stxrelid = $1::oid
UNION ALL
SELECT 'publication', NULL, p.pubname, NULL, NULL, NULL, NULL, NULL
FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
WHERE pr.prrelid = $1::oid
UNION ALL
SELECT 'cluster', NULL, ic.relname, NULL, NULL, NULL, NULL, NULL
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::oid AND i.indisclustered
UNION ALL
SELECT 'replica-index', NULL, ic.relname, NULL, NULL, NULL, NULL, NULL
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::oid AND i.indisreplident
UNION ALL
SELECT 'serial', sn.nspname, s.relname, a.attname, NULL, NULL, NULL, NULL
FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refobjid = $1::oid AND d.deptype = 'a'
UNION ALL
SELECT 'identity', sn.nspname, s.relname, a.attname, NULL, NULL, NULL, NULL
FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refobjid = $1::oid AND d.deptype = 'i'
