/**
 * Every advisory lock pgshift takes, in one place, as (namespace, key) pairs that never collide:
 *
 * - work (migration or backfill id): transaction-level, taken by every copy chunk, replay batch
 *   and backfill batch (and, shared, by a backfill's key-move trigger): a killed client's backend
 *   that still runs one of them holds it, so a take-over waits for it or terminates it;
 * - owner (migration or backfill id): session-level, held on a dedicated connection by the one
 *   process that runs a migration or a backfill, for as long as it runs;
 * - registry: transaction-level locks that serialise creating the state schema and registering
 *   backfill jobs; and the session-level lock of the one `pgshift migrate` runner of a database,
 *   taken by polling pg_try_advisory_lock (a runner waiting in pg_advisory_lock would deadlock
 *   against another runner's CREATE INDEX CONCURRENTLY, which waits for every transaction).
 *
 * Migration and backfill ids come from one sequence, so one id names one job.
 */
const PGSH = 0x70677368 & 0x7fffffff; // 'pgsh'

export type AdvisoryKey = [number, number];

export const WORK_NAMESPACE = PGSH;
export const OWNER_NAMESPACE = PGSH - 1;
const REGISTRY_NAMESPACE = PGSH - 2;

export const advisoryLocks = {
  work: (id: number): AdvisoryKey => [WORK_NAMESPACE, id],
  owner: (id: number): AdvisoryKey => [OWNER_NAMESPACE, id],
  stateSchema: [REGISTRY_NAMESPACE, 0] as AdvisoryKey,
  backfillRegistry: [REGISTRY_NAMESPACE, 1] as AdvisoryKey,
  migrateRunner: [REGISTRY_NAMESPACE, 2] as AdvisoryKey,
};
