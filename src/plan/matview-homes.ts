/**
 * Where a materialized view over the table is rebuilt before the cutover: in a migration schema
 * of its own user schema's, `pgshift_<id>_m<oid>` (the user schema's OID), never beside the new
 * table. The rebuild is built there under its own name, with its indexes under theirs, and the
 * cutover moves it into its user schema (SET SCHEMA takes the indexes along). Names are unique
 * within a schema, so nothing meets in a home: not two matviews of one name from two schemas,
 * not two of their indexes, and nothing of the new table or its partitions, which are in schemas
 * of their own (plan/partition-homes.ts). An extended statistics object of a rebuild goes through
 * the home of its own schema (it may be another than its matview's), where statistics names are
 * as unique as in that schema.
 *
 * Keyed by the schema's OID rather than numbered like the partitions' homes: the partitions
 * cannot change during a migration (attaching or detaching one stops it), so their numbering is
 * the same on every resume; materialized views can be created and dropped in any schema while it
 * runs, and a numbering by name would then shift under a resume or a revert. The OID stays the
 * same when a schema is renamed. Created by the rebuild when missing, registered in
 * pgshift.artifacts (migration/artifacts.ts drops them with the migration's other schemas).
 */
export function matviewHome(migrationSchema: string, userSchemaOid: string): string {
  if (!/^\d+$/.test(userSchemaOid)) throw new Error(`not a schema OID: ${userSchemaOid}`);
  return `${migrationSchema}_m${userSchemaOid}`;
}
