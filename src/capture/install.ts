import type { Client } from '../db/session.js';
import { ident, qualified, trusted } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import type { TableInfo } from '../catalog/table.js';
import type { ArtifactNames } from '../plan/names.js';

/** One capture: a changelog, its two functions (both in `schema`, pgshift's own: plan/names.ts logSchema) and the two triggers that feed it. */
export interface CaptureNames {
  schema: string;
  changelog: string;
  captureFunction: string;
  truncateFunction: string;
  captureTrigger: string;
  truncateTrigger: string;
}

export function forwardCapture(names: ArtifactNames): CaptureNames {
  return {
    schema: names.logSchema, changelog: names.changelog, captureFunction: 'pgshift_capture', truncateFunction: 'pgshift_truncated',
    captureTrigger: names.captureTrigger, truncateTrigger: names.truncateTrigger,
  };
}

/** The revert window's capture, on the new table: the same, in the other direction. */
export function reverseCapture(names: ArtifactNames): CaptureNames {
  return {
    schema: names.logSchema, changelog: names.reverseChangelog, captureFunction: 'pgshift_reverse_capture', truncateFunction: 'pgshift_reverse_truncated',
    captureTrigger: names.reverseTrigger, truncateTrigger: names.reverseTruncateTrigger,
  };
}

/**
 * The n-th relation's own capture (1-based) beside `base`, for a tree whose relations each have
 * theirs (shadow/tree.ts: a row trigger on a parent does not fire for its children's rows): its
 * own changelog, functions and triggers, each recorded in pgshift.artifacts under its name.
 */
export function nthCapture(base: CaptureNames, n: number): CaptureNames {
  return {
    schema: base.schema, changelog: `${base.changelog}_${n}`, captureFunction: `${base.captureFunction}_${n}`, truncateFunction: `${base.truncateFunction}_${n}`,
    captureTrigger: `${base.captureTrigger}_r${n}`, truncateTrigger: `${base.truncateTrigger}_r${n}`,
  };
}

type Keyed = Pick<TableInfo, 'schema' | 'name' | 'key'> & { partitions?: Pick<TableInfo['partitions'][number], 'schema' | 'name'>[] };

/**
 * The changelog holds keys only, in columns of the key's own types and collations (never text:
 * '10' < '9'). No primary key and no index: the capture trigger's insert is the hot path, and
 * the replay takes entries by ctid.
 */
export async function createChangelog(c: Client, origin: Keyed, names: CaptureNames, migrationId: number): Promise<void> {
  await c.query(changelogSql(origin, names));
  await c.query(captureFunctionSql(origin, names));
  await c.query(
    sqlFile('truncate-function.sql', {
      schema: ident(names.schema),
      truncate_fn: ident(names.truncateFunction),
      migration_id: trusted(String(Math.trunc(migrationId))),
    }),
  );
}

/**
 * Vacuumed often (its rows are deleted as fast as they are replayed), and never truncated by the
 * vacuum: truncating the empty end of a table takes ACCESS EXCLUSIVE on it, and every write to
 * the origin inserts into it through the capture trigger, so each would wait while the vacuum
 * holds it (up to its 20 ms check for waiters, and the truncation itself).
 */
export function changelogSql(origin: Keyed, names: CaptureNames): string {
  const cols = origin.key.map((k) => `${ident(k.name)} ${k.type}${k.collation ? ` COLLATE ${k.collation}` : ''} NOT NULL`);
  return `CREATE TABLE ${qualified(names.schema, names.changelog)} (${cols.join(', ')}) WITH (autovacuum_vacuum_scale_factor = 0.01, vacuum_truncate = false)`;
}

/** The capture trigger's function: the changed row's key (both keys when an UPDATE moves it) into the changelog. */
export function captureFunctionSql(origin: Keyed, names: CaptureNames): string {
  const keys = origin.key.map((k) => ident(k.name));
  return sqlFile('capture-function.sql', {
    schema: ident(names.schema),
    capture_fn: ident(names.captureFunction),
    changelog: qualified(names.schema, names.changelog),
    keys: trusted(keys.join(', ')),
    old_keys: trusted(keys.map((k) => `OLD.${k}`).join(', ')),
    new_keys: trusted(keys.map((k) => `NEW.${k}`).join(', ')),
  });
}

/**
 * Capture first, copy after: CREATE TRIGGER waits for in-flight writers, and from its commit on
 * every write is visible to later copy snapshots, in the changelog, or both. ENABLE ALWAYS so a
 * session with session_replication_role = replica is captured too.
 */
export async function installTriggers(c: Client, origin: Keyed, names: CaptureNames, migrationId: number): Promise<void> {
  for (const sql of triggersSql(origin, names)) await c.query(sql);
  const record = async (trigger: string, schema: string, table: string): Promise<void> => {
    await c.query(
      `INSERT INTO pgshift.artifacts (migration_id, kind, schema_name, name, on_table) VALUES ($1, 'trigger', $2, $3, $4)`,
      [migrationId, schema, trigger, table],
    );
  };
  for (const trigger of [names.captureTrigger, names.truncateTrigger]) await record(trigger, origin.schema, origin.name);
  for (const [i, p] of (origin.partitions ?? []).entries()) await record(partitionTruncateTrigger(names, i), p.schema, p.name);
}

/**
 * The capture's two triggers on the table, ENABLE ALWAYS. On a partitioned table the row
 * trigger is the root's: PostgreSQL clones it onto every partition (and onto one attached
 * later), and a row moved between partitions fires DELETE on one and INSERT on the other, both
 * keys logged. A statement trigger is not cloned, and a partition can be truncated alone: each
 * partition gets a truncate trigger of its own too, in whatever schema it is.
 */
export function triggersSql(origin: Pick<Keyed, 'schema' | 'name' | 'partitions'>, names: CaptureNames): string[] {
  const table = qualified(origin.schema, origin.name);
  const truncate = (on: string, trigger: string): string[] => [
    `CREATE TRIGGER ${ident(trigger)} AFTER TRUNCATE ON ${on}` +
      ` FOR EACH STATEMENT EXECUTE FUNCTION ${qualified(names.schema, names.truncateFunction)}()`,
    `ALTER TABLE ${on} ENABLE ALWAYS TRIGGER ${ident(trigger)}`,
  ];
  return [
    `CREATE TRIGGER ${ident(names.captureTrigger)} AFTER INSERT OR UPDATE OR DELETE ON ${table}` +
      ` FOR EACH ROW EXECUTE FUNCTION ${qualified(names.schema, names.captureFunction)}()`,
    `ALTER TABLE ${table} ENABLE ALWAYS TRIGGER ${ident(names.captureTrigger)}`,
    `CREATE TRIGGER ${ident(names.truncateTrigger)} AFTER TRUNCATE ON ${table}` +
      ` FOR EACH STATEMENT EXECUTE FUNCTION ${qualified(names.schema, names.truncateFunction)}()`,
    `ALTER TABLE ${table} ENABLE ALWAYS TRIGGER ${ident(names.truncateTrigger)}`,
    ...(origin.partitions ?? []).flatMap((p, i) => truncate(qualified(p.schema, p.name), partitionTruncateTrigger(names, i))),
  ];
}

/** Removes the capture triggers (and the partitions' truncate triggers); used by the swap and by cleanup. */
export function dropTriggersSql(schema: string, table: string, names: Pick<CaptureNames, 'captureTrigger' | 'truncateTrigger'>, partitions: { schema: string; name: string }[] = []): string[] {
  return [
    ...[names.captureTrigger, names.truncateTrigger].map((t) => `DROP TRIGGER IF EXISTS ${ident(t)} ON ${qualified(schema, table)}`),
    ...partitions.map((p, i) => `DROP TRIGGER IF EXISTS ${ident(partitionTruncateTrigger(names, i))} ON ${qualified(p.schema, p.name)}`),
  ];
}

/**
 * The truncate trigger of the i-th partition (in the order of TableInfo.partitions): a name of
 * its own, so each is recorded in pgshift.artifacts and cleanup finds it there, even on a table
 * detached from the tree since.
 */
export function partitionTruncateTrigger(names: Pick<CaptureNames, 'truncateTrigger'>, i: number): string {
  return `${names.truncateTrigger}_${i}`;
}
