import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { qualified } from '../db/quote.js';
import { UserError } from '../errors.js';
import { describeTable, type TableInfo } from '../catalog/table.js';
import { compareSides, type CompareOptions, type ComparisonReport } from './compare.js';
import { columnSide } from './side.js';

export interface TableComparison extends ComparisonReport {
  tableA: string;
  tableB: string;
  key: string[];
  columns: string[];
}

/**
 * `pgshift checksum a b`: compares two tables that share a key (a table and its copy, say),
 * on the columns they share by name unless told which.
 */
export async function compareTables(
  pool: Pool,
  nameA: string,
  nameB: string,
  opts: CompareOptions & { columns?: string[]; key?: string[] },
): Promise<TableComparison> {
  const [a, b] = await withClient(pool, async (c) => {
    const resolve = async (name: string): Promise<TableInfo> => {
      const r = await c.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::int8::text AS oid', [name]);
      const oid = r.rows[0]?.oid;
      if (!oid) throw new UserError(`table ${name} does not exist`);
      return describeTable(c, oid);
    };
    return [await resolve(nameA), await resolve(nameB)];
  });
  const key = opts.key ?? a.key.map((k) => k.name);
  if (key.length === 0) throw new UserError(`${nameA} has no primary key and no unique index over NOT NULL columns: name the key with --key`);
  const typeOf = (t: TableInfo, col: string): string => {
    const found = t.columns.find((c) => c.name === col);
    if (!found) throw new UserError(`column ${col} does not exist in ${t.schema}.${t.name}`);
    return found.type;
  };
  const shared = a.columns.map((c) => c.name).filter((n) => b.columns.some((c) => c.name === n));
  const columns = opts.columns ?? shared;
  for (const col of [...key, ...columns]) {
    typeOf(a, col);
    typeOf(b, col);
  }
  const values = [...key, ...columns.filter((c) => !key.includes(c))];
  // Both sides hash each column the same way: through text unless both types allow binary.
  const types = values.map((v) => (typeOf(a, v) === typeOf(b, v) ? typeOf(a, v) : 'text'));
  const sideA = columnSide(qualified(a.schema, a.name), key, key.map((k) => typeOf(a, k)), values, types);
  const sideB = columnSide(qualified(b.schema, b.name), key, key.map((k) => typeOf(b, k)), values, types);
  const report = await compareSides(pool, sideA, sideB, opts);
  return { ...report, tableA: `${a.schema}.${a.name}`, tableB: `${b.schema}.${b.name}`, key, columns: values };
}
