import type { Client } from '../db/session.js';
import type { RetryPolicy } from '../db/retry.js';
import { describeError } from '../errors.js';
import { makePlan } from '../migration/plan.js';
import { parseAlter } from '../plan/parse.js';
import type { Decision } from '../strategy/classify.js';
import type { ValidationLevel } from '../verify/validate.js';
import { copyEstimate, rehearseCopy } from './copy-rehearsal.js';
import { inPlaceEstimate, rehearseInPlace } from './in-place-rehearsal.js';
import type { Estimate } from './sample.js';
import { diskLine, inPlaceDisk } from '../dry-run/disk.js';
import type { DiskLine } from '../dry-run/model.js';

export type { Estimate, EstimatePart } from './sample.js';

export interface ChangeToEstimate {
  /** the statement(s), as the run takes them */
  sql: string;
  strategy: string;
  decisions: Decision[];
  table: { oid: string; schema: string; name: string };
  retry: RetryPolicy;
  validation: ValidationLevel;
  /** a backfill: its UPDATE, of the scratch table given */
  update?: (scratch: string) => string;
}

/**
 * One change's estimated duration, rehearsed now on a sample of its table (copy-rehearsal.ts
 * for an online copy, in-place-rehearsal.ts for the rest), never from a constant rate; or why it
 * could not be measured (the change needs what an earlier pending statement makes, a standby, ...).
 * Only dry runs call this; a run never does.
 */
export async function estimateChange(c: Client, x: ChangeToEstimate): Promise<{ estimate: Estimate | null; unmeasured?: string; disk: DiskLine | null }> {
  try {
    if (x.strategy === 'copy') {
      const plan = await makePlan(c, x.sql, x.retry);
      return { estimate: copyEstimate(await rehearseCopy(c, plan, x.validation)), disk: diskLine(plan.disk) };
    }
    const key = (
      await c.query(
        `SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
          WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.o`,
        [x.table.oid],
      )
    ).rows.map((r) => r.attname as string);
    const statements = x.strategy === 'direct' ? (await parseAlter(x.sql)).statements : [];
    const sample = await rehearseInPlace(c, { ...x.table, key }, { strategy: x.strategy, decisions: x.decisions, statements, update: x.update });
    return { estimate: inPlaceEstimate(sample), disk: await inPlaceDisk(c, x.table.oid, sample) };
  } catch (err) {
    return { estimate: null, unmeasured: `it could not be rehearsed now (${describeError(err)}); an earlier pending statement may make what it needs`, disk: null };
  }
}
