import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, DEFAULTS, onlineAlter } from '../../src/index.js';
import { createTestDatabase, type TestDatabase, withAdmin } from '../support/test-db.js';

/**
 * Every engine session owns its settings (issue 11, defect 1), whatever the role, the database
 * or the URL's own `options` say. Each case here lost rows or failed before the engine set and
 * verified its settings on the session itself.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const admin = withAdmin;

/** Waits (bounded) until a pgshift session waits for an ACCESS EXCLUSIVE lock on the table. */
async function untilCutoverWaits(db: TestDatabase, table: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const r = await db.query(
      `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE a.datname = current_database() AND NOT l.granted AND l.mode = 'AccessExclusiveLock' AND l.relation = $1::regclass AND a.application_name LIKE 'pgshift%'`,
      [table],
    );
    if (r.rowCount) return;
    if (performance.now() > deadline) throw new Error('the cutover never waited for its lock');
    await sleep(2);
  }
}

describe('engine sessions own their settings', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('settings');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('a database default of repeatable read loses no write committed while the cutover waits for its lock', async () => {
    await db.query(`CREATE TABLE rr (id int PRIMARY KEY, v int NOT NULL);
      INSERT INTO rr SELECT g, g FROM generate_series(1, 2000) g;`);
    await admin((c) => c.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET default_transaction_isolation = 'repeatable read'`));
    const app = new pg.Client({ connectionString: db.url });
    await app.connect();
    try {
      let committed: Promise<unknown> = Promise.resolve();
      const report = await onlineAlter(
        alterOptions({ strategy: 'copy',
          url: db.url,
          statements: 'ALTER TABLE rr ALTER COLUMN v TYPE bigint',
          execute: true,
          dropOld: true,
          // one long attempt: the write below commits while the cutover waits for its lock
          retry: { ...DEFAULTS.retry, lockTimeoutMs: 20_000, maxLockTimeoutMs: 20_000 },
          cutoverDeadlineMs: 30_000,
          onPhase: async (phase) => {
            if (phase !== 'cutover') return;
            await app.query('BEGIN');
            await app.query('UPDATE rr SET v = v + 1000000 WHERE id = 7');
            committed = untilCutoverWaits(db, 'rr').then(() => app.query('COMMIT'));
          },
        }),
      );
      await committed;
      expect(report.status).toBe('done');
    } finally {
      await app.end();
      await admin((c) => c.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} RESET default_transaction_isolation`));
    }
    expect((await db.query(`SELECT v FROM rr WHERE id = 7`)).rows[0].v).toBe('1000007');
    expect((await db.query(`SELECT count(*)::int AS n FROM rr WHERE v <> id AND id <> 7`)).rows[0].n).toBe(0);
  });

  it("a URL's ?options= cannot turn row security back on: a FORCE RLS table's hidden rows are refused by a plain owner, all copied with BYPASSRLS", async () => {
    const owner = `rls_owner_${Math.random().toString(36).slice(2, 8)}`;
    await admin((c) => c.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'pw'`));
    // Its own database: pgshift's state schema is created by the table owner here.
    const db = await createTestDatabase('settings_rls');
    try {
      await db.query(`GRANT CREATE ON DATABASE ${pg.escapeIdentifier(db.name)} TO ${owner}; GRANT CREATE, USAGE ON SCHEMA public TO ${owner}`);
      await db.query(`CREATE TABLE secret (id int PRIMARY KEY, v int NOT NULL);
        INSERT INTO secret SELECT g, g FROM generate_series(1, 5000) g;
        ALTER TABLE secret OWNER TO ${owner};
        ALTER TABLE secret ENABLE ROW LEVEL SECURITY; ALTER TABLE secret FORCE ROW LEVEL SECURITY;
        CREATE POLICY only_even ON secret USING (id % 2 = 0);`);
      const u = new URL(db.url);
      u.username = owner;
      u.password = 'pw';
      u.searchParams.set('options', '-c row_security=on');
      const run = () => onlineAlter(alterOptions({ strategy: 'copy', url: u.toString(), statements: 'ALTER TABLE secret ALTER COLUMN v TYPE bigint', execute: true, dropOld: true }));
      const err = await run().catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(2);
      expect(String(err)).toMatch(/BYPASSRLS/);
      expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'secret'::regclass AND attname = 'v'`)).rows[0].t).toBe('integer');

      await admin((c) => c.query(`ALTER ROLE ${owner} BYPASSRLS`));
      const report = await run();
      expect(report.status).toBe('done');
      // Counted by the superuser, whom no policy hides anything from.
      expect((await db.query(`SELECT count(*)::int AS n, sum(v)::int8::text AS s FROM secret`)).rows[0]).toEqual({ n: 5000, s: '12502500' });
      expect((await db.query(`SELECT relrowsecurity AND relforcerowsecurity AS rls FROM pg_class WHERE oid = 'secret'::regclass`)).rows[0].rls).toBe(true);
    } finally {
      await db.drop();
      await admin((c) => c.query(`DROP ROLE IF EXISTS ${owner}`));
    }
  });

  it("role-level statement_timeout and a URL's idle_in_transaction_session_timeout do not cut index builds, ANALYZE, VALIDATE or the validation's snapshot holder", async () => {
    const role = `short_${Math.random().toString(36).slice(2, 8)}`;
    await admin((c) => c.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD 'pw'`));
    try {
      await admin((c) => c.query(`ALTER ROLE ${role} SET statement_timeout = '30ms'`));
      await db.query(`CREATE TABLE slow (id int PRIMARY KEY, a int NOT NULL, b text NOT NULL);
        CREATE INDEX slow_a ON slow (a); CREATE INDEX slow_b ON slow (b);
        CREATE TABLE slow_parent (id int PRIMARY KEY); INSERT INTO slow_parent SELECT g FROM generate_series(0, 99) g;
        INSERT INTO slow SELECT g, g % 100, md5(g::text) FROM generate_series(1, 200000) g;
        ALTER TABLE slow ADD CONSTRAINT slow_a_fk FOREIGN KEY (a) REFERENCES slow_parent (id);`);
      const u = new URL(db.url);
      u.username = role;
      u.password = 'pw';
      u.searchParams.set('options', '-c idle_in_transaction_session_timeout=20ms');
      const report = await onlineAlter(
        alterOptions({ strategy: 'copy', url: u.toString(), statements: 'ALTER TABLE slow ALTER COLUMN a TYPE bigint', execute: true, dropOld: true, validation: 'thorough' }),
      );
      expect(report.status).toBe('done');
      expect(report.validation?.passed).toBe(true);
      expect(report.validated).toContain('slow_a_fk');
    } finally {
      await db.query(`DROP OWNED BY ${role}`);
      await admin((c) => c.query(`DROP ROLE IF EXISTS ${role}`));
    }
  });

  it('names every engine session pgshift:<id>:<role> in pg_stat_activity', async () => {
    await db.query(`CREATE TABLE named (id int PRIMARY KEY, v int); INSERT INTO named SELECT g, g FROM generate_series(1, 20000) g;`);
    let names: string[] = [];
    let id = 0;
    const report = await onlineAlter(
      alterOptions({ strategy: 'copy',
        url: db.url,
        statements: 'ALTER TABLE named ALTER COLUMN v TYPE bigint',
        execute: true,
        dropOld: true,
        onPhase: async (phase, m) => {
          if (phase !== 'copy') return;
          id = m.id;
          names = (await db.query(`SELECT DISTINCT application_name AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'pgshift%' ORDER BY 1`)).rows.map((r) => r.n);
        },
      }),
    );
    expect(report.status).toBe('done');
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(n).toMatch(new RegExp(`^pgshift:${id}:[a-z-]+$`));
    expect(names).toContain(`pgshift:${id}:owner`);
  });
});
