import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { UserError } from '../errors.js';
import { connectionConfig, parseKeywordValue } from '../db/connection.js';

/**
 * A fleet's targets file (`--targets <file>`), in one of two forms:
 *
 *   plain lines    `URL`, `LABEL URL`, `LABEL service=NAME` (or other libpq key=value settings),
 *                  `#` comments and blank lines; the waves come from --canary / --concurrency /
 *                  --continue-on-error
 *   YAML           `waves: [{ name, parallel, on_error: stop|continue, targets: [{ label, url | service }] }]`
 *
 * Passwords never live in the file: a URL or settings carrying one are refused (exit 2, one
 * line, the password not repeated); libpq's sources supply it (PGPASSFILE / ~/.pgpass,
 * PGPASSWORD, or the service file), exactly as for a single run (db/connection.ts, which also
 * reads `service=` from PGSERVICEFILE: a target's connection string goes to the child's --url
 * unchanged, so a fleet target connects the way `pgshift alter --url` would).
 */
export interface Target {
  /** how the console, status and the reports name it: given, or host:port/dbname (never credentials) */
  label: string;
  /** a postgres:// URL without password, or libpq key=value settings (service=NAME) */
  conn: string;
  /** host:port as the connection resolves it: the server's identity until preflight reads system_identifier */
  address: string;
  /** where it was written, for messages: `file:line` */
  source: string;
}

export const ON_ERROR = ['stop', 'continue'] as const;
export type OnError = (typeof ON_ERROR)[number];

export interface Wave {
  name: string;
  /** targets of this wave running at once */
  parallel: number;
  /** stop: no new target starts after a failure; continue: the rest of the wave runs (the next wave still waits) */
  onError: OnError;
  targets: Target[];
}

export interface TargetsFile {
  file: string;
  form: 'plain' | 'yaml';
  /** plain: one wave of every target, to be split by waveOptions(); yaml: the file's waves */
  waves: Wave[];
}

/** The command line's say over a plain list: --concurrency, --canary, --continue-on-error. */
export interface WaveOptions {
  concurrency?: number;
  canary?: number;
  continueOnError?: boolean;
}

export function readTargetsFile(file: string, env: NodeJS.ProcessEnv = process.env): TargetsFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`--targets: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseTargets(text, file, env);
}

export function parseTargets(text: string, file = 'targets', env: NodeJS.ProcessEnv = process.env): TargetsFile {
  const yaml = /\.ya?ml$/i.test(file) || /^(waves|targets)\s*:/m.test(text.replace(/^\s*#.*$/gm, '').trimStart().split('\n')[0] ?? '');
  const parsed = yaml ? parseYaml(text, file, env) : { file, form: 'plain' as const, waves: [{ name: 'all', parallel: 1, onError: 'stop' as const, targets: parsePlain(text, file, env) }] };
  const all = parsed.waves.flatMap((w) => w.targets);
  if (all.length === 0) throw new UserError(`--targets: ${file} names no target`);
  const seen = new Map<string, Target>();
  for (const t of all) {
    const other = seen.get(t.label);
    if (other) throw new UserError(`--targets: ${t.source}: the label "${t.label}" is already used at ${other.source}; give each target its own label`);
    seen.set(t.label, t);
  }
  const names = new Set<string>();
  for (const w of parsed.waves) {
    if (names.has(w.name)) throw new UserError(`--targets: ${file}: two waves are named "${w.name}"`);
    names.add(w.name);
  }
  return parsed;
}

function parsePlain(text: string, file: string, env: NodeJS.ProcessEnv): Target[] {
  const out: Target[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const source = `${path.basename(file)}:${i + 1}`;
    // `URL`, `key=value ...` (no label), `LABEL URL` or `LABEL key=value ...`
    const first = line.split(/\s+/, 1)[0]!;
    const labelled = !isConnection(first);
    const conn = labelled ? line.slice(first.length).trim() : line;
    if (labelled && conn === '') throw new UserError(`--targets: ${source}: "${first}" is neither a postgres:// URL nor key=value settings, and no connection follows it`);
    if (labelled && !isConnection(conn)) throw new UserError(`--targets: ${source}: after the label "${first}" comes a postgres:// URL or key=value settings (e.g. service=NAME)`);
    out.push(target(labelled ? first : undefined, conn, source, env));
  });
  return out;
}

function isConnection(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s) || /^[a-z_]+\s*=/i.test(s);
}

function parseYaml(text: string, file: string, env: NodeJS.ProcessEnv): TargetsFile {
  // Required here, not imported: the YAML parser is 50 ms of every command's start, and only a
  // fleet's YAML targets file needs it.
  const { parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new UserError(`--targets: ${path.basename(file)}:${text.slice(0, e.pos[0]).split('\n').length}: ${e.message.split('\n')[0]}`);
  }
  const lineOf = (node: unknown): string => {
    const range = (node as { range?: [number, number] } | null)?.range;
    return `${path.basename(file)}:${range ? text.slice(0, range[0]).split('\n').length : '?'}`;
  };
  const root = doc.toJS() as unknown;
  const where = path.basename(file);
  if (!isRecord(root)) throw new UserError(`--targets: ${where}: expected a mapping with "waves:" (or "targets:")`);
  unknownKeys(root, ['waves', 'targets'], where);
  if (root.waves !== undefined && root.targets !== undefined) throw new UserError(`--targets: ${where}: give "waves:" or "targets:", not both`);
  const wavesNode = doc.get('waves', true) as { items?: unknown[] } | undefined;
  if (root.targets !== undefined) {
    // A bare list in YAML: the command line's options shape the waves, as for plain lines.
    const items = (doc.get('targets', true) as { items?: unknown[] } | undefined)?.items ?? [];
    return { file, form: 'plain', waves: [{ name: 'all', parallel: 1, onError: 'stop', targets: yamlTargets(root.targets, items, 'targets', where, lineOf, env) }] };
  }
  if (!Array.isArray(root.waves) || root.waves.length === 0) throw new UserError(`--targets: ${where}: "waves:" must be a non-empty list`);
  const waves = root.waves.map((w, i): Wave => {
    const node = wavesNode?.items?.[i];
    const at = lineOf(node);
    if (!isRecord(w)) throw new UserError(`--targets: ${at}: each wave is a mapping with name, parallel, on_error and targets`);
    unknownKeys(w, ['name', 'parallel', 'on_error', 'targets'], at);
    const name = w.name === undefined ? `wave ${i + 1}` : String(w.name);
    const parallel = w.parallel === undefined ? 1 : w.parallel;
    if (typeof parallel !== 'number' || !Number.isSafeInteger(parallel) || parallel < 1) throw new UserError(`--targets: ${at}: wave "${name}": parallel must be a positive whole number`);
    const onError = w.on_error === undefined ? 'stop' : w.on_error;
    if (!(ON_ERROR as readonly unknown[]).includes(onError)) throw new UserError(`--targets: ${at}: wave "${name}": on_error must be stop or continue`);
    const items = ((node as { get?: (k: string, keep: boolean) => unknown } | undefined)?.get?.('targets', true) as { items?: unknown[] } | undefined)?.items ?? [];
    const targets = yamlTargets(w.targets, items, `wave "${name}"`, where, lineOf, env);
    if (targets.length === 0) throw new UserError(`--targets: ${at}: wave "${name}" has no targets`);
    return { name, parallel, onError: onError as OnError, targets };
  });
  return { file, form: 'yaml', waves };
}

function yamlTargets(list: unknown, nodes: unknown[], what: string, where: string, lineOf: (n: unknown) => string, env: NodeJS.ProcessEnv): Target[] {
  if (!Array.isArray(list)) throw new UserError(`--targets: ${where}: ${what}: "targets:" must be a list`);
  return list.map((t, i) => {
    const at = lineOf(nodes[i]);
    // A bare string is a URL (or settings), as on a plain line.
    if (typeof t === 'string') return target(undefined, t, at, env);
    if (!isRecord(t)) throw new UserError(`--targets: ${at}: a target is a mapping with label and url (or service)`);
    unknownKeys(t, ['label', 'url', 'service'], at);
    if ((t.url === undefined) === (t.service === undefined)) throw new UserError(`--targets: ${at}: a target has url or service (one of them)`);
    const conn = t.url !== undefined ? String(t.url) : `service=${String(t.service)}`;
    return target(t.label === undefined ? undefined : String(t.label), conn, at, env);
  });
}

function target(label: string | undefined, conn: string, source: string, env: NodeJS.ProcessEnv): Target {
  refusePassword(conn, source);
  let config: ReturnType<typeof connectionConfig>;
  try {
    config = connectionConfig(conn, env);
  } catch (err) {
    throw new UserError(`--targets: ${source}: ${(err as Error).message}`);
  }
  const host = typeof config.host === 'string' && config.host !== '' ? config.host : 'localhost';
  const address = `${host}:${config.port ?? 5432}`;
  const dbname = config.database ?? config.user ?? '';
  if (label !== undefined && !/^[\w.:@/+-]+$/.test(label)) throw new UserError(`--targets: ${source}: the label "${label}" may use letters, digits and . _ : @ / + - only`);
  return { label: label ?? `${address}/${dbname}`, conn, address, source };
}

/**
 * A password in the targets file is refused, never used: the file is shared, versioned and
 * copied around. The message names where, never the password.
 */
export function refusePassword(conn: string, source: string): void {
  const fix = 'give it through PGPASSFILE (~/.pgpass), PGPASSWORD or the service file, never in the targets file';
  if (/^postgres(ql)?:\/\//i.test(conn)) {
    let u: URL;
    try {
      u = new URL(conn);
    } catch {
      throw new UserError(`--targets: ${source}: the URL cannot be parsed`);
    }
    if (u.password !== '' || u.searchParams.has('password')) throw new UserError(`--targets: ${source}: the URL carries a password; ${fix}`);
    return;
  }
  let settings: ReturnType<typeof parseKeywordValue>;
  try {
    settings = parseKeywordValue(conn);
  } catch (err) {
    throw new UserError(`--targets: ${source}: ${(err as Error).message}`);
  }
  if (settings.password !== undefined) throw new UserError(`--targets: ${source}: the settings carry a password; ${fix}`);
}

/**
 * A plain list's waves: `--canary N` makes the first N targets a wave of their own, the rest
 * another; `--concurrency N` bounds each; `--continue-on-error` lets a wave go on past a
 * failure (the next wave still waits). A YAML file says all this itself: the options are refused.
 */
export function shapeWaves(f: TargetsFile, o: WaveOptions): Wave[] {
  if (f.form === 'yaml') {
    const given = [o.concurrency !== undefined && '--concurrency', o.canary !== undefined && '--canary', o.continueOnError && '--continue-on-error'].filter(Boolean);
    if (given.length) throw new UserError(`${given.join(', ')}: ${path.basename(f.file)} gives its waves (parallel, on_error) itself`);
    return f.waves;
  }
  const all = f.waves.flatMap((w) => w.targets);
  const parallel = o.concurrency ?? 1;
  const onError: OnError = o.continueOnError ? 'continue' : 'stop';
  const canary = o.canary ?? 0;
  if (canary >= all.length && canary > 0) throw new UserError(`--canary ${canary}: the file has ${all.length} target(s); a canary wave must leave some for after it`);
  const waves: Wave[] = [];
  if (canary > 0) waves.push({ name: 'canary', parallel: Math.min(parallel, canary), onError, targets: all.slice(0, canary) });
  waves.push({ name: canary > 0 ? 'rest' : 'all', parallel, onError, targets: all.slice(canary) });
  return waves;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownKeys(o: Record<string, unknown>, allowed: string[], at: string): void {
  const bad = Object.keys(o).filter((k) => !allowed.includes(k));
  if (bad.length) throw new UserError(`--targets: ${at}: unknown key${bad.length > 1 ? 's' : ''} ${bad.map((k) => `"${k}"`).join(', ')} (expected ${allowed.join(', ')})`);
}
