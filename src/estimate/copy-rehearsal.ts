import type { Client } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { rolledBack } from '../db/rolled-back.js';
import { deriveMapping } from '../plan/mapping.js';
import type { AlterStatement, Node } from '../plan/parse.js';
import type { Plan } from '../migration/plan.js';
import { buildShadow } from '../shadow/build.js';
import { chunkBoundSql, copyRangeSql, originRows, rowsOfParent, type Tables } from '../copy/sql.js';
import { createChangelog, forwardCapture } from '../capture/install.js';
import { artifactNames, logSchemaOf } from '../plan/names.js';
import { alterSides, hashableTypes } from '../verify/alter-sides.js';
import { pageRangeChecksumSql } from '../verify/side.js';
import type { ValidationLevel } from '../verify/validate.js';
import {
  SAMPLE_CHUNK_ROWS, SAMPLE_ROWS, ms, part, rowsNow, sampleBasis, scaleOf, scratchSchema, sumOf, timed, type Estimate, type Scale,
} from './sample.js';

/** What the rehearsal of an online copy measured on its sample. */
export interface CopySample {
  scale: Scale;
  buildMs: number;
  chunks: number;
  copyMs: number;
  indexes: { name: string; ms: number }[];
  analyzeMs: number;
  /** the validation's reads of the sample, both sides */
  validateMs: number;
}

/**
 * The online copy rehearsed on the table's first rows, with the engine's own statements, in one
 * transaction rolled back: the shadow built as the run builds it (without foreign keys: adding
 * one would lock the referenced table until the rollback), the first SAMPLE_ROWS rows copied
 * by the copier's keyset chunk statements, the new table's secondary indexes built on them,
 * ANALYZE, and the validation's fingerprint of both sides of the sample.
 */
export async function rehearseCopy(c: Client, plan: Plan, validation: ValidationLevel): Promise<CopySample> {
  const { origin, flow } = plan;
  const schema = scratchSchema();
  const tableRows = await rowsNow(c, origin);
  return rolledBack(c, async () => {
    const t0 = performance.now();
    const shadow = await buildShadow(c, { origin, flow, statements: withoutForeignKeys(plan.parsed.statements), schema, foreignKeys: false, tree: plan.tree });
    // pgshift's own tables in a schema of their own beside the shadow's, as a run has them (plan/names.ts logSchema).
    const names = { ...forwardCapture(artifactNames(0)), schema: logSchemaOf(schema) };
    await c.query(`CREATE SCHEMA ${ident(names.schema)}`);
    await createChangelog(c, origin, names, 0);
    const buildMs = performance.now() - t0;
    await dropForeignSequenceDefaults(c, shadow.oid, qualified(schema, origin.name));
    const mapping = deriveMapping(flow, shadow.columns, shadow.onceDefaults, origin.key, ident, plan.transforms, origin.identity);
    const typeOf = (name: string): string => shadow.columns.find((col) => col.name === name)!.type;
    const tables: Tables = {
      origin: qualified(origin.schema, origin.name),
      ...rowsOfParent(origin),
      shadow: qualified(schema, origin.name),
      // A tree's (shadow/tree.ts): the parent's rows are rehearsed, ONLY it.
      ...(plan.tree.length ? { shadowRows: `ONLY ${qualified(schema, origin.name)}` } : {}),
      changelog: qualified(names.schema, names.changelog),
      mapping,
      shadowKeyTypes: mapping.shadowKey.map(typeOf),
    };

    let low: string[] | null = null;
    let rows = 0;
    let chunks = 0;
    let whole = false;
    const c0 = performance.now();
    while (rows < SAMPLE_ROWS) {
      const bound: { rows: unknown[] } = await c.query({ text: chunkBoundSql(tables, low !== null), values: [...(low ?? []), SAMPLE_CHUNK_ROWS], rowMode: 'array' });
      const high: string[] | null = (bound.rows[0] as string[] | undefined) ?? null;
      const r = await c.query(copyRangeSql(tables, low !== null, high !== null), [...mapping.constants, ...(low ?? []), ...(high ?? [])]);
      rows += r.rowCount ?? 0;
      chunks++;
      if (high === null) {
        whole = true;
        break;
      }
      low = high;
    }
    const copyMs = performance.now() - c0;

    const indexes: { name: string; ms: number }[] = [];
    for (const idx of shadow.indexes) indexes.push({ name: idx.name, ms: (await timed(c, idx.create)) + (idx.attach ? await timed(c, idx.attach) : 0) });
    const analyzeMs = await timed(c, `ANALYZE ${tables.shadow}`);

    // The validation reads each side by page ranges (verify/compare.ts): here the shadow's sample,
    // and as many of the table's first pages as hold as many rows.
    const sides = alterSides(tables, shadow.columns, await hashableTypes(c, shadow.columns.map((col) => col.type)));
    const pages = Number((await c.query(`SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int AS p`, [tables.origin])).rows[0].p);
    const upTo = [`(0,0)`, `(${whole ? pages + 1 : Math.max(1, Math.ceil((pages * rows) / Math.max(rows, tableRows)))},0)`];
    // basic and thorough count both sides (thorough also looks up the rows written meanwhile, which
    // a rehearsal cannot know); comprehensive fingerprints every row.
    const validateMs =
      validation !== 'comprehensive'
        ? (await timed(c, `SELECT count(*) FROM ${originRows(tables)} WHERE ctid >= $1::tid AND ctid < $2::tid`, upTo)) + (await timed(c, `SELECT count(*) FROM ${tables.shadow}`))
        : (await timed(c, pageRangeChecksumSql(sides.origin, true), [...sides.origin.params, ...upTo])) + (await timed(c, pageRangeChecksumSql(sides.shadow, false), [...sides.shadow.params, '(0,0)']));

    return { scale: scaleOf(rows, tableRows, whole), buildMs, chunks, copyMs, indexes, analyzeMs, validateMs };
  });
}

/**
 * The copy's duration from its rehearsal: the shadow's build, the chunks, the index builds,
 * ANALYZE, and the validation's two reads (one after the other: on a busy server two workers
 * rarely halve it). What runs before, the start-up and the planning, the plan adds once.
 */
export function copyEstimate(s: CopySample): Estimate {
  const { linear } = s.scale;
  const indexMs = s.indexes.reduce((t, i) => t + i.ms, 0);
  // ANALYZE reads at most 300 x default_statistics_target (100) rows, whatever the table's size.
  const analyze = Math.min(linear, 30_000 / Math.max(1, s.scale.sampleRows));
  return sumOf(
    [
      part('shadow and changelog', s.buildMs, `built once (${ms(s.buildMs)})`),
      part('copy', s.copyMs * linear, `${s.chunks} chunk(s) of up to ${SAMPLE_CHUNK_ROWS} rows by the copier's own statements: ${ms(s.copyMs)}`),
      part('index builds', indexMs * linear, s.indexes.length ? s.indexes.map((i) => `${i.name} ${ms(i.ms)}`).join(', ') : 'none to build'),
      part('ANALYZE', s.analyzeMs * Math.max(1, analyze), ms(s.analyzeMs)),
      part('validation', s.validateMs * linear, `both sides read ${ms(s.validateMs)}`),
    ],
    sampleBasis(s.scale),
  );
}

/**
 * The statements without the foreign keys they add (ADD CONSTRAINT ... FOREIGN KEY, REFERENCES
 * on an added column): the rehearsal must not lock the referenced tables.
 */
export function withoutForeignKeys(statements: AlterStatement[]): AlterStatement[] {
  const isFk = (k: Node): boolean => k?.Constraint?.contype === 'CONSTR_FOREIGN';
  return statements.flatMap((s): AlterStatement[] => {
    if (s.kind !== 'alter') return [s];
    const cmds = s.cmds
      .filter((cmd: Node) => !(cmd.subtype === 'AT_AddConstraint' && isFk(cmd.def)))
      .map((cmd: Node) => {
        if (cmd.subtype !== 'AT_AddColumn' || !cmd.def?.ColumnDef?.constraints) return cmd;
        const copy = structuredClone(cmd);
        copy.def.ColumnDef.constraints = copy.def.ColumnDef.constraints.filter((k: Node) => !isFk(k));
        return copy;
      });
    if (cmds.length === 0) return [];
    return [{ ...s, node: { ...s.node, cmds: cmds.map((cmd: Node) => ({ AlterTableCmd: cmd })) }, cmds }];
  });
}

/**
 * A column default that takes values from a sequence the scratch table does not own (a user's
 * sequence) would advance it, and a sequence is not rolled back: such defaults go first.
 */
export async function dropForeignSequenceDefaults(c: Client, oid: string, table: string): Promise<void> {
  const r = await c.query(
    `SELECT DISTINCT a.attname AS name FROM pg_attrdef d
       JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
       JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid AND dep.refclassid = 'pg_class'::regclass
       JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
      WHERE d.adrelid = $1::oid
        AND NOT EXISTS (SELECT FROM pg_depend o WHERE o.classid = 'pg_class'::regclass AND o.objid = s.oid AND o.refobjid = $1::oid AND o.deptype IN ('a', 'i'))`,
    [oid],
  );
  for (const { name } of r.rows) await c.query(`ALTER TABLE ${table} ALTER COLUMN ${ident(name)} DROP DEFAULT`);
}
