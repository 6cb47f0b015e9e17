/**
 * The table of the rewrite and estimate benchmarks: an int key, a few int/text/timestamptz
 * columns, two secondary indexes; autovacuum off so it never holds a lock the ALTER waits for.
 */
export const REWRITE_TABLE_DDL = `CREATE TABLE t (
    id int PRIMARY KEY, account_id int NOT NULL, status int NOT NULL, note text,
    created_at timestamptz NOT NULL, updated_at timestamptz
  ) WITH (autovacuum_enabled = off)`;

export const REWRITE_INDEX_DDL = ['CREATE INDEX t_account_idx ON t (account_id)', 'CREATE INDEX t_created_idx ON t (created_at)'];
