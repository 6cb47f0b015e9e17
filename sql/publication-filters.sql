-- (PostgreSQL 15+) publications that list the table with a row filter or a column list,
-- which the swap does not reproduce.
SELECT p.pubname AS name
FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
WHERE r.prrelid = $1::oid AND (r.prqual IS NOT NULL OR r.prattrs IS NOT NULL)
ORDER BY 1
