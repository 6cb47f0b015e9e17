import fs from 'node:fs';
import { UserError } from '../errors.js';
import { createPool, withClient } from '../db/session.js';
import { migrationsDir, readMigrationFile, readMigrations, type Layout, type MigrationFile, type Section } from '../migrate/files.js';
import { lintStatement, type SectionState } from './check.js';
import { FilesCatalog, showRelation } from './files-catalog.js';
import { madeSafeByMigrateUp, ruleById, type LockMode, type RuleId } from './rules.js';

export interface LintOptions {
  /** migration files or folders, linted in the order given (a folder's files in version order); none: `dir` */
  paths?: string[];
  /** the migrations folder when no path is given (default as `migrate`: $DBMATE_MIGRATIONS_DIR, ./db/migrations, ./migrations) */
  dir?: string;
  layout?: Layout;
  /** the server's version is read from here (read-only) when given */
  url?: string;
  /** PostgreSQL version linted for: a major (14: its latest minor) or major.minor; default 14; ignored with `url` */
  pgVersion?: string | number;
}

export interface LintFinding {
  rule: RuleId;
  file: string;
  section: 'up' | 'down';
  line: number;
  /** the statement's first line */
  statement: string;
  table: string | null;
  /** the lock it takes as written, on `table` */
  lock: LockMode | null;
  message: string;
  /** the safe way to write it, for the version linted for */
  alternative: string;
  /** whether `pgshift migrate up` runs it the safe way by itself */
  madeSafeByMigrateUp: boolean;
}

export interface LintReport {
  /** server_version_num linted for */
  pgVersion: number;
  versionFrom: 'server' | '--pg-version' | 'default';
  files: number;
  statements: number;
  /** unsuppressed: any makes `pgshift lint` exit 3 */
  findings: LintFinding[];
  /** silenced by `-- pgshift-lint-ignore <rule>` before the statement */
  suppressed: LintFinding[];
  warnings: string[];
}

export const DEFAULT_PG_VERSION = 14;

/** `pgshift lint`: the findings of every statement of the files, up and down sections, in order. */
export async function lint(opts: LintOptions): Promise<LintReport> {
  const { version, from } = opts.url ? { version: await serverVersion(opts.url), from: 'server' as const } : parseVersion(opts.pgVersion);
  const paths = opts.paths?.length ? opts.paths : [migrationsDir(opts.dir)];
  if (!opts.paths?.length && !fs.existsSync(paths[0]!)) throw new UserError(`no migrations folder ${paths[0]}: name files or folders, or --dir`);
  const warnings: string[] = [];
  const files: MigrationFile[] = [];
  for (const p of paths) {
    if (isDirectory(p)) {
      const read = await readMigrations(p, opts.layout);
      warnings.push(...read.warnings);
      files.push(...read.files);
    } else {
      files.push(await readMigrationFile(p, opts.layout));
    }
  }
  const catalog = new FilesCatalog();
  const findings: LintFinding[] = [];
  const suppressed: LintFinding[] = [];
  let statements = 0;
  for (const file of files) {
    // A down section undoes its file: what it changes never reaches the next file.
    const after = (c: FilesCatalog, section: Section, kind: 'up' | 'down'): void => {
      const state: SectionState = { file: file.path, transaction: section.transaction, lockTimeout: null, held: new Map(), timeoutFlagged: false };
      for (const stmt of section.statements) {
        statements++;
        for (const unknown of stmt.lintIgnore.filter((id) => !ruleById(id))) warnings.push(`${file.path}:${stmt.line}: pgshift-lint-ignore names no rule: ${unknown}`);
        for (const h of lintStatement(stmt.node, stmt.directives, { catalog: c, state, version })) {
          const finding: LintFinding = {
            rule: h.rule, file: file.path, section: kind, line: stmt.line, statement: firstLine(stmt.sql),
            table: h.table ? showRelation(h.table) : null, lock: h.lock, message: h.message,
            alternative: ruleById(h.rule)!.alternative(version), madeSafeByMigrateUp: madeSafeByMigrateUp(h.rule, version),
          };
          (stmt.lintIgnore.includes(h.rule) ? suppressed : findings).push(finding);
        }
        c.apply(stmt.node, file.path);
      }
    };
    after(catalog, file.up, 'up');
    if (file.down) after(catalog.clone(), file.down, 'down');
  }
  return { pgVersion: version, versionFrom: from, files: files.length, statements, findings, suppressed, warnings };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch (err) {
    throw new UserError(`${p}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function firstLine(sql: string): string {
  const line = sql.split('\n')[0]!.trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** "14" means 14's latest minor release; "14.3" that release; 10 and later. */
export function parseVersion(v: string | number | undefined): { version: number; from: '--pg-version' | 'default' } {
  if (v === undefined) return { version: DEFAULT_PG_VERSION * 10000 + 99, from: 'default' };
  const m = /^\s*(\d+)(?:\.(\d+))?\s*$/.exec(String(v));
  const major = Number(m?.[1]);
  if (!m || major < 10 || major > 99) throw new UserError(`--pg-version: "${String(v)}" is not a PostgreSQL version (10 or later, e.g. 14 or 14.3)`);
  return { version: major * 10000 + (m[2] === undefined ? 99 : Number(m[2])), from: '--pg-version' };
}

async function serverVersion(url: string): Promise<number> {
  const pool = createPool({ url, role: 'lint', maxClients: 1, readOnly: true, lockTimeoutMs: 1000 });
  try {
    return await withClient(pool, async (c) => Number((await c.query(`SELECT current_setting('server_version_num')::int AS v`)).rows[0].v));
  } finally {
    await pool.end();
  }
}
