-- TRUNCATE cannot be replayed row by row: it marks the migration so the engine stops and
-- cleans up instead of swapping in a stale table.
CREATE FUNCTION {{schema}}.{{truncate_fn}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  UPDATE pgshift.migrations SET truncated = true WHERE id = {{migration_id}};
  RETURN NULL;
END
$fn$;
