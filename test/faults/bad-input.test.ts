import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { cloneDatabase, createTestDatabase, type TestDatabase } from '../support/test-db.js';
import { diffSnapshots, snapshotCatalog } from '../support/catalog-snapshot.js';
import { tableDigest } from '../support/table-digest.js';
import { startPrimaryWithStandby, type PrimaryWithStandby } from '../support/standby.js';
import { freePort } from '../../src/demo/embedded-server.js';

/**
 * Bad input (DESIGN.md section 1): each refusal is exit 2 with exactly one line on stderr,
 * `pgshift: ...`, no stack trace, and nothing changed in the database. And the inputs that look
 * odd but are valid (quoted, unicode, 63-byte identifiers; every libpq way to say where the
 * server is) work end to end.
 */

// The CLI's engine logs go to stderr here (the suite sends them to a file otherwise), and no
// connection setting of the test process leaks into the CLI's.
const CLEAN_ENV = { DATABASE_URL: '', PGSHIFT_LOG_FILE: '', PGHOST: '', PGPORT: '', PGUSER: '', PGPASSWORD: '', PGDATABASE: '', PGSERVICE: '', PGSERVICEFILE: '', PGPASSFILE: '' };

function pgshift(args: string[], env: Record<string, string> = {}) {
  return runCli(args, { ...CLEAN_ENV, ...env });
}

/** A refusal: exit 2, one line naming the problem, no stack trace. */
function expectRefusal(r: { status: number | null; stderr: string; stdout: string }, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^pgshift: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-bad-input-'));
function privateFile(name: string, text: string, mode = 0o600): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
  return file;
}

/** Exactly `bytes` bytes of UTF-8: the prefix, then ASCII padding. */
function nameOfBytes(prefix: string, bytes = 63): string {
  const have = Buffer.byteLength(prefix);
  if (have > bytes) throw new Error(`${prefix} is longer than ${bytes} bytes`);
  return prefix + 'x'.repeat(bytes - have);
}
const q = (name: string): string => pg.escapeIdentifier(name);

describe('bad input', () => {
  let db: TestDatabase;
  /** Everything a refusal must leave as it was: the catalog of the user's schemas, the rows, and no pgshift schema. */
  let fingerprint: () => Promise<unknown>;

  beforeAll(async () => {
    db = await createTestDatabase('bad_input');
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, note text);
      INSERT INTO t SELECT g, g * 10, 'n' || g FROM generate_series(1, 2000) g;
      CREATE TABLE u (id int PRIMARY KEY, w int);`);
    fingerprint = async () => ({
      catalog: await snapshotCatalog(db.pool, ['public']),
      t: await tableDigest(db.pool, 'public.t', { orderBy: ['id'] }),
      schemas: (await db.query(`SELECT array_agg(nspname ORDER BY nspname) AS s FROM pg_namespace WHERE nspname LIKE 'pgshift%'`)).rows[0].s,
    });
  });
  afterAll(async () => {
    await db.drop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const ALTER = 'ALTER TABLE t ADD COLUMN x int';
  it.each([
    ['malformed SQL', [ALTER.replace('int', '')], /cannot parse/],
    ['an unterminated quote', [`ALTER TABLE t ADD COLUMN "x int`], /cannot parse/],
    ['an empty statement', [' ; '], /no statement/],
    ['SELECT', ['SELECT 1'], /only ALTER TABLE, CREATE INDEX and DROP INDEX statements are accepted, got Select/],
    ['DROP TABLE', ['DROP TABLE t'], /only ALTER TABLE, CREATE INDEX and DROP INDEX statements are accepted, got Drop/],
    ['CREATE TABLE', ['CREATE TABLE v (id int PRIMARY KEY)'], /only ALTER TABLE, CREATE INDEX and DROP INDEX statements are accepted, got Create/],
    ['ALTER on two tables', ['ALTER TABLE t ADD COLUMN x int; ALTER TABLE u ADD COLUMN y int'], /all statements must alter the same table/],
    ['a missing table', ['ALTER TABLE nope ADD COLUMN x int'], /table nope does not exist/],
    ['a missing schema', ['ALTER TABLE nowhere.t ADD COLUMN x int'], /table nowhere\.t does not exist/],
    ['the system catalog pg_class', ['ALTER TABLE pg_class ADD COLUMN x int'], /refused: pg_catalog\.pg_class is in the system schema pg_catalog/],
    ['pg_catalog.pg_attribute', ['ALTER TABLE pg_catalog.pg_attribute ALTER COLUMN attname TYPE text'], /refused: pg_catalog\.pg_attribute is in the system schema/],
    ['an information_schema table', ['ALTER TABLE information_schema.sql_features ADD COLUMN x int'], /refused: information_schema\.sql_features is in the system schema information_schema/],
    ['--chunk-time 0ms', [ALTER, '--chunk-time', '0ms'], /--chunk-time: "0ms" must be at least 1ms/],
    ['--chunk-time without unit', [ALTER, '--chunk-time', '5'], /--chunk-time: "5" is not a duration/],
    ['a negative --chunk-time', [ALTER, '--chunk-time=-5s'], /--chunk-time: "-5s" is not a duration/],
    ['an absurd --chunk-time', [ALTER, '--chunk-time', '400d'], /--chunk-time: "400d" is more than the largest accepted/],
    ['--lock-timeout 0ms (no timeout at all)', [ALTER, '--lock-timeout', '0ms'], /--lock-timeout: "0ms" must be at least 1ms/],
    ['an absurd --lock-timeout', [ALTER, '--lock-timeout', '99999999h'], /--lock-timeout: "99999999h" is more than the largest accepted/],
    ['--lock-timeout with a bad unit', [ALTER, '--lock-timeout', '5 parsecs'], /not a duration/],
    ['--max-active -1', [ALTER, '--max-active', '-1'], /--max-active: "-1" is not a positive whole number/],
    ['--max-active 0', [ALTER, '--max-active', '0'], /--max-active: "0" is not a positive whole number/],
    ['--max-active 2.5', [ALTER, '--max-active', '2.5'], /--max-active: "2.5" is not a positive whole number/],
    ['--max-lag 0s', [ALTER, '--max-lag', '0s'], /--max-lag: "0s" must be at least 1ms/],
    ['--validation foo', [ALTER, '--validation', 'foo'], /--validation: "foo" is not one of basic, thorough, comprehensive/],
    ['an unknown option', [ALTER, '--frobnicate'], /unknown option '--frobnicate'/],
    ['--url and --url-file together', [ALTER, '--url-file', '/nonexistent'], /--url and --url-file exclude each other/],
  ])('refuses %s: exit 2, one line, nothing changed', async (_name, args, pattern) => {
    const before = await fingerprint();
    expectRefusal(await pgshift(['alter', ...args, '--url', db.url, '--execute']), pattern);
    expect(await fingerprint()).toEqual(before);
  });

  // pgshift's reserved names are its schemas' (a migration's, its own tables', its partitions', its rebuilt matviews'):
  // a table of the user's may have any name, changelog and copy_lanes included (differential cases).
  it.each(['pgshift_9999', 'pgshift_9999_log', 'pgshift_9999_1', 'pgshift_9999_m2200'])('refuses a table in %s, a schema name pgshift reserves', async (schema) => {
    await db.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.changelog (id int PRIMARY KEY)`);
    try {
      const before = await fingerprint();
      expectRefusal(
        await pgshift(['alter', `ALTER TABLE ${schema}.changelog ADD COLUMN x int`, '--url', db.url, '--execute']),
        new RegExp(`refused: ${schema}\\.changelog is in ${schema}, a schema pgshift owns`),
      );
      expect(await fingerprint()).toEqual(before);
    } finally {
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('refuses a missing or empty --url-file, and an unknown command, each in one line', async () => {
    expectRefusal(await pgshift(['alter', ALTER, '--url-file', path.join(tmp, 'missing')]), /--url-file: cannot read .*missing \(ENOENT\)/);
    expectRefusal(await pgshift(['alter', ALTER, '--url-file', privateFile('empty', '\n')]), /--url-file: .*empty is empty/);
    expectRefusal(await pgshift(['frobnicate']), /unknown command 'frobnicate'/);
    expectRefusal(await pgshift(['alter']), /missing required argument 'statements'/);
    expect((await pgshift(['--help'])).status).toBe(0);
  });

  describe('a server that cannot be used: exit 2, one line, quickly, the password never shown', () => {
    const PASSWORD = 'Pw_not_shown_7731';
    let silent: net.Server;
    let silentPort: number;
    beforeAll(async () => {
      // Accepts the connection and never answers: only a connect timeout ends the wait.
      silent = net.createServer(() => undefined).listen(0, '127.0.0.1');
      await new Promise((r) => silent.once('listening', r));
      silentPort = (silent.address() as net.AddressInfo).port;
    });
    afterAll(() => {
      silent.close();
    });

    it('a closed port, a wrong password, a database that does not exist, a server that does not answer', async () => {
      const url = new URL(db.url);
      const closed = await freePort();
      const wrongPassword = new URL(db.url);
      wrongPassword.password = PASSWORD;
      const noDatabase = new URL(db.url);
      noDatabase.pathname = '/no_such_database_here';
      const cases: [string, string, RegExp, number][] = [
        // Generous bounds (two shared cores, other suites running): without a connect timeout the
        // silent server would hold the CLI forever; the message tells which timeout ended it.
        ['closed port', `postgres://someone:${PASSWORD}@127.0.0.1:${closed}/db`, /cannot connect to the database: .*ECONNREFUSED/, 30_000],
        ['wrong password', wrongPassword.toString(), /cannot connect to the database: password authentication failed/, 30_000],
        ['no database', noDatabase.toString(), /cannot connect to the database: database "no_such_database_here" does not exist/, 30_000],
        ['silent server, connect_timeout=2', `postgres://someone:${PASSWORD}@127.0.0.1:${silentPort}/db?connect_timeout=2`, /cannot connect to the database: no answer from the server within 2s/, 30_000],
        ['silent server, the default bound', `postgres://someone:${PASSWORD}@127.0.0.1:${silentPort}/db`, /cannot connect to the database: no answer from the server within 10s/, 45_000],
      ];
      expect(url.password).not.toBe(PASSWORD);
      // In parallel: the two silent cases wait for their timeouts.
      const results = await Promise.all(
        cases.map(async ([name, target, pattern, withinMs]) => {
          const started = performance.now();
          const r = await pgshift(['alter', ALTER, '--execute', '--url', target]);
          return { name, r, pattern, ms: performance.now() - started, withinMs };
        }),
      );
      for (const { name, r, pattern, ms, withinMs } of results) {
        expectRefusal(r, pattern);
        expect(ms, name).toBeLessThan(withinMs);
        expect(r.stderr + r.stdout, name).not.toContain(PASSWORD);
      }
    });

    it('a URL that cannot be parsed is refused without quoting it', async () => {
      const r = await pgshift(['alter', ALTER, '--url', `postgres://u:${PASSWORD}@host:99999999/db`]);
      expectRefusal(r, /connection URL cannot be parsed|invalid port/);
      expect(r.stderr).not.toContain(PASSWORD);
    });
  });

  describe('where the server is: --url-file, DATABASE_URL, the libpq variables, a service file, a password file', () => {
    const admin = (): URL => new URL(db.url);
    const dryRun = ['alter', ALTER];
    const expectPlanned = (r: { status: number | null; stderr: string; stdout: string }): void => {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Dry run: nothing was changed/);
    };

    it('--url-file reads the URL, trimmed', async () => {
      expectPlanned(await pgshift([...dryRun, '--url-file', privateFile('url', `  ${db.url}\n\n`)]));
    });

    it('DATABASE_URL, then PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE', async () => {
      expectPlanned(await pgshift(dryRun, { DATABASE_URL: db.url }));
      const u = admin();
      expectPlanned(await pgshift(dryRun, { PGHOST: u.hostname, PGPORT: u.port, PGUSER: u.username, PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: db.name }));
      // --url wins over DATABASE_URL
      expectPlanned(await pgshift([...dryRun, '--url', db.url], { DATABASE_URL: 'postgres://x@127.0.0.1:1/x' }));
    });

    it('PGSERVICE with a pg_service.conf, the password from PGPASSFILE; the service beats PG* variables, the URL beats the service', async () => {
      const u = admin();
      const services = privateFile(
        'pg_service.conf',
        `# test services\n[other]\nport=1\n\n[pgshift_test]\nhost=${u.hostname}\nport=${u.port}\ndbname=${db.name}\nuser=${u.username}\n\n[wrong_port]\nhost=${u.hostname}\nport=1\ndbname=${db.name}\nuser=${u.username}\n`,
      );
      const passfile = privateFile('pgpass', `# host:port:db:user:password\nother:1:*:*:nope\n${u.hostname}:${u.port}:*:${u.username}:${decodeURIComponent(u.password).replace(/([:\\])/g, '\\$1')}\n`);
      const env = { PGSERVICEFILE: services, PGPASSFILE: passfile, HOME: tmp };
      expectPlanned(await pgshift(dryRun, { ...env, PGSERVICE: 'pgshift_test' }));
      // libpq: "A service file setting overrides the corresponding environment variable"
      expectPlanned(await pgshift(dryRun, { ...env, PGSERVICE: 'pgshift_test', PGPORT: '1', PGDATABASE: 'nowhere' }));
      // ... "and in turn can be overridden by a value given directly in the connection string"
      expectPlanned(await pgshift([...dryRun, '--url', `postgres://${u.hostname}:${u.port}/${db.name}?service=wrong_port`], env));
      // The system-wide file, in PGSYSCONFDIR, when the user's has no such service.
      const sysconf = fs.mkdtempSync(path.join(tmp, 'sysconf-'));
      fs.copyFileSync(services, path.join(sysconf, 'pg_service.conf'));
      expectPlanned(await pgshift(dryRun, { PGPASSFILE: passfile, HOME: tmp, PGSYSCONFDIR: sysconf, PGSERVICE: 'pgshift_test' }));
      expectRefusal(await pgshift(dryRun, { ...env, PGSERVICE: 'no_such_service' }), /definition of service "no_such_service" not found/);
    });

    it('~/.pgpass is read, and ignored (as libpq does) when others may read it', async () => {
      const u = admin();
      const home = fs.mkdtempSync(path.join(tmp, 'home-'));
      const pgpass = path.join(home, '.pgpass');
      fs.writeFileSync(pgpass, `*:*:*:${u.username}:${decodeURIComponent(u.password)}\n`, { mode: 0o600 });
      fs.chmodSync(pgpass, 0o600);
      const noPassword = `postgres://${u.username}@${u.hostname}:${u.port}/${db.name}`;
      expectPlanned(await pgshift([...dryRun, '--url', noPassword], { HOME: home }));
      fs.chmodSync(pgpass, 0o644);
      const r = await pgshift([...dryRun, '--url', noPassword], { HOME: home });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/pgshift: cannot connect to the database: no password supplied/);
      expect(r.stderr).toMatch(/group or world access/);
    });
  });
});

describe('identifiers with quotes, spaces, unicode and the full 63 bytes', () => {
  let db: TestDatabase;
  let offline: TestDatabase;
  const schema = nameOfBytes('Schéma "quoted" ✓ ');
  const table = nameOfBytes('Tâble "with quotes", spaces and ünïcödé — ');
  // Two 63-byte columns that differ only in their last byte: every name PostgreSQL (or
  // pgshift) derives from them by truncation collides unless it is made unique.
  const colA = nameOfBytes('Çolumn "a" with a very long name that goes on and on ', 62) + 'A';
  const colB = nameOfBytes('Çolumn "a" with a very long name that goes on and on ', 62) + 'B';
  const added = nameOfBytes('nëw "column" ');
  const qt = `${q(schema)}.${q(table)}`;

  beforeAll(async () => {
    expect(Buffer.byteLength(table)).toBe(63);
    expect(Buffer.byteLength(colA)).toBe(63);
    db = await createTestDatabase('identifiers');
    await db.query(`CREATE SCHEMA ${q(schema)};
      CREATE TABLE ${qt} (${q('ïd "key"')} int PRIMARY KEY, ${q(colA)} int NOT NULL, ${q(colB)} text UNIQUE, CHECK (${q(colA)} >= 0));
      CREATE INDEX ON ${qt} (${q(colA)});
      CREATE INDEX ON ${qt} (${q(colB)});
      CREATE INDEX ON ${qt} (${q(colA)}, ${q(colB)});
      COMMENT ON COLUMN ${qt}.${q(colA)} IS 'a comment with ''quotes''';
      INSERT INTO ${qt} SELECT g, g, 'b' || g FROM generate_series(1, 3000) g;`);
    offline = await cloneDatabase(db, 'identifiers_offline');
  });
  afterAll(async () => {
    await db.drop();
    await offline.drop();
  });

  it('alter --execute succeeds and gives the catalog and the rows of the same ALTER run offline', async () => {
    const statement = `ALTER TABLE ${qt} ALTER COLUMN ${q(colA)} TYPE bigint, ADD COLUMN ${q(added)} text DEFAULT 'd"e''f'`;
    const r = await runCli(['alter', statement, '--url', db.url, '--execute', '--json'], { DATABASE_URL: '' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('done');
    await offline.query(statement);
    const diff = diffSnapshots(await snapshotCatalog(offline.pool, [schema]), await snapshotCatalog(db.pool, [schema]));
    expect(diff).toEqual([]);
    const rel = `${schema}.${table}`;
    expect(await tableDigest(db.pool, rel, { orderBy: ['ïd "key"'] })).toEqual(await tableDigest(offline.pool, rel, { orderBy: ['ïd "key"'] }));
    const type = await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`, [qt, colA]);
    expect(type.rows[0].t).toBe('bigint');
  });
});

describe('a standby (a server in recovery)', () => {
  let servers: PrimaryWithStandby;
  let primary: pg.Client;
  beforeAll(async () => {
    servers = await startPrimaryWithStandby();
    primary = new pg.Client({ connectionString: servers.primaryUrl });
    await primary.connect();
    await primary.query(`CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 100) g`);
    // Replayed on the standby before the commands run there.
    const lsn = (await primary.query(`SELECT pg_current_wal_lsn()::text AS l`)).rows[0].l;
    const standby = new pg.Client({ connectionString: servers.standbyUrl });
    await standby.connect();
    try {
      const deadline = performance.now() + 30_000;
      while (!(await standby.query(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok`, [lsn])).rows[0].ok) {
        if (performance.now() > deadline) throw new Error('the standby did not replay the table in time');
        await new Promise((res) => setTimeout(res, 50));
      }
    } finally {
      await standby.end();
    }
  }, 120_000);
  afterAll(async () => {
    await primary?.end();
    await servers?.stop();
  });

  // Awaits the check in the engine session's set-up (src/db/session-settings.ts).
  it.each([
    ['alter --execute', ['alter', 'ALTER TABLE t ALTER COLUMN v TYPE bigint', '--execute']],
    ['backfill --execute', ['backfill', '--table', 't', '--set', 'v = v + 1', '--execute']],
    ['cleanup', ['cleanup', '--all']],
    ['abort', ['abort', '1']],
    ['pause', ['pause', '1']],
    ['cutover', ['cutover', '1']],
  ])('refuses %s with exit 2 and one line', async (_name, args) => {
    expectRefusal(await pgshift([...args, '--url', servers.standbyUrl]), /standby|in recovery/);
  });
});
