import type { Client, Pool } from '../db/session.js';
import { inTransaction, withClient } from '../db/session.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { ident, literal, qualified, trusted, type SqlText } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import { withQualifiedNames } from '../db/search-path.js';
import { RuntimeError } from '../errors.js';
import { componentLog } from '../log.js';
import { readBoundObjects } from '../catalog/bound-objects.js';
import { drain } from '../capture/drain.js';
import { copyAclStatements } from '../shadow/acl.js';
import { relOptionsList } from '../shadow/reloptions.js';
import { matviewHome } from '../plan/matview-homes.js';
import { retargetSchemas, schemaMoves } from './retarget.js';

const log = componentLog('matviews');

/**
 * Materialized views over the table are rebuilt against the table that takes its place, BEFORE
 * the cutover, and only exchanged inside it (renames, no query): refreshing one under the
 * cutover's locks would hold every reader and writer of the table for the whole query (a
 * 1,000,000-row matview with two indexes took 3.4 s to refresh, its exchange under 1 ms).
 *
 * The rebuild is filled as of one consistent moment: in one REPEATABLE READ transaction the
 * changelog is replayed to its end as that snapshot sees it, so the incoming table holds exactly
 * what the origin held at the snapshot (every change committed before it has its entry, and
 * every entry is replayed), and the matview's query runs on that same snapshot: its rows are what
 * a REFRESH at that moment would have given. PostgreSQL fills a materialized view only by running
 * its query and cannot re-point one at another table, so the old rows cannot be kept.
 */
export interface MatviewDef {
  oid: string;
  schema: string;
  /** its schema's OID, which names the migration schema it is rebuilt in (plan/matview-homes.ts) */
  schema_oid: string;
  name: string;
  def: string;
  populated: boolean;
  reloptions: string[] | null;
  tablespace: string | null;
  access_method: string;
  owner: string;
  comment: string | null;
  columns: { name: string; storage: string | null; compression: string | null; statTarget: number | null; options: string[] | null; comment: string | null }[];
  indexes: { oid: string; name: string; def: string; tablespace: string | null; clustered: boolean; comment: string | null }[];
  statistics: { oid: string; schema: string; schemaOid: string; name: string; def: string; statTarget: number | null; comment: string | null }[];
}

/** Inside a transaction (the search_path that qualifies every name is set for it alone). */
export async function readMatviewDefs(c: Client, oids: string[]): Promise<MatviewDef[]> {
  if (oids.length === 0) return [];
  const rows = await withQualifiedNames(c, async () => (await c.query<MatviewDef>(sqlFile('matview-defs.sql'), [oids])).rows);
  return oids.map((oid) => rows.find((r) => r.oid === oid)!).filter(Boolean);
}

export interface Prebuild {
  pool: Pool;
  migrationId: number;
  /** the table being replaced, whose materialized views are rebuilt */
  outgoing: { oid: string; schema: string; name: string };
  /** a tree's relations exchanged with it (shadow/tree.ts), each with the schema its incoming one lives in meanwhile: their materialized views too */
  tree?: { oid: string; schema: string; name: string; side: string }[];
  /** the migration's schema, where the incoming table (same name) lives; the rebuilds live in homes of their own (plan/matview-homes.ts) */
  migrationSchema: string;
  /** RENAME COLUMN statements giving the incoming table the outgoing one's column names, and back */
  renameIncoming: string[];
  unrenameIncoming: string[];
  /** replays changelog entries inside the caller's transaction (taking the advisory lock); entries taken */
  replay: (c: Client, limit: number) => Promise<number>;
  /** the rebuild's transaction waits for locks (the incoming table's, the tables its queries read) under a short timeout, retried */
  retry: RetryPolicy;
}

/**
 * Builds every materialized view over the outgoing table again in the migration schema of its
 * own schema (plan/matview-homes.ts, created and registered when missing), under its own name,
 * against the incoming table: indexes, storage, column settings, owner, grants, comments and
 * extended statistics as the old one has them, filled (REFRESH, as its owner, under row security
 * as a REFRESH runs) as of one consistent snapshot unless the old one is not populated. Returns
 * how many it built. Rebuilds left by an earlier attempt are dropped first.
 */
export async function prebuildMatviews(p: Prebuild): Promise<number> {
  // In a transaction: the definitions are read with search_path = pg_catalog set for it alone.
  const matviews = await withClient(p.pool, (c) => inTransaction(c, async () => {
    const bound = await readBoundObjects(c, p.outgoing.oid, (p.tree ?? []).map((t) => t.oid));
    if (bound.refusals.length) throw new RuntimeError(`cannot carry the table's dependents: ${bound.refusals[0]}; nothing was swapped`);
    return readMatviewDefs(c, bound.objects.filter((o) => o.action === 'rebuild-matview').map((o) => o.oid));
  }), 'prebuild');
  if (matviews.length === 0) return 0;
  const home = (schemaOid: string): string => matviewHome(p.migrationSchema, schemaOid);
  const moves = schemaMoves([
    { schema: p.outgoing.schema, name: p.outgoing.name, to: p.migrationSchema },
    ...(p.tree ?? []).map((t) => ({ schema: t.schema, name: t.name, to: t.side })),
    ...matviews.map((m) => ({ schema: m.schema, name: m.name, to: home(m.schema_oid) })),
  ]);
  const builds = await Promise.all(matviews.map((m) => buildStatements(m, home, moves)));
  const homes = [...new Set(matviews.flatMap((m) => [m.schema_oid, ...m.statistics.map((st) => st.schemaOid)]))].map(home);
  const t0 = performance.now();
  await withClient(p.pool, async (c) => {
    await inTransaction(c, async () => {
      await c.query(`SELECT set_config('search_path', 'pg_catalog', true)`);
      for (const h of homes) {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${ident(h)}`);
        await c.query(`INSERT INTO pgshift.artifacts (migration_id, kind, schema_name, name) VALUES ($1, 'schema', $2, $2) ON CONFLICT DO NOTHING`, [p.migrationId, h]);
      }
      await dropRebuilds(c, p.migrationId);
    });
    await withRetry(p.retry, () => inTransaction(c, async () => {
      // SET takes no snapshot: the transaction's is taken by the first replay statement.
      await c.query(`SET LOCAL search_path = pg_catalog`);
      // The snapshot is the transaction's from its first statement on: replayed to its end, the
      // incoming table is the origin as of that snapshot.
      const replayed = await drain((n) => p.replay(c, n), { below: 1, batch: 50_000 });
      for (const sql of p.renameIncoming) await c.query(sql);
      for (const b of builds) for (const sql of b.create) await c.query(sql);
      for (const b of builds) for (const sql of await copyAclStatements(c, b.matview.oid, b.target)) await c.query(sql);
      for (const sql of p.unrenameIncoming) await c.query(sql);
      // A REFRESH runs the query as the owner, under the owner's row security: as the user's own would.
      await c.query(`SELECT set_config('row_security', 'on', true)`);
      for (const b of builds) if (b.matview.populated) await c.query(`REFRESH MATERIALIZED VIEW ${b.target}`);
      await c.query(`SELECT set_config('row_security', 'off', true)`);
      log.info({ migration: p.migrationId, matviews: matviews.length, replayed: replayed.entries }, 'materialized views rebuilt');
    }, { isolation: 'repeatable read' }));
    for (const b of builds) if (b.matview.populated) await c.query(`ANALYZE ${b.target}`);
  }, 'prebuild');
  log.info({ migration: p.migrationId, ms: Math.round(performance.now() - t0) }, 'materialized views ready for the cutover');
  return matviews.length;
}

/**
 * Every materialized view in the migration's schemas (pgshift.artifacts): none is the user's,
 * each a rebuild for a cutover that has not taken it (those it took are in their user schemas).
 * Dropped last-created first, so that one reading another goes before it. Returns what it dropped.
 */
export async function dropRebuilds(c: Client, migrationId: number): Promise<string[]> {
  const r = await c.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'm' AND n.nspname IN (SELECT a.schema_name FROM pgshift.artifacts a WHERE a.migration_id = $1 AND a.kind = 'schema')
      ORDER BY c.oid DESC`,
    [migrationId],
  );
  for (const m of r.rows) await c.query(`DROP MATERIALIZED VIEW IF EXISTS ${qualified(m.schema, m.name)}`);
  return r.rows.map((m) => `materialized view ${m.schema}.${m.name}`);
}

/** The statements that create one rebuild (empty) in its home with everything but its ACL and its rows. */
async function buildStatements(m: MatviewDef, home: (schemaOid: string) => string, moves: ReturnType<typeof schemaMoves>): Promise<{ matview: MatviewDef; target: SqlText; create: string[] }> {
  const schema = home(m.schema_oid);
  const target = qualified(schema, m.name);
  const query = await retarget(m.def, moves, `materialized view ${m.schema}.${m.name}`);
  const opts = relOptionsList(m.reloptions);
  const create = [
    `CREATE MATERIALIZED VIEW ${target} USING ${ident(m.access_method)}${opts.length ? ` WITH (${opts.join(', ')})` : ''}` +
      `${m.tablespace ? ` TABLESPACE ${ident(m.tablespace)}` : ''} AS ${trusted(withoutSemicolon(query))} WITH NO DATA`,
  ];
  for (const col of m.columns) {
    const alter = `ALTER MATERIALIZED VIEW ${target} ALTER COLUMN ${ident(col.name)}`;
    if (col.storage) create.push(`${alter} SET STORAGE ${{ p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' }[col.storage] ?? 'EXTENDED'}`);
    if (col.compression) create.push(`${alter} SET COMPRESSION ${col.compression === 'l' ? 'lz4' : 'pglz'}`);
    if (col.statTarget !== null) create.push(`${alter} SET STATISTICS ${Number(col.statTarget)}`);
    if (col.options?.length) create.push(`${alter} SET (${relOptionsList(col.options).join(', ')})`);
  }
  for (const idx of m.indexes) {
    const index = qualified(schema, idx.name);
    create.push(await retarget(idx.def, moves, `index ${idx.name}`));
    if (idx.tablespace) create.push(`ALTER INDEX ${index} SET TABLESPACE ${ident(idx.tablespace)}`);
    if (idx.clustered) create.push(`ALTER MATERIALIZED VIEW ${target} CLUSTER ON ${ident(idx.name)}`);
    if (idx.comment !== null) create.push(`COMMENT ON INDEX ${index} IS ${literal(idx.comment)}`);
  }
  for (const st of m.statistics) {
    // Created in the home of its own schema under its own name; moved there once the old one is gone.
    const stats = schemaMoves([{ schema: st.schema, name: st.name, to: home(st.schemaOid) }, { schema: m.schema, name: m.name, to: schema }]);
    const statistics = qualified(home(st.schemaOid), st.name);
    create.push(await retarget(st.def, stats, `statistics ${st.name}`, [{ offset: 'CREATE STATISTICS '.length }]));
    if (st.statTarget !== null) create.push(`ALTER STATISTICS ${statistics} SET STATISTICS ${Number(st.statTarget)}`);
    if (st.comment !== null) create.push(`COMMENT ON STATISTICS ${statistics} IS ${literal(st.comment)}`);
  }
  create.push(`ALTER MATERIALIZED VIEW ${target} OWNER TO ${ident(m.owner)}`);
  if (m.comment !== null) create.push(`COMMENT ON MATERIALIZED VIEW ${target} IS ${literal(m.comment)}`);
  for (const col of m.columns) if (col.comment !== null) create.push(`COMMENT ON COLUMN ${target}.${ident(col.name)} IS ${literal(col.comment)}`);
  return { matview: m, target, create };
}

/** pg_get_viewdef ends its query with a semicolon, which CREATE ... AS <query> WITH NO DATA cannot take. */
function withoutSemicolon(query: string): string {
  const q = query.trimEnd();
  return q.endsWith(';') ? q.slice(0, -1) : q;
}

async function retarget(sql: string, moves: ReturnType<typeof schemaMoves>, what: string, extra: { offset: number }[] = []): Promise<string> {
  try {
    return await retargetSchemas(sql, moves, extra);
  } catch (err) {
    throw new RuntimeError(`cannot rebuild ${what} from its definition: ${(err as Error).message.split('\n')[0]}; nothing was swapped`, { cause: err });
  }
}

/**
 * Inside the cutover, with the tables exchanged: the old materialized view steps aside (renamed,
 * with its indexes, to pgshift_old_<oid>) and its rebuild moves in from its home under its name,
 * its indexes with it. The old one is dropped (dropOldMatview) once what read it reads the rebuild.
 */
export async function exchangeMatview(c: Client, m: MatviewDef, migrationSchema: string): Promise<void> {
  const home = matviewHome(migrationSchema, m.schema_oid);
  const rebuilt = await c.query(`SELECT FROM pg_class WHERE relnamespace = to_regnamespace($1) AND relname = $2 AND relkind = 'm'`, [home, m.name]);
  if (rebuilt.rows.length === 0) {
    throw new RuntimeError(`materialized view ${m.schema}.${m.name} was not rebuilt before the cutover (created during the migration?); nothing was swapped`);
  }
  await c.query(`ALTER MATERIALIZED VIEW ${qualified(m.schema, m.name)} RENAME TO ${ident(asideName(m.oid))}`);
  for (const idx of m.indexes) await c.query(`ALTER INDEX ${qualified(m.schema, idx.name)} RENAME TO ${ident(asideName(idx.oid))}`);
  await c.query(`ALTER MATERIALIZED VIEW ${qualified(home, m.name)} SET SCHEMA ${ident(m.schema)}`);
}

/** Nothing reads the old one any more: dropping one that something still reads fails, and the cutover with it. */
export async function dropOldMatview(c: Client, m: MatviewDef): Promise<void> {
  await c.query(`DROP MATERIALIZED VIEW ${qualified(m.schema, asideName(m.oid))}`);
}

/**
 * With the old ones gone, the rebuilds' statistics objects take their names, and every rebuild
 * must read back with the old one's definition: a definition changed since the rebuild, or a
 * rebuild that does not match, fails the cutover before anything is swapped.
 */
export async function finishMatviews(c: Client, matviews: MatviewDef[], migrationSchema: string): Promise<void> {
  for (const m of matviews) {
    for (const st of m.statistics) await c.query(`ALTER STATISTICS ${qualified(matviewHome(migrationSchema, st.schemaOid), st.name)} SET SCHEMA ${ident(st.schema)}`);
    const now = await withQualifiedNames(c, async () => (await c.query<{ def: string }>(`SELECT pg_get_viewdef(to_regclass($1)) AS def`, [qualified(m.schema, m.name)])).rows[0]!.def);
    if (now !== m.def) {
      throw new RuntimeError(`materialized view ${m.schema}.${m.name} as rebuilt before the cutover does not match its definition any more (changed during the migration?); nothing was swapped`);
    }
  }
}

/** The name an object being replaced steps aside under in its own schema until it is dropped. */
export function asideName(oid: string): string {
  return `pgshift_old_${oid}`;
}

/**
 * RENAME COLUMN pairs [from, to] that give each of `columns` the name `target` maps it to (a
 * column it maps to nothing keeps its name, or steps aside when another column takes that name),
 * through temporary names so that no two columns ever share one; and the pairs that undo them.
 */
export function columnRenames(columns: string[], target: (name: string) => string | undefined): { forward: [string, string][]; back: [string, string][] } {
  const wanted = new Set(columns.map(target).filter((t): t is string => t !== undefined));
  const moves = columns
    .map((name, i) => ({ name, to: target(name) ?? (wanted.has(name) ? `pgshift_col_${i}_aside` : name), tmp: `pgshift_col_${i}` }))
    .filter((m) => m.to !== m.name);
  const forward: [string, string][] = [...moves.map((m) => [m.name, m.tmp] as [string, string]), ...moves.map((m) => [m.tmp, m.to] as [string, string])];
  const back: [string, string][] = [...moves.map((m) => [m.to, m.tmp] as [string, string]), ...moves.map((m) => [m.tmp, m.name] as [string, string])];
  return { forward, back };
}
