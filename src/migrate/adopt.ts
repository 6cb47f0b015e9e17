import zlib from 'node:zlib';
import type { Client, Pool } from '../db/session.js';
import { withTransaction } from '../db/session.js';
import { qualified } from '../db/quote.js';
import { UserError } from '../errors.js';
import { ensureStateSchema } from '../state/store.js';
import type { MigrationFile } from './files.js';

/**
 * Adopting and correcting the history, each recorded in pgshift.migration_file_events:
 * - baseline: another tool's history imported, nothing re-run (dbmate's schema_migrations,
 *   node-pg-migrate's pgmigrations, Flyway's flyway_schema_history; Flyway's checksums compared
 *   the way Flyway compares them, so a file edited since Flyway applied it shows as changed);
 * - repair: an edited applied file's current checksum accepted;
 * - mark: a version set applied or pending by hand.
 */
export const SOURCES = ['dbmate', 'flyway', 'node-pg-migrate'] as const;
export type Source = (typeof SOURCES)[number];

/**
 * Flyway's checksum of an SQL file: CRC-32 of the UTF-8 bytes of its lines read one by one
 * without their line endings (so CRLF and LF files agree), a leading BOM dropped, as a signed
 * 32-bit integer (Java's int), as Flyway's ChecksumCalculator computes it.
 */
export function flywayChecksum(text: string): number {
  const body = text.replace(/^\uFEFF/, '');
  const lines = body.split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop(); // readLine() gives no empty line after a final line ending
  return zlib.crc32(Buffer.from(lines.join(''), 'utf8')) | 0;
}

interface Imported {
  version: string;
  /** the other tool's checksum does not match the file on disk */
  changed: boolean;
}

/** Imports another tool's history: every version it applied becomes applied here; nothing runs. */
export async function baseline(pool: Pool, from: Source, files: MigrationFile[], table?: string): Promise<Imported[]> {
  await ensureStateSchema(pool);
  return withTransaction(pool, async (c) => {
    const rows = await readOther(c, from, table);
    const out: Imported[] = [];
    for (const r of rows) {
      const file = files.find((f) => f.version === r.version);
      const changed = file !== undefined && r.flywayChecksum !== undefined && r.flywayChecksum !== flywayChecksum(file.text);
      // A file gone from the folder, or changed since the other tool ran it, keeps a checksum no file has: status says so.
      const checksum = file && !changed ? file.checksum : r.flywayChecksum !== undefined ? `flyway-crc32:${r.flywayChecksum}` : `${from}:unknown`;
      await c.query(
        `INSERT INTO pgshift.migration_files (version, name, checksum, success, steps_done, applied_at, applied_by)
         VALUES ($1, $2, $3, true, $4, coalesce($5::timestamptz, now()), $6)
         ON CONFLICT (version) DO NOTHING`,
        [r.version, file?.name ?? r.name, checksum, file?.up.statements.length ?? 0, r.appliedAt ?? null, `${from} (baseline)`],
      );
      await event(c, r.version, 'baseline', `from ${from}${changed ? ': its checksum does not match the file (edited since)' : ''}`);
      out.push({ version: r.version, changed });
    }
    return out;
  });
}

async function readOther(c: Client, from: Source, table?: string): Promise<{ version: string; name: string; appliedAt?: string; flywayChecksum?: number }[]> {
  const name = table ?? (from === 'dbmate' ? 'schema_migrations' : from === 'flyway' ? 'flyway_schema_history' : 'pgmigrations');
  const rel = name.includes('.') ? qualified(name.split('.')[0]!, name.split('.')[1]!) : qualified('public', name);
  if ((await c.query(`SELECT to_regclass($1) AS t`, [rel])).rows[0].t === null) throw new UserError(`no ${from} history here: ${rel} does not exist (name it with --table)`);
  if (from === 'dbmate') {
    return (await c.query(`SELECT version::text FROM ${rel} ORDER BY version`)).rows.map((r) => ({ version: r.version, name: '(dbmate)' }));
  }
  if (from === 'node-pg-migrate') {
    return (await c.query(`SELECT name, run_on::text FROM ${rel} ORDER BY id`)).rows.map((r) => ({ version: /^(\d+)/.exec(r.name)?.[1] ?? r.name, name: r.name, appliedAt: r.run_on }));
  }
  // Versioned rows, and of each repeatable file (no version) its latest run: the file is run again here when it changed since.
  return (await c.query(
    `SELECT version, description, checksum, installed_on::text FROM ${rel} h
      WHERE success AND type = 'SQL'
        AND (version IS NOT NULL OR installed_rank = (SELECT max(installed_rank) FROM ${rel} r WHERE r.success AND r.version IS NULL AND r.description = h.description))
      ORDER BY installed_rank`,
  )).rows.map((r) => ({
    version: r.version === null ? `R__${r.description.replace(/ /g, '_')}` : normalize(r.version),
    name: r.description, appliedAt: r.installed_on, flywayChecksum: r.checksum ?? undefined,
  }));
}

function normalize(v: string): string {
  return v.replace(/_/g, '.').split('.').map((p) => String(Number(p))).join('.');
}

/** Accepts the current checksum of an edited applied file (the operator said so). */
export async function repair(pool: Pool, file: MigrationFile): Promise<string> {
  return withTransaction(pool, async (c) => {
    const r = await c.query(`UPDATE pgshift.migration_files SET checksum = $2 WHERE version = $1 RETURNING (xmax = 0) AS same`, [file.version, file.checksum]);
    if (r.rowCount === 0) throw new UserError(`${file.version} is not in the history: nothing to repair`);
    await event(c, file.version, 'repair', `checksum set to ${file.checksum}`);
    return `${file.version} ${file.name}: its current checksum is accepted`;
  });
}

/** Sets a version applied (nothing run) or pending (its row removed, nothing undone), by hand. */
export async function mark(pool: Pool, file: MigrationFile, state: 'applied' | 'pending'): Promise<string> {
  await ensureStateSchema(pool);
  return withTransaction(pool, async (c) => {
    if (state === 'applied') {
      await c.query(
        `INSERT INTO pgshift.migration_files (version, name, checksum, success, steps_done, applied_at, applied_by)
         VALUES ($1, $2, $3, true, $4, now(), current_user || ' (mark)')
         ON CONFLICT (version) DO UPDATE SET checksum = EXCLUDED.checksum, success = true, steps_done = EXCLUDED.steps_done, applied_at = now()`,
        [file.version, file.name, file.checksum, file.up.statements.length],
      );
    } else {
      await c.query(`DELETE FROM pgshift.migration_files WHERE version = $1`, [file.version]);
    }
    await event(c, file.version, `mark ${state}`, null);
    return `${file.version} ${file.name}: marked ${state} (nothing was run)`;
  });
}

async function event(c: Client, version: string, action: string, detail: string | null): Promise<void> {
  await c.query(`INSERT INTO pgshift.migration_file_events (version, action, detail) VALUES ($1, $2, $3)`, [version, action, detail]);
}
