import { createPool, withClient } from '../db/session.js';
import { qualified } from '../db/quote.js';
import { readMigrations } from '../migrate/files.js';
import { migratePlan, type MigrateOptions, type PlannedStatement } from '../migrate/runner.js';
import { migrateRunbook } from '../runbook/migrate.js';
import { decisionSteps, totalEstimate } from './alter-plan.js';
import { blockersNow } from './blockers.js';
import { tableSummary } from './table-summary.js';
import type { PlanModel, PlanStep, PlannedChange } from './model.js';

/**
 * `migrate up --dry-run`: the plan of every pending statement (migratePlan: its segment,
 * strategy, lock, and an estimated duration rehearsed on a sample now), with what the plan of
 * an alter has besides: the tables as they are now, what holds them up, and the runbook.
 */
export async function migratePlanModel(o: MigrateOptions, x: { startedAt: number; notes?: (planned: PlannedStatement[]) => Promise<string[]> }): Promise<PlanModel> {
  const startupSeconds = (performance.now() - x.startedAt) / 1000;
  const planned = await migratePlan(o);
  const { files } = await readMigrations(o.dir, o.layout);
  const notes = (await x.notes?.(planned)) ?? [];
  const pool = createPool({ url: o.url, role: 'migrate-plan', lockTimeoutMs: o.retry.lockTimeoutMs, maxClients: 1, readOnly: true });
  try {
    return await withClient(pool, async (c) => {
      const oids = [...new Set(planned.flatMap((p) => (p.table ? [p.table.oid] : [])))];
      const tables = [];
      for (const oid of oids) tables.push(await tableSummary(c, oid));
      const changes = planned.map(changeOf);
      const searchPath = (await c.query(`SELECT current_setting('search_path') AS p`)).rows[0].p as string;
      return {
        format: 'pgshift-plan/1',
        command: 'migrate up',
        createdAt: new Date().toISOString(),
        server: { version: (await c.query(`SELECT current_setting('server_version') AS v`)).rows[0].v },
        tables,
        changes,
        blockers: await blockersNow(c, oids),
        estimate: totalEstimate(startupSeconds, changes.filter((ch) => ch.strategy !== 'statement')),
        runbook: await migrateRunbook(c, planned, files, { lockTimeoutMs: o.retry.lockTimeoutMs, searchPath }),
        notes: planned.length ? notes : ['nothing pending', ...notes],
      };
    });
  } finally {
    await pool.end();
  }
}

function changeOf(p: PlannedStatement): PlannedChange {
  const table = p.table ? qualified(p.table.schema, p.table.name) : null;
  return {
    label: `${p.version} line ${p.line}`,
    table: p.table ? `${p.table.schema}.${p.table.name}` : null,
    sql: p.sql,
    strategy: p.strategy,
    why: p.why,
    decisions: p.decisions,
    lock: p.lock,
    hold: p.hold,
    rewrites: p.rewrites,
    steps: stepsOf(p, table),
    estimate: p.estimate,
    ...(p.unmeasured ? { unmeasured: p.unmeasured } : {}),
    disk: p.disk,
    segment: p.segment,
    details: [],
  };
}

function stepsOf(p: PlannedStatement, table: string | null): PlanStep[] {
  if (p.strategy === 'statement') return [{ name: 'as written', sql: [p.sql], lock: 'what the statement takes', on: '-', hold: 'the statement' }];
  if (p.strategy === 'backfill') return [{ name: 'backfill in batches of keys, each its own transaction', sql: [p.sql], lock: 'ROW EXCLUSIVE (row locks, one batch at a time)', on: table ?? '-', hold: 'one batch (50ms target)' }];
  if (p.strategy === 'copy') {
    return [{ name: 'the online copy (pgshift plan gives its steps and runbook)', sql: [p.sql], lock: 'ACCESS EXCLUSIVE', on: table ?? '-', hold: 'milliseconds, at the swap' }];
  }
  return decisionSteps(p.decisions, table ?? '-');
}
