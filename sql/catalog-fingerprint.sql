-- One md5 per kind of thing (so a mismatch can say what changed) over everything about a table that the shadow copied when it was built, or that a swap
-- carries over: DDL, GRANT/REVOKE, RLS flags and policies, defaults, options, owner, comments,
-- replica identity made by someone else during a migration change it, and the swap must not
-- undo them silently. Dropped columns are left out: a column added and dropped again leaves
-- nothing a swap could undo (a migration file undone by --rollback automatic does exactly that).
SELECT jsonb_strip_nulls(jsonb_build_object(
  'columns', md5(coalesce(
  (SELECT string_agg(concat_ws(':', a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull,
                               a.attidentity, a.attgenerated, a.attcollation, a.attstorage, a.attcompression,
                               a.attstattarget, a.attoptions::text, a.attacl::text, pg_get_expr(d.adbin, d.adrelid),
                               col_description(a.attrelid, a.attnum)), ',' ORDER BY a.attnum)
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped), '')),
  'constraints', md5(coalesce(
  (SELECT string_agg(concat_ws(':', conname, pg_get_constraintdef(oid), convalidated, obj_description(oid, 'pg_constraint')), ',' ORDER BY conname)
     FROM pg_constraint WHERE conrelid = $1::oid), '')),
  'indexes', md5(coalesce(
  (SELECT string_agg(concat_ws(':', pg_get_indexdef(indexrelid), indisclustered, indisreplident, obj_description(indexrelid, 'pg_class')), ',' ORDER BY indexrelid)
     FROM pg_index WHERE indrelid = $1::oid), '')),
  'triggers', md5(coalesce(
  (SELECT string_agg(concat_ws(':', tgname, tgenabled, pg_get_triggerdef(oid)), ',' ORDER BY tgname)
     FROM pg_trigger WHERE tgrelid = $1::oid AND NOT tgisinternal
      -- not a clone of a trigger pgshift put on an ancestor (a foreign key proof's watch on the
      -- partitioned table a leaf's key references, verify/foreign-keys.ts): its function is pgshift's
      AND NOT (tgparentid <> 0 AND tgfoid IN (SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname LIKE 'pgshift\_%'))), '')),
  'policies', md5(coalesce(
  (SELECT string_agg(concat_ws(':', polname, polcmd, polpermissive, polroles::text, pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)), ',' ORDER BY polname)
     FROM pg_policy WHERE polrelid = $1::oid), '')),
  'statistics', md5(coalesce(
  (SELECT string_agg(concat_ws(':', stxname, pg_get_statisticsobjdef(oid)), ',' ORDER BY stxname)
     FROM pg_statistic_ext WHERE stxrelid = $1::oid), '')),
  'publications', md5(coalesce(
  (SELECT string_agg(prpubid::text, ',' ORDER BY prpubid) FROM pg_publication_rel WHERE prrelid = $1::oid), '')),
  -- a partitioned table's partitions, at every level, with their bounds: one attached or
  -- detached during a migration leaves the shadow tree stale; and a partition's own parent and
  -- bound, and its parent's default partition (a leaf's cutover detaches and attaches there)
  'partitions', md5(concat_ws('|', coalesce(
  (SELECT string_agg(concat_ws(':', c.oid, c.relnamespace, c.relname, pg_get_expr(c.relpartbound, c.oid)), ',' ORDER BY c.oid)
     FROM pg_partition_tree($1::oid::regclass) t JOIN pg_class c ON c.oid = t.relid WHERE t.level > 0), ''),
  (SELECT concat_ws(':', i.inhparent, pg_get_expr(c.relpartbound, c.oid), pt.partdefid)
     FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent
    WHERE c.oid = $1::oid AND c.relispartition))),
  -- a legacy inheritance child's parents in order, and what of its columns and constraints is
  -- local or inherited (the shadow's stand-ins were made from them: shadow/inherit.ts); null,
  -- so left out, for a table without parents
  'inheritance', (SELECT md5(concat_ws('|', string_agg(i.inhparent::text, ',' ORDER BY i.inhseqno),
      (SELECT string_agg(concat_ws(':', a.attname, a.attislocal, a.attinhcount), ',' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped),
      (SELECT string_agg(concat_ws(':', con.conname, con.conislocal, con.coninhcount), ',' ORDER BY con.conname) FROM pg_constraint con WHERE con.conrelid = $1::oid)))
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhrelid = $1::oid AND NOT c.relispartition HAVING count(*) > 0),
  -- what the partitions have beyond their bounds (indexes, constraints, policies, row level
  -- security, column settings), which the shadow tree repeated, and their triggers (the swap
  -- carries them); only for a partitioned table, whose fingerprint alone has these keys
  'partition objects', (SELECT md5(coalesce(string_agg(concat_ws(':', c.relname, c.relrowsecurity, c.relforcerowsecurity,
      (SELECT string_agg(concat_ws(':', pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class')), ',' ORDER BY i.indexrelid) FROM pg_index i WHERE i.indrelid = c.oid),
      (SELECT string_agg(concat_ws(':', con.conname, pg_get_constraintdef(con.oid), con.convalidated, con.conislocal, obj_description(con.oid, 'pg_constraint')), ',' ORDER BY con.conname) FROM pg_constraint con WHERE con.conrelid = c.oid),
      (SELECT string_agg(concat_ws(':', pol.polname, pol.polcmd, pol.polpermissive, pol.polroles::text, pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid)), ',' ORDER BY pol.polname) FROM pg_policy pol WHERE pol.polrelid = c.oid),
      (SELECT string_agg(concat_ws(':', a.attname, a.attnotnull, a.attstorage, a.attcompression, a.attstattarget, a.attoptions::text), ',' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)),
    ',' ORDER BY c.oid), ''))
     FROM pg_partition_tree($1::oid::regclass) t JOIN pg_class c ON c.oid = t.relid
    WHERE t.level > 0 AND (SELECT relkind FROM pg_class WHERE oid = $1::oid) = 'p'),
  'partition triggers', (SELECT md5(coalesce(string_agg(concat_ws(':', c.relname, tg.tgname, tg.tgenabled, pg_get_triggerdef(tg.oid)), ',' ORDER BY c.oid, tg.tgname), ''))
     FROM pg_partition_tree($1::oid::regclass) t JOIN pg_class c ON c.oid = t.relid JOIN pg_trigger tg ON tg.tgrelid = c.oid
    WHERE t.level > 0 AND NOT tg.tgisinternal AND (SELECT relkind FROM pg_class WHERE oid = $1::oid) = 'p'
      AND NOT (tg.tgparentid <> 0 AND tg.tgfoid IN (SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname LIKE 'pgshift\_%'))),
  'table', md5(coalesce(
  (SELECT concat_ws(':', c.relname, c.relnamespace, c.relowner, c.relacl::text, c.reloptions::text, t.reloptions::text,
                    c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relpersistence, c.reltablespace,
                    obj_description(c.oid, 'pg_class'))
     FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = $1::oid), ''))
))::text AS fp
