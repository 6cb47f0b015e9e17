import type { Client } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { UserError } from '../errors.js';
import { resolveTableOid } from '../catalog/table.js';
import type { ParsedAlter, RelationRef } from './parse.js';

/**
 * The one table the statements change, resolved against the catalog and the search_path: every
 * table reference must name it, and every index a DROP INDEX names must belong to it. Refused
 * (exit 2): a table or index that does not exist (a DROP INDEX IF EXISTS of a missing index is
 * kept, it does nothing offline either), two tables, and an index that a constraint owns
 * (PostgreSQL refuses to drop it; the constraint is dropped with ALTER TABLE ... DROP CONSTRAINT).
 */
/** A table or index the statements name that does not exist (yet). */
export class MissingRelation extends UserError {}

export async function resolveTarget(c: Client, parsed: ParsedAlter): Promise<string> {
  let table: { oid: string; shown: string } | null = null;
  const same = (oid: string, shown: string): void => {
    if (table && table.oid !== oid) throw new UserError(`all statements must change the same table: ${shown} is another table than ${table.shown}; run one pgshift per table`);
    table ??= { oid, shown };
  };
  for (const [i, stmt] of parsed.statements.entries()) {
    const r = parsed.relations[i];
    if (r) {
      const oid = await resolveTableOid(c, r.schema, r.name);
      if (!oid) throw new MissingRelation(`refused: table ${show(r)} does not exist`);
      same(oid, show(r));
    }
    if (stmt.kind !== 'drop-index') continue;
    for (const index of stmt.indexes) {
      const found = (await c.query(
        `SELECT i.indrelid::int8::text AS table_oid, format('%s.%s', n.nspname, t.relname) AS table_name,
                (SELECT conname FROM pg_constraint WHERE conindid = i.indexrelid AND contype IN ('p', 'u', 'x') LIMIT 1) AS constraint
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
          WHERE i.indexrelid = to_regclass($1)`,
        [index.schema ? qualified(index.schema, index.name) : ident(index.name)],
      )).rows[0];
      if (!found) {
        if (stmt.node.missing_ok) continue;
        throw new MissingRelation(`refused: index ${show(index)} does not exist`);
      }
      if (found.constraint) {
        throw new UserError(`refused: index ${show(index)} belongs to constraint ${found.constraint}; drop the constraint instead (ALTER TABLE ${found.table_name} DROP CONSTRAINT ${found.constraint})`);
      }
      same(found.table_oid, found.table_name);
    }
  }
  if (!table) throw new UserError('refused: none of the indexes named exists: nothing to do');
  return (table as { oid: string }).oid;
}

function show(r: RelationRef): string {
  return r.schema ? `${r.schema}.${r.name}` : r.name;
}
