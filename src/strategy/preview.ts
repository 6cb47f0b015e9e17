import type { Client, Pool } from '../db/session.js';
import { createPool, withClient } from '../db/session.js';
import { DEFAULTS } from '../config.js';
import { parseAlter, type ParsedAlter } from '../plan/parse.js';
import { resolveTarget } from '../plan/target.js';
import { preflightEveryStrategy } from '../plan/preflight.js';
import { describeTable } from '../catalog/table.js';
import { refuseDistributedTable } from '../catalog/citus.js';
import { qualified } from '../db/quote.js';
import { readFacts, type TableFacts } from './facts.js';
import { classify, type Classification, type ClassifyOptions } from './classify.js';

export interface StrategyPreview extends Classification {
  table: string;
  tableBytes: number;
  indexBytes: number;
  estimatedRows: number;
  serverVersion: number;
}

export interface Decided {
  parsed: ParsedAlter;
  facts: TableFacts;
  classification: Classification;
}

/**
 * Every subcommand's cheapest safe path: parse, resolve the one table, read the catalog facts
 * (in a transaction rolled back), classify. Read-only; `plan` prints it, `alter` follows it.
 * Call it outside a transaction, on the session that will run the change (TimeZone matters).
 */
export async function decide(c: Client, sql: string, opts: ClassifyOptions & { inTransaction?: boolean }): Promise<Decided> {
  const parsed = await parseAlter(sql);
  const oid = await resolveTarget(c, parsed);
  const table = await describeTable(c, oid);
  await refuseDistributedTable(c, qualified(table.schema, table.name), `${table.schema}.${table.name}`);
  await preflightEveryStrategy(c, table);
  const facts = await readFacts(c, oid, parsed.statements, { inTransaction: opts.inTransaction });
  return { parsed, facts, classification: classify(parsed.statements, facts, opts) };
}

export function summarize(d: Decided): StrategyPreview {
  const { facts } = d;
  return {
    ...d.classification,
    table: `${facts.table.schema}.${facts.table.name}`,
    tableBytes: facts.table.tableBytes,
    indexBytes: facts.table.indexBytes,
    estimatedRows: facts.table.estimatedRows,
    serverVersion: facts.serverVersionNum,
  };
}

export async function previewStrategies(pool: Pool, sql: string, opts: ClassifyOptions): Promise<StrategyPreview> {
  return withClient(pool, async (c) => summarize(await decide(c, sql, opts)));
}

/** The decisions as a DBA reads them: per subcommand its strategy and why, lock and hold, and its SQL steps. */
export function describeStrategies(p: StrategyPreview): string[] {
  const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MB`;
  const lines = [`table ${p.table}: ~${p.estimatedRows} rows, ${mb(p.tableBytes)} + ${mb(p.indexBytes)} of indexes (server ${p.serverVersion})`];
  for (const d of p.decisions) {
    lines.push(`  ${d.subcommand}`);
    lines.push(`    strategy ${d.strategy}: ${d.why}`);
    lines.push(`    lock ${d.lock}, held: ${d.hold}; rewrites the table: ${d.rewrites ? 'yes' : 'no'}; scans it: ${d.scans ? 'yes' : 'no'}`);
    for (const step of d.steps) lines.push(`    step: ${step}`);
  }
  lines.push(`overall: ${p.overall.strategy}: ${p.overall.why}`);
  return lines;
}

/**
 * The library's `plan`: what `pgshift plan` prints, as data. Read-only (a read-only session;
 * the facts' probe lives in a transaction rolled back).
 */
export async function plan(o: { url?: string; statements: string } & Partial<ClassifyOptions>): Promise<StrategyPreview> {
  const pool = createPool({ url: o.url, role: 'plan', lockTimeoutMs: 1000, maxClients: 1, readOnly: true });
  try {
    return await previewStrategies(pool, o.statements, {
      strategy: o.strategy ?? DEFAULTS.strategy,
      copyThresholdBytes: o.copyThresholdBytes ?? DEFAULTS.copyThresholdBytes,
      downtimeAllowed: o.downtimeAllowed ?? false,
      copyOnlyOptions: o.copyOnlyOptions ?? [],
    });
  } finally {
    await pool.end();
  }
}
