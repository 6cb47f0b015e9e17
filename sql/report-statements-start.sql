/* pgshift report sampler */
-- The application's statements at a run's start: every top-level statement of this database that
-- has run and does not name pgshift (its own statements and schemas all do).
SELECT userid::text || ':' || queryid::text AS key, queryid::text AS queryid, calls::float8 AS calls, total_exec_time::float8 AS ms
  FROM {{statements}}.pg_stat_statements(true)
 WHERE dbid = $1 AND toplevel AND queryid IS NOT NULL AND calls > 0 AND query NOT LIKE '%pgshift%'
