-- Capture trigger function: appends the primary-key values of every changed row to the
-- changelog (keys only: the replay re-reads the origin). SECURITY DEFINER with a pinned
-- search_path because the application's role cannot write pgshift's schema.
CREATE FUNCTION {{schema}}.{{capture_fn}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO {{changelog}} ({{keys}}) VALUES ({{old_keys}});
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO {{changelog}} ({{keys}}) VALUES ({{new_keys}});
  ELSE
    INSERT INTO {{changelog}} ({{keys}}) VALUES ({{new_keys}});
    IF ({{old_keys}}) IS DISTINCT FROM ({{new_keys}}) THEN
      INSERT INTO {{changelog}} ({{keys}}) VALUES ({{old_keys}});
    END IF;
  END IF;
  RETURN NULL;
END
$fn$;
