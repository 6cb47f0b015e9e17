/* pgshift report sampler */
-- pg_stat_statements' counters of the statements a report follows (showtext false: the query
-- texts file is not read). One row per role and statement.
SELECT userid::text || ':' || queryid::text AS key, queryid::text AS queryid, calls::float8 AS calls, total_exec_time::float8 AS ms
  FROM {{statements}}.pg_stat_statements(false)
 WHERE dbid = $1 AND toplevel AND queryid = ANY ($2::bigint[])
