-- A fleet run's record on each of its targets (issue 17), written by the fleet's parent process
-- (src/fleet/record.ts) when the target starts in its wave and when its child process ends. The
-- fleet id is a hash of the command (its options and statements, or its migrations folder) and
-- of the targets file, so the same command run again finds here which targets it finished
-- (skipped) and which it left interrupted or failed (run again: alter and migrate up take over
-- what a killed run left). Created on first use, after the state schema (ensureStateSchema):
-- idempotent, and only when missing, so a current database takes no lock for it.
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
