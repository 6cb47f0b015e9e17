// Self-tests of the oracles: a comparison that can never fail proves nothing, so each kind of
// difference the migration tests rely on is shown here to be reported.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffSnapshots, snapshotCatalog } from './catalog-snapshot.js';
import { tableDigest, tableRows } from './table-digest.js';
import { adminUrl, cloneDatabase, createTestDatabase, urlFor } from './test-db.js';
import type { TestDatabase } from './test-db.js';

// Roles are cluster-wide and test files run in parallel: a unique name, dropped at the end.
const role = `pgshift_support_${randomBytes(4).toString('hex')}`;

function fixtureDdl(r: string): string {
  const q = pg.escapeIdentifier(r);
  return `
    CREATE SCHEMA app;
    CREATE TABLE app.customers (id serial PRIMARY KEY, email text NOT NULL);
    CREATE TABLE app.orders (
      id serial PRIMARY KEY,
      ext_id bigint GENERATED ALWAYS AS IDENTITY,
      customer_id int NOT NULL REFERENCES app.customers (id),
      amount numeric(10, 2) NOT NULL CONSTRAINT amount_positive CHECK (amount >= 0),
      note text,
      status text NOT NULL DEFAULT 'new'
    ) WITH (fillfactor = 80, autovacuum_enabled = false);
    CREATE UNIQUE INDEX orders_ext_id_key ON app.orders (ext_id);
    CREATE INDEX orders_open_idx ON app.orders (customer_id) WHERE status <> 'done';
    CREATE VIEW app.open_orders AS SELECT id, amount FROM app.orders WHERE status <> 'done';
    CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql
      AS $$BEGIN NEW.note := coalesce(NEW.note, 'touched'); RETURN NEW; END$$;
    CREATE TRIGGER orders_touch BEFORE INSERT ON app.orders
      FOR EACH ROW EXECUTE FUNCTION app.touch();
    ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;
    CREATE POLICY orders_reader ON app.orders FOR SELECT TO ${q} USING (status <> 'secret');
    GRANT USAGE ON SCHEMA app TO ${q};
    GRANT SELECT, INSERT ON app.orders TO ${q};
    GRANT SELECT (id) ON app.customers TO ${q};
    COMMENT ON TABLE app.orders IS 'customer orders';
    COMMENT ON COLUMN app.orders.amount IS 'in euros';
    COMMENT ON INDEX app.orders_open_idx IS 'open orders by customer';
    INSERT INTO app.customers (email) VALUES ('a@example.com'), ('b@example.com');
    INSERT INTO app.orders (customer_id, amount, note, status)
      VALUES (1, 10.50, NULL, 'new'), (1, 0, 'gift', 'done'), (2, 99.99, '', 'new');
  `;
}

const dbs: TestDatabase[] = [];
async function fresh(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  dbs.push(db);
  return db;
}
async function clone(source: TestDatabase, prefix: string): Promise<TestDatabase> {
  const db = await cloneDatabase(source, prefix);
  dbs.push(db);
  return db;
}

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${pg.escapeIdentifier(role)} NOLOGIN`);
  } finally {
    await admin.end();
  }
});

afterAll(async () => {
  // Privileges held by the role live in the databases: drop them before the role.
  for (const db of dbs) {
    // Check-out leaks are a failure of the helpers themselves (STYLE.md habit 4).
    expect(db.pool.totalCount - db.pool.idleCount).toBe(0);
    await db.drop();
  }
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
  } finally {
    await admin.end();
  }
});

describe('test databases', () => {
  it('creates, names and drops databases', async () => {
    const db = await createTestDatabase('Support-Naming');
    expect(db.name).toMatch(/^support_naming_[0-9a-f]{10}$/);
    expect(db.url).toBe(urlFor(db.name));
    const res = await db.query('SELECT current_database() AS name');
    expect(res.rows[0].name).toBe(db.name);
    await db.drop();
    await db.drop(); // idempotent
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    try {
      const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
      expect(left.rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  });

  it('clones a database whose pool has idle connections', async () => {
    const source = await fresh('support_clone_src');
    await source.query(fixtureDdl(role));
    // Keep a few idle clients open on the source: cloning must cut them off, not fail.
    await Promise.all([1, 2, 3].map(() => source.query('SELECT pg_sleep(0.01)')));
    const copy = await clone(source, 'support_clone_dst');
    expect(diffSnapshots(await snapshotCatalog(source.pool, ['app']), await snapshotCatalog(copy.pool, ['app']))).toEqual([]);
    // The source pool recovers from the terminated clients.
    expect((await source.query('SELECT count(*)::int AS n FROM app.orders')).rows[0].n).toBe(3);
  });
});

describe('catalog snapshot', () => {
  let base: TestDatabase;
  let baseSnapshot: Awaited<ReturnType<typeof snapshotCatalog>>;

  beforeAll(async () => {
    base = await fresh('support_base');
    await base.query(fixtureDdl(role));
    baseSnapshot = await snapshotCatalog(base.pool, ['app']);
  });

  it('describes every section of the fixture', () => {
    expect(Object.keys(baseSnapshot.relations)).toEqual([
      'app.customers',
      'app.customers_id_seq',
      'app.open_orders',
      'app.orders',
      'app.orders_ext_id_seq',
      'app.orders_id_seq',
    ]);
    expect(Object.keys(baseSnapshot.columns).filter((k) => k.startsWith('app.orders.'))).toHaveLength(6);
    expect(baseSnapshot.columns['app.orders.status']).toMatchObject({ position: 6, not_null: true, default: "'new'::text" });
    expect(baseSnapshot.constraints['app.orders.orders_customer_id_fkey']?.definition).toBe(
      'FOREIGN KEY (customer_id) REFERENCES app.customers(id)',
    );
    expect(baseSnapshot.indexes['app.orders_open_idx']?.comment).toBe('open orders by customer');
    expect(baseSnapshot.triggers['app.orders.orders_touch']?.enabled).toBe('O');
    expect(baseSnapshot.policies['app.orders.orders_reader']?.roles).toEqual([role]);
    expect(baseSnapshot.relations['app.orders']?.acl).toEqual(
      expect.arrayContaining([`${role}:SELECT:NO`, `${role}:INSERT:NO`]),
    );
    expect(baseSnapshot.relations['app.orders']?.reloptions).toEqual(['autovacuum_enabled=false', 'fillfactor=80']);
    expect(baseSnapshot.columns['app.customers.amount']).toBeUndefined();
    expect(baseSnapshot.columns['app.customers.email']?.acl).toEqual([]);
    expect(baseSnapshot.columns['app.customers.id']?.acl).toEqual([`${role}:SELECT:NO`]);
    expect(baseSnapshot.sequences['app.orders_id_seq']).toMatchObject({
      owned_by: 'app.orders.id (a)',
      last_value: '3',
      is_called: true,
    });
    expect(baseSnapshot.sequences['app.orders_ext_id_seq']?.owned_by).toBe('app.orders.ext_id (i)');
    expect(baseSnapshot.views['app.open_orders']?.definition).toContain('FROM app.orders');
    expect(baseSnapshot.functions['app.touch()']?.kind).toBe('f');
  });

  it('is equal for two databases built by the same DDL', async () => {
    const twin = await fresh('support_twin');
    await twin.query(fixtureDdl(role));
    const snap = await snapshotCatalog(twin.pool, ['app']);
    expect(diffSnapshots(baseSnapshot, snap)).toEqual([]);
    // And JSON-able as is, so a test can print or store it.
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it('ignores the attnum hole a dropped column leaves', async () => {
    const holey = await fresh('support_holey');
    await holey.query(fixtureDdl(role).replace('note text,', 'gone int, note text,'));
    await holey.query('ALTER TABLE app.orders DROP COLUMN gone');
    expect(diffSnapshots(baseSnapshot, await snapshotCatalog(holey.pool, ['app']))).toEqual([]);
  });

  it.each([
    {
      change: 'a different index name',
      sql: 'ALTER INDEX app.orders_open_idx RENAME TO orders_open_by_customer',
      expected: ['indexes app.orders_open_by_customer: only in b', 'indexes app.orders_open_idx: only in a'],
    },
    {
      change: 'a different grant',
      sql: `GRANT UPDATE ON app.orders TO ${pg.escapeIdentifier(role)}`,
      expected: [`relations app.orders: acl: +["${role}:UPDATE:NO"]`],
    },
    {
      change: 'a dropped NOT NULL',
      sql: 'ALTER TABLE app.orders ALTER COLUMN status DROP NOT NULL',
      expected: ['columns app.orders.status: not_null: true -> false'],
    },
    {
      change: 'a different trigger enabled state',
      sql: 'ALTER TABLE app.orders DISABLE TRIGGER orders_touch',
      expected: ['triggers app.orders.orders_touch: enabled: "O" -> "D"'],
    },
    {
      change: 'a different sequence position',
      sql: `SELECT nextval('app.customers_id_seq')`,
      expected: ['sequences app.customers_id_seq: last_value: "2" -> "3"'],
    },
    {
      change: 'a different column order',
      sql: 'ALTER TABLE app.orders DROP COLUMN note; ALTER TABLE app.orders ADD COLUMN note text',
      expected: ['columns app.orders.note: position: 5 -> 6', 'columns app.orders.status: position: 6 -> 5'],
    },
  ])('reports $change', async ({ sql, expected }) => {
    const changed = await clone(base, 'support_changed');
    await changed.query(sql);
    expect(diffSnapshots(baseSnapshot, await snapshotCatalog(changed.pool, ['app']))).toEqual(expected);
  });

  it('accepts a checked-out client and leaves its search_path alone', async () => {
    const client = await base.pool.connect();
    try {
      await client.query('SET search_path = app, public');
      const snap = await snapshotCatalog(client, ['app']);
      expect(diffSnapshots(baseSnapshot, snap)).toEqual([]);
      expect((await client.query('SHOW search_path')).rows[0].search_path).toBe('app, public');
    } finally {
      await client.query('RESET search_path');
      client.release();
    }
  });
});

describe('table digest', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await fresh('support_digest');
    await db.query(fixtureDdl(role));
  });

  const digest = () => tableDigest(db.pool, 'app.orders', { orderBy: ['id'] });

  it('changes when a single value changes, and comes back when it is restored', async () => {
    const before = await digest();
    expect(before.rows).toBe(3);
    await db.query(`UPDATE app.orders SET amount = 10.51 WHERE id = 1`);
    expect((await digest()).md5).not.toBe(before.md5);
    await db.query(`UPDATE app.orders SET amount = 10.50 WHERE id = 1`);
    expect(await digest()).toEqual(before);
  });

  it('tells NULL from the empty string', async () => {
    await db.query(`UPDATE app.orders SET note = '' WHERE id = 3`);
    const empty = await digest();
    await db.query(`UPDATE app.orders SET note = NULL WHERE id = 3`);
    expect((await digest()).md5).not.toBe(empty.md5);
  });

  it('compares nullnessOnly columns by nullness only', async () => {
    const opts = { orderBy: ['id'], nullnessOnly: ['note'] };
    const before = await tableDigest(db.pool, 'app.orders', opts);
    await db.query(`UPDATE app.orders SET note = 'other' WHERE id = 2`);
    expect(await tableDigest(db.pool, 'app.orders', opts)).toEqual(before);
    await db.query(`UPDATE app.orders SET note = NULL WHERE id = 2`);
    expect((await tableDigest(db.pool, 'app.orders', opts)).md5).not.toBe(before.md5);
  });

  it('is order-sensitive in the key and counts rows of an empty table', async () => {
    await db.query('CREATE TABLE app.empty (id int PRIMARY KEY)');
    expect(await tableDigest(db.pool, 'app.empty', { orderBy: ['id'] })).toMatchObject({ rows: 0 });
    await expect(tableDigest(db.pool, 'app.orders', { orderBy: ['id'], nullnessOnly: ['nope'] })).rejects.toThrow(/nope/);
  });

  it('returns readable rows as text', async () => {
    const rows = await tableRows(db.pool, 'app.customers', ['id']);
    expect(rows).toEqual([
      { id: '1', email: 'a@example.com' },
      { id: '2', email: 'b@example.com' },
    ]);
  });

  it('leaves no client checked out', () => {
    expect(db.pool.totalCount - db.pool.idleCount).toBe(0);
  });
});
