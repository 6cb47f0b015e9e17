import { qualified, type SqlText } from '../db/quote.js';

/**
 * Where each partition of a partitioned table lives during a migration. The shadow's partition
 * of `s.p` is built as `p` (its own name, so that the names PostgreSQL generates for its indexes
 * are the ones offline gives) in the migration schema of `s`, and at the swap the two change
 * places: the old `s.p` steps aside into that schema and the new one moves into `s`. Partitions
 * of the table's own schema go through the migration's schema (`pgshift_<id>`); those of every
 * other schema through a schema of their own, `pgshift_<id>_<n>`, the n-th of those schemas by
 * name. Names are unique within a schema, so no two partitions ever meet under one name (`a.p`
 * and `b.p` go through two schemas), whatever order they move in. The extra schemas are created
 * with the shadow, registered in pgshift.artifacts and dropped with the migration's.
 */
export interface PartitionHomes {
  /** the migration's schema a partition of this user schema is built in and steps aside into */
  side(userSchema: string): string;
  /** the user schema whose partitions go through this migration schema (itself when it is none) */
  user(sideSchema: string): string;
  /** the migration schemas besides the migration's own, by user schema's name */
  extra: string[];
  /** [migration schema, user schema] of every schema partitions go through, for SQL matching the two trees */
  pairs: { side: string[]; user: string[] };
  /** the migration schema holding what the shadow or one of its partitions has of its own (an index, stored with its partition's user schema) */
  holding(x: { partitionSchema?: string | undefined }): string;
  /** a partition in the migration (the shadow's before the swap, the old one after) */
  inMigration(p: PartitionRef): SqlText;
  /** a partition where the application sees it */
  live(p: PartitionRef): SqlText;
}

/** A partition named by a stored definition: its schema absent in what earlier versions stored (then the table's). */
export interface PartitionRef {
  schema?: string | undefined;
  name: string;
}

export function partitionHomes(schema: string, table: { schema: string; partitions: readonly { schema: string }[] }): PartitionHomes {
  const others = [...new Set(table.partitions.map((p) => p.schema).filter((s) => s !== table.schema))].sort();
  const side = new Map<string, string>([[table.schema, schema], ...others.map((s, i): [string, string] => [s, `${schema}_${i + 1}`])]);
  const user = new Map([...side].map(([u, s]) => [s, u]));
  const sideOf = (u: string): string => side.get(u) ?? schema;
  return {
    side: sideOf,
    user: (s) => user.get(s) ?? s,
    extra: others.map((s) => side.get(s)!),
    pairs: { side: [...side.values()], user: [...side.keys()] },
    holding: (x) => sideOf(x.partitionSchema ?? table.schema),
    inMigration: (p) => qualified(sideOf(p.schema ?? table.schema), p.name),
    live: (p) => qualified(p.schema ?? table.schema, p.name),
  };
}
