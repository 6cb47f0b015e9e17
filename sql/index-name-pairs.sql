-- Pairs each index LIKE cloned onto the shadow ($2) with the origin's ($1) index it came from,
-- by structure (not by name: LIKE generates new names), so the origin's names can be restored.
WITH sig AS (
  SELECT i.indrelid, ic.relname AS name,
         concat_ws('|', am.amname, i.indkey::text, i.indclass::text, i.indoption::text, i.indcollation::text,
                   i.indisunique, i.indisprimary, i.indisexclusion, i.indnkeyatts,
                   pg_get_expr(i.indexprs, i.indrelid), pg_get_expr(i.indpred, i.indrelid)) AS signature,
         i.indexrelid
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_am am ON am.oid = ic.relam
  WHERE i.indrelid IN ($1::oid, $2::oid)
), numbered AS (
  SELECT *, row_number() OVER (PARTITION BY indrelid, signature ORDER BY indexrelid) AS n FROM sig
)
SELECT s.name AS shadow_name, o.name AS origin_name
FROM numbered s JOIN numbered o ON o.signature = s.signature AND o.n = s.n
WHERE s.indrelid = $2::oid AND o.indrelid = $1::oid AND s.name <> o.name
