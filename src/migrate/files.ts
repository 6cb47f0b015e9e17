import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseSync } from 'libpg-query';
import { UserError } from '../errors.js';
import { loadParser, type Node } from '../plan/parse.js';
import { parseDuration } from '../units.js';

/**
 * Migration files as the tools teams already use write them, read unchanged:
 * - dbmate: `<version>_<name>.sql` with `-- migrate:up [transaction:false]` and `-- migrate:down`;
 * - node-pg-migrate (SQL): `<version>_<name>.sql` with `-- Up Migration` and `-- Down Migration`;
 * - Flyway: `V<version>__<description>.sql` (no down section: an undo file `U<version>__...` is
 *   its down when present) and repeatable `R__<description>.sql`.
 * Sections are found by their marker lines, as those tools find them; statements are split by
 * the real PostgreSQL parser (libpg-query), never by `;` in the text.
 */
export const LAYOUTS = ['dbmate', 'node-pg-migrate', 'flyway'] as const;
export type Layout = (typeof LAYOUTS)[number];

export interface Directives {
  /** `-- pgshift:strategy copy|direct|auto` */
  strategy?: 'auto' | 'copy' | 'direct';
  /** `-- pgshift:lock-timeout 2s` */
  lockTimeoutMs?: number;
  /** `-- pgshift:backfill`: the UPDATE that follows runs as a throttled batched backfill */
  backfill?: boolean;
}

export interface Statement {
  /** as written, without the comments and blank lines before it */
  sql: string;
  /** the parse tree (one RawStmt's stmt) */
  node: Node;
  /** 1-based line of its first token in the file */
  line: number;
  directives: Directives;
  /** lint rules suppressed for it: `-- pgshift-lint-ignore <rule>` */
  lintIgnore: string[];
}

export interface Section {
  statements: Statement[];
  /** dbmate's `transaction:false` on the section's marker line */
  transaction: boolean;
}

export interface MigrationFile {
  /**
   * ordering key: dbmate/node-pg-migrate the leading digits, Flyway the version ("1.2" and so on);
   * a Flyway repeatable file: `R__<description>` as in its name (its key in the history)
   */
  version: string;
  /** Flyway's `R__` files: run after the versioned ones, again whenever they change */
  repeatable: boolean;
  name: string;
  path: string;
  /** sha256 of the file's bytes */
  checksum: string;
  /** the file's text (Flyway's own checksum is computed from it) */
  text: string;
  up: Section;
  /** null when the file has none (Flyway without its U file, a dbmate file without the marker) */
  down: Section | null;
}

const DBMATE_FILE = /^(\d+)_(.+)\.sql$/;
const FLYWAY_FILE = /^([VUR])(\d+(?:[._]\d+)*)?__(.+)\.sql$/;
const DBMATE_MARKER = /^--\s*migrate:(up|down)\b(.*)$/;
const NODE_PG_MIGRATE_MARKER = /^--\s*(Up|Down) Migration\s*$/i;

/** `--dir`, else `$DBMATE_MIGRATIONS_DIR`, else `./db/migrations` when it exists (dbmate's default), else `./migrations`. */
export function migrationsDir(dir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (dir) return dir;
  if (env.DBMATE_MIGRATIONS_DIR) return env.DBMATE_MIGRATIONS_DIR;
  return fs.existsSync(path.join('db', 'migrations')) ? path.join('db', 'migrations') : 'migrations';
}

/** Which tool's layout a folder holds: Flyway by its file names, node-pg-migrate by its markers, else dbmate. */
export function detectLayout(names: string[], read: (name: string) => string): Layout {
  const sql = names.filter((n) => n.endsWith('.sql'));
  if (sql.some((n) => FLYWAY_FILE.test(n)) && !sql.some((n) => DBMATE_FILE.test(n))) return 'flyway';
  if (sql.some((n) => DBMATE_FILE.test(n) && markers(read(n), NODE_PG_MIGRATE_MARKER).length > 0)) return 'node-pg-migrate';
  return 'dbmate';
}

/** Every migration of a folder, in version order (Flyway's repeatable files after the versioned ones). */
export async function readMigrations(dir: string, layout?: Layout): Promise<{ layout: Layout; files: MigrationFile[]; warnings: string[] }> {
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch (err) {
    throw new UserError(`migrations folder ${dir}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const read = (n: string): string => fs.readFileSync(path.join(dir, n), 'utf8');
  const chosen = layout ?? detectLayout(names, read);
  await loadParser();
  const warnings: string[] = [];
  const files: MigrationFile[] = [];
  const seen = new Map<string, string>();
  if (chosen === 'flyway') {
    const undo = new Map(names.flatMap((n) => { const m = FLYWAY_FILE.exec(n); return m?.[1] === 'U' && m[2] ? [[normalizeVersion(m[2]), n] as const] : []; }));
    for (const n of names) {
      const m = FLYWAY_FILE.exec(n);
      if (!m || m[1] === 'U') continue;
      const repeatable = m[1] === 'R';
      if (repeatable === (m[2] !== undefined)) continue; // R1__x.sql or V__x.sql: not Flyway's
      const version = repeatable ? `R__${m[3]}` : normalizeVersion(m[2]!);
      const text = read(n);
      const undoName = undo.get(version);
      if (!repeatable && !undoName) warnings.push(`${n}: no undo file (U${m[2]}__...sql): it cannot be taken down`);
      checkUnique(seen, version, n);
      files.push({
        version, repeatable, name: m[3]!.replace(/_/g, ' '), path: path.join(dir, n), checksum: sha256(text), text,
        up: section(text, n, true), down: undoName ? section(read(undoName), undoName, true) : null,
      });
    }
    // Flyway runs repeatable files after the versioned ones, in the order of their descriptions.
    files.sort((a, b) => compareVersions(a.version, b.version));
    return { layout: chosen, files, warnings };
  }
  for (const n of names) {
    const m = DBMATE_FILE.exec(n);
    if (!m) continue;
    const text = read(n);
    checkUnique(seen, m[1]!, n);
    const parsed = chosen === 'dbmate' ? dbmateSections(text, n) : nodePgMigrateSections(text, n);
    files.push({ version: m[1]!, repeatable: false, name: m[2]!, path: path.join(dir, n), checksum: sha256(text), text, ...parsed });
  }
  return { layout: chosen, files, warnings };
}

/**
 * One file named on a command line (lint): a dbmate or node-pg-migrate file by its marker lines, a
 * Flyway file by its name (its undo file is not looked for), else a plain SQL file: one up section,
 * run statement by statement outside a transaction, as `psql -f` runs it. `layout` overrides the
 * detection; a plain file read as dbmate or node-pg-migrate must then have their markers.
 */
export async function readMigrationFile(file: string, layout?: Layout): Promise<MigrationFile> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  await loadParser();
  const n = path.basename(file);
  const flyway = FLYWAY_FILE.exec(n);
  const chosen = layout ?? (markers(text, DBMATE_MARKER).length ? 'dbmate' : markers(text, NODE_PG_MIGRATE_MARKER).length ? 'node-pg-migrate' : flyway ? 'flyway' : null);
  const base = { path: file, checksum: sha256(text), text };
  if (chosen === 'dbmate' || chosen === 'node-pg-migrate') {
    const m = DBMATE_FILE.exec(n);
    const parsed = chosen === 'dbmate' ? dbmateSections(text, n) : nodePgMigrateSections(text, n);
    return { ...base, version: m?.[1] ?? n, repeatable: false, name: m?.[2] ?? n.replace(/\.sql$/, ''), ...parsed };
  }
  const repeatable = flyway?.[1] === 'R';
  const version = flyway?.[1] === 'V' && flyway[2] ? normalizeVersion(flyway[2]) : repeatable ? `R__${flyway![3]}` : n;
  const name = flyway ? flyway[3]!.replace(/_/g, ' ') : n.replace(/\.sql$/, '');
  return { ...base, version, repeatable, name, up: section(text, n, chosen === 'flyway'), down: null };
}

function checkUnique(seen: Map<string, string>, version: string, name: string): void {
  const other = seen.get(version);
  if (other) throw new UserError(`migrations ${other} and ${name} have the same version ${version}`);
  seen.set(version, name);
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function normalizeVersion(v: string): string {
  return v.replace(/_/g, '.').split('.').map((p) => String(Number(p))).join('.');
}

/**
 * Version order: numerically part by part ("1.10" after "1.9"; dbmate's timestamps too), and
 * Flyway's repeatable keys (`R__...`) after every version, by name.
 */
export function compareVersions(a: string, b: string): number {
  const ra = a.startsWith('R__');
  if (ra !== b.startsWith('R__')) return ra ? 1 : -1;
  if (ra) return a.localeCompare(b);
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (Number.isNaN(d)) return a.localeCompare(b);
    if (d !== 0) return d;
  }
  return 0;
}

/** dbmate: `-- migrate:up` and `-- migrate:down` lines, each with optional `transaction:false`. */
function dbmateSections(text: string, name: string): Pick<MigrationFile, 'up' | 'down'> {
  const marks = markers(text, DBMATE_MARKER);
  const up = marks.find((m) => m.kind === 'up');
  if (!up) throw new UserError(`${name}: no "-- migrate:up" line`);
  const down = marks.find((m) => m.kind === 'down');
  const slice = (m: Marker): Section => section(sectionText(text, m, marks), name, !/transaction\s*:\s*false/.test(m.rest));
  return { up: slice(up), down: down ? slice(down) : null };
}

/** node-pg-migrate: `-- Up Migration` and `-- Down Migration` lines. */
function nodePgMigrateSections(text: string, name: string): Pick<MigrationFile, 'up' | 'down'> {
  const marks = markers(text, NODE_PG_MIGRATE_MARKER).map((m) => ({ ...m, kind: m.kind.toLowerCase() }));
  const up = marks.find((m) => m.kind === 'up');
  if (!up) throw new UserError(`${name}: no "-- Up Migration" line`);
  const down = marks.find((m) => m.kind === 'down');
  const slice = (m: Marker): Section => section(sectionText(text, m, marks), name, true);
  return { up: slice(up), down: down ? slice(down) : null };
}

/** The text from a marker line to the next, everything before it blanked (newlines kept, so lines are the file's). */
function sectionText(text: string, m: Marker, marks: Marker[]): string {
  const next = marks.find((o) => o.offset > m.offset);
  return text.slice(0, m.end).replace(/[^\n]/g, ' ') + text.slice(m.end, next ? next.offset : text.length);
}

interface Marker {
  kind: string;
  rest: string;
  /** where the marker line starts, and where it ends */
  offset: number;
  end: number;
}

function markers(text: string, re: RegExp): Marker[] {
  const out: Marker[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    const m = re.exec(line.trim());
    if (m) out.push({ kind: m[1]!, rest: m[2] ?? '', offset, end: offset + line.length });
    offset += line.length + 1;
  }
  return out;
}

/**
 * The statements of one section. `text` keeps the file's offsets (what precedes the section is
 * blanked), so line numbers are the file's.
 */
function section(text: string, name: string, transaction: boolean): Section {
  // libpg-query refuses text with nothing but whitespace ("Query cannot be empty"): an empty down section, as dbmate writes them.
  if (text.trim() === '') return { statements: [], transaction };
  let tree: Node;
  try {
    tree = parseSync(text);
  } catch (err) {
    // libpg-query gives the 0-based offset of the error in sqlDetails (there is no cursorPosition on the error itself).
    const e = err as Error & { sqlDetails?: { cursorPosition?: number } };
    const pos = e.sqlDetails?.cursorPosition;
    const at = typeof pos === 'number' ? `line ${lineAt(text, pos)}: ` : '';
    throw new UserError(`${name}: ${at}cannot parse: ${e.message.split('\n')[0]}`);
  }
  const statements: Statement[] = (tree.stmts ?? []).map((s: Node) => {
    const start = s.stmt_location ?? 0;
    const raw = text.slice(start, s.stmt_len ? start + s.stmt_len : undefined);
    const lead = leadingComments(raw);
    const sql = raw.slice(lead.length).trim();
    return { sql, node: s.stmt, line: lineAt(text, start + lead.length), ...directivesOf(lead, name, lineAt(text, start)) };
  });
  return { statements, transaction };
}

function lineAt(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** The whitespace and comments before a statement's first token. */
export function leadingComments(raw: string): string {
  let i = 0;
  for (;;) {
    while (i < raw.length && /\s/.test(raw[i]!)) i++;
    if (raw.startsWith('--', i)) {
      const nl = raw.indexOf('\n', i);
      i = nl < 0 ? raw.length : nl + 1;
    } else if (raw.startsWith('/*', i)) {
      const close = raw.indexOf('*/', i + 2);
      i = close < 0 ? raw.length : close + 2;
    } else {
      return raw.slice(0, i);
    }
  }
}

/** `-- pgshift:...` directives and `-- pgshift-lint-ignore` lines in the comments before a statement. */
function directivesOf(comments: string, name: string, line: number): { directives: Directives; lintIgnore: string[] } {
  const directives: Directives = {};
  const lintIgnore: string[] = [];
  for (const l of comments.split('\n')) {
    const ignore = /^\s*--\s*pgshift-lint-ignore\s+(.+)$/.exec(l);
    if (ignore) {
      lintIgnore.push(...ignore[1]!.split(/[\s,]+/).filter(Boolean));
      continue;
    }
    const d = /^\s*--\s*pgshift:([a-z-]+)\s*(.*?)\s*$/.exec(l);
    if (!d) continue;
    const [, key, value] = d;
    if (key === 'strategy') {
      if (value !== 'auto' && value !== 'copy' && value !== 'direct') throw new UserError(`${name}: near line ${line}: -- pgshift:strategy "${value}" is not one of auto, copy, direct`);
      directives.strategy = value;
    } else if (key === 'lock-timeout') {
      directives.lockTimeoutMs = parseDuration(value!, `${name}: near line ${line}: -- pgshift:lock-timeout`);
    } else if (key === 'backfill') {
      directives.backfill = true;
    } else {
      throw new UserError(`${name}: near line ${line}: unknown directive -- pgshift:${key} (known: strategy, lock-timeout, backfill)`);
    }
  }
  return { directives, lintIgnore };
}
