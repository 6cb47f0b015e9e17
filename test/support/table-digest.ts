// Row-level half of the differential oracle: two tables are equal when their rows, read in key
// order, hash the same. Computed in SQL so a large table never crosses the wire; tableRows() is
// the readable companion for small tables, where a failing test should show the rows.
import pg from 'pg';

type Queryable = pg.ClientBase | pg.Pool;

export interface TableDigestOptions {
  /** Columns (unquoted names) that order the rows; normally the primary key. */
  orderBy: string[];
  /**
   * Columns whose values are themselves nondeterministic between the two runs being compared
   * (now(), random(), gen_random_uuid() defaults): only whether they are NULL is hashed.
   */
  nullnessOnly?: string[];
}

export interface TableDigest {
  rows: number;
  md5: string;
}

export async function tableDigest(
  client: Queryable,
  qualifiedTable: string,
  opts: TableDigestOptions,
): Promise<TableDigest> {
  const table = quoteQualified(qualifiedTable);
  const columns = await columnNames(client, table);
  const nullness = new Set(opts.nullnessOnly ?? []);
  for (const name of nullness) {
    if (!columns.includes(name)) throw new Error(`tableDigest: no column ${name} in ${qualifiedTable}`);
  }
  const items = columns.map((name) =>
    nullness.has(name) ? `(${quote(name)} IS NULL)` : quote(name),
  );
  // Row text keeps NULL and '' apart: ROW(NULL, '')::text is (,""). Hashing each row first and
  // then the list of hashes keeps the aggregate at 32 bytes a row, far below the 1 GB text limit
  // a plain string_agg of the rows would hit on a big table.
  const res = await client.query<{ rows: string; md5: string }>(
    `SELECT count(*)::text AS rows,
            md5(COALESCE(string_agg(md5(ROW(${items.join(', ')})::text), '' ORDER BY ${orderList(opts.orderBy)}), '')) AS md5
       FROM ${table}`,
  );
  const row = res.rows[0];
  if (row === undefined) throw new Error('tableDigest: aggregate returned no row');
  return { rows: Number(row.rows), md5: row.md5 };
}

/** Every column as text (NULL stays null), rows in `orderBy` order. For small tables only. */
export async function tableRows(
  client: Queryable,
  qualifiedTable: string,
  orderBy: string[],
): Promise<Record<string, string | null>[]> {
  const table = quoteQualified(qualifiedTable);
  const columns = await columnNames(client, table);
  const list = columns.map((name) => `${quote(name)}::text AS ${quote(name)}`).join(', ');
  const res = await client.query<Record<string, string | null>>(
    `SELECT ${list} FROM ${table} ORDER BY ${orderList(orderBy)}`,
  );
  return res.rows;
}

// Live columns in table order; dropped columns leave holes in attnum that must not show.
async function columnNames(client: Queryable, quotedTable: string): Promise<string[]> {
  const res = await client.query<{ attname: string }>(
    `SELECT attname FROM pg_catalog.pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
      ORDER BY attnum`,
    [quotedTable],
  );
  return res.rows.map((r) => r.attname);
}

function orderList(orderBy: string[]): string {
  if (orderBy.length === 0) throw new Error('orderBy must name at least one column');
  return orderBy.map(quote).join(', ');
}

// "schema.table" or "table", unquoted. Names containing a dot are not supported: tests pick
// their own names.
function quoteQualified(qualified: string): string {
  return qualified.split('.').map(quote).join('.');
}

function quote(name: string): string {
  return pg.escapeIdentifier(name);
}
