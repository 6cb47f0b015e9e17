-- Constraints that check writes but may not hold for rows the copy carries (NOT VALID checks)
-- or that must not fire while the shadow is filled (foreign keys): attached at the swap.
SELECT conname AS name, contype::text AS type, pg_get_constraintdef(oid) AS def, convalidated AS validated,
       obj_description(oid, 'pg_constraint') AS comment,
       NULLIF(confrelid, 0)::int8::text AS referenced
FROM pg_constraint
WHERE conrelid = $1::oid AND (contype = 'f' OR (contype = 'c' AND NOT convalidated))
ORDER BY oid
