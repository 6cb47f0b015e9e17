-- The runbook's TRUNCATE marker: a TRUNCATE of the table during a hand-run copy cannot be
-- replayed row by row; it is recorded, and the runbook's swap refuses to go on.
CREATE FUNCTION {{schema}}.{{truncate_fn}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  INSERT INTO {{truncated}} DEFAULT VALUES;
  RETURN NULL;
END
$fn$;
