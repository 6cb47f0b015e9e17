import type { Client } from '../../db/session.js';
import { partitionHomes } from '../../plan/partition-homes.js';
import { withClient } from '../../db/session.js';
import { ident, literal, qualified } from '../../db/quote.js';
import { sleep } from '../../db/retry.js';
import { sqlState } from '../../errors.js';
import { componentLog } from '../../log.js';
import type { DeferredIndex, ShadowTable } from '../../shadow/build.js';
import type { Replayer } from '../../capture/replayer.js';
import { drain } from '../../capture/drain.js';
import type { Tables } from '../../copy/sql.js';
import { cancelAutovacuum } from '../../cutover/blockers.js';
import { failpoint } from '../../failpoints.js';
import type { Run } from '../run.js';
import { finishPartitionedIndex } from '../../shadow/partitions.js';
import { chooseLanes } from './copy.js';

const log = componentLog('index-build');

/**
 * The shadow's indexes are built once it is full: one sorted build is far cheaper than
 * maintaining them row by row (bench:indexes). The row identity comes first: nothing was
 * replayed before it exists, so it meets no pending duplicate (a duplicate is the change merging
 * two keys: the migration fails, before the swap, as offline would).
 *
 * While the application writes: one at a time, without parallel workers (a build on every core
 * raised the benchmark's application p99 from 3 to 12-50 ms, one stall of 130 ms; a serial build
 * left it at 3 ms and took about 30% longer). Otherwise the identity and the plain indexes go
 * through one pool of build sessions, as many as the copy's lanes (`--max-parallel`, else
 * max_parallel_maintenance_workers: copy/lanes.ts), each build without parallel workers when
 * there are several sessions, PostgreSQL's own workers when there is one: a parallel btree build
 * merges and writes its index in its leader alone, leaving the other cores idle for that part,
 * where two builds at once keep both busy. (Non-concurrent builds of one table take SHARE, which
 * does not conflict with itself.) A unique index other than the identity is built after them, one
 * at a time: it may meet a duplicate that exists only because a change is still pending in the
 * changelog, so its build replays first (a write the other builds' SHARE lock would hold up),
 * resolving conflicts on the unique indexes already built, and retries.
 */
export async function buildIndexes(run: Run, shadow: ShadowTable, tables: Tables, replayer: Replayer): Promise<void> {
  const resolved: string[][] = [];
  const homes = partitionHomes(run.names.schema, run.plan.origin);
  const writing = await withClient(run.pool, (c) => applicationWrote(c, tables), 'index');
  const sessions = writing ? 1 : (await withClient(run.pool, (c) => chooseLanes(run, c), 'index')).lanes;
  if (writing) log.info({ migration: run.id }, 'the application is writing: building indexes one at a time without parallel workers');

  /** One index on session c: skipped when a resumed run finds it built, retried as said above. */
  const buildOne = async (c: Client, idx: DeferredIndex): Promise<void> => {
    // A resumed run finds the indexes built before the crash in place.
    // (A partition's own index is in its partition's migration schema: plan/partition-homes.ts.)
    const exists = (await c.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [qualified(homes.holding(idx), idx.name)])).rows[0].e;
    if (!exists) {
      for (let attempt = 0; ; attempt++) {
        replayer.enableUniqueResolution(resolved);
        // A unique index meets fewer pending duplicates with a short backlog; a plain one needs none,
        // and the row identity none can be replayed without.
        if (idx.unique && !idx.identity) await drain((n) => replayer.replayBatch(c, null, n), { below: run.opts.cutoverBacklog });
        try {
          await c.query(idx.create);
          break;
        } catch (err) {
          const state = sqlState(err);
          if ((state !== '23505' && state !== '55P03') || attempt >= 10 || (state === '23505' && idx.identity)) throw err;
          if (state === '55P03') {
            // Autovacuum, drawn by the freshly filled shadow, holds a lock the build conflicts
            // with and would yield to it only after deadlock_timeout: the shadow is ours to spare.
            const shadowOid = (await c.query(`SELECT $1::regclass::oid AS oid`, [tables.shadow])).rows[0].oid as string;
            const cancelled = await cancelAutovacuum(run.pool, [shadowOid]);
            log.warn({ migration: run.id, index: idx.name, attempt, cancelledAutovacuum: cancelled }, 'index build waited too long for its lock; retrying');
          } else {
            log.warn({ migration: run.id, index: idx.name, attempt }, 'unique index met a pending duplicate; replaying and retrying');
          }
          await sleep(50 * (attempt + 1));
        }
      }
    }
    if (idx.unique && idx.columns && !idx.identity) resolved.push(idx.columns);
    // A partitioned index came with one index per partition, named by PostgreSQL: their names back.
    await finishPartitionedIndex(c, run.names.schema, idx);
    // The identity's constraint, when built as its index alone, is put on it once the builds beside it are done.
    if (!exists && !idx.attach) await finished(c, idx);
  };
  const finished = async (c: Client, idx: DeferredIndex): Promise<void> => {
    await commentIndex(c, homes.holding(idx), tables, idx);
    await failpoint('mid-index', c);
  };
  /** The identity's constraint on its index (a resumed run may find it there already). */
  const attachOne = async (c: Client, idx: DeferredIndex): Promise<void> => {
    const attached = (await c.query(`SELECT EXISTS (SELECT FROM pg_constraint WHERE conindid = to_regclass($1)) AS a`, [qualified(homes.holding(idx), idx.name)])).rows[0].a;
    if (attached) return;
    await c.query(idx.attach!);
    await finished(c, idx);
  };
  /**
   * A build session: at least 256MB for the sorts in all (a server configured for more keeps its
   * own), shared by the sessions building at once, as a parallel build shares it among its workers.
   */
  const inSession = (work: (c: Client) => Promise<void>, share: number): Promise<void> =>
    withClient(run.pool, async (c) => {
      await c.query(
        `SELECT set_config('maintenance_work_mem', (greatest(pg_size_bytes(current_setting('maintenance_work_mem')), pg_size_bytes('256MB')) / $1::int / 1024)::text || 'kB', false)`,
        [share],
      );
      if (writing || share > 1) await c.query('SET max_parallel_maintenance_workers = 0');
      try {
        await work(c);
      } finally {
        await c.query('RESET maintenance_work_mem; RESET max_parallel_maintenance_workers');
      }
    }, 'index');

  // Side by side: what CREATE INDEX builds (SHARE) and needs no replay first: the identity and the
  // plain indexes. An ALTER TABLE ... ADD CONSTRAINT (ACCESS EXCLUSIVE) would wait for the others:
  // the identity in that form (a partitioned table's, or stored by an earlier version) goes alone
  // first, the other constraints' indexes (exclusion constraints) and the unique ones after.
  const beside = (i: DeferredIndex): boolean => i.create.startsWith('CREATE ') && (i.identity === true || !i.unique);
  const identityAlone = shadow.indexes.filter((i) => i.identity && !beside(i));
  const pooled = shadow.indexes.filter(beside);
  const after = shadow.indexes.filter((i) => !identityAlone.includes(i) && !pooled.includes(i));
  const serially = (list: DeferredIndex[]) => async (c: Client) => {
    for (const idx of list) await buildOne(c, idx);
  };
  if (identityAlone.length) await inSession(serially(identityAlone), 1);
  const queue = [...pooled];
  const width = Math.max(1, Math.min(sessions, pooled.length));
  await Promise.all(Array.from({ length: width }, () =>
    inSession(async (c) => {
      for (let idx = queue.shift(); idx; idx = queue.shift()) await buildOne(c, idx);
    }, width)));
  await inSession(async (c) => {
    for (const idx of pooled) if (idx.attach) await attachOne(c, idx);
    await serially(after)(c);
  }, 1);
  // From now on the replay resolves conflicts on every unique index.
  replayer.enableUniqueResolution(resolved);
}

/** Whether the application wrote to the table since the capture began (its triggers logged rows). */
async function applicationWrote(c: Client, tables: Tables): Promise<boolean> {
  const r = await c.query(`SELECT pg_stat_get_tuples_inserted($1::regclass) AS n`, [tables.changelog]);
  return Number(r.rows[0].n) > 0;
}

async function commentIndex(c: Client, schema: string, tables: Tables, idx: DeferredIndex): Promise<void> {
  for (const comment of idx.comments) {
    const on = comment.on === 'INDEX' ? `INDEX ${qualified(schema, idx.name)}` : `CONSTRAINT ${ident(idx.name)} ON ${idx.partition ? qualified(schema, idx.partition) : tables.shadow}`;
    await c.query(`COMMENT ON ${on} IS ${literal(comment.text)}`);
  }
}
