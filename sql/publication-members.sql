-- (PostgreSQL 15+) How each publication lists the table: its column list and row filter, as
-- ALTER PUBLICATION ... ADD TABLE takes them after the table's name (an empty string for neither).
SELECT p.pubname AS name,
       concat(
         ' (' || (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n)
                    FROM unnest(r.prattrs::int2[]) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = r.prrelid AND a.attnum = k.attnum) || ')',
         ' WHERE (' || pg_get_expr(r.prqual, r.prrelid) || ')') AS def
FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
WHERE r.prrelid = $1::oid
ORDER BY 1
