-- One step of the search for what a swap must carry besides the table (catalog/bound-objects.ts):
-- the objects with a normal dependency on the relations ($1), types ($2) or routines ($3) the
-- swap replaces, with what deciding their fate needs. A view's or a materialized view's
-- dependency is recorded by its _RETURN rule: reported as the relation itself. A constraint
-- trigger of another table declared FROM a relation depends on it automatically ('a': dropping
-- the relation would drop the trigger silently).
SELECT DISTINCT
  CASE
    WHEN d.classid = 'pg_rewrite'::regclass AND r.rulename = '_RETURN' THEN 'relation'
    WHEN d.classid = 'pg_rewrite'::regclass THEN 'rule'
    WHEN d.classid = 'pg_class'::regclass AND d.objsubid > 0 THEN 'column'
    WHEN d.classid = 'pg_class'::regclass THEN 'relation'
    WHEN d.classid = 'pg_proc'::regclass THEN 'routine'
    WHEN d.classid = 'pg_type'::regclass THEN 'type'
    WHEN d.classid = 'pg_policy'::regclass THEN 'policy'
    WHEN d.classid = 'pg_trigger'::regclass THEN 'trigger'
    ELSE 'other'
  END AS class,
  CASE WHEN d.classid = 'pg_rewrite'::regclass AND r.rulename = '_RETURN' THEN r.ev_class ELSE d.objid END::int8::text AS oid,
  d.refobjid::int8::text AS on_oid,
  COALESCE(rc.relkind, dc.relkind)::text AS relkind,
  p.prokind::text AS prokind,
  p.prosqlbody IS NOT NULL AS atomic,
  -- a routine whose signature, or a relation one of whose columns, holds a replaced type
  CASE
    WHEN d.classid = 'pg_proc'::regclass THEN
      p.prorettype = ANY ($2::oid[]) OR p.proargtypes::oid[] && $2::oid[] OR COALESCE(p.proallargtypes && $2::oid[], false)
    WHEN COALESCE(rc.oid, dc.oid) IS NOT NULL THEN
      EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = COALESCE(rc.oid, dc.oid) AND a.attnum > 0
                                            AND NOT a.attisdropped AND a.atttypid = ANY ($2::oid[]))
    ELSE false
  END AS typed,
  EXISTS (SELECT FROM pg_depend e WHERE e.classid = d.classid AND e.objid = d.objid AND e.deptype = 'e') AS in_extension,
  COALESCE(pol.polrelid, tg.tgrelid, CASE WHEN r.rulename <> '_RETURN' THEN r.ev_class END)::int8::text AS on_table,
  pg_describe_object(d.classid, d.objid, d.objsubid) AS description,
  pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) AS on_description
FROM pg_depend d
LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
LEFT JOIN pg_class rc ON rc.oid = r.ev_class AND r.rulename = '_RETURN'
LEFT JOIN pg_class dc ON d.classid = 'pg_class'::regclass AND dc.oid = d.objid
LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
LEFT JOIN pg_policy pol ON d.classid = 'pg_policy'::regclass AND pol.oid = d.objid
LEFT JOIN pg_trigger tg ON d.classid = 'pg_trigger'::regclass AND tg.oid = d.objid
WHERE (d.deptype = 'n' OR (d.deptype = 'a' AND tg.tgconstrrelid = d.refobjid AND tg.tgrelid <> d.refobjid AND NOT tg.tgisinternal AND tg.tgparentid = 0))
  AND ((d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY ($1::oid[]))
    OR (d.refclassid = 'pg_type'::regclass AND d.refobjid = ANY ($2::oid[]))
    OR (d.refclassid = 'pg_proc'::regclass AND d.refobjid = ANY ($3::oid[])))
ORDER BY 1, 2, 3
