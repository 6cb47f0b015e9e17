-- Records the referenced values a foreign key's parent loses (an update of them, or a delete)
-- while a migration proves the new table's foreign key: keys only, the check re-reads both
-- tables. SECURITY DEFINER with a pinned search_path: the application's role cannot write
-- pgshift's schema.
CREATE OR REPLACE FUNCTION {{fn}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  INSERT INTO {{watch}} ({{cols}}) VALUES ({{old_cols}});
  RETURN NULL;
END
$fn$;
