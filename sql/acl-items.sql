-- A table's or its columns' ACL as (column, grantee, privilege, grantable) rows, with the
-- owner's own missing defaults listed as revoked so the new table's ACL ends up identical.
WITH rel AS (SELECT oid, relowner, relacl FROM pg_class WHERE oid = $1::oid)
SELECT NULL::text AS column_name,
       CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(e.grantee) END AS grantee,
       e.grantee = 0 AS is_public, e.privilege_type AS privilege, e.is_grantable AS grantable, false AS revoke
FROM rel, aclexplode(rel.relacl) e
WHERE e.grantee <> rel.relowner
UNION ALL
SELECT NULL, pg_get_userbyid(rel.relowner), false, d.privilege_type, false, true
FROM rel, aclexplode(acldefault('r', rel.relowner)) d
WHERE rel.relacl IS NOT NULL
  AND NOT EXISTS (SELECT FROM aclexplode(rel.relacl) e
                  WHERE e.grantee = rel.relowner AND e.privilege_type = d.privilege_type)
UNION ALL
SELECT a.attname,
       CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(e.grantee) END,
       e.grantee = 0, e.privilege_type, e.is_grantable, false
FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped,
     aclexplode(a.attacl) e
ORDER BY 1 NULLS FIRST, 2, 4
