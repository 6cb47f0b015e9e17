-- Rules, policies and constraint triggers of other relations bound to the table ($1: their own
-- OIDs, of pg_rewrite, pg_policy or pg_trigger), as the swap re-binds or re-creates them, read
-- under search_path = pg_catalog: every relation in the text is schema-qualified, so executed
-- after the exchange the table's name means the new table. `relation` is the object's own
-- relation, quoted and qualified.
SELECT r.oid::int8::text AS oid, 'rule' AS kind, r.rulename AS name, r.ev_class::regclass::text AS relation,
       regexp_replace(pg_get_ruledef(r.oid), '^CREATE RULE ', 'CREATE OR REPLACE RULE ') AS def,
       NULL::text AS using_expr, NULL::text AS check_expr, NULL::text AS enabled, NULL::text AS comment
FROM pg_rewrite r WHERE r.oid = ANY ($1::oid[])
UNION ALL
SELECT p.oid::int8::text, 'policy', p.polname, p.polrelid::regclass::text, NULL,
       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), NULL, NULL
FROM pg_policy p WHERE p.oid = ANY ($1::oid[])
UNION ALL
SELECT t.oid::int8::text, 'trigger', t.tgname, t.tgrelid::regclass::text, pg_get_triggerdef(t.oid),
       NULL, NULL, t.tgenabled::text, obj_description(t.oid, 'pg_trigger')
FROM pg_trigger t WHERE t.oid = ANY ($1::oid[])
