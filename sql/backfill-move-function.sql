-- A backfill's key-move trigger function: the application changed a row's primary key while
-- the backfill job {{job_id}} walks the key. The row must still be updated exactly once, so its
-- standing travels with it: a row already updated that lands where the walk has not been yet is
-- recorded "done ahead" (the walk skips it); a row not updated yet that lands where the walk has
-- been is recorded "pending" (the retry of pending keys updates it); a pending or done-ahead
-- entry moves from the old key to the new one.
--
-- The decision reads the committed checkpoint and phase under the job's advisory lock, taken in
-- SHARE mode: it waits for a batch in flight (a batch never waits for the application: it skips
-- locked rows) and keeps the next batch out until this transaction ends, so what it decided is
-- still true when it commits. Key movers do not wait for each other.
-- A REPEATABLE READ or SERIALIZABLE transaction reads with a snapshot that may predate the last
-- batch: locking the progress row, which every batch rewrites, then fails with a serialization
-- error (40001) instead of deciding from a stale checkpoint.
-- Keys are compared in their own types and collations; the checkpoint is cast back from text with
-- the text formats pinned below (the backfill writes it in the same formats).
CREATE OR REPLACE FUNCTION {{schema}}.{{function}}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET "DateStyle" = 'ISO, MDY' SET "IntervalStyle" = 'postgres' SET extra_float_digits = 3
AS $fn$
DECLARE
  pgshift_phase text;
  pgshift_checkpoint text[];
  pgshift_walked boolean;
  pgshift_was_done boolean;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock_shared({{namespace}}, {{job_id}});
  IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
    PERFORM FROM {{progress}} FOR SHARE;
  END IF;
  SELECT m.phase, m.watermark INTO pgshift_phase, pgshift_checkpoint FROM pgshift.migrations m WHERE m.id = {{job_id}};
  -- 'copy': the walk is under way up to the checkpoint; after it, the walk has covered every key.
  pgshift_walked := pgshift_phase IS DISTINCT FROM 'copy';

  pgshift_was_done := EXISTS (SELECT FROM {{done_ahead}} d WHERE {{d_key}} = {{old_key}})
    OR ((pgshift_walked OR (pgshift_checkpoint IS NOT NULL AND {{old_key}} <= {{checkpoint}}))
        AND NOT EXISTS (SELECT FROM {{pending}} p WHERE {{p_key}} = {{old_key}}));
  DELETE FROM {{pending}} p WHERE {{p_key}} = {{old_key}};
  DELETE FROM {{done_ahead}} d WHERE {{d_key}} = {{old_key}};

  IF pgshift_walked OR (pgshift_checkpoint IS NOT NULL AND {{new_key}} <= {{checkpoint}}) THEN
    -- The walk has passed the new key: only the retry of pending keys can still reach it.
    IF pgshift_was_done THEN
      DELETE FROM {{pending}} p WHERE {{p_key}} = {{new_key}};
    ELSE
      INSERT INTO {{pending}} ({{keys}}) VALUES ({{new_values}}) ON CONFLICT DO NOTHING;
    END IF;
  ELSE
    -- The walk will come to the new key.
    IF pgshift_was_done THEN
      INSERT INTO {{done_ahead}} ({{keys}}) VALUES ({{new_values}}) ON CONFLICT DO NOTHING;
    ELSE
      DELETE FROM {{done_ahead}} d WHERE {{d_key}} = {{new_key}};
    END IF;
  END IF;
  RETURN NULL;
END
$fn$;
