-- A legacy inheritance parent's descendants at every level (a tree copied with it:
-- shadow/tree.ts), as their shadows were built from them and the cutover exchanges them: which
-- relations, their names and parents in order, columns (types, local or inherited, NOT NULL,
-- defaults), constraints, indexes, triggers (not pgshift's own), owner, grants, options, row
-- security, replica identity and comment. One md5: a child added, removed or altered by someone
-- else during the migration leaves the shadow tree stale.
WITH RECURSIVE d(oid) AS (
  SELECT i.inhrelid FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid WHERE i.inhparent = $1::oid AND NOT ch.relispartition
  UNION
  SELECT i.inhrelid FROM d JOIN pg_inherits i ON i.inhparent = d.oid JOIN pg_class ch ON ch.oid = i.inhrelid WHERE NOT ch.relispartition)
SELECT md5(coalesce(string_agg(concat_ws(':', c.oid, c.relnamespace, c.relname, c.relowner, c.relacl::text, c.reloptions::text,
    c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relpersistence, obj_description(c.oid, 'pg_class'),
    (SELECT string_agg(i.inhparent::text, ',' ORDER BY i.inhseqno) FROM pg_inherits i WHERE i.inhrelid = c.oid),
    (SELECT string_agg(concat_ws(':', a.attname, a.atttypid, a.atttypmod, a.attislocal, a.attinhcount, a.attnotnull, a.attacl::text,
                                 pg_get_expr(ad.adbin, ad.adrelid)), ',' ORDER BY a.attnum)
       FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
    (SELECT string_agg(concat_ws(':', con.conname, pg_get_constraintdef(con.oid), con.convalidated, con.conislocal, con.coninhcount), ',' ORDER BY con.conname)
       FROM pg_constraint con WHERE con.conrelid = c.oid),
    (SELECT string_agg(pg_get_indexdef(x.indexrelid), ',' ORDER BY x.indexrelid) FROM pg_index x WHERE x.indrelid = c.oid),
    (SELECT string_agg(concat_ws(':', tg.tgname, tg.tgenabled), ',' ORDER BY tg.tgname) FROM pg_trigger tg
      WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal
        AND tg.tgfoid NOT IN (SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname LIKE 'pgshift\_%'))),
  ',' ORDER BY c.oid), '')) AS fp
FROM d JOIN pg_class c ON c.oid = d.oid
