import type { Client } from '../db/session.js';
import { literal } from '../db/quote.js';
import { leadingComments } from '../migrate/files.js';

/**
 * The runbook's scripts are the engine's own statements, kept as an engine function sends them
 * to a client that records them; so a script says what a run would do, not what someone wrote
 * down once. Two modes:
 * - 'run': every statement runs (a trial inside a transaction the caller rolls back), and those
 *   that change something are kept, except what a savepoint rolled back (a probe);
 * - 'dry': only reads run (catalog look-ups the function decides by); every other statement is
 *   kept and answered with no rows. For a step whose locks a plan must not take (the swap).
 */
export interface Recorded {
  sql: string;
  params: unknown[];
}

export interface Recorder {
  client: Client;
  statements: Recorded[];
  /** the kept statements as SQL, parameters written in as literals */
  sql(): string[];
}

export interface RecorderOptions {
  /** rewrites the rows a read returned, before the recorded function sees them */
  onRead?: (sql: string, rows: Record<string, unknown>[], params: unknown[]) => Record<string, unknown>[];
}

// A read: runs in either mode. Functions that change state (setval, nextval) never count as one.
const READ = /^\s*(SELECT|WITH|SHOW|EXPLAIN|VALUES)\b/i;
const WRITES_STATE = /\b(setval|nextval|pg_advisory_lock|pg_terminate_backend|pg_cancel_backend)\s*\(/i;

export function recordingClient(c: Client, mode: 'run' | 'dry', opts: RecorderOptions = {}): Recorder {
  const statements: Recorded[] = [];
  const savepoints: { name: string; at: number }[] = [];
  const query = async (...args: unknown[]): Promise<unknown> => {
    const config = typeof args[0] === 'string' ? { text: args[0], values: args[1] } : (args[0] as { text: string; values?: unknown[] });
    const text = config.text;
    const params = (config.values as unknown[] | undefined) ?? [];
    const bare = text.slice(leadingComments(text).length);
    const read = READ.test(bare) && !WRITES_STATE.test(bare);
    const savepoint = /^SAVEPOINT\s+(\S+)/i.exec(bare);
    const rollbackTo = /^ROLLBACK\s+TO\s+(?:SAVEPOINT\s+)?(\S+)/i.exec(bare);
    if (savepoint) savepoints.push({ name: savepoint[1]!, at: statements.length });
    else if (rollbackTo) {
      let at = savepoints.length - 1;
      while (at >= 0 && savepoints[at]!.name !== rollbackTo[1]) at--;
      if (at >= 0) statements.length = savepoints[at]!.at;
    } else if (!read && !/^RELEASE\b/i.test(bare)) statements.push({ sql: text, params });
    if (mode === 'dry' && !read && !/^SET\s+LOCAL\b/i.test(bare)) return { rows: [], rowCount: 0, command: '', fields: [] };
    const result = (await (c.query as (...a: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>)(...args));
    if (read && opts.onRead) return { ...result, rows: opts.onRead(text, result.rows, params) };
    return result;
  };
  const client = new Proxy(c, {
    get(target, prop) {
      if (prop === 'query') return query;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { client, statements, sql: () => statements.map((s) => inlineParams(s.sql, s.params)) };
}

/** `$n` placeholders outside quotes, comments and dollar-quoted bodies, each replaced by what `value(n)` gives. */
export function substituteParams(sql: string, value: (n: number) => string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      const end = closing(sql, i, ch);
      out += sql.slice(i, end);
      i = end;
    } else if (ch === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === '$') {
      const num = /^\$(\d+)/.exec(sql.slice(i));
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (num) {
        out += value(Number(num[1]));
        i += num[0].length;
      } else if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        const stop = end < 0 ? sql.length : end + tag[0].length;
        out += sql.slice(i, stop);
        i = stop;
      } else {
        out += ch;
        i++;
      }
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/** The index just past a quoted string or identifier that starts at `start` (a doubled quote stays inside). */
function closing(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}

/** The statement with its parameters written in as literals (text; NULL for null). */
export function inlineParams(sql: string, params: unknown[]): string {
  if (params.length === 0) return sql;
  return substituteParams(sql, (n) => {
    const v = params[n - 1];
    if (v === null || v === undefined) return 'NULL';
    if (Array.isArray(v)) return `${literal(`{${v.map((x) => (x === null ? 'NULL' : `"${String(x).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`)}`;
    return literal(String(v));
  });
}
