import type { Pool } from '../db/session.js';
import { withClient } from '../db/session.js';
import { UserError } from '../errors.js';
import { resolveTableOid } from '../catalog/table.js';
import { parseAlter } from '../plan/parse.js';
import { readFacts } from './facts.js';
import { classify, type Classification, type ClassifyOptions } from './classify.js';

export interface StrategyPreview extends Classification {
  table: string;
  tableBytes: number;
  indexBytes: number;
  estimatedRows: number;
  serverVersion: number;
}

/**
 * What each subcommand's cheapest safe path would be (issue 12), read-only: parse, resolve the
 * table, read the catalog facts (in a transaction rolled back), classify. `alter` does not run
 * these strategies yet: every change it executes goes through the online copy.
 */
export async function previewStrategies(pool: Pool, sql: string, opts: ClassifyOptions): Promise<StrategyPreview> {
  const parsed = await parseAlter(sql);
  return withClient(pool, async (c) => {
    const oid = await resolveTableOid(c, parsed.relation.schema, parsed.relation.name);
    if (!oid) throw new UserError(`refused: table ${parsed.relation.schema ? `${parsed.relation.schema}.` : ''}${parsed.relation.name} does not exist`);
    const facts = await readFacts(c, oid, parsed.statements);
    const result = classify(parsed.statements, facts, opts);
    return {
      ...result,
      table: `${facts.table.schema}.${facts.table.name}`,
      tableBytes: facts.table.tableBytes,
      indexBytes: facts.table.indexBytes,
      estimatedRows: facts.table.estimatedRows,
      serverVersion: facts.serverVersionNum,
    };
  });
}
