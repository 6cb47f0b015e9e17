-- Foreign keys from the table to others: LIKE does not copy them. Not those PostgreSQL keeps under
-- a key into a partitioned table, one per referenced partition (their parent is a constraint of
-- the same table): they come with that key.
SELECT con.conname AS name, pg_get_constraintdef(con.oid) AS def, obj_description(con.oid, 'pg_constraint') AS comment
FROM pg_constraint con
WHERE con.conrelid = $1::oid AND con.contype = 'f'
  AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.oid = con.conparentid AND k.conrelid = con.conrelid)
ORDER BY con.oid
