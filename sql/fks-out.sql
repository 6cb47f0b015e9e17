-- Foreign keys from the table to others: LIKE does not copy them.
SELECT conname AS name, pg_get_constraintdef(oid) AS def, obj_description(oid, 'pg_constraint') AS comment
FROM pg_constraint WHERE conrelid = $1::oid AND contype = 'f' ORDER BY oid
