import type pg from 'pg';

/**
 * The benchmark's table: realistic widths (bigint key, int account, numeric amount, ~40-char
 * text, ~60-byte jsonb, timestamptz) and three secondary indexes, one of them composite.
 */
export const TABLE_DDL = `
  CREATE TABLE ledger (
    id bigint PRIMARY KEY,
    account_id int NOT NULL,
    amount numeric(12, 2) NOT NULL,
    memo text,
    meta jsonb,
    created_at timestamptz NOT NULL
  );`;

export const INDEX_DDL = [
  'CREATE INDEX ledger_account_idx ON ledger (account_id)',
  'CREATE INDEX ledger_created_idx ON ledger (created_at)',
  'CREATE INDEX ledger_account_created_idx ON ledger (account_id, created_at)',
];

export async function createLedger(c: pg.Client, rows: number): Promise<void> {
  await c.query(TABLE_DDL);
  await c.query(`INSERT INTO ledger
    SELECT g, (g::bigint * 7919 % 100000)::int, (g::bigint * 13 % 100000) / 100.0,
           'memo ' || md5(g::text) || ' ' || (g % 97),
           jsonb_build_object('src', 'bench', 'seq', g, 'tag', 't' || (g % 13)),
           timestamptz '2024-01-01' + g * interval '1 second'
      FROM generate_series(1, ${Math.trunc(rows)}) g`);
  for (const sql of INDEX_DDL) await c.query(sql);
  await c.query('VACUUM ANALYZE ledger');
}
