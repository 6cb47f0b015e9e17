-- The GRANT/REVOKE entries that give a re-created routine ($2) the privileges of the one it
-- replaces ($1): compared as (grantee, privilege, grantable), defaults expanded (EXECUTE to
-- PUBLIC unless revoked), so the default privileges a CREATE applied are undone or kept as needed.
WITH o AS (SELECT e.* FROM pg_proc p, aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) e WHERE p.oid = $1::oid),
     n AS (SELECT e.* FROM pg_proc p, aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) e WHERE p.oid = $2::oid)
SELECT 'revoke' AS action, CASE WHEN n.grantee = 0 THEN 'PUBLIC' END AS public, pg_get_userbyid(n.grantee) AS grantee,
       n.privilege_type AS privilege, false AS grantable
FROM n WHERE NOT EXISTS (SELECT FROM o WHERE o.grantee = n.grantee AND o.privilege_type = n.privilege_type AND o.is_grantable = n.is_grantable)
UNION ALL
SELECT 'grant', CASE WHEN o.grantee = 0 THEN 'PUBLIC' END, pg_get_userbyid(o.grantee), o.privilege_type, o.is_grantable
FROM o WHERE NOT EXISTS (SELECT FROM n WHERE n.grantee = o.grantee AND n.privilege_type = o.privilege_type AND n.is_grantable = o.is_grantable)
ORDER BY 1 DESC, 3, 4
