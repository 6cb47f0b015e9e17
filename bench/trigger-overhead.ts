import { createPool, withTransaction } from '../src/db/session.js';
import { describeTable } from '../src/catalog/table.js';
import { createChangelog, forwardCapture, installTriggers, dropTriggersSql } from '../src/capture/install.js';
import { artifactNames } from '../src/plan/names.js';
import { ensureStateSchema, registerMigration } from '../src/state/store.js';
import { startLoad } from './load.js';

/**
 * The capture trigger's cost: the workload's maximum throughput (no pacing) without and with
 * pgshift's own capture trigger on the table, in A B B A order twice, 3 s each, from a checkpoint each.
 */
export async function measureTriggerOverhead(url: string, rows: number): Promise<{ withoutTps: number; withTps: number; overheadPct: number }> {
  const pool = createPool({ url, role: 'bench', lockTimeoutMs: 5000 });
  try {
    await ensureStateSchema(pool);
    const { origin, id } = await withTransaction(pool, async (c) => {
      const oid = (await c.query(`SELECT 'ledger'::regclass::oid::int8::text AS oid`)).rows[0].oid;
      const t = await describeTable(c, oid);
      const mid = await registerMigration(c, { tableOid: oid, schema: t.schema, table: t.name, statements: 'bench', options: {} });
      return { origin: t, id: mid };
    });
    const names = artifactNames(id);
    await withTransaction(pool, async (c) => {
      await c.query(`CREATE SCHEMA ${names.schema}; CREATE SCHEMA ${names.logSchema}`);
      await createChangelog(c, origin, forwardCapture(names), id);
    });
    const measure = async (): Promise<number> => {
      // Each window starts from a checkpoint: a checkpoint's writes landing in one window only
      // would be charged to whichever side ran then.
      await pool.query('CHECKPOINT');
      const load = await startLoad(url, { workers: 4, firstNewId: rows + 1 + Math.floor(Math.random() * 1e9), maxId: rows });
      await new Promise((r) => setTimeout(r, 3000));
      const s = await load.stop();
      return (s.latencies.length * 1000) / s.elapsedMs;
    };
    const without: number[] = [];
    const withTrigger: number[] = [];
    const install = (): Promise<void> => withTransaction(pool, (c) => installTriggers(c, origin, forwardCapture(names), id));
    const remove = (): Promise<void> =>
      withTransaction(pool, async (c) => {
        for (const sql of dropTriggersSql(origin.schema, origin.name, names)) await c.query(sql);
        await c.query(`DELETE FROM pgshift.artifacts WHERE migration_id = $1`, [id]);
      });
    // A B B A, twice: the table grows and its dead rows pile up under the load, so whichever side
    // always ran second would pay for that drift; in this order a steady drift cancels out.
    for (const side of ['without', 'with', 'with', 'without', 'without', 'with', 'with', 'without'] as const) {
      if (side === 'with') {
        await install();
        withTrigger.push(await measure());
        await remove();
      } else {
        without.push(await measure());
      }
    }
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    return { withoutTps: avg(without), withTps: avg(withTrigger), overheadPct: 100 * (1 - avg(withTrigger) / avg(without)) };
  } finally {
    await pool.end();
  }
}
