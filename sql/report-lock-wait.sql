/* pgshift report sampler */
-- The longest lock wait of the application's sessions right now (pg_locks.waitstart, 14+).
SELECT coalesce(max(extract(epoch FROM clock_timestamp() - l.waitstart)) * 1000, 0)::float8 AS ms
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE NOT l.granted AND a.datid = $1 AND a.application_name NOT LIKE 'pgshift%'
