import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '../db/session.js';
import { qualified } from '../db/quote.js';
import { UserError } from '../errors.js';
import type { TableInfo } from '../catalog/table.js';
import type { ShadowTable } from '../shadow/build.js';
import { newColumnName, type ColumnFlow } from './columns.js';
import { artifactNames } from './names.js';
import { readBoundObjects } from '../catalog/bound-objects.js';

/**
 * Will the online copy fit on disk? (issue 11.) An estimate of what the copy writes, compared
 * with the free space where pgshift can know it, before anything is created.
 *
 * What the copy needs (deliberately simple; every figure is an estimate):
 * - the shadow's heap and TOAST: pg_table_size of the origin (heap, TOAST, free space and
 *   visibility maps), plus rows x the bytes per row the ALTER adds: a widened type adds the
 *   difference of pg_type.typlen (int4 -> int8: 4 bytes a row), an added column its full width
 *   (its default may be NULL: counted anyway), a dropped column takes its width off. A
 *   variable-length column counts its pg_stats avg_width, or 32 bytes without statistics. Rows
 *   are the planner's estimate for the table as it is now (it scales reltuples by the current
 *   size, and works for a table never analyzed). Bloat in the origin makes this an
 *   overestimate, which errs on the safe side.
 * - its indexes: each index the shadow keeps at the origin's index size (scaled by the entry
 *   width when a key column's type changes); each index the ALTER adds at rows x (12 bytes of
 *   tuple header and line pointer + its key columns' widths) / 0.9 fill.
 * - the WAL the copy and the index builds write: about heap + indexes, none for an UNLOGGED
 *   table. Checkpoints recycle WAL, so without replication slots and archiving what is retained
 *   at once is capped near 2 x max_wal_size + wal_keep_size; a slot or archive_mode keeps it all.
 * - the changelog (keys only) and estimation error: a 10% margin on the shadow and its indexes.
 * - a take-over: what the interrupted migration's shadow already holds is taken off.
 * - materialized views over the table: rebuilt before the cutover (in homes of their own,
 *   plan/matview-homes.ts), so their pg_table_size counts with the shadow's heap and their
 *   indexes with its indexes.
 *
 * Where the free space comes from, in this order:
 * 1. `--disk-free SIZE`: the operator knows; compared with the whole need.
 * 2. This host, when the server is on it: the data directory (superuser or
 *    pg_read_all_settings) exists here and is the same server's, by the system identifier of
 *    its global/pg_control against pg_control_system(), or else by the table's own data file
 *    (pg_relation_filepath) existing here with the size the server reports; a tablespace's
 *    location (pg_tablespace_location) is checked the same way by the table's file. Then statfs
 *    of the table's directory (the shadow goes to the origin's tablespace) and of pg_wal when it
 *    is on another filesystem.
 * 3. Otherwise unknown, said in the plan, never guessed.
 */
export interface DiskNeed {
  heapBytes: number;
  indexBytes: number;
  walBytes: number;
  marginBytes: number;
  /** already in the shadow of an interrupted migration of this table (taken off the need) */
  writtenBytes: number;
  /** why the WAL figure is what it is, when it is not simply heap + indexes */
  walNote: string | null;
}

export interface FreePlace {
  path: string;
  bytes: number;
  /** what this filesystem must hold */
  holds: 'shadow' | 'WAL' | 'shadow and WAL';
  needBytes: number;
}

export type FreeSpace =
  | { kind: 'operator'; bytes: number }
  | { kind: 'local'; places: FreePlace[]; how: string; walUnchecked: boolean }
  | { kind: 'unknown'; why: string };

export interface DiskCheck {
  need: DiskNeed;
  free: FreeSpace;
}

export interface DiskInput {
  origin: TableInfo;
  flow: ColumnFlow;
  trial: ShadowTable;
  /** a parent's descendants copied with it (shadow/tree.ts) */
  tree?: TableInfo[];
}

/** Estimates, finds the free space, and refuses (UserError, exit 2) a copy that will not fit. */
export async function checkDiskSpace(c: Client, input: DiskInput, diskFreeBytes?: number): Promise<DiskCheck> {
  const facts = await readFacts(c, input.origin, (input.tree ?? []).map((t) => t.oid));
  const need = await estimateNeed(c, input, facts);
  const free = diskFreeBytes !== undefined ? ({ kind: 'operator', bytes: diskFreeBytes } as const) : await localFreeSpace(c, input.origin, facts, need);
  const check = { need, free };
  const short = shortfall(check);
  if (short) throw new UserError(`refused: not enough disk space: the copy needs about ${formatBytes(short.need)} (${needParts(need, short.holds)}) but ${formatBytes(short.free)} is free ${short.where}`);
  return check;
}

/**
 * The free space for a need that is not a copy's (an index built concurrently, a direct
 * rewrite): the operator's figure, this host's, or unknown with the reason. Never refuses.
 */
export async function freeSpaceFor(c: Client, origin: TableInfo, need: DiskNeed, diskFreeBytes?: number): Promise<DiskCheck> {
  if (diskFreeBytes !== undefined) return { need, free: { kind: 'operator', bytes: diskFreeBytes } };
  return { need, free: await localFreeSpace(c, origin, await readFacts(c, origin), need) };
}

/** How much is free and how that is known (or why it is not), in words; and the bytes (null: unknown). */
export function describeFree(check: DiskCheck): { bytes: number | null; how: string; enough: boolean | null } {
  const { free } = check;
  if (free.kind === 'operator') return { bytes: free.bytes, how: '--disk-free, as the operator says', enough: shortfall(check) === null };
  if (free.kind === 'unknown') {
    return { bytes: null, how: `unknown: PostgreSQL reports no free disk space over SQL, and it could not be read on this host (${free.why}); pass --disk-free SIZE`, enough: null };
  }
  const bytes = Math.min(...free.places.map((p) => p.bytes));
  const places = free.places.map((p) => `${formatBytes(p.bytes)} on ${p.path} (for the ${p.holds})`).join(', ');
  return { bytes, how: `${places}: read on this host, ${free.how}${free.walUnchecked ? "; the WAL's filesystem is not known and was not checked" : ''}`, enough: shortfall(check) === null };
}

/** The plan's line: need vs free, and where the free figure came from. */
export function describeDisk(check: DiskCheck, what = `the copy needs about ${formatBytes(totalNeed(check.need))} (${needParts(check.need)})`): string {
  const { free } = check;
  const head = `  disk: ${what}`;
  if (free.kind === 'operator') return `${head}; free ${formatBytes(free.bytes)} (--disk-free, as the operator says)`;
  if (free.kind === 'unknown') return `${head}; free space unknown: pass --disk-free SIZE to check it (${free.why})`;
  const places = free.places.map((p) => `${formatBytes(p.bytes)} on ${p.path} (for the ${p.holds})`).join(', ');
  return `${head}; free ${places}: this host, ${free.how}${free.walUnchecked ? '; the WAL\'s filesystem is not known and was not checked' : ''}`;
}

/** 1024-based, in MB below a gigabyte and GB above, as the refusal and the plan print them. */
export function formatBytes(bytes: number): string {
  const mb = bytes / 1024 ** 2;
  return mb < 1024 ? `${mb.toFixed(1)} MB` : `${(mb / 1024).toFixed(1)} GB`;
}

export function totalNeed(n: DiskNeed): number {
  return Math.max(0, n.heapBytes + n.indexBytes + n.marginBytes - n.writtenBytes) + n.walBytes;
}

/** The parts of the need that one filesystem holds (all of them when it is not known which). */
export function needParts(n: DiskNeed, holds: FreePlace['holds'] = 'shadow and WAL'): string {
  const wal = `WAL ${formatBytes(n.walBytes)}${n.walNote ? ` ${n.walNote}` : ''}`;
  if (holds === 'WAL') return wal;
  const parts = [`shadow ${formatBytes(n.heapBytes)}`, `its indexes ${formatBytes(n.indexBytes)}`, ...(holds === 'shadow' ? [] : [wal]), `margin ${formatBytes(n.marginBytes)}`];
  if (n.writtenBytes > 0) parts.push(`less ${formatBytes(n.writtenBytes)} already copied`);
  return parts.join(', ');
}

function shortfall(check: DiskCheck): { need: number; free: number; where: string; holds?: FreePlace['holds'] } | null {
  const { free, need } = check;
  if (free.kind === 'unknown') return null;
  if (free.kind === 'operator') return totalNeed(need) > free.bytes ? { need: totalNeed(need), free: free.bytes, where: '(--disk-free)' } : null;
  const full = free.places.find((p) => p.needBytes > p.bytes);
  return full ? { need: full.needBytes, free: full.bytes, where: `on ${full.path} (the ${full.holds}'s filesystem)`, holds: full.holds } : null;
}

interface Facts {
  tableBytes: number;
  indexBytes: number;
  /** the relation whose data file stands for the table (a partitioned table's largest partition) */
  fileOid: string;
  tablespace: string;
  location: string;
  relationPath: string;
  segmentBytes: number;
  maxWalBytes: number;
  walKeepBytes: number;
  walRetained: boolean;
}

async function readFacts(c: Client, origin: TableInfo, descendants: string[] = []): Promise<Facts> {
  const r = (
    await c.query(
      // A partitioned table has no storage of its own: its partitions' sizes add up, and its
      // largest partition's file stands for it (a plain table's tree is the table alone); a
      // legacy inheritance tree copied with its parent counts its descendants (`descendants`) too.
      `WITH tree AS (SELECT relid FROM pg_partition_tree($1::oid::regclass) WHERE isleaf AND relid <> $1::oid
                     UNION ALL SELECT oid FROM pg_class WHERE oid = $1::oid AND relkind <> 'p'
                     UNION ALL SELECT unnest($2::oid[])),
            file AS (SELECT relid FROM tree ORDER BY pg_relation_size(relid) DESC, relid LIMIT 1)
       SELECT (SELECT sum(pg_table_size(relid)) FROM tree)::int8::text AS table_bytes,
              (SELECT sum(pg_indexes_size(relid)) FROM tree)::int8::text AS index_bytes,
              cl.oid::int8::text AS file_oid,
              ts.spcname AS tablespace, pg_tablespace_location(ts.oid) AS location, pg_relation_filepath(cl.oid) AS relation_path,
              pg_size_bytes(current_setting('segment_size'))::text AS segment_bytes,
              pg_size_bytes(current_setting('max_wal_size'))::text AS max_wal, pg_size_bytes(current_setting('wal_keep_size'))::text AS wal_keep,
              current_setting('archive_mode') <> 'off' OR EXISTS (SELECT FROM pg_replication_slots) AS wal_retained
         FROM file JOIN pg_class cl ON cl.oid = file.relid
         JOIN pg_database d ON d.datname = current_database()
         JOIN pg_tablespace ts ON ts.oid = CASE WHEN cl.reltablespace = 0 THEN d.dattablespace ELSE cl.reltablespace END`,
      [origin.oid, descendants],
    )
  ).rows[0];
  return {
    tableBytes: Number(r.table_bytes ?? 0),
    indexBytes: Number(r.index_bytes ?? 0),
    fileOid: r.file_oid,
    tablespace: r.tablespace,
    location: r.location ?? '',
    relationPath: r.relation_path,
    segmentBytes: Number(r.segment_bytes),
    maxWalBytes: Number(r.max_wal),
    walKeepBytes: Number(r.wal_keep),
    walRetained: r.wal_retained,
  };
}

// Bytes a variable-length value is taken to take when pg_stats has no avg_width for it.
const VARLENA_GUESS = 32;
// An index tuple's header (8) and its line pointer (4).
const INDEX_ENTRY_OVERHEAD = 12;
const INDEX_FILL = 0.9;
const MARGIN = 0.1;

async function estimateNeed(c: Client, { origin, flow, trial, tree = [] }: DiskInput, facts: Facts): Promise<DiskNeed> {
  const explain = (await c.query(`EXPLAIN (FORMAT JSON) SELECT FROM ${qualified(origin.schema, origin.name)}`)).rows[0]['QUERY PLAN'];
  const rows = Math.max(0, Number(explain[0]?.Plan?.['Plan Rows'] ?? origin.estimatedRows));

  // Widths of the origin's columns (by name) and of the shadow's (by name, from the trial's types).
  const oldWidth = new Map<string, number>();
  for (const a of (
    await c.query(
      `SELECT a.attname AS name, t.typlen AS len, s.avg_width AS avg
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_stats s ON s.schemaname = $2 AND s.tablename = $3 AND s.attname = a.attname AND NOT s.inherited
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
      [origin.oid, origin.schema, origin.name],
    )
  ).rows) {
    oldWidth.set(a.name, a.len > 0 ? a.len : (a.avg ?? VARLENA_GUESS));
  }
  const types = trial.columns.map((col) => col.type);
  const lens = new Map<string, number>(
    (await c.query(`SELECT t AS type, (SELECT typlen FROM pg_type WHERE oid = to_regtype(t)) AS len FROM unnest($1::text[]) t`, [types])).rows.map((r) => [r.type, r.len]),
  );
  const newWidth = new Map<string, number>();
  for (const col of trial.columns) {
    const src = flow.sources.get(col.name);
    const from = src?.kind === 'origin' ? oldWidth.get(src.origin) : undefined;
    const len = lens.get(col.type);
    newWidth.set(col.name, len !== undefined && len !== null && len > 0 ? len : (from ?? VARLENA_GUESS));
  }

  let rowDelta = 0;
  for (const [name, src] of flow.sources) {
    const w = newWidth.get(name) ?? 0;
    rowDelta += src.kind === 'added' ? w : w - (oldWidth.get(src.origin) ?? w);
  }
  for (const d of flow.dropped) rowDelta -= oldWidth.get(d) ?? 0;
  const heapBytes = Math.max(0, facts.tableBytes + rows * rowDelta);

  // Index sizes of the origin, by name, with their plain key columns.
  const originIndexes = new Map<string, { bytes: number; columns: string[] | null }>();
  for (const i of (
    await c.query(
      `SELECT ic.relname AS name, pg_relation_size(i.indexrelid)::int8::text AS bytes,
              CASE WHEN i.indexprs IS NULL THEN (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE k.ord <= i.indnkeyatts) END AS columns
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1`,
      [origin.oid],
    )
  ).rows) {
    originIndexes.set(i.name, { bytes: Number(i.bytes), columns: i.columns });
  }
  const entry = (widths: number[]): number => INDEX_ENTRY_OVERHEAD + Math.ceil(widths.reduce((a, b) => a + b, 0) / 8) * 8;
  const originOf = (name: string): string | undefined => {
    const s = flow.sources.get(name);
    return s?.kind === 'origin' ? s.origin : undefined;
  };
  let indexBytes = 0;
  // The row identity (primary key, or the unique index in its place): its column set never
  // changes online, so its size follows the origin's.
  for (const [name, i] of originIndexes) {
    if (name !== origin.identity?.name) continue;
    const newCols = origin.key.map((k) => newColumnName(flow)(k.name) ?? k.name);
    indexBytes += i.bytes * (entry(newCols.map((n) => newWidth.get(n) ?? VARLENA_GUESS)) / entry(origin.key.map((k) => oldWidth.get(k.name) ?? VARLENA_GUESS)));
  }
  for (const idx of trial.indexes) {
    if (idx.identity) continue;
    const had = originIndexes.get(idx.name);
    const cols = idx.columns;
    const newEntry = cols ? entry(cols.map((n) => newWidth.get(n) ?? VARLENA_GUESS)) : entry([16]);
    if (had) {
      const oldEntry = had.columns ? entry(had.columns.map((n) => oldWidth.get(n) ?? VARLENA_GUESS)) : newEntry;
      // Same name, same columns (through renames): the origin's size, scaled by a type change.
      const same = cols && had.columns && cols.length === had.columns.length && cols.every((n, k) => originOf(n) === had.columns![k]);
      indexBytes += had.bytes * (same ? newEntry / oldEntry : 1);
    } else {
      indexBytes += 8192 + (rows * newEntry) / INDEX_FILL;
    }
  }

  // A tree's descendants' indexes (their shadows get the same), as they are; what a type change
  // adds to their entries is in the margin.
  const descendants = tree.length === 0 ? 0 : Number((await c.query(
    `SELECT coalesce(sum(pg_indexes_size(oid)), 0)::int8::text AS n FROM pg_class WHERE oid = ANY ($1::oid[])`, [tree.map((t) => t.oid)],
  )).rows[0].n);
  indexBytes += descendants;
  const rebuilt = await matviewBytes(c, origin, tree.map((t) => t.oid));
  const written = await alreadyWritten(c, origin);
  const logged = origin.persistence !== 'u';
  const wrote = heapBytes + indexBytes + rebuilt.heap + rebuilt.index;
  // Checkpoints recycle WAL segments: unless a slot or the archiver holds them, what is on disk at
  // once stays near max_wal_size (a soft limit: doubled) plus wal_keep_size.
  const cap = 2 * facts.maxWalBytes + facts.walKeepBytes;
  const walBytes = !logged ? 0 : facts.walRetained ? wrote : Math.min(wrote, cap);
  const walNote = !logged ? '(UNLOGGED: none)' : !facts.walRetained && wrote > cap ? '(capped at 2 x max_wal_size + wal_keep_size: no slot or archiving retains it)' : null;
  return {
    heapBytes: Math.round(heapBytes + rebuilt.heap),
    indexBytes: Math.round(indexBytes + rebuilt.index),
    walBytes: Math.round(walBytes),
    marginBytes: Math.round(MARGIN * wrote),
    writtenBytes: written,
    walNote,
  };
}

/** The materialized views the swap rebuilds, as they are now: their heaps and their indexes. */
async function matviewBytes(c: Client, origin: TableInfo, tree: string[]): Promise<{ heap: number; index: number }> {
  const oids = (await readBoundObjects(c, origin.oid, tree)).objects.filter((o) => o.action === 'rebuild-matview').map((o) => o.oid);
  if (oids.length === 0) return { heap: 0, index: 0 };
  const r = await c.query(
    `SELECT coalesce(sum(pg_table_size(oid)), 0)::int8::text AS heap, coalesce(sum(pg_indexes_size(oid)), 0)::int8::text AS index FROM pg_class WHERE oid = ANY ($1::oid[])`,
    [oids],
  );
  return { heap: Number(r.rows[0].heap), index: Number(r.rows[0].index) };
}

/** What the shadow of an interrupted migration of this table already holds (a take-over continues it). */
async function alreadyWritten(c: Client, origin: TableInfo): Promise<number> {
  if ((await c.query(`SELECT to_regclass('pgshift.migrations') AS t`)).rows[0].t === null) return 0;
  const ids = (await c.query(`SELECT id::int FROM pgshift.migrations WHERE kind = 'alter' AND outcome IS NULL AND table_oid = $1`, [origin.oid])).rows;
  let bytes = 0;
  for (const { id } of ids) {
    const r = await c.query(`SELECT coalesce(pg_total_relation_size(to_regclass($1)), 0)::int8::text AS b`, [qualified(artifactNames(id).schema, origin.name)]);
    bytes += Number(r.rows[0].b);
  }
  return bytes;
}

/**
 * The free space on this host where the shadow and the WAL go, when the server is on this host
 * and this is provably its data; otherwise unknown, with the reason.
 */
async function localFreeSpace(c: Client, origin: TableInfo, facts: Facts, need: DiskNeed): Promise<FreeSpace> {
  const dataDir: string | null = (await c.query(`SELECT setting FROM pg_settings WHERE name = 'data_directory'`)).rows[0]?.setting ?? null;
  // The table's file, as this host would see it: through the data directory (pg_tblspc links
  // lead to the tablespace), or else under the tablespace's location.
  const rel = facts.relationPath;
  let tableFile: string | null = null;
  if (dataDir !== null) tableFile = path.join(dataDir, rel);
  else if (facts.location !== '' && rel.startsWith('pg_tblspc/')) tableFile = path.join(facts.location, ...rel.split('/').slice(2));
  if (tableFile === null) {
    return { kind: 'unknown', why: 'the data directory is hidden from this role: it needs superuser or pg_read_all_settings' };
  }
  if (!fs.existsSync(tableFile)) {
    return { kind: 'unknown', why: `the server's data is not on this host (${dataDir !== null ? `no data directory ${dataDir} here` : `no tablespace ${facts.tablespace} at ${facts.location} here`})` };
  }
  const how = await sameServer(c, facts.fileOid, dataDir, tableFile, facts.segmentBytes);
  if (typeof how !== 'string') return { kind: 'unknown', why: how.why };

  try {
    const tableDir = path.dirname(tableFile);
    const tableDev = fs.statSync(tableDir).dev;
    const bytesFree = (p: string): number => {
      const s = fs.statfsSync(p);
      return s.bavail * s.bsize;
    };
    const tableNeed = Math.max(0, need.heapBytes + need.indexBytes + need.marginBytes - need.writtenBytes);
    const shown = (p: string): string => (facts.location !== '' && p.startsWith(path.join(dataDir ?? '', 'pg_tblspc')) ? facts.location : p);
    if (dataDir === null) {
      return { kind: 'local', places: [{ path: shown(tableDir), bytes: bytesFree(tableDir), holds: 'shadow', needBytes: tableNeed }], how, walUnchecked: need.walBytes > 0 };
    }
    const walDir = fs.realpathSync(path.join(dataDir, 'pg_wal'));
    if (fs.statSync(walDir).dev === tableDev) {
      return { kind: 'local', places: [{ path: shown(tableDir), bytes: bytesFree(tableDir), holds: 'shadow and WAL', needBytes: tableNeed + need.walBytes }], how, walUnchecked: false };
    }
    return {
      kind: 'local',
      places: [
        { path: shown(tableDir), bytes: bytesFree(tableDir), holds: 'shadow', needBytes: tableNeed },
        { path: walDir, bytes: bytesFree(walDir), holds: 'WAL', needBytes: need.walBytes },
      ],
      how,
      walUnchecked: false,
    };
  } catch (err) {
    return { kind: 'unknown', why: `could not read the free space here (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
}

/**
 * A path that exists here may still belong to another server (a container's /var/lib/postgresql/data
 * on a host that runs its own). Proof, best first: the system identifier in the local
 * global/pg_control equals pg_control_system()'s; else the table's own data file (named after
 * its relfilenode) is here with the size the server reports for it.
 */
async function sameServer(c: Client, fileOid: string, dataDir: string | null, tableFile: string, segmentBytes: number): Promise<string | { why: string }> {
  if (dataDir !== null) {
    const allowed = (await c.query(`SELECT has_function_privilege('pg_control_system()', 'EXECUTE') AS ok`)).rows[0].ok;
    if (allowed) {
      const id: string = (await c.query(`SELECT system_identifier::text AS id FROM pg_control_system()`)).rows[0].id;
      const local = readSystemIdentifier(path.join(dataDir, 'global', 'pg_control'));
      if (local === id) return `the server's data directory ${dataDir} (same system identifier)`;
      if (local !== null) return { why: `${dataDir} here belongs to another server (system identifier ${local}, the server's is ${id})` };
    }
  }
  const size = async (): Promise<number> =>
    Math.min(segmentBytes, Number((await c.query(`SELECT pg_relation_size($1::oid)::int8::text AS b`, [fileOid])).rows[0].b));
  const before = await size();
  let here: number;
  try {
    here = fs.statSync(tableFile).size;
  } catch (err) {
    return { why: `cannot read ${tableFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  const after = await size();
  if (here >= Math.min(before, after) && here <= Math.max(before, after)) {
    return `the table's data file ${tableFile} is here with the size the server reports`;
  }
  return { why: `${tableFile} here is not the table's data file (its size differs from the server's)` };
}

/** The first field of pg_control (ControlFileData.system_identifier, uint64 in this host's byte order). */
function readSystemIdentifier(file: string): string | null {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(8);
      if (fs.readSync(fd, buf, 0, 8, 0) !== 8) return null;
      return (os.endianness() === 'LE' ? buf.readBigUInt64LE(0) : buf.readBigUInt64BE(0)).toString();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
}
