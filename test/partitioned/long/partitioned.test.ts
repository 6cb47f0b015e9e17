import { describe, expect, it } from 'vitest';
import type { TestDatabase } from '../../support/test-db.js';
import { migrateUnderLoad, partitionedDatabase } from '../../support/partitioned.js';

/**
 * Issue 15's sustained test: the mirrored workload on a partitioned table of 1,000,000 rows
 * across 12 partitions, with key updates moving rows between partitions; table = mirror and no
 * failed transaction. `npm run test:partitioned` (PGSHIFT_LONG=1; excluded from the default run).
 */
const ROWS = 1_000_000;

describe('concurrent writes on a partitioned table of 1,000,000 rows', () => {
  let db: TestDatabase;
  let appUrl: string;
  partitionedDatabase('part_long', ROWS, (d, u) => {
    db = d;
    appUrl = u;
  }, 600_000);

  it('loses no write across 12 partitions, rows moving between partitions included', async () => {
    const t0 = performance.now();
    const run = await migrateUnderLoad(db, appUrl, ROWS);
    console.log(`[partitioned] ${ROWS} rows migrated under load in ${((performance.now() - t0) / 1000).toFixed(1)}s: ${run.during} application transactions meanwhile, ${run.movedRows} rows in the last partition`);
    expect(run.status).toBe('done');
    expect(run.stats.errors).toEqual([]);
    expect(run.stats.failures).toBe(0);
    expect(run.movedRows).toBeGreaterThan(0);
    expect(run.differences).toEqual([]);
  }, 1_800_000);
});
