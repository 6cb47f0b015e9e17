import type { Client } from '../db/session.js';
import { ident, identList, qualified } from '../db/quote.js';
import { rolledBack } from '../db/rolled-back.js';
import { describeError } from '../errors.js';
import { deparseStatement, type AlterStatement } from '../plan/parse.js';
import { deparseIndex, type Decision, type Step } from '../strategy/classify.js';
import { foreignKeyColumns, orphanCondition } from '../verify/foreign-keys.js';
import { dropForeignSequenceDefaults, withoutForeignKeys } from './copy-rehearsal.js';
import { retarget } from './retarget.js';
import { SAMPLE_ROWS, ms, part, rowsNow, sampleBasis, scaleOf, scratchSchema, sumOf, type Estimate, type Scale } from './sample.js';

/** A change made on the table itself (instant, the online routes, direct, a backfill's UPDATE), to rehearse. */
export interface InPlaceWork {
  strategy: string;
  decisions: Decision[];
  /** direct: the statements as they run on the table */
  statements?: AlterStatement[];
  /** a backfill: its UPDATE, of the scratch table given */
  update?: (scratch: string) => string;
}

export interface StepSample {
  what: string;
  /** null: not rehearsed (why in `note`) */
  ms: number | null;
  /** how the step's time grows with the table: a scan, a rewrite or an index build in rows, a catalog change not at all */
  grows: 'rows' | 'none';
  note?: string;
}

export interface InPlaceSample {
  scale: Scale;
  steps: StepSample[];
  /** what the rehearsal wrote on the sample: a rewritten table (direct), the indexes built */
  written: { heapBytes: number; indexBytes: number };
}

export interface TableRef {
  oid: string;
  schema: string;
  name: string;
  /** key columns, for a sample of the first rows in key order (none: the first rows in the heap) */
  key: string[];
}

/**
 * The change rehearsed on a scratch copy of the table's first rows, in one transaction rolled
 * back: the copy is made LIKE the table (its indexes and checks included), the sample inserted,
 * then each step of the route runs against it as the route runs it (checks, NOT VALID + VALIDATE,
 * the index built), a direct change's statements and a backfill's UPDATE as written. A build
 * CONCURRENTLY cannot run in a transaction: it is built plainly and its second pass timed as a
 * scan. Steps that would lock another table (a foreign key's parent) are not run: their check is.
 */
export async function rehearseInPlace(c: Client, table: TableRef, work: InPlaceWork): Promise<InPlaceSample> {
  const tableRows = await rowsNow(c, table);
  const schema = scratchSchema();
  const scratch = qualified(schema, table.name);
  return rolledBack(c, async () => {
    await c.query(`CREATE SCHEMA ${ident(schema)}`);
    await c.query(`CREATE TABLE ${scratch} (LIKE ${qualified(table.schema, table.name)} INCLUDING ALL EXCLUDING STATISTICS)`);
    const scratchOid = (await c.query(`SELECT $1::regclass::oid::int8::text AS oid`, [scratch])).rows[0].oid as string;
    await dropForeignSequenceDefaults(c, scratchOid, scratch);
    const cols = (await c.query(`SELECT attname FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`, [scratchOid])).rows.map((r) => r.attname as string);
    const order = table.key.length ? ` ORDER BY ${identList(table.key)}` : '';
    const inserted = await c.query(`INSERT INTO ${scratch} (${identList(cols)}) OVERRIDING SYSTEM VALUE SELECT ${identList(cols)} FROM ${qualified(table.schema, table.name)}${order} LIMIT ${SAMPLE_ROWS}`);
    const rows = inserted.rowCount ?? 0;
    await c.query(`ANALYZE ${scratch}`);
    const steps: StepSample[] = [];
    const run = async (what: string, sql: string | null, grows: StepSample['grows'], why = 'it cannot run on a scratch copy'): Promise<void> => {
      if (sql === null) {
        steps.push({ what, ms: null, grows, note: why });
        return;
      }
      await c.query('SAVEPOINT pgshift_rehearsal');
      const t0 = performance.now();
      try {
        await c.query(sql);
        steps.push({ what, ms: performance.now() - t0, grows });
        await c.query('RELEASE SAVEPOINT pgshift_rehearsal');
      } catch (err) {
        await c.query('ROLLBACK TO SAVEPOINT pgshift_rehearsal');
        steps.push({ what, ms: null, grows, note: `not rehearsed: ${describeError(err)}` });
      }
    };
    const on = (sql: string): Promise<string | null> => retarget(sql, table, schema);

    if (work.update) await run('the UPDATE, in batches', work.update(scratch), 'rows');
    else if (work.strategy === 'direct') {
      for (const stmt of withoutForeignKeys(work.statements ?? [])) await run(firstWords(deparseStatement(stmt)), await on(deparseStatement(stmt)), 'rows');
    } else {
      for (const d of work.decisions) await rehearseRoute(c, d, { scratch, on, run });
    }
    // A guard, not a feature: the rehearsal must never have taken more than ACCESS SHARE on the table.
    const held = await c.query(`SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND relation = $1::oid AND mode <> 'AccessShareLock'`, [table.oid]);
    if (held.rowCount) throw new Error(`pgshift: the estimate's rehearsal took ${held.rows[0].mode} on ${table.schema}.${table.name}; this is a bug`);
    return { scale: scaleOf(rows, tableRows, rows < SAMPLE_ROWS), steps, written: await writtenOn(c, scratchOid, schema, work.strategy === 'direct') };
  });
}

/** A direct change rewrites the whole table (its heap and indexes, new files); a route writes the indexes it builds. */
async function writtenOn(c: Client, scratchOid: string, schema: string, rewritten: boolean): Promise<InPlaceSample['written']> {
  if (rewritten) {
    const r = (await c.query(`SELECT pg_table_size($1::oid)::float8 AS heap, pg_indexes_size($1::oid)::float8 AS idx`, [scratchOid])).rows[0];
    return { heapBytes: Number(r.heap), indexBytes: Number(r.idx) };
  }
  const r = await c.query(
    `SELECT coalesce(sum(pg_relation_size(c.oid)), 0)::float8 AS b FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname LIKE 'pgshift\\_estimate\\_index\\_%'`,
    [schema],
  );
  return { heapBytes: 0, indexBytes: Number(r.rows[0].b) };
}

interface Rehearsal {
  scratch: string;
  on: (sql: string) => Promise<string | null>;
  run: (what: string, sql: string | null, grows: StepSample['grows'], why?: string) => Promise<void>;
}

async function rehearseRoute(c: Client, d: Decision, r: Rehearsal): Promise<void> {
  // A foreign key's NOT VALID and VALIDATE lock its referenced table: its orphan check stands for both scans.
  const fk = d.route.some((s) => s.kind === 'check-foreign-key');
  for (const [n, step] of d.route.entries()) {
    const what = `${stepName(step)}: ${firstWords(d.subcommand)}`;
    switch (step.kind) {
      case 'check':
        await r.run(what, await r.on(step.sql), 'rows');
        break;
      case 'check-foreign-key': {
        const k = await foreignKeyColumns(c, step.node);
        const sql = `SELECT EXISTS (SELECT 1 FROM ${r.scratch} s WHERE ${orphanCondition('s', { ...k, matchFull: step.node.fk_matchtype === 'f' })})`;
        await r.run(what, sql, 'rows');
        await r.run(`VALIDATE (timed as the same scan): ${firstWords(d.subcommand)}`, sql, 'rows');
        break;
      }
      case 'locked':
        if (fk) await r.run(what, null, 'none', 'catalog only; not rehearsed: it locks the referenced table');
        else for (const sql of step.sql) await r.run(what, await r.on(sql), 'none');
        break;
      case 'build-index': {
        await r.run(what, await r.on(deparseIndex({ ...step.node, idxname: `pgshift_estimate_index_${n}`, concurrent: false })), 'rows');
        // CONCURRENTLY's second pass reads the whole table again (validate_index).
        await r.run(`second pass of the concurrent build: ${firstWords(d.subcommand)}`, `SELECT count(*) FROM ${r.scratch}`, 'rows');
        break;
      }
      case 'drop-index':
        await r.run(what, null, 'none', 'catalog only');
        break;
      case 'validate':
        if (!fk) await r.run(what, await r.on(step.sql), 'rows');
        break;
    }
  }
}

function stepName(step: Step): string {
  return { check: 'check', 'check-foreign-key': 'check', locked: 'catalog change', 'build-index': 'index build', 'drop-index': 'index drop', validate: 'VALIDATE' }[step.kind];
}

function firstWords(sql: string): string {
  return sql.length > 60 ? `${sql.slice(0, 57)}...` : sql;
}

/** The change's duration from its rehearsal: each step grown to the table's size. */
export function inPlaceEstimate(s: InPlaceSample): Estimate {
  const grow = (step: StepSample): number => (step.ms ?? 0) * (step.grows === 'rows' ? s.scale.linear : 1);
  return sumOf(
    s.steps.map((step) => part(step.what, grow(step), step.ms === null ? step.note ?? 'not rehearsed' : ms(step.ms))),
    `${sampleBasis(s.scale)}; plus any wait for a lock`,
  );
}
