// The SQL behind snapshotCatalog(): one query per section, each returning a `key` column (a
// readable, OID-free name, unique within the section) and the fields to compare.
//
// Rules every query follows, so that two databases built by the same DDL compare equal:
// - no OIDs, attnums or other allocation-dependent numbers in the output;
// - every list is sorted (or kept in an order that is itself user-visible, like column order);
// - pg_get_*def output depends on search_path: the caller runs these with search_path set to
//   pg_catalog only, so every user object comes out schema-qualified;
// - $1 is the text[] of schemas to describe.

// ACL entries as "grantee:privilege:YES|NO" (grantable), sorted. The grantor is appended only when it is
// not the owner: a GRANT run by a superuser is recorded as granted by the owner, so a grantor
// that differs is a real difference (it decides who can REVOKE). A NULL ACL means "the default",
// and is expanded with acldefault so that an explicit ACL equal to the default compares equal
// (the two behave identically). `kind` is the SQL expression of acldefault's object type; null
// for column ACLs, which have no default.
function acl(aclExpr: string, ownerExpr: string, kind: string | null): string {
  const source = kind === null ? aclExpr : `COALESCE(${aclExpr}, acldefault((${kind})::"char", ${ownerExpr}))`;
  return `ARRAY(
    SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END
           || ':' || x.privilege_type || ':' || CASE WHEN x.is_grantable THEN 'YES' ELSE 'NO' END
           || CASE WHEN x.grantor <> ${ownerExpr} THEN ':by ' || pg_get_userbyid(x.grantor) ELSE '' END
      FROM aclexplode(${source}) x ORDER BY 1)`;
}

function sortedArray(expr: string): string {
  return `ARRAY(SELECT o FROM unnest(${expr}) o ORDER BY o)`;
}

const relkindSequenceAware = `CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END`;

export const SCHEMAS_SQL = `
SELECT n.nspname AS key,
       pg_get_userbyid(n.nspowner) AS owner,
       ${acl('n.nspacl', 'n.nspowner', "'n'")} AS acl,
       obj_description(n.oid, 'pg_namespace') AS comment
  FROM pg_namespace n
 WHERE n.nspname = ANY($1::text[])`;

export const RELATIONS_SQL = `
SELECT n.nspname || '.' || c.relname AS key,
       c.relkind::text AS relkind,
       c.relpersistence::text AS persistence,
       CASE WHEN c.reloftype <> 0 THEN format_type(c.reloftype, NULL) END AS of_type,
       ${sortedArray('c.reloptions')} AS reloptions,
       COALESCE(ts.spcname, '') AS tablespace,
       am.amname::text AS access_method,
       pg_get_userbyid(c.relowner) AS owner,
       ${acl('c.relacl', 'c.relowner', relkindSequenceAware)} AS acl,
       obj_description(c.oid, 'pg_class') AS comment,
       c.relrowsecurity AS row_security,
       c.relforcerowsecurity AS force_row_security,
       c.relreplident::text AS replica_identity,
       (SELECT count(*)::int FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS column_count,
       c.relispartition AS is_partition,
       pg_get_expr(c.relpartbound, c.oid) AS partition_bound,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       ARRAY(SELECT i.inhparent::regclass::text FROM pg_inherits i
              WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) AS inherits,
       CASE WHEN c.relkind = 'm' THEN c.relispopulated END AS populated,
       fs.srvname::text AS foreign_server,
       ${sortedArray('ft.ftoptions')} AS foreign_options
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
  LEFT JOIN pg_am am ON am.oid = c.relam
  LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
  LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
 WHERE n.nspname = ANY($1::text[])
   AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')`;

// Column order matters, attnums do not: a table rebuilt without a dropped column's hole must
// compare equal to the original, so `position` counts live columns only.
export const COLUMNS_SQL = `
SELECT n.nspname || '.' || c.relname || '.' || a.attname AS key,
       row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum)::int AS position,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null,
       pg_get_expr(ad.adbin, ad.adrelid) AS "default",
       a.attidentity::text AS identity,
       a.attgenerated::text AS generated,
       CASE WHEN a.attcollation <> 0 THEN cn.nspname || '.' || co.collname END AS collation,
       a.attstorage::text AS storage,
       a.attcompression::text AS compression,
       -- PostgreSQL 17 stores "default" as NULL, older versions as -1.
       NULLIF(a.attstattarget::int, -1) AS stattarget,
       ${sortedArray('a.attoptions')} AS options,
       ${acl('a.attacl', 'c.relowner', null)} AS acl,
       col_description(a.attrelid, a.attnum) AS comment,
       -- inheritance: declared by the table itself, and from how many parents
       a.attislocal AS local,
       a.attinhcount::int AS inherited_count
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
 WHERE n.nspname = ANY($1::text[])
   AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND a.attnum > 0 AND NOT a.attisdropped`;

// Constraints on tables in the schemas, and foreign keys elsewhere that point into them (a swap
// must re-point those). A foreign key to a partitioned table also gets one derived row per
// referenced partition, under the same name and table: those keys carry the partition.
export const CONSTRAINTS_SQL = `
SELECT rn.nspname || '.' || r.relname || '.' || con.conname
       || CASE WHEN con.contype = 'f' AND con.conparentid <> 0
               THEN ' -> ' || con.confrelid::regclass::text ELSE '' END AS key,
       con.contype::text AS type,
       pg_get_constraintdef(con.oid) AS definition,
       con.convalidated AS validated,
       con.condeferrable AS deferrable,
       con.condeferred AS deferred,
       con.conislocal AS local,
       con.coninhcount::int AS inherited_count,
       obj_description(con.oid, 'pg_constraint') AS comment
  FROM pg_constraint con
  JOIN pg_class r ON r.oid = con.conrelid
  JOIN pg_namespace rn ON rn.oid = r.relnamespace
  LEFT JOIN pg_class f ON f.oid = con.confrelid
  LEFT JOIN pg_namespace fn ON fn.oid = f.relnamespace
 WHERE rn.nspname = ANY($1::text[]) OR fn.nspname = ANY($1::text[])`;

// indisvalid/indisready matter to pgshift: a CREATE INDEX CONCURRENTLY that failed leaves an
// index with the right definition that the planner never uses. A partition's index attached to
// its parent's (parent_index) and one of the partition's own are different things.
export const INDEXES_SQL = `
SELECT n.nspname || '.' || ic.relname AS key,
       t.relname::text AS "table",
       pg_get_indexdef(i.indexrelid) AS definition,
       i.indisunique AS "unique",
       i.indisprimary AS "primary",
       i.indisclustered AS clustered,
       i.indisreplident AS replica_identity,
       i.indisvalid AS valid,
       i.indisready AS ready,
       COALESCE(ts.spcname, '') AS tablespace,
       obj_description(i.indexrelid, 'pg_class') AS comment,
       -- a partition's index attached to its parent's partitioned index (ATTACH PARTITION does it)
       (SELECT ih.inhparent::regclass::text FROM pg_inherits ih WHERE ih.inhrelid = i.indexrelid) AS parent_index
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = ic.relnamespace
  LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
 WHERE n.nspname = ANY($1::text[])`;

export const TRIGGERS_SQL = `
SELECT n.nspname || '.' || c.relname || '.' || tg.tgname AS key,
       pg_get_triggerdef(tg.oid) AS definition,
       tg.tgenabled::text AS enabled,
       obj_description(tg.oid, 'pg_trigger') AS comment,
       tg.tgparentid <> 0 AS cloned
  FROM pg_trigger tg
  JOIN pg_class c ON c.oid = tg.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[]) AND NOT tg.tgisinternal`;

export const POLICIES_SQL = `
SELECT n.nspname || '.' || c.relname || '.' || p.polname AS key,
       p.polpermissive AS permissive,
       p.polcmd::text AS command,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END
               FROM unnest(p.polroles) r ORDER BY 1) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS "using",
       pg_get_expr(p.polwithcheck, p.polrelid) AS with_check,
       obj_description(p.oid, 'pg_policy') AS comment
  FROM pg_policy p
  JOIN pg_class c ON c.oid = p.polrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[])`;

// Views also appear among relations; here is their text, which must survive a swap of the
// tables they read (a view follows the table's OID, not its name).
export const VIEWS_SQL = `
SELECT n.nspname || '.' || c.relname AS key,
       c.relkind::text AS relkind,
       pg_get_viewdef(c.oid, true) AS definition,
       ${sortedArray('c.reloptions')} AS reloptions,
       pg_get_userbyid(c.relowner) AS owner,
       ${acl('c.relacl', 'c.relowner', "'r'")} AS acl,
       obj_description(c.oid, 'pg_class') AS comment
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('v', 'm')`;

// last_value/is_called are read per sequence afterwards, through the `qualified` column.
export const SEQUENCES_SQL = `
SELECT n.nspname || '.' || c.relname AS key,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified,
       format_type(s.seqtypid, NULL) AS type,
       s.seqstart::text AS start,
       s.seqincrement::text AS increment,
       s.seqmin::text AS min,
       s.seqmax::text AS max,
       s.seqcache::text AS cache,
       s.seqcycle AS cycle,
       (SELECT d.refobjid::regclass::text || '.' || a.attname || ' (' || d.deptype::text || ')'
          FROM pg_depend d
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
           AND d.deptype IN ('a', 'i')
         ORDER BY 1 LIMIT 1) AS owned_by,
       pg_get_userbyid(c.relowner) AS owner,
       ${acl('c.relacl', 'c.relowner', "'s'")} AS acl,
       obj_description(c.oid, 'pg_class') AS comment
  FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[])`;

// Column lists and row filters exist from PostgreSQL 15; older servers get NULLs.
export function publicationsSql(serverVersionNum: number): string {
  const modern = serverVersionNum >= 150000;
  const columns = modern
    ? `CASE WHEN pr.prattrs IS NULL THEN NULL ELSE
         ARRAY(SELECT a.attname::text FROM unnest(pr.prattrs::int2[]) k
                 JOIN pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = k ORDER BY 1) END`
    : 'NULL::text[]';
  const filter = modern ? 'pg_get_expr(pr.prqual, pr.prrelid)' : 'NULL::text';
  const tables = `
SELECT p.pubname || ' table ' || n.nspname || '.' || c.relname AS key,
       ${columns} AS columns,
       ${filter} AS row_filter
  FROM pg_publication_rel pr
  JOIN pg_publication p ON p.oid = pr.prpubid
  JOIN pg_class c ON c.oid = pr.prrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[])`;
  if (!modern) return tables;
  return `${tables}
UNION ALL
SELECT p.pubname || ' schema ' || n.nspname, NULL::text[], NULL::text
  FROM pg_publication_namespace pn
  JOIN pg_publication p ON p.oid = pn.pnpubid
  JOIN pg_namespace n ON n.oid = pn.pnnspid
 WHERE n.nspname = ANY($1::text[])`;
}

export const STATISTICS_SQL = `
SELECT n.nspname || '.' || s.stxname AS key,
       pg_get_statisticsobjdef(s.oid) AS definition,
       NULLIF(s.stxstattarget::int, -1) AS stattarget,
       pg_get_userbyid(s.stxowner) AS owner,
       obj_description(s.oid, 'pg_statistic_ext') AS comment
  FROM pg_statistic_ext s
  JOIN pg_namespace n ON n.oid = s.stxnamespace
  JOIN pg_class c ON c.oid = s.stxrelid
  JOIN pg_namespace cn ON cn.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[]) OR cn.nspname = ANY($1::text[])`;

// pg_rewrite rather than pg_rules: it also has the enabled state. _RETURN is a view's body.
export const RULES_SQL = `
SELECT n.nspname || '.' || c.relname || '.' || r.rulename AS key,
       pg_get_ruledef(r.oid) AS definition,
       r.ev_enabled::text AS enabled,
       obj_description(r.oid, 'pg_rewrite') AS comment
  FROM pg_rewrite r
  JOIN pg_class c ON c.oid = r.ev_class
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[]) AND r.rulename <> '_RETURN'`;

// Trigger functions live beside the tables; pg_get_functiondef refuses aggregates.
export const FUNCTIONS_SQL = `
SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS key,
       p.prokind::text AS kind,
       CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS definition,
       pg_get_userbyid(p.proowner) AS owner,
       ${acl('p.proacl', 'p.proowner', "'f'")} AS acl,
       obj_description(p.oid, 'pg_proc') AS comment
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = ANY($1::text[])`;

// Enums, domains, ranges, standalone composite types. Row types of tables and array types are
// implied by what they belong to.
export const TYPES_SQL = `
SELECT n.nspname || '.' || t.typname AS key,
       t.typtype::text AS kind,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
       t.typnotnull AS not_null,
       t.typdefault AS "default",
       CASE WHEN t.typtype = 'e' THEN
         ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels,
       ARRAY(SELECT con.conname || ': ' || pg_get_constraintdef(con.oid) FROM pg_constraint con
              WHERE con.contypid = t.oid ORDER BY 1) AS constraints,
       CASE WHEN t.typtype = 'c' THEN
         ARRAY(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY a.attnum) END AS attributes,
       pg_get_userbyid(t.typowner) AS owner,
       ${acl('t.typacl', 't.typowner', "'T'")} AS acl,
       obj_description(t.oid, 'pg_type') AS comment
  FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = ANY($1::text[])
   AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
   AND NOT EXISTS (SELECT 1 FROM pg_type arr WHERE arr.typarray = t.oid)`;
