// The differential oracle (DESIGN.md section 5) on random input (issue 11): a random table
// (table-model.ts) and a random ALTER (alter-model.ts) are run offline on database A and online
// (pgshift, --execute --drop-old) on an identical clone B. Exactly one of these must hold:
//   (a) both succeed, and the catalogs and the rows are equal (columns whose offline values are
//       nondeterministic compared for nullness only);
//   (b) offline fails, and pgshift fails with exit code 1 or 2, leaving B as it was;
//   (c) pgshift refuses (exit code 2, README "Refused, and why"), leaving B as it was.
// "As it was": B's catalog and rows equal A's before the ALTER, with no pgshift_<id> schema and
// no pgshift trigger left. Anything else is a counterexample, which fast-check shrinks to a
// small table and ALTER, printed as SQL.
//
// PGSHIFT_PROPERTY_RUNS (default below) and PGSHIFT_PROPERTY_SEED (default fixed, or "random")
// choose the runs; PGSHIFT_PROPERTY_PATH replays one shrunk counterexample with its seed.
import { randomInt } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffSnapshots, snapshotCatalog, type CatalogSnapshot } from '../support/catalog-snapshot.js';
import { tableDigest, type TableDigest } from '../support/table-digest.js';
import { cloneDatabase, createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { alterArb, renderAlter, type AlterOp, type RenderedAlter } from './alter-model.js';
import { buildTable, q, tableArb, type BuiltTable, type TableSpec } from './table-model.js';

// The engine's logger reads its level when it is first imported: quiet it before that.
process.env.PGSHIFT_LOG_LEVEL ??= 'silent';
const { alterOptions, onlineAlter, PgshiftError } = await import('../../src/index.js');

// 2-4 s a run on 2 shared cores (most of it CREATE DATABASE and the online run): the default
// keeps this file under a minute in `npm test`.
const DEFAULT_RUNS = 15;
const DEFAULT_SEED = 20_240_611;
// A run is two database creations, two ALTERs and three snapshots; far above that means a hang.
const RUN_TIMEOUT_MS = 60_000;

const RUNS = positiveInt('PGSHIFT_PROPERTY_RUNS', DEFAULT_RUNS);
const SEED = seedFromEnv();
const PATH = process.env.PGSHIFT_PROPERTY_PATH || undefined;

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${raw}`);
  return n;
}

function seedFromEnv(): number {
  const raw = process.env.PGSHIFT_PROPERTY_SEED;
  if (raw === undefined || raw === '') return DEFAULT_SEED;
  if (raw === 'random') return randomInt(2 ** 31 - 1);
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`PGSHIFT_PROPERTY_SEED must be an integer or "random", not ${raw}`);
  return n;
}

interface Case {
  table: TableSpec;
  ops: AlterOp[];
  built: BuiltTable;
  alter: RenderedAlter;
}

// A counterexample prints as the SQL that reproduces it, not as the model's numbers.
const caseArb: fc.Arbitrary<Case> = fc.record({ table: tableArb, ops: alterArb }).map(({ table, ops }) => {
  const built = buildTable(table);
  const alter = renderAlter(built, ops);
  return {
    table,
    ops,
    built,
    alter,
    [fc.toStringMethod]: () => `\n-- setup\n${built.sql}\n-- alter\n${alter.sql};\n-- nullness only: ${JSON.stringify(alter.nullnessOnly)}\n`,
  };
});

type Outcome = 'both succeeded' | 'both failed' | 'refused online';

interface Result {
  outcome: Outcome;
  /** pgshift's message when it failed or refused (names and values cut out, to tally) */
  reason?: string;
}

interface Observed {
  catalog: CatalogSnapshot;
  digest: TableDigest;
  /** pgshift_<id> schemas and pgshift triggers: none may outlive a run */
  leftovers: string[];
}

async function observe(db: TestDatabase, table: string, nullnessOnly: string[]): Promise<Observed> {
  const regclass = `${q('public')}.${q(table)}`;
  const cols = await db.query(
    `SELECT attname::text AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [regclass],
  );
  const names = cols.rows.map((r: { name: string }) => r.name);
  const key = await db.query(
    `SELECT a.attname::text AS name
       FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY k.ord`,
    [regclass],
  );
  // Without a key (dropped offline) all columns order the rows.
  const orderBy = key.rows.length > 0 ? key.rows.map((r: { name: string }) => r.name) : names;
  const leftovers = await db.query(
    `SELECT 'schema ' || nspname AS what FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'
     UNION ALL
     SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND NOT t.tgisinternal`,
  );
  return {
    catalog: await snapshotCatalog(db.pool, ['public']),
    digest: await tableDigest(db.pool, `public.${table}`, { orderBy, nullnessOnly: nullnessOnly.filter((n) => names.includes(n)) }),
    leftovers: leftovers.rows.map((r: { what: string }) => r.what),
  };
}

function describeError(err: unknown): string {
  if (err instanceof PgshiftError) return `${err.name} (exit ${err.exitCode}): ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
  return message.replace(/"(?:[^"]|"")*"/g, '"…"').replace(/\(SQLSTATE \w+\)/, '').slice(0, 100);
}

/** Differences between two observations, one per line; empty when a user could not tell them apart. */
function differences(a: Observed, b: Observed): string[] {
  const lines = diffSnapshots(a.catalog, b.catalog);
  if (JSON.stringify(a.digest) !== JSON.stringify(b.digest)) lines.push(`rows: ${JSON.stringify(a.digest)} -> ${JSON.stringify(b.digest)}`);
  return lines;
}

async function runCase(c: Case): Promise<Result> {
  const dbs: TestDatabase[] = [];
  const track = (db: TestDatabase): TestDatabase => {
    dbs.push(db);
    return db;
  };
  let failed = false;
  try {
    const a = track(await createTestDatabase('prop_a'));
    await a.query(c.built.sql).catch((err: unknown) => {
      throw new Error(`the generated setup failed (a bug of the generator): ${describeError(err)}`);
    });
    const b = track(await cloneDatabase(a, 'prop_b'));
    const before = await observe(a, c.built.name, []);

    const offlineError: unknown = await a.query(c.alter.sql).then(
      () => null,
      (err: unknown) => err,
    );
    const online = await onlineAlter(
      alterOptions({ strategy: 'copy', url: b.url, statements: c.alter.sql, execute: true, dropOld: true }),
    ).then(
      (report) => ({ report, error: null }),
      (error: unknown) => ({ report: null, error }),
    );
    const onlineError = online.error;
    const exitCode = onlineError instanceof PgshiftError ? onlineError.exitCode : null;
    const story = [
      `offline: ${offlineError === null ? 'succeeded' : describeError(offlineError)}`,
      `online: ${onlineError === null ? `succeeded (${online.report?.status})` : describeError(onlineError)}`,
    ];
    const fail = (what: string, lines: string[] = []): never => {
      throw new Error([what, ...story, ...lines].join('\n'));
    };

    if (offlineError === null && onlineError === null) {
      if (online.report?.status !== 'done') fail('online did not finish');
      const [oa, ob] = [await observe(a, c.built.name, c.alter.nullnessOnly), await observe(b, c.built.name, c.alter.nullnessOnly)];
      const diff = differences(oa, ob);
      if (diff.length > 0) fail('(a) both succeeded but the results differ (a = offline, b = online)', diff);
      if (ob.leftovers.length > 0) fail('(a) pgshift left artifacts behind', ob.leftovers);
      return { outcome: 'both succeeded' };
    }
    if (onlineError === null) fail('online succeeded where offline PostgreSQL refused the ALTER');
    if (exitCode === null) fail('online failed with something other than a PgshiftError');
    if (offlineError === null && exitCode !== 2) fail('offline succeeded but online failed with other than a refusal (exit 2)');
    if (offlineError !== null && exitCode !== 1 && exitCode !== 2) fail('online failed with an exit code other than 1 or 2');
    const ob = await observe(b, c.built.name, []);
    const diff = differences(before, ob);
    if (diff.length > 0) fail('online failed but changed the database (a = before, b = after)', diff);
    if (ob.leftovers.length > 0) fail('online failed and left artifacts behind', ob.leftovers);
    return { outcome: offlineError === null ? 'refused online' : 'both failed', reason: reasonOf(onlineError) };
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    // Every database of the run goes, pass or fail; a failing drop must not hide the real error.
    const drops = await Promise.allSettled(dbs.map((db) => db.drop()));
    const dropError = drops.find((d) => d.status === 'rejected');
    if (dropError && !failed) throw dropError.reason;
  }
}

describe('property: random table and ALTER, offline = online or a clean refusal', () => {
  it(
    `holds for ${RUNS} random cases (seed ${SEED})`,
    async () => {
      console.log(
        `[property] seed ${SEED}, ${RUNS} runs: replay with PGSHIFT_PROPERTY_SEED=${SEED} PGSHIFT_PROPERTY_RUNS=${RUNS}`,
      );
      // What the runs covered, printed at the end: a generator that only ever meets refusals tests little.
      const outcomes = new Map<string, number>();
      const count = (key: string): void => void outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      let failures = 0;
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const result = await runCase(c).catch((err: unknown) => {
            // Shrinking runs a case a second or more each, for minutes: say so as it starts.
            failures++;
            if (failures === 1) console.log(`[property] a counterexample, shrinking it (each smaller failing case is counted):\n${String(err)}${fc.stringify(c)}`);
            else if (failures % 10 === 0) console.log(`[property] shrinking: ${failures} failing cases so far`);
            throw err;
          });
          count(result.reason === undefined ? result.outcome : `${result.outcome}: ${result.reason}`);
        }),
        { numRuns: RUNS, seed: SEED, path: PATH, timeout: RUN_TIMEOUT_MS, endOnFailure: PATH !== undefined },
      );
      const tally = [...outcomes].sort(([x], [y]) => x.localeCompare(y)).map(([k, n]) => `  ${String(n).padStart(4)}  ${k}`);
      console.log(`[property] outcomes:\n${tally.join('\n')}`);
      expect(outcomes.size).toBeGreaterThan(0);
    },
    // Every run is bounded by RUN_TIMEOUT_MS; shrinking a counterexample may take a few hundred more.
    (RUNS + 300) * RUN_TIMEOUT_MS,
  );
});
