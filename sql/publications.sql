-- Publications that concern the table: FOR ALL TABLES ones and those listing it.
SELECT p.pubname AS name, p.puballtables AS all_tables
FROM pg_publication p
WHERE p.puballtables OR EXISTS (SELECT FROM pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = $1::oid)
ORDER BY 1
