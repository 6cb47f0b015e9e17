import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { UserError } from '../errors.js';

/**
 * Where the engine's connections go, resolved as libpq resolves a connection (DESIGN.md
 * section 1), in this one place:
 *
 *   1. the target: --url (or the URL read from --url-file, both given here as `url`), else
 *      DATABASE_URL; a postgres:// URL or a libpq `key=value` string;
 *   2. what the target leaves out comes from the service (`service=` in the target, else
 *      PGSERVICE) in PGSERVICEFILE or ~/.pg_service.conf, else PGSYSCONFDIR/pg_service.conf;
 *   3. then from the libpq variables PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGOPTIONS,
 *      PGSSLMODE, PGAPPNAME, PGCONNECT_TIMEOUT;
 *   4. with no password by then, from PGPASSFILE or ~/.pgpass (read here: node-postgres's own
 *      reading is deprecated, prints a warning on stderr and goes away in pg 9).
 *
 * A service's settings override the environment variables and are overridden by the target's,
 * as in libpq ("A service file setting overrides the corresponding environment variable, and
 * in turn can be overridden by a value given directly in the connection string").
 *
 * Connecting is bounded: connect_timeout (seconds, libpq's meaning: 0 waits forever, 1 is
 * taken as 2) from the target, the service or PGCONNECT_TIMEOUT, else 10 s. The bound is put
 * on each new connection only, never on waiting for a pooled client (pg-pool would apply a
 * pool-level connectionTimeoutMillis to both).
 */
export function connectionConfig(url: string | undefined, env: NodeJS.ProcessEnv = process.env): pg.PoolConfig {
  const target = nonEmpty(url) ?? nonEmpty(env.DATABASE_URL);
  const fromTarget = target === undefined ? { params: {}, extra: {} } : parseTarget(target);
  const serviceName = fromTarget.params.service ?? nonEmpty(env.PGSERVICE);
  const fromService = serviceName === undefined ? {} : readService(serviceName, env);
  const p: Params = {};
  for (const key of KEYWORDS) {
    const v = fromTarget.params[key] ?? fromService[key] ?? nonEmpty(env[ENV_VARS[key]]);
    if (v !== undefined) p[key] = v;
  }
  const port = p.port === undefined ? undefined : Number(p.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new UserError(`invalid port number: "${p.port}"`);
  }
  const timeoutMs = connectTimeoutMs(p.connect_timeout);
  const config: pg.PoolConfig = {
    ...fromTarget.extra,
    host: p.host ?? p.hostaddr,
    port,
    user: p.user,
    database: p.dbname,
    options: p.options,
    application_name: p.application_name,
    // Asked only when the server wants a password and none was given.
    password: p.password ?? (((params: Partial<Record<string, unknown>>) => passwordOrRefusal(params, env)) as () => string),
    Client: timeoutMs > 0 ? (boundedClient(timeoutMs) as unknown as pg.PoolConfig['Client']) : undefined,
  };
  if (p.sslmode !== undefined && !('ssl' in fromTarget.extra)) config.ssl = sslFor(p.sslmode);
  for (const k of Object.keys(config) as (keyof pg.PoolConfig)[]) if (config[k] === undefined) delete config[k];
  return config;
}

const DEFAULT_CONNECT_TIMEOUT_S = 10;

/** The libpq keywords pgshift takes from a target, a service or the environment. */
const KEYWORDS = ['host', 'hostaddr', 'port', 'user', 'password', 'dbname', 'options', 'sslmode', 'application_name', 'connect_timeout', 'service'] as const;
type Keyword = (typeof KEYWORDS)[number];
type Params = Partial<Record<Keyword, string>>;
const ENV_VARS: Record<Keyword, string> = {
  host: 'PGHOST',
  hostaddr: 'PGHOSTADDR',
  port: 'PGPORT',
  user: 'PGUSER',
  password: 'PGPASSWORD',
  dbname: 'PGDATABASE',
  options: 'PGOPTIONS',
  sslmode: 'PGSSLMODE',
  application_name: 'PGAPPNAME',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  service: 'PGSERVICE',
};

function nonEmpty(v: string | undefined | null): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

/** A URL (node-postgres's own parser, so every query parameter it knows keeps working) or a libpq key=value string. */
function parseTarget(target: string): { params: Params; extra: Partial<pg.PoolConfig> } {
  if (!/^postgres(ql)?:\/\//i.test(target) && /^\s*[a-z_]+\s*=/i.test(target)) return { params: parseKeywordValue(target), extra: {} };
  if (!/^postgres(ql)?:\/\//i.test(target) && !target.startsWith('/')) {
    throw new UserError('the connection URL must start with postgres:// or postgresql:// (or be libpq key=value settings)');
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = parseIntoClientConfig(target) as Record<string, unknown>;
  } catch {
    // The parser's message may quote the URL, password included: say only what is wrong.
    throw new UserError('the connection URL cannot be parsed (check its port and its percent-encoding)');
  }
  const take = (k: string): string | undefined => {
    const v = parsed[k];
    delete parsed[k];
    return v === undefined || v === null || v === '' ? undefined : String(v);
  };
  const params: Params = {
    host: take('host'),
    hostaddr: take('hostaddr'),
    port: take('port'),
    user: take('user'),
    password: take('password'),
    dbname: take('database') ?? take('dbname'),
    options: take('options'),
    sslmode: take('sslmode'),
    application_name: take('application_name'),
    connect_timeout: take('connect_timeout'),
    service: take('service'),
  };
  delete parsed.dbname;
  return { params, extra: parsed as Partial<pg.PoolConfig> };
}

/** libpq's `key = value ...` form: values may be single-quoted, with \' and \\ inside. */
export function parseKeywordValue(text: string): Params {
  const out: Params = {};
  const re = /\s*([A-Za-z_]+)\s*=\s*('((?:[^'\\]|\\.)*)'|((?:[^\s\\]|\\.)*))/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text)) !== null && m[0].length > 0) {
    const key = m[1]!;
    const value = (m[3] ?? m[4] ?? '').replace(/\\(.)/g, '$1');
    if (!(KEYWORDS as readonly string[]).includes(key)) throw new UserError(`invalid connection option "${key}"`);
    out[key as Keyword] = value;
    end = re.lastIndex;
  }
  if (text.slice(end).trim() !== '') throw new UserError('the connection settings cannot be parsed: expected key=value pairs');
  return out;
}

/**
 * A service's settings: the user's file (PGSERVICEFILE, else ~/.pg_service.conf) first, the
 * system's (PGSYSCONFDIR/pg_service.conf) only when the user's has no such service.
 */
function readService(name: string, env: NodeJS.ProcessEnv): Params {
  const files = [
    nonEmpty(env.PGSERVICEFILE) ?? (nonEmpty(env.HOME) ?? os.homedir()) + '/.pg_service.conf',
    ...(nonEmpty(env.PGSYSCONFDIR) ? [path.join(env.PGSYSCONFDIR!.trim(), 'pg_service.conf')] : []),
  ];
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const found = parseServiceFile(text, name, file);
    if (found) return found;
  }
  throw new UserError(`definition of service "${name}" not found (looked in ${files.join(', ')})`);
}

/** One service's section of an INI-style pg_service.conf, or null when the file has none. */
export function parseServiceFile(text: string, name: string, file = 'the service file'): Params | null {
  let current: string | null = null;
  let found: Params | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const section = /^\[(.*)\]$/.exec(line);
    if (section) {
      current = section[1]!;
      // libpq takes the first section of that name
      if (current === name && found === null) found = {};
      else if (current === name) current = null;
      return;
    }
    if (current !== name || found === null) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new UserError(`syntax error in service file "${file}", line ${i + 1}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'service') throw new UserError(`nested "service" specifications not supported in service file "${file}", line ${i + 1}`);
    if (!(KEYWORDS as readonly string[]).includes(key)) throw new UserError(`invalid connection option "${key}" in service file "${file}", line ${i + 1}`);
    (found as Params)[key as Keyword] = value;
  });
  return found;
}

/**
 * libpq's password file: `host:port:database:user:password` lines, `*` matching anything,
 * `\` escaping `:` and `\`; ignored (with a warning) when others may read it. A socket
 * connection matches the host `localhost`, as in libpq.
 */
export function passwordFromFile(conn: Partial<Record<string, unknown>>, env: NodeJS.ProcessEnv = process.env): { password?: string; ignored?: string } {
  const file = nonEmpty(env.PGPASSFILE) ?? path.join(nonEmpty(env.HOME) ?? os.homedir(), '.pgpass');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return {};
  }
  if (!stat.isFile()) return { ignored: `password file "${file}" is not a plain file` };
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    return { ignored: `password file "${file}" has group or world access; permissions should be u=rw (0600) or less` };
  }
  const host = typeof conn.host === 'string' && conn.host !== '' && !conn.host.startsWith('/') ? conn.host : 'localhost';
  const wanted = [host, String(conn.port ?? 5432), String(conn.database ?? conn.user ?? ''), String(conn.user ?? '')];
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const fields = splitPgpassLine(line);
    if (fields.length < 5) continue;
    if (wanted.every((w, i) => fields[i] === '*' || fields[i] === w)) return { password: fields.slice(4).join(':') };
  }
  return {};
}

function splitPgpassLine(line: string): string[] {
  const fields: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) cur += line[++i];
    else if (ch === ':' && fields.length < 4) {
      fields.push(cur);
      cur = '';
    } else cur += ch;
  }
  fields.push(cur);
  return fields;
}

/**
 * libpq's "fe_sendauth: no password supplied". It carries SQLSTATE class 28 (invalid
 * authorization specification), the class the server gives a rejected login, so it is reported
 * like a wrong password (exit 2) rather than as a failure at run time.
 */
function passwordOrRefusal(conn: Partial<Record<string, unknown>>, env: NodeJS.ProcessEnv): string {
  const found = passwordFromFile(conn, env);
  if (found.password !== undefined) return found.password;
  const why = found.ignored ? `; ${found.ignored}, so it was ignored` : '';
  throw Object.assign(new Error(`no password supplied (none in the URL, the service, PGPASSWORD or the password file${why})`), { code: '28000' });
}

/** libpq's connect_timeout in seconds: 0 or less waits forever, 1 counts as 2. */
function connectTimeoutMs(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CONNECT_TIMEOUT_S * 1000;
  if (!/^\s*-?\d+\s*$/.test(text)) throw new UserError(`invalid integer value "${text}" for connection option "connect_timeout"`);
  const s = Number(text);
  if (s <= 0) return 0;
  return Math.max(2, s) * 1000;
}

/** PGSSLMODE / sslmode as node-postgres reads them. */
function sslFor(mode: string): pg.PoolConfig['ssl'] {
  switch (mode) {
    case 'disable':
    case 'allow':
      return false;
    case 'no-verify':
      return { rejectUnauthorized: false };
    case 'prefer':
    case 'require':
    case 'verify-ca':
    case 'verify-full':
      return true;
    default:
      throw new UserError(`invalid sslmode value: "${mode}"`);
  }
}

/**
 * A pg Client whose connection attempt gives up after `ms`, failing like an unreachable server
 * (ETIMEDOUT), so callers report it as a connection problem.
 */
function boundedClient(ms: number): new (config?: pg.ClientConfig) => pg.Client {
  const timedOut = (err: unknown): Error => {
    if (err instanceof Error && /timeout expired|connection timeout/i.test(err.message)) {
      return Object.assign(new Error(`no answer from the server within ${ms / 1000}s (connect_timeout)`, { cause: err }), { code: 'ETIMEDOUT' });
    }
    return err as Error;
  };
  class BoundedClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      // pg-pool hides the password as a non-enumerable property: a spread would drop it.
      super({ ...config, password: config?.password, connectionTimeoutMillis: ms });
    }
  }
  // pg-pool connects with a callback; anyone else may use the promise.
  const connect = pg.Client.prototype.connect as (this: pg.Client, cb?: (err: Error) => void) => Promise<void> | undefined;
  BoundedClient.prototype.connect = function (this: pg.Client, cb?: (err: Error) => void) {
    if (cb) return connect.call(this, (err: Error) => cb(err ? timedOut(err) : err));
    return connect.call(this)!.catch((err: unknown) => {
      throw timedOut(err);
    });
  } as pg.Client['connect'];
  return BoundedClient;
}
