// The differential oracle of DESIGN.md section 5: the online result of an ALTER must equal the
// offline result of the same ALTER on an identical database. snapshotCatalog() describes the
// user-visible schema with SQL only (pg_dump would have to match the server's version), without
// OIDs, and sorted, so that the two databases compare equal exactly when a user could not tell
// them apart. diffSnapshots() turns a mismatch into lines a test failure can show.
import pg from 'pg';
import {
  COLUMNS_SQL,
  CONSTRAINTS_SQL,
  FUNCTIONS_SQL,
  INDEXES_SQL,
  POLICIES_SQL,
  RELATIONS_SQL,
  RULES_SQL,
  SCHEMAS_SQL,
  SEQUENCES_SQL,
  STATISTICS_SQL,
  TRIGGERS_SQL,
  TYPES_SQL,
  VIEWS_SQL,
  publicationsSql,
} from './catalog-queries.js';

export const SECTIONS = [
  'schemas',
  'relations',
  'columns',
  'constraints',
  'indexes',
  'triggers',
  'policies',
  'views',
  'sequences',
  'publications',
  'statistics',
  'rules',
  'functions',
  'types',
] as const;
export type Section = (typeof SECTIONS)[number];

export type CatalogValue = string | number | boolean | null | CatalogValue[];
export type CatalogEntry = { [field: string]: CatalogValue };
/** Per section, entries by a readable key such as `public.orders.orders_pkey`, keys sorted. */
export type CatalogSnapshot = { [S in Section]: Record<string, CatalogEntry> };

type Queryable = pg.ClientBase | pg.Pool;

export async function snapshotCatalog(client: Queryable, schemas: string[]): Promise<CatalogSnapshot> {
  return withCatalogClient(client, async (c) => {
    const version = await c.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
    const versionNum = Number(version.rows[0]?.v ?? 0);
    const sql: Record<Section, string> = {
      schemas: SCHEMAS_SQL,
      relations: RELATIONS_SQL,
      columns: COLUMNS_SQL,
      constraints: CONSTRAINTS_SQL,
      indexes: INDEXES_SQL,
      triggers: TRIGGERS_SQL,
      policies: POLICIES_SQL,
      views: VIEWS_SQL,
      sequences: SEQUENCES_SQL,
      publications: publicationsSql(versionNum),
      statistics: STATISTICS_SQL,
      rules: RULES_SQL,
      functions: FUNCTIONS_SQL,
      types: TYPES_SQL,
    };
    const snapshot = {} as CatalogSnapshot;
    for (const section of SECTIONS) {
      const res = await c.query<Record<string, unknown>>(sql[section], [schemas]).catch((err: unknown) => {
        throw new Error(`snapshotCatalog: the ${section} query failed`, { cause: err });
      });
      snapshot[section] = toEntries(res.rows);
    }
    await addSequenceState(c, snapshot.sequences);
    return snapshot;
  });
}

/**
 * Human-readable differences, one per line, empty when equal. `a` and `b` name the sides:
 * `indexes public.t_a_idx: only in a`, `columns public.t.x: not_null: true -> false`,
 * `relations public.t: acl: +["app:UPDATE:NO"]`.
 */
export function diffSnapshots(a: CatalogSnapshot, b: CatalogSnapshot): string[] {
  const lines: string[] = [];
  for (const section of SECTIONS) {
    const left = a[section] ?? {};
    const right = b[section] ?? {};
    const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort();
    for (const key of keys) {
      const l = left[key];
      const r = right[key];
      if (l === undefined) lines.push(`${section} ${key}: only in b`);
      else if (r === undefined) lines.push(`${section} ${key}: only in a`);
      else lines.push(...diffEntry(`${section} ${key}`, l, r));
    }
  }
  return lines;
}

function diffEntry(label: string, l: CatalogEntry, r: CatalogEntry): string[] {
  const fields = [...new Set([...Object.keys(l), ...Object.keys(r)])].sort();
  const lines: string[] = [];
  for (const field of fields) {
    const lv = l[field] ?? null;
    const rv = r[field] ?? null;
    if (JSON.stringify(lv) !== JSON.stringify(rv)) lines.push(`${label}: ${field}: ${describeChange(lv, rv)}`);
  }
  return lines;
}

// Long lists (ACLs, options) differ by an element or two: name those, not both whole lists.
// When only the order differs, both lists are shown, as order is then the difference.
function describeChange(l: CatalogValue, r: CatalogValue): string {
  if (Array.isArray(l) && Array.isArray(r)) {
    const lt = l.map((v) => JSON.stringify(v));
    const rt = r.map((v) => JSON.stringify(v));
    const removed = lt.filter((v) => !rt.includes(v));
    const added = rt.filter((v) => !lt.includes(v));
    if (removed.length + added.length > 0) {
      const parts: string[] = [];
      if (removed.length > 0) parts.push(`-[${removed.join(',')}]`);
      if (added.length > 0) parts.push(`+[${added.join(',')}]`);
      return parts.join(' ');
    }
  }
  return `${JSON.stringify(l)} -> ${JSON.stringify(r)}`;
}

// pg_get_*def and regclass output qualify a name unless its schema is on search_path: pin
// search_path to pg_catalog so that every user object is always qualified, whatever the caller's
// session says. Session-level (not SET LOCAL) so this works outside a transaction too; the old
// value is put back so that a caller's client is left as it was found.
async function withCatalogClient<T>(target: Queryable, fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
  const pooled = target instanceof pg.Pool ? await target.connect() : null;
  const c: pg.ClientBase = pooled ?? (target as pg.ClientBase);
  try {
    const old = await c.query<{ p: string }>(`SELECT current_setting('search_path') AS p`);
    await c.query(`SELECT set_config('search_path', 'pg_catalog', false)`);
    try {
      return await fn(c);
    } finally {
      await c.query(`SELECT set_config('search_path', $1, false)`, [old.rows[0]?.p ?? '']);
    }
  } finally {
    pooled?.release();
  }
}

async function addSequenceState(c: pg.ClientBase, sequences: Record<string, CatalogEntry>): Promise<void> {
  for (const [key, entry] of Object.entries(sequences)) {
    // `qualified` is quote_ident() output from the catalog query, safe to splice.
    const { qualified, ...fields } = entry;
    const res = await c.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text AS last_value, is_called FROM ${String(qualified)}`,
    );
    sequences[key] = sortFields({
      ...fields,
      last_value: res.rows[0]?.last_value ?? null,
      is_called: res.rows[0]?.is_called ?? null,
    });
  }
}

// Rows come back ordered by nothing in particular; sort by key, and make sure a key is unique
// (a duplicate would silently hide one object) by numbering repeats in a content order.
function toEntries(rows: Record<string, unknown>[]): Record<string, CatalogEntry> {
  const withText = rows.map((row) => {
    const { key, ...fields } = row;
    const entry = sortFields(fields);
    return { key: String(key), entry, text: JSON.stringify(entry) };
  });
  withText.sort((x, y) => cmp(x.key, y.key) || cmp(x.text, y.text));
  const out: Record<string, CatalogEntry> = {};
  for (const { key, entry } of withText) {
    let unique = key;
    for (let n = 2; unique in out; n++) unique = `${key} #${n}`;
    out[unique] = entry;
  }
  return out;
}

function sortFields(fields: Record<string, unknown>): CatalogEntry {
  const entry: CatalogEntry = {};
  for (const name of Object.keys(fields).sort()) entry[name] = toValue(fields[name]);
  return entry;
}

function toValue(v: unknown): CatalogValue {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(toValue);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  // Anything else (a Date, a Buffer) is kept as its text so the snapshot stays JSON-able.
  return String(v);
}

function cmp(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
