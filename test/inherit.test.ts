// A legacy inheritance child copied online (shadow/inherit.ts): writes through its parent and
// to it during the migration, the parent's queries never showing the shadow's rows, the result
// equal to a mirror; a revert window swapped back; a kill -9 resumed.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, onlineAlter } from '../src/index.js';
import { onFailpoint } from '../src/failpoints.js';
import { startWorkload } from '../src/demo/workload.js';
import { createTestDatabase, type TestDatabase } from './support/test-db.js';
import { runCli } from './support/cli.js';

const ROWS = 20_000;

/** `v = v + 1` of one row (`next` picks the table, its mirror and the key), mirrored in the same transaction, until stopped; the count made. */
function mirroredUpdates(db: TestDatabase, next: (n: number) => { table: string; mirror: string; id: number }): { stop: () => Promise<number> } {
  let running = true;
  let n = 0;
  const done = (async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      while (running) {
        const x = next(n);
        await c.query('BEGIN');
        await c.query(`UPDATE ${x.table} SET v = v + 1 WHERE id = $1`, [x.id]);
        await c.query(`UPDATE ${x.mirror} SET v = v + 1 WHERE id = $1`, [x.id]);
        await c.query('COMMIT');
        n++;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await c.end();
    }
  })();
  return { stop: async () => { running = false; await done; return n; } };
}

describe('inheritance child', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('inherit');
  });
  afterAll(async () => {
    await db.drop();
  });

  /** A parent with rows of its own and a child of (id, v) inherited, (u, note) its own: the workload's columns; its mirror. */
  async function child(t: string): Promise<void> {
    await db.query(`
      CREATE TABLE ${t}_base (id int NOT NULL, v int NOT NULL, CONSTRAINT ${t}_base_v_check CHECK (v > -1000000));
      CREATE TABLE ${t} (u int NOT NULL UNIQUE, note text) INHERITS (${t}_base);
      ALTER TABLE ${t} ADD PRIMARY KEY (id);
      CREATE TABLE ${t}_mirror (id int, u int, v int, note text); CREATE INDEX ON ${t}_mirror (id);
      INSERT INTO ${t} (id, u, v, note) SELECT g, g, g, 'n' || g FROM generate_series(1, ${ROWS}) g;
      INSERT INTO ${t}_mirror SELECT id, u, v, note FROM ${t};
      INSERT INTO ${t}_base SELECT -g, g FROM generate_series(1, 50) g;
      ANALYZE ${t};`);
  }

  /** Updates through the parent (they reach the child's rows), each mirrored in the same transaction. */
  const throughParent = (t: string): { stop: () => Promise<number> } =>
    mirroredUpdates(db, () => ({ table: `${t}_base`, mirror: `${t}_mirror`, id: 1 + Math.floor(Math.random() * ROWS) }));

  const mirrorDiff = async (t: string): Promise<number> =>
    (await db.query(`SELECT count(*)::int AS n FROM ((SELECT id, u, v, note FROM ${t} EXCEPT ALL SELECT * FROM ${t}_mirror)
      UNION ALL (SELECT * FROM ${t}_mirror EXCEPT ALL SELECT id, u, v, note FROM ${t})) d`)).rows[0].n;

  /** The child's columns and checks as inheritance sees them, and its parents. */
  const inheritance = async (t: string): Promise<unknown> => ({
    columns: (await db.query(`SELECT attname, attislocal, attinhcount FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [t])).rows,
    checks: (await db.query(`SELECT conname, conislocal, coninhcount FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c' ORDER BY 1`, [t])).rows,
    parents: (await db.query(`SELECT inhparent::regclass::text AS p FROM pg_inherits WHERE inhrelid = $1::regclass ORDER BY inhseqno`, [t])).rows,
  });

  it('under writes through the parent and to the child: the parent never shows the shadow\'s rows, the table equals its mirror', async () => {
    const t = 'kid';
    await child(t);
    const before = await inheritance(t);
    // Mid-copy, with shadow rows committed: one snapshot counts the parent, its own rows and the child's.
    const seen: { parent: number; own: number; child: number; shadow: number }[] = [];
    onFailpoint('mid-copy', async () => {
      const r = await db.query(`SELECT (SELECT count(*) FROM ${t}_base)::int AS parent, (SELECT count(*) FROM ONLY ${t}_base)::int AS own, (SELECT count(*) FROM ONLY ${t})::int AS child,
        (SELECT sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::int)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'pgshift\\_%' AND c.relname = '${t}')::int AS shadow`);
      seen.push(r.rows[0]);
    });
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 200 });
    const parent = throughParent(t);
    let updates = 0;
    try {
      const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: `ALTER TABLE ${t} ALTER COLUMN note TYPE varchar(64), ADD COLUMN flag boolean DEFAULT true`, execute: true, dropOld: true, chunkTimeMs: 20 }));
      expect(report.status).toBe('done');
    } finally {
      onFailpoint('mid-copy', null);
      updates = await parent.stop();
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(updates).toBeGreaterThan(0);
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) {
      expect(s.shadow, 'the shadow had rows when the parent was counted').toBeGreaterThan(0);
      expect(s.parent, 'the parent counts its own rows and the child\'s, none of the shadow\'s').toBe(s.own + s.child);
    }
    expect(await mirrorDiff(t)).toBe(0);
    const after = (await inheritance(t)) as { columns: unknown[] };
    expect(after).toEqual({
      ...(before as object),
      columns: [...(before as { columns: unknown[] }).columns, { attname: 'flag', attislocal: true, attinhcount: 0 }],
    });
    expect((await db.query(`SELECT count(*)::int AS n FROM ${t}_base`)).rows[0].n).toBe(50 + (await db.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it('a revert window swaps the old child back under its parent, with the writes made since the swap', async () => {
    const t = 'rkid';
    await child(t);
    const before = await inheritance(t);
    const original = (await db.query(`SELECT $1::regclass::oid::int8::text AS o`, [t])).rows[0].o;
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 200 });
    const parent = throughParent(t);
    let id = 0;
    try {
      const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: `ALTER TABLE ${t} ALTER COLUMN u TYPE bigint`, execute: true, revertWindowMs: 3_600_000 }));
      id = report.migrationId ?? 0;
      // The kept old table left the parent; the new one took its place.
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = $1::regclass`, [`${t}_base`])).rows[0].n).toBe(1);
      await new Promise((r) => setTimeout(r, 800));
      const r = await runCli(['revert', String(id), '--url', db.url]);
      expect(r.status, r.stderr).toBe(0);
    } finally {
      await parent.stop();
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect((await db.query(`SELECT $1::regclass::oid::int8::text AS o`, [t])).rows[0].o).toBe(original);
    expect(await inheritance(t)).toEqual(before);
    expect(await mirrorDiff(t)).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM ${t}_base`)).rows[0].n).toBe(50 + (await db.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n);
    const cleaned = await runCli(['cleanup', String(id), '--url', db.url]);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it.each(['mid-copy', 'in-cutover'])('killed at %s, resume finishes with the child under its parent and equal to its mirror', async (point) => {
    const t = `ckid_${point.replace(/-/g, '_')}`;
    await child(t);
    const before = await inheritance(t);
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 200 });
    try {
      const alter = ['alter', '--strategy', 'copy', `ALTER TABLE ${t} ALTER COLUMN u TYPE bigint, ALTER COLUMN note TYPE varchar(64)`, '--execute', '--chunk-time', '20ms', '--drop-old', '--url', db.url];
      const killed = await runCli(alter, { PGSHIFT_FAILPOINT: point });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = $1 AND outcome IS NULL`, [t])).rows[0]?.id;
      expect(id, 'an unfinished migration is recorded').toBeGreaterThan(0);
      // Meanwhile the parent still has the old child alone (the shadow inherits a stand-in).
      expect((await db.query(`SELECT inhrelid::regclass::text AS c FROM pg_inherits WHERE inhparent = $1::regclass`, [`${t}_base`])).rows).toEqual([{ c: t }]);
      const resumed = await runCli(['resume', String(id), '--url', db.url, '--chunk-time', '20ms', '--drop-old']);
      expect(resumed.status, resumed.stderr).toBe(0);
    } finally {
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(await mirrorDiff(t)).toBe(0);
    expect(await inheritance(t)).toEqual(before);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it('stops before the swap when the child leaves its parent during the migration (exit 1, the table untouched)', async () => {
    const t = 'gone';
    await child(t);
    onFailpoint('after-copy', async () => {
      await db.query(`ALTER TABLE ${t} NO INHERIT ${t}_base`);
    });
    try {
      const err = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: `ALTER TABLE ${t} ALTER COLUMN note TYPE varchar(64)`, execute: true, dropOld: true })).catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(/its inheritance changed/);
    } finally {
      onFailpoint('after-copy', null);
    }
    expect((await db.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'note'`, [t])).rows[0].t).toBe('text');
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = $1::regclass`, [`${t}_base`])).rows[0].n).toBe(0);
  });
});

describe('inheritance parent', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('inherit_parent');
    await db.query(`
      CREATE TABLE bad_p (id int PRIMARY KEY, v int);
      CREATE TABLE bad_c () INHERITS (bad_p);
      INSERT INTO bad_p VALUES (1, 5);
      INSERT INTO bad_c VALUES (1, -5), (2, NULL);`);
  });
  afterAll(async () => {
    await db.drop();
  });

  // Offline, a CHECK or a NOT NULL added to a parent checks its children's rows too and fails on them.
  for (const [what, statements, message] of [
    ['a CHECK', 'ALTER TABLE bad_p ADD CONSTRAINT bad_p_v_check CHECK (v > 0)', /check constraint "bad_p_v_check" is violated by some row/],
    ['a NOT NULL', 'ALTER TABLE bad_p ALTER COLUMN v SET NOT NULL', /column v contains null values/],
  ] as const) {
    it(`${what} on the parent that a child's row breaks fails as offline (exit 1), nothing added to either`, async () => {
      // (PostgreSQL 18 has NOT NULL constraints of the key's column before.)
      const constraints = async (): Promise<unknown[]> =>
        (await db.query(`SELECT conrelid::regclass::text AS t, conname FROM pg_constraint WHERE conrelid IN ('bad_p'::regclass, 'bad_c'::regclass) ORDER BY 1, 2`)).rows;
      const before = await constraints();
      const err = await onlineAlter(alterOptions({ url: db.url, statements, execute: true })).catch((e: unknown) => e);
      expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
      expect(String(err)).toMatch(message);
      expect(await constraints()).toEqual(before);
      const notNull = await db.query(`SELECT attrelid::regclass::text AS t FROM pg_attribute WHERE attrelid IN ('bad_p'::regclass, 'bad_c'::regclass) AND attname = 'v' AND attnotnull`);
      expect(notNull.rows).toEqual([]);
    });
  }
});

describe('inheritance parent copied alone (shadow/parent.ts)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('inherit_alone');
  });
  afterAll(async () => {
    await db.drop();
  });

  /** A parent of the workload's columns with a child of 500 rows of its own (negative keys, which the workload never touches); mirrors of both. */
  async function tree(t: string): Promise<void> {
    await db.query(`
      CREATE TABLE ${t} (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text, CONSTRAINT ${t}_v_check CHECK (v > -1000000));
      CREATE TABLE ${t}_c (extra int) INHERITS (${t});
      CREATE TABLE ${t}_mirror (id int, u int, v int, note text); CREATE INDEX ON ${t}_mirror (id);
      INSERT INTO ${t} (id, u, v, note) SELECT g, g, g, 'n' || g FROM generate_series(1, ${ROWS}) g;
      INSERT INTO ${t}_mirror SELECT id, u, v, note FROM ONLY ${t};
      INSERT INTO ${t}_c SELECT -g, g, g, 'c' || g, g FROM generate_series(1, 500) g;
      CREATE TABLE ${t}_c_mirror AS SELECT * FROM ${t}_c;
      ANALYZE ${t};`);
  }

  /** As tree(), the child with another parent after the table (`<t>_q`), which gives two of its columns too. */
  async function laterParentTree(t: string): Promise<void> {
    await db.query(`
      CREATE TABLE ${t} (id int PRIMARY KEY, u int NOT NULL UNIQUE, v int NOT NULL, note text, CONSTRAINT ${t}_v_check CHECK (v > -1000000));
      CREATE TABLE ${t}_q (id int NOT NULL, v int NOT NULL, tag text DEFAULT 'q', CONSTRAINT ${t}_q_tag_check CHECK (tag <> ''));
      CREATE TABLE ${t}_c (extra int) INHERITS (${t}, ${t}_q);
      CREATE TABLE ${t}_mirror (id int, u int, v int, note text); CREATE INDEX ON ${t}_mirror (id);
      INSERT INTO ${t} (id, u, v, note) SELECT g, g, g, 'n' || g FROM generate_series(1, ${ROWS}) g;
      INSERT INTO ${t}_mirror SELECT id, u, v, note FROM ONLY ${t};
      INSERT INTO ${t}_c SELECT -g, g, g, 'c' || g, 'q' || g, g FROM generate_series(1, 500) g;
      CREATE TABLE ${t}_c_mirror AS SELECT * FROM ${t}_c;
      ANALYZE ${t};`);
  }

  /** Updates of the child's rows, half through the parent, each mirrored in the same transaction. */
  const toChild = (t: string): { stop: () => Promise<number> } =>
    mirroredUpdates(db, (n) => ({ table: n % 2 ? t : `${t}_c`, mirror: `${t}_c_mirror`, id: -1 - Math.floor(Math.random() * 500) }));

  const differ = async (t: string): Promise<{ parent: number; child: number }> => ({
    parent: (await db.query(`SELECT count(*)::int AS n FROM ((SELECT id, u, v, note FROM ONLY ${t} EXCEPT ALL SELECT * FROM ${t}_mirror)
      UNION ALL (SELECT * FROM ${t}_mirror EXCEPT ALL SELECT id, u, v, note FROM ONLY ${t})) d`)).rows[0].n,
    child: (await db.query(`SELECT count(*)::int AS n FROM ((TABLE ${t}_c EXCEPT ALL TABLE ${t}_c_mirror) UNION ALL (TABLE ${t}_c_mirror EXCEPT ALL TABLE ${t}_c)) d`)).rows[0].n,
  });

  /** The child's columns and checks as inheritance sees them, and its parents (by name). */
  const inheritance = async (t: string): Promise<unknown> => ({
    columns: (await db.query(`SELECT attname, attislocal, attinhcount FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [`${t}_c`])).rows,
    checks: (await db.query(`SELECT conname, conislocal, coninhcount FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c' ORDER BY 1`, [`${t}_c`])).rows,
    parents: (await db.query(`SELECT inhparent::regclass::text AS p FROM pg_inherits WHERE inhrelid = $1::regclass ORDER BY inhseqno`, [`${t}_c`])).rows,
  });
  const parentOid = async (t: string): Promise<string> => (await db.query(`SELECT $1::regclass::oid::int8::text AS o`, [t])).rows[0].o;
  const childParentOid = async (t: string): Promise<string> => (await db.query(`SELECT inhparent::int8::text AS o FROM pg_inherits WHERE inhrelid = $1::regclass`, [`${t}_c`])).rows[0].o;

  it('under writes to the parent and to its child (directly and through the parent): counts through the parent unchanged mid-copy, both equal their mirrors, the child under the new table', async () => {
    const t = 'pa';
    await tree(t);
    const before = await inheritance(t);
    const seen: { parent: number; own: number; child: number; shadow: number }[] = [];
    onFailpoint('mid-copy', async () => {
      const r = await db.query(`SELECT (SELECT count(*) FROM ${t})::int AS parent, (SELECT count(*) FROM ONLY ${t})::int AS own, (SELECT count(*) FROM ${t}_c)::int AS child,
        (SELECT sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::int)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'pgshift\\_%' AND c.relname = '${t}')::int AS shadow`);
      seen.push(r.rows[0]);
    });
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 200 });
    const child = toChild(t);
    let updates = 0;
    try {
      const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: `ALTER TABLE ${t} SET UNLOGGED`, execute: true, dropOld: true, chunkTimeMs: 20 }));
      expect(report.status).toBe('done');
    } finally {
      onFailpoint('mid-copy', null);
      updates = await child.stop();
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(updates).toBeGreaterThan(0);
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) {
      expect(s.shadow, 'the shadow had rows when the parent was counted').toBeGreaterThan(0);
      expect(s.child).toBe(500);
      expect(s.parent, 'the parent counts its own rows and the child\'s, none of the shadow\'s').toBe(s.own + s.child);
    }
    expect(await differ(t)).toEqual({ parent: 0, child: 0 });
    expect(await inheritance(t)).toEqual(before);
    expect(await childParentOid(t)).toBe(await parentOid(t));
    expect((await db.query(`SELECT relpersistence AS p FROM pg_class WHERE oid = $1::regclass`, [t])).rows[0].p).toBe('u');
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it('a revert window moves the child back under the old table, with the writes made since the swap', async () => {
    const t = 'pr';
    await tree(t);
    const before = await inheritance(t);
    const original = await parentOid(t);
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 200 });
    const child = toChild(t);
    let id = 0;
    try {
      const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: `ALTER TABLE ${t} SET UNLOGGED`, execute: true, revertWindowMs: 3_600_000 }));
      id = report.migrationId ?? 0;
      expect(await childParentOid(t), 'the child moved to the new table').toBe(await parentOid(t));
      expect(await parentOid(t)).not.toBe(original);
      await new Promise((r) => setTimeout(r, 800));
      const r = await runCli(['revert', String(id), '--url', db.url]);
      expect(r.status, r.stderr).toBe(0);
    } finally {
      await child.stop();
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(await parentOid(t)).toBe(original);
    expect(await childParentOid(t)).toBe(original);
    expect(await inheritance(t)).toEqual(before);
    expect(await differ(t)).toEqual({ parent: 0, child: 0 });
    const cleaned = await runCli(['cleanup', String(id), '--url', db.url]);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it.each(['mid-copy', 'in-cutover'])('killed at %s, resume finishes with the child under the new table and both equal to their mirrors', async (point) => {
    const t = `pk_${point.replace(/-/g, '_')}`;
    await tree(t);
    const before = await inheritance(t);
    const original = await parentOid(t);
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 200 });
    const child = toChild(t);
    try {
      const alter = ['alter', '--strategy', 'copy', `ALTER TABLE ${t} SET UNLOGGED`, '--execute', '--chunk-time', '20ms', '--drop-old', '--url', db.url];
      const killed = await runCli(alter, { PGSHIFT_FAILPOINT: point });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE table_name = $1 AND outcome IS NULL`, [t])).rows[0]?.id;
      expect(id, 'an unfinished migration is recorded').toBeGreaterThan(0);
      expect(await childParentOid(t), 'the child is still under the old table').toBe(original);
      const resumed = await runCli(['resume', String(id), '--url', db.url, '--chunk-time', '20ms', '--drop-old']);
      expect(resumed.status, resumed.stderr).toBe(0);
    } finally {
      await child.stop();
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(await differ(t)).toEqual({ parent: 0, child: 0 });
    expect(await inheritance(t)).toEqual(before);
    expect(await childParentOid(t)).toBe(await parentOid(t));
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it('refuses a revert window for ALTER TABLE ONLY ... DROP COLUMN on the parent (exit 2, nothing changed): moving the children back could not make the column inherited only again', async () => {
    const t = 'pd';
    await tree(t);
    const before = await inheritance(t);
    const err = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: `ALTER TABLE ONLY ${t} DROP COLUMN note, SET UNLOGGED`, execute: true, revertWindowMs: 3_600_000 })).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(2);
    expect(String(err)).toMatch(/--revert-window: ALTER TABLE ONLY \.\.\. DROP on a parent makes what its children had from it their own/);
    expect(await inheritance(t)).toEqual(before);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'note' AND NOT attisdropped`, [t])).rows[0].n).toBe(1);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it('a VALIDATE CONSTRAINT that a grandchild\'s row breaks fails before the swap, as offline fails (exit 1, PostgreSQL\'s words), every copy still NOT VALID', async () => {
    const t = 'pv';
    await db.query(`
      CREATE TABLE ${t} (id int PRIMARY KEY, v int);
      CREATE TABLE ${t}_c (extra int) INHERITS (${t});
      CREATE TABLE ${t}_g () INHERITS (${t}_c);
      INSERT INTO ${t} SELECT g, g FROM generate_series(1, 1000) g;
      INSERT INTO ${t}_c SELECT -g, g, g FROM generate_series(1, 100) g;
      INSERT INTO ${t}_g VALUES (-1000, -5, 1);
      ALTER TABLE ${t} ADD CONSTRAINT ${t}_v_check CHECK (v > 0) NOT VALID;`);
    const statements = `ALTER TABLE ${t} SET UNLOGGED, VALIDATE CONSTRAINT ${t}_v_check`;
    const offline = await db.query(`BEGIN; ${statements}`).catch((e: unknown) => e);
    await db.query('ROLLBACK');
    expect(String(offline)).toMatch(new RegExp(`check constraint "${t}_v_check" of relation "${t}_g" is violated by some row`));
    const state = async (): Promise<unknown> => ({
      checks: (await db.query(`SELECT conrelid::regclass::text AS t, convalidated, conislocal, coninhcount FROM pg_constraint WHERE conname = $1 ORDER BY 1`, [`${t}_v_check`])).rows,
      parent: await parentOid(t),
      persistence: (await db.query(`SELECT relpersistence AS p FROM pg_class WHERE oid = $1::regclass`, [t])).rows[0].p,
      children: (await db.query(`SELECT inhrelid::regclass::text AS c, inhparent::int8::text AS p FROM pg_inherits WHERE inhrelid IN ($1::regclass, $2::regclass) ORDER BY 1`, [`${t}_c`, `${t}_g`])).rows,
    });
    const before = await state();
    const err = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements, execute: true, dropOld: true })).catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode, String(err)).toBe(1);
    expect(String(err)).toMatch(new RegExp(`check constraint "${t}_v_check" of relation "${t}_g" is violated by some row.*nothing was swapped`));
    expect(await state()).toEqual(before);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it('a child with another parent after the table: moved with its parents in their order, writes through either parent and to it equal to the mirror, and back by a revert', async () => {
    const t = 'pq';
    await laterParentTree(t);
    const before = await inheritance(t);
    expect((before as { parents: unknown }).parents).toEqual([{ p: t }, { p: `${t}_q` }]);
    const original = await parentOid(t);
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 200 });
    // The child's rows updated a third through the table, a third through the other parent, a third directly.
    const child = mirroredUpdates(db, (n) => ({ table: [t, `${t}_q`, `${t}_c`][n % 3]!, mirror: `${t}_c_mirror`, id: -1 - Math.floor(Math.random() * 500) }));
    let id = 0;
    let updates = 0;
    try {
      const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: `ALTER TABLE ${t} SET UNLOGGED`, execute: true, revertWindowMs: 3_600_000 }));
      id = report.migrationId ?? 0;
      expect(await inheritance(t), 'the child under the new table, then the other parent, counts as before').toEqual(before);
      expect(await parentOid(t)).not.toBe(original);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhrelid = $1::regclass AND inhparent = $2::regclass`, [`${t}_c`, t])).rows[0].n).toBe(1);
      await new Promise((r) => setTimeout(r, 800));
      const r = await runCli(['revert', String(id), '--url', db.url]);
      expect(r.status, r.stderr).toBe(0);
    } finally {
      updates = await child.stop();
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(updates).toBeGreaterThan(0);
    expect(await parentOid(t)).toBe(original);
    expect(await inheritance(t)).toEqual(before);
    expect(await differ(t)).toEqual({ parent: 0, child: 0 });
    const cleaned = await runCli(['cleanup', String(id), '--url', db.url]);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });

  it('--terminate-blockers ends a transaction that blocks the cutover, not one that only writes to a later parent of a child (which SHARE UPDATE EXCLUSIVE does not wait for)', async () => {
    const t = 'pb';
    await laterParentTree(t);
    const session = async (sql: string): Promise<pg.Client> => {
      const s = new pg.Client({ connectionString: db.url });
      s.on('error', () => undefined);
      await s.connect();
      await s.query('BEGIN');
      await s.query(sql);
      return s;
    };
    const blocking = await session(`SELECT count(*) FROM ONLY ${t}`);
    const writing = await session(`INSERT INTO ${t}_q (id, v) VALUES (-100000, 1)`);
    try {
      const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: `ALTER TABLE ${t} SET UNLOGGED`, execute: true, dropOld: true, throttle: { blockers: 'terminate', blockerGraceMs: 300 } }));
      expect(report.status).toBe('done');
      expect(await blocking.query('SELECT 1').then(() => null, (e: unknown) => e), 'the blocker was terminated').not.toBeNull();
      await writing.query('COMMIT');
    } finally {
      await blocking.end().catch(() => undefined);
      await writing.end().catch(() => undefined);
    }
    expect((await db.query(`SELECT count(*)::int AS n FROM ONLY ${t}_q WHERE id = -100000`)).rows[0].n, 'the writer to the later parent committed').toBe(1);
  });

  it('a table that is a child and a parent: copied alone, its parent exchanged for a stand-in and its child moved in one cutover, and back by a revert', async () => {
    const t = 'pm';
    await db.query(`
      CREATE TABLE ${t}_top (id int NOT NULL, v int NOT NULL);
      CREATE TABLE ${t} (u int NOT NULL UNIQUE, note text) INHERITS (${t}_top);
      ALTER TABLE ${t} ADD PRIMARY KEY (id);
      CREATE TABLE ${t}_c (extra int) INHERITS (${t});
      CREATE TABLE ${t}_mirror (id int, u int, v int, note text); CREATE INDEX ON ${t}_mirror (id);
      INSERT INTO ${t} (id, u, v, note) SELECT g, g, g, 'n' || g FROM generate_series(1, ${ROWS}) g;
      INSERT INTO ${t}_mirror SELECT id, u, v, note FROM ONLY ${t};
      INSERT INTO ${t}_c SELECT -g, g, g, 'c' || g, g FROM generate_series(1, 500) g;
      CREATE TABLE ${t}_c_mirror AS SELECT * FROM ${t}_c;
      ANALYZE ${t};`);
    const before = await inheritance(t);
    const original = await parentOid(t);
    const parents = async (): Promise<unknown> => (await db.query(`SELECT inhparent::regclass::text AS p FROM pg_inherits WHERE inhrelid = $1::regclass`, [t])).rows;
    const workload = await startWorkload({ url: db.url, schema: 'public', table: t, mirror: `${t}_mirror`, workers: 2, initialRows: ROWS, ratePerSecond: 200 });
    const child = toChild(t);
    let id = 0;
    try {
      const report = await onlineAlter(alterOptions({ strategy: 'copy', url: db.url, statements: `ALTER TABLE ${t} SET UNLOGGED`, execute: true, revertWindowMs: 3_600_000 }));
      id = report.migrationId ?? 0;
      expect(await parents()).toEqual([{ p: `${t}_top` }]);
      expect(await childParentOid(t)).toBe(await parentOid(t));
      expect(await parentOid(t)).not.toBe(original);
      const counts = (await db.query(`SELECT (SELECT count(*) FROM ${t}_top)::int AS top, (SELECT count(*) FROM ${t})::int AS t`)).rows[0];
      expect(counts.top, 'the top counts the new table and its child once (one snapshot)').toBe(counts.t);
      await new Promise((r) => setTimeout(r, 500));
      const r = await runCli(['revert', String(id), '--url', db.url]);
      expect(r.status, r.stderr).toBe(0);
    } finally {
      await child.stop();
      const stats = await workload.stop();
      expect(stats.errors).toEqual([]);
    }
    expect(await parentOid(t)).toBe(original);
    expect(await parents()).toEqual([{ p: `${t}_top` }]);
    expect(await childParentOid(t)).toBe(original);
    expect(await inheritance(t)).toEqual(before);
    expect(await differ(t)).toEqual({ parent: 0, child: 0 });
    const cleaned = await runCli(['cleanup', String(id), '--url', db.url]);
    expect(cleaned.status, cleaned.stderr).toBe(0);
    expect((await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgshift\\_%'`)).rows).toEqual([]);
  });
});
