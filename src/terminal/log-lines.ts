/**
 * A pino record as a line a person reads: its message, then what it says why (`reason`,
 * `warning`), then its other fields as "key value". The fields every record carries (level, time,
 * component) are left out.
 */
export interface ReadableLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  text: string;
}

/** Info records whose content the status line shows live: as lines they would only repeat it. */
const SHOWN_BY_THE_STATUS_LINE = new Set(['copying', 'backfilling']);

const OMITTED = new Set(['level', 'time', 'msg', 'component', 'pid', 'hostname']);

export function readableLog(line: string): ReadableLog | null {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trim() ? { level: 'info', text: line.trim() } : null;
  }
  const n = typeof r.level === 'number' ? r.level : 30;
  const level = n >= 50 ? 'error' : n >= 40 ? 'warn' : n >= 30 ? 'info' : 'debug';
  const msg = String(r.msg ?? '');
  if (level === 'info' && SHOWN_BY_THE_STATUS_LINE.has(msg)) return null;
  // The throttler's warnings arrive as msg 'warning' with the text in `warning`.
  const because = [r.reason, msg === 'warning' ? undefined : r.warning].filter((x) => x !== undefined).map(show);
  const head = msg === 'warning' && r.warning !== undefined ? show(r.warning) : [msg, ...because].filter(Boolean).join(': ');
  const rest = Object.entries(r)
    .filter(([k, v]) => !OMITTED.has(k) && k !== 'reason' && k !== 'warning' && v !== undefined)
    .map(([k, v]) => `${k} ${show(v)}`);
  const prefix = level === 'warn' ? 'warning: ' : level === 'error' ? 'error: ' : '';
  return { level, text: `${prefix}${head}${rest.length ? ` (${rest.join(', ')})` : ''}` };
}

function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && 'message' in v && typeof (v as { message: unknown }).message === 'string') return (v as { message: string }).message;
  return JSON.stringify(v);
}
