-- The shadow's relations that live in its schema and move with it: indexes and owned sequences.
SELECT c.relname AS name, c.relkind::text AS kind
FROM pg_class c
WHERE c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = $1::oid)
   OR c.oid IN (SELECT objid FROM pg_depend
                WHERE classid = 'pg_class'::regclass AND refobjid = $1::oid AND deptype IN ('a', 'i')
                  AND objid IN (SELECT oid FROM pg_class WHERE relkind = 'S'))
ORDER BY c.oid
