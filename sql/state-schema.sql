-- pgshift's own state. Created and upgraded by pgshift (idempotent): one block per version, in order, each ending by setting pgshift.schema_version (src/state/store.ts STATE_SCHEMA_VERSION is the last).
CREATE SCHEMA IF NOT EXISTS pgshift;
CREATE TABLE IF NOT EXISTS pgshift.schema_version (version int NOT NULL);
CREATE TABLE IF NOT EXISTS pgshift.migrations (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind          text NOT NULL DEFAULT 'alter',
  table_oid     oid NOT NULL,
  table_schema  text NOT NULL,
  table_name    text NOT NULL,
  statements    text NOT NULL,
  artifact_schema text NOT NULL,
  phase         text NOT NULL,
  outcome       text,
  error         text,
  watermark     text[],
  rows_copied   bigint NOT NULL DEFAULT 0,
  rows_estimated bigint,
  truncated     boolean NOT NULL DEFAULT false,
  pid           int,
  host          text,
  backend_pids  int[] NOT NULL DEFAULT '{}',
  options       jsonb NOT NULL DEFAULT '{}',
  started_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);
-- Everything a migration created on a user's table, so cleanup finds artifacts through this
-- table and never by name pattern.
CREATE TABLE IF NOT EXISTS pgshift.artifacts (
  migration_id  bigint NOT NULL REFERENCES pgshift.migrations (id),
  kind          text NOT NULL,          -- 'schema' | 'trigger'
  schema_name   text NOT NULL,
  name          text NOT NULL,
  on_table      text,
  PRIMARY KEY (migration_id, kind, schema_name, name)
);
CREATE TABLE IF NOT EXISTS pgshift.events (
  migration_id  bigint NOT NULL REFERENCES pgshift.migrations (id),
  at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  phase         text NOT NULL,
  message       text NOT NULL,
  detail        jsonb
);
-- At most one unfinished ALTER per table (backfills, kind 'backfill', are told apart by name).
DROP INDEX IF EXISTS pgshift.migrations_one_active_per_table;
CREATE UNIQUE INDEX IF NOT EXISTS migrations_one_active_alter_per_table
  ON pgshift.migrations (table_oid) WHERE outcome IS NULL AND kind = 'alter';
-- Version 2: throttling state, written by the engine and by pause / unpause / throttle.
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS throttle_reason text;
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS paused boolean NOT NULL DEFAULT false;
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS throttled_until timestamptz;
INSERT INTO pgshift.schema_version (version)
  SELECT 1 WHERE NOT EXISTS (SELECT FROM pgshift.schema_version);
-- Version 3: named backfill jobs, and the keys a batch had to skip because the application held them.
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS name text;
CREATE UNIQUE INDEX IF NOT EXISTS backfills_one_active_per_name
  ON pgshift.migrations (name) WHERE outcome IS NULL AND kind = 'backfill';
CREATE TABLE IF NOT EXISTS pgshift.backfill_pending (
  migration_id bigint NOT NULL REFERENCES pgshift.migrations (id),
  key text[] NOT NULL
);
-- Version 4: progress figures for status, and a view to read it with SQL.
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS phase_started_at timestamptz;
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS copy_started_at timestamptz;
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS backlog bigint;
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS lag_ms float8;
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS cutover_requested boolean NOT NULL DEFAULT false;
-- What a resume needs that the catalog no longer tells: the deferred indexes and constraints,
-- the once-evaluated defaults, the fingerprint, and after the swap the constraints to validate.
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS resume_state jsonb;
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS validate_list jsonb;
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS revert_state jsonb;
ALTER TABLE pgshift.migrations ADD COLUMN IF NOT EXISTS revert_until timestamptz;
-- pgshift.status, the view to read it with SQL, is defined once, as it is now, in version 6's block:
-- this file runs whole on every upgrade, and an older definition run over a newer view would drop
-- its later columns, which PostgreSQL refuses (cannot drop columns from view), failing the upgrade.
UPDATE pgshift.schema_version SET version = 4 WHERE version < 4;
-- Version 5: backfill jobs own their key sets and a key-move trigger, and a walk that ended stays ended.
-- A backfill job is a row of pgshift.migrations with kind = 'backfill'. Its columns mean:
--   name             the job's name (--name, default schema.table); with statements, what a rerun continues
--   statements       the UPDATE the job runs, as printed by pgshift
--   table_oid, table_schema, table_name   the table it updates
--   phase            'copy' while the walk over the primary key is under way; 'catch-up' once the walk's
--                    last batch committed (in that same transaction): only pending keys are left, and no
--                    run walks again; 'done' with the outcome
--   watermark        the checkpoint: the last key of the last committed batch, as text in ISO formats,
--                    cast back with the key's own types (NULL: no batch yet)
--   rows_copied      rows updated so far (walk and retries); rows_estimated: the table's estimated rows
--   outcome          NULL while unfinished (a rerun continues it), 'done', or 'aborted' (pgshift cleanup)
--   pid, host        the process that claimed it last; the running one holds the ownership advisory lock
--   artifact_schema  pgshift_<id>: the tables pending and done_ahead (keys in their own types), progress,
--                    and the function of the trigger pgshift_backfill_<id> on the table; all registered in
--                    pgshift.artifacts, present from the job's start to its end, dropped when it is done
--   copy_started_at, started_at, updated_at, finished_at, error, paused, throttled_until, throttle_reason
--                    as for an ALTER; cutover_requested, backlog, lag_ms, resume_state, validate_list,
--                    revert_state, revert_until and truncated are not used
-- pgshift.backfill_pending (version 3) is no longer written: a rerun of a job begun before version 5
-- moves its keys into the job's pgshift_<id>.pending.
UPDATE pgshift.schema_version SET version = 5 WHERE version < 5;
-- Version 6: changes that need no copy (issue 12) are migrations too. options->>'strategy' says how
-- one ran: 'copy' (the online copy; absent in migrations started before version 6), 'instant',
-- 'online' (concurrent builds, NOT VALID + VALIDATE) or 'direct' (as written, on the table). For
-- those three, resume_state is {"units": [...], "done": n}: the units in order (a transaction of
-- statements, or one subcommand's online route) and how many have completed; phase is 'cutover'
-- while units run ('index' during a concurrent build), 'done' at the end; no artifact schema is
-- created, and a concurrent build's index (pgshift_<id>_index_<n>, in the table's schema) is
-- registered in pgshift.artifacts with kind 'index'. pgshift.status gains the strategy.
CREATE OR REPLACE VIEW pgshift.status AS
SELECT m.id, m.kind, m.name, m.table_schema || '.' || m.table_name AS "table",
       CASE WHEN m.outcome IS NOT NULL THEN m.outcome
            WHEN m.paused THEN m.phase || ' (paused)'
            WHEN m.phase = 'ready' THEN 'ready to cut over'
            ELSE m.phase END AS state,
       m.rows_copied, m.rows_estimated,
       round(least(100, 100.0 * m.rows_copied / nullif(greatest(m.rows_estimated, m.rows_copied), 0)), 1) AS progress_pct,
       round((m.rows_copied / nullif(extract(epoch FROM coalesce(m.finished_at, m.updated_at) - m.copy_started_at), 0))::numeric, 0) AS rows_per_s,
       CASE WHEN m.outcome IS NULL AND m.phase = 'copy' AND m.rows_copied > 0 AND m.rows_estimated > m.rows_copied
            THEN make_interval(secs => (m.rows_estimated - m.rows_copied)
                 / nullif(m.rows_copied / nullif(extract(epoch FROM m.updated_at - m.copy_started_at), 0), 0)) END AS eta,
       m.backlog, m.lag_ms, m.throttle_reason, m.error, m.started_at, m.updated_at, m.finished_at, m.pid, m.host,
       CASE WHEN m.kind = 'alter' THEN coalesce(m.options->>'strategy', 'copy') END AS strategy
FROM pgshift.migrations m;
UPDATE pgshift.schema_version SET version = 6 WHERE version < 6;
-- Version 7: the history of migration files (pgshift migrate). One row per file version, written
-- when the file starts (success false) and updated in the same transaction as each segment it
-- commits: steps_done counts the file's statements completed, so an interrupted file continues at
-- the first statement not done and never runs a completed one again. steps holds, per statement
-- done, its line, strategy, duration and (for an online step) the pgshift migration id.
-- step_started_at marks the start of the online step under way: after a crash, a pgshift migration
-- of that table that finished since then is that step, done. A row leaves the history when its
-- down section has run.
CREATE TABLE IF NOT EXISTS pgshift.migration_files (
  version          text PRIMARY KEY,
  name             text NOT NULL,
  checksum         text NOT NULL,
  success          boolean NOT NULL DEFAULT false,
  steps_done       int NOT NULL DEFAULT 0,
  steps            jsonb NOT NULL DEFAULT '[]',
  step_started_at  timestamptz,
  started_at       timestamptz NOT NULL DEFAULT now(),
  applied_at       timestamptz,
  duration_ms      float8,
  applied_by       text NOT NULL DEFAULT current_user
);
-- What changed the history other than running files: a baseline imported from another tool, a
-- repair (an edited applied file accepted) or a mark (a version set applied or pending by hand).
CREATE TABLE IF NOT EXISTS pgshift.migration_file_events (
  at       timestamptz NOT NULL DEFAULT now(),
  version  text NOT NULL,
  action   text NOT NULL,
  detail   text,
  by_user  text NOT NULL DEFAULT current_user
);
UPDATE pgshift.schema_version SET version = 7 WHERE version < 7;
-- Version 8: reports (issue 14). One row in pgshift.runs per command run that writes a report
-- (alter --execute, resume, backfill --execute, migrate up), written when the command ends; its
-- id is the report's (pgshift report <id>). result is the command's own report (what --json
-- prints), baseline the database's counters read at the command's start and when it first
-- changed something, server what was measurable (version, pg_stat_statements). Times are the
-- client's clock, as the progress events it samples were.
CREATE TABLE IF NOT EXISTS pgshift.runs (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  command        text NOT NULL,
  started_at     timestamptz NOT NULL,
  finished_at    timestamptz NOT NULL,
  outcome        text NOT NULL,          -- 'done' | 'failed' | 'stopped'
  exit_code      int NOT NULL,
  error          text,
  migration_ids  bigint[] NOT NULL DEFAULT '{}',
  result         jsonb,
  baseline       jsonb,
  server         jsonb
);
-- The run's samples, at most a few thousand per run (src/report/sampler.ts halves a series that
-- outgrows its bound): kind 'db' (the database's counters and gauges, every second or slower),
-- and the engine's progress events ('phase', 'rows', 'backlog', 'lag', 'throttle', 'end',
-- 'cutover', 'validation') with their migration, and 'note' (migrate up: a file begins).
CREATE TABLE IF NOT EXISTS pgshift.run_samples (
  run_id        bigint NOT NULL REFERENCES pgshift.runs (id),
  seq           int NOT NULL,            -- the order the sampler kept them in (events at one instant keep theirs)
  at            timestamptz NOT NULL,
  kind          text NOT NULL,
  migration_id  bigint,
  data          jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS run_samples_by_run ON pgshift.run_samples (run_id, seq);
UPDATE pgshift.schema_version SET version = 8 WHERE version < 8;
-- Version 9: a fleet run's record on each of its targets (issue 17; until this version created on
-- first use from its own file), written by the fleet's parent process (src/fleet/record.ts) when
-- the target starts in its wave and when its child process ends. The fleet id is a hash of the
-- command (its options and statements, or its migrations folder) and of the targets file, so the
-- same command run again finds here which targets it finished (skipped) and which it left
-- interrupted or failed (run again: alter and migrate up take over what a killed run left).
CREATE TABLE IF NOT EXISTS pgshift.fleet_targets (
  fleet_id     text NOT NULL,
  label        text NOT NULL,
  command      text NOT NULL,          -- the child's command line, without any URL
  wave         text NOT NULL,
  outcome      text,                   -- NULL while it runs (or its parent died); done | failed | refused | stopped
  exit_code    int,
  error        text,                   -- the child's last error line
  result       jsonb,                  -- the child's --json report, when it printed one
  attempts     int NOT NULL DEFAULT 1,
  pid          int,                    -- the fleet's parent process and host
  host         text,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  PRIMARY KEY (fleet_id, label)
);
UPDATE pgshift.schema_version SET version = 9 WHERE version < 9;
