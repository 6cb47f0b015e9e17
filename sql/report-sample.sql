/* pgshift report sampler */
-- One sample of the database for a run's report (src/report/sampler.ts): its transaction counter,
-- and the application's sessions that are active and that wait for a lock now (every pgshift
-- session left out); the statements pgshift's sessions are running now, so that the latency
-- figures leave them out.
SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datid = $1)::float8 AS xacts,
       count(*) FILTER (WHERE a.state = 'active' AND a.application_name NOT LIKE 'pgshift%')::int AS active,
       count(*) FILTER (WHERE a.wait_event_type = 'Lock' AND a.application_name NOT LIKE 'pgshift%')::int AS waiting,
       coalesce(array_agg(DISTINCT a.query_id::text) FILTER (WHERE a.application_name LIKE 'pgshift%' AND a.query_id IS NOT NULL), '{}') AS pgshift_queries
  FROM pg_stat_activity a
 WHERE a.datid = $1 AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
