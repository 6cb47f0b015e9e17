// Changes without a copy on a partitioned table (issue 15): the index built per partition
// CONCURRENTLY, ON ONLY the table and attached, interrupted and then aborted or resumed; the
// plan's steps with their locks and the partition each acts on. (The catalogs offline gives are
// the differential suite's partitioned cases.) And two of those cases that copy the tree, here
// so that the versions suite (npm run test:versions) runs the copy on every major too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alterOptions, DEFAULTS, onlineAlter, plan } from '../../src/index.js';
import { onFailpoint } from '../../src/failpoints.js';
import { StoppedError } from '../../src/errors.js';
import { createPool } from '../../src/db/session.js';
import { abortMigration } from '../../src/migration/abort.js';
import { resumeMigration } from '../../src/migration/start.js';
import { cloneDatabase, createTestDatabase, withAdmin, type TestDatabase } from '../support/test-db.js';
import { diffSnapshots, snapshotCatalog } from '../support/catalog-snapshot.js';
import { tableDigest } from '../support/table-digest.js';
import { CASES } from '../differential-cases.js';
import { PARTITIONED_CASES } from '../differential-partitioned.js';

const SETUP = `
  CREATE TABLE ref (id int PRIMARY KEY);
  INSERT INTO ref SELECT generate_series(1, 60);
  CREATE TABLE events (id int NOT NULL, at date NOT NULL, kind int NOT NULL, ref_id int, PRIMARY KEY (id, at, kind)) PARTITION BY RANGE (at);
  CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY LIST (kind);
  CREATE TABLE events_2025_low PARTITION OF events_2025 FOR VALUES IN (1, 2, 3);
  CREATE TABLE events_2025_rest PARTITION OF events_2025 DEFAULT;
  CREATE TABLE events_default PARTITION OF events DEFAULT;
  INSERT INTO events SELECT i, date '2024-06-01' + (i % 700), i % 7, i % 50 + 1 FROM generate_series(1, 3000) i;`;

const INDEX = 'CREATE INDEX ON events (kind, ref_id)';

let base: TestDatabase;
beforeAll(async () => {
  base = await createTestDatabase('parted');
  await base.query(SETUP);
});
afterAll(async () => {
  await base?.drop();
});

/** Stops the route at its `at`-th step, with a pgshift-named build left on a partition as a killed build leaves it. */
async function interrupted(db: TestDatabase, at: number): Promise<number> {
  let hits = 0;
  onFailpoint('in-route', async () => {
    if (++hits < at) return;
    const id = (await db.query(`SELECT id::int FROM pgshift.migrations WHERE outcome IS NULL`)).rows[0].id;
    await db.query(`CREATE INDEX pgshift_${id}_index_0_2 ON events_2025_low (kind, ref_id)`);
    throw new StoppedError('stopped');
  });
  try {
    const err = await onlineAlter(alterOptions({ url: db.url, statements: INDEX, execute: true })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoppedError);
  } finally {
    onFailpoint('in-route', null);
  }
  expect(hits).toBe(at);
  const m = (await db.query(`SELECT id::int, outcome FROM pgshift.migrations ORDER BY id DESC LIMIT 1`)).rows[0];
  expect(m.outcome).toBeNull();
  // Stopped midway: the table's index is there, invalid, with some partitions' attached.
  const root = await db.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_kind_ref_id_idx'::regclass`);
  expect(root.rows[0].indisvalid).toBe(false);
  return m.id;
}

describe('CREATE INDEX on a partitioned table, interrupted', () => {
  it('pgshift abort removes the invalid index of the table, its levels\' and partitions\', and the leftover build', async () => {
    const db = await cloneDatabase(base, 'parted_abort');
    try {
      const before = await snapshotCatalog(db.pool, ['public']);
      const id = await interrupted(db, 5);
      const pool = createPool({ url: db.url, role: 'abort', lockTimeoutMs: 100, maxClients: 3 });
      try {
        const said = await abortMigration(pool, String(id), DEFAULTS.retry);
        expect(said.join('; ')).toMatch(/removed what CREATE INDEX ON events \(kind, ref_id\) had added/);
      } finally {
        await pool.end();
      }
      expect(diffSnapshots(before, await snapshotCatalog(db.pool, ['public']))).toEqual([]);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'pgshift%' AND relnamespace = 'public'::regnamespace`)).rows[0].n).toBe(0);
    } finally {
      await db.drop();
    }
  });

  it('resume starts the route again and ends with the catalog offline gives, every index valid', async () => {
    const offline = await cloneDatabase(base, 'parted_off');
    const db = await cloneDatabase(base, 'parted_resume');
    try {
      await offline.query(INDEX);
      const id = await interrupted(db, 4);
      const report = await resumeMigration(alterOptions({ url: db.url, statements: '', execute: true }), String(id));
      expect(report.status).toBe('done');
      expect(diffSnapshots(await snapshotCatalog(offline.pool, ['public']), await snapshotCatalog(db.pool, ['public']))).toEqual([]);
      const invalid = await db.query(`SELECT count(*)::int AS n FROM pg_index WHERE NOT indisvalid`);
      expect(invalid.rows[0].n).toBe(0);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'pgshift%' AND relnamespace = 'public'::regnamespace`)).rows[0].n).toBe(0);
    } finally {
      await offline.drop();
      await db.drop();
    }
  });
});

describe('CREATE INDEX on a partitioned table whose partitions have indexes of their own', () => {
  it('attaches the equal ones in place of a build, as offline (a sub-partitioned level\'s with its partitions\'), and builds where none is equal', async () => {
    const own = `CREATE INDEX events_2024_own ON events_2024 (kind, ref_id) WITH (fillfactor = 70);
      CREATE INDEX events_2025_own ON events_2025 (kind, ref_id);
      CREATE INDEX events_default_own ON events_default (kind, ref_id) WHERE kind > 1;`;
    const offline = await cloneDatabase(base, 'parted_eq_off');
    const db = await cloneDatabase(base, 'parted_eq');
    try {
      await offline.query(own);
      await db.query(own);
      const oids = `SELECT relname, oid::int8::text AS oid FROM pg_class WHERE relname LIKE 'events%own%' OR relname LIKE 'events_2025_%_kind_ref_id_idx' ORDER BY 1`;
      const before = (await db.query(oids)).rows;
      const m = await plan({ url: db.url, statements: INDEX });
      const steps = m.changes.flatMap((c) => c.steps).map((s) => `${s.lock} on ${s.on}: ${s.sql.join('; ')}`);
      expect(steps.filter((s) => s.includes('CONCURRENTLY')).map((s) => s.replace(/:.*/, '')), steps.join('\n')).toEqual(['SHARE UPDATE EXCLUSIVE on public.events_default']);
      expect(steps.at(-1)).toBe('SHARE UPDATE EXCLUSIVE on public.events_2024, public.events_2025: ALTER INDEX "public"."events_kind_ref_id_idx" ATTACH PARTITION "public"."events_2024_own"; ALTER INDEX "public"."events_kind_ref_id_idx" ATTACH PARTITION "public"."events_2025_own"');
      await offline.query(INDEX);
      const report = await onlineAlter(alterOptions({ url: db.url, statements: INDEX, execute: true }));
      expect(report.status).toBe('done');
      expect(diffSnapshots(await snapshotCatalog(offline.pool, ['public']), await snapshotCatalog(db.pool, ['public']))).toEqual([]);
      // Attached, not rebuilt: the same relations (offline keeps them too).
      expect((await db.query(oids)).rows).toEqual(before);
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_index WHERE NOT indisvalid`)).rows[0].n).toBe(0);
    } finally {
      await offline.drop();
      await db.drop();
    }
  });
});

describe('the plan of a change on a partitioned table', () => {
  it('shows each step with its lock and the partition it acts on', async () => {
    const model = await plan({ url: base.url, statements: `${INDEX}; ALTER TABLE events ADD FOREIGN KEY (ref_id) REFERENCES ref (id); DROP INDEX events_pkey` }).catch((e: unknown) => e);
    // DROP INDEX of the primary key's index is refused (a constraint owns it): plan only the first two.
    expect(String(model)).toMatch(/constraint/);
    const m = await plan({ url: base.url, statements: `${INDEX}; ALTER TABLE events ADD FOREIGN KEY (ref_id) REFERENCES ref (id)` });
    const steps = m.changes.flatMap((c) => c.steps).map((s) => `${s.lock} on ${s.on}: ${s.sql.join('; ')}`);
    expect(steps).toContain('SHARE on public.events: CREATE INDEX events_kind_ref_id_idx ON ONLY public.events (kind, ref_id)');
    expect(steps.some((s) => /^SHARE UPDATE EXCLUSIVE on public\.events_2025_low: CREATE INDEX CONCURRENTLY events_2025_low_kind_ref_id_idx ON public\.events_2025_low \(kind, ref_id\); ALTER INDEX "public"\."events_2025_kind_ref_id_idx" ATTACH PARTITION "public"\."events_2025_low_kind_ref_id_idx"$/.test(s)), steps.join('\n')).toBe(true);
    expect(steps).toContain('SHARE UPDATE EXCLUSIVE on public.events_2025: ALTER INDEX "public"."events_kind_ref_id_idx" ATTACH PARTITION "public"."events_2025_kind_ref_id_idx"');
    // The foreign key: partition by partition before PostgreSQL 18, which has NOT VALID for it on the table itself.
    const version = Number((await base.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v);
    const on = version >= 180000 ? 'events' : 'events_2024';
    expect(steps.some((s) => new RegExp(`^SHARE ROW EXCLUSIVE on public\\.${on}: ALTER TABLE public\\.${on} ADD CONSTRAINT events_ref_id_fkey FOREIGN KEY \\(ref_id\\) REFERENCES ref \\(id\\) NOT VALID$`).test(s)), steps.join('\n')).toBe(true);
    expect(steps).toContain(`SHARE UPDATE EXCLUSIVE on public.${on}: ALTER TABLE "public"."${on}" VALIDATE CONSTRAINT "events_ref_id_fkey"`);
    expect(m.changes.flatMap((c) => c.decisions.map((d) => d.strategy))).toEqual(['concurrent', 'not-valid-validate']);
  });

  it('a NOT VALID foreign key on a partitioned table is refused before PostgreSQL 18, as offline', async () => {
    const version = Number((await base.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v);
    const run = onlineAlter(alterOptions({ url: base.url, statements: 'ALTER TABLE events ADD FOREIGN KEY (ref_id) REFERENCES ref (id) NOT VALID' }));
    if (version >= 180000) {
      expect((await run).strategy).toBe('instant');
      return;
    }
    const err = await run.catch((e: unknown) => e);
    expect((err as { exitCode?: number }).exitCode).toBe(2);
    expect(String(err)).toMatch(/PostgreSQL before 18 cannot add a NOT VALID foreign key to a partitioned table/);
  });
});

describe('a rewrite of a partitioned table copies the tree, as offline on this major', () => {
  const role = `pgshift_parted_${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(async () => {
    await withAdmin((c) => c.query(`CREATE ROLE ${role} NOLOGIN`));
  });
  afterAll(async () => {
    await withAdmin((c) => c.query(`DROP ROLE IF EXISTS ${role}`));
  });

  it.each([
    'partitioned by range with a default partition: a column type change, partition options, grants, comments, a partition trigger',
    'partitioned: what partitions have of their own (indexes, CHECK, UNIQUE, EXCLUDE, FK, NOT VALID, policy, RLS, column settings) through a type change, a drop and a rename',
  ])('%s', async (name) => {
    const c = CASES.find((k) => k.name === name)!;
    const offline = await createTestDatabase('parted_copy_off');
    let online: TestDatabase | undefined;
    try {
      await offline.query(c.setup(role));
      online = await cloneDatabase(offline, 'parted_copy_on');
      await offline.query(c.alter);
      const report = await onlineAlter(alterOptions({ url: online.url, statements: c.alter, execute: true, dropOld: true, copyThresholdBytes: 0 }));
      expect(report.strategy).toBe('copy');
      if (c.after) {
        await offline.query(c.after);
        await online.query(c.after);
      }
      expect(diffSnapshots(await snapshotCatalog(offline.pool, ['public']), await snapshotCatalog(online.pool, ['public']))).toEqual([]);
      const tables = (await offline.query(`SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'p' ORDER BY 1`)).rows;
      for (const { relname } of tables) {
        const key = (await offline.query(`SELECT array_agg(a.attname::text ORDER BY a.attnum) AS k FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`, [relname])).rows[0].k;
        const opts = { orderBy: key };
        expect(await tableDigest(online.pool, `public.${relname}`, opts), relname).toEqual(await tableDigest(offline.pool, `public.${relname}`, opts));
      }
    } finally {
      await offline.drop();
      await online?.drop();
    }
  });

  // The leaf route with other tables' foreign keys into the tree on every major: they are added
  // back NOT VALID referencing a partitioned table (from a plain table, which every major
  // allows) and validated after. Whatever differs from offline is only the per-partition
  // constraints PostgreSQL leaves flagged NOT VALID after validating the main one (README).
  // The leaf route on a self-referencing tree: from 18 the tree's key comes off before DETACH and
  // goes back NOT VALID on the tree after ATTACH, and the catalog is offline's exactly; before
  // 18 it could go back only valid, a check of the whole tree under the lock: refused (exit 2).
  it('a leaf of a self-referencing table, copied alone: as offline on 18, refused before', async () => {
    const c = PARTITIONED_CASES.find((k) => k.name === 'partitioned: a leaf of a self-referencing table, rewritten alone')!;
    // SET ACCESS METHOD needs 15: a change every major takes, through the copy.
    const alter = "ALTER TABLE nodes_2 SET (fillfactor = 80), ADD CONSTRAINT nodes_2_label_check CHECK (label <> '')";
    const offline = await createTestDatabase('leaf_self_off');
    let online: TestDatabase | undefined;
    try {
      await offline.query(c.setup(role));
      online = await cloneDatabase(offline, 'leaf_self_on');
      const major = Math.floor(Number((await online.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v) / 10000);
      const run = onlineAlter(alterOptions({ url: online.url, statements: alter, execute: true, dropOld: true, strategy: 'copy' }));
      if (major < c.refusedBelow!.major) {
        const err = await run.catch((e: unknown) => e);
        expect((err as { exitCode?: number }).exitCode, String(err)).toBe(2);
        expect(String(err)).toMatch(c.refusedBelow!.message);
        expect(diffSnapshots(await snapshotCatalog(offline.pool, ['public']), await snapshotCatalog(online.pool, ['public']))).toEqual([]);
        return;
      }
      expect((await run).status).toBe('done');
      await offline.query(alter);
      await offline.query(c.after!);
      await online.query(c.after!);
      expect(diffSnapshots(await snapshotCatalog(offline.pool, ['public']), await snapshotCatalog(online.pool, ['public']))).toEqual([]);
      const opts = { orderBy: ['id', 'region'] };
      expect(await tableDigest(online.pool, 'public.nodes', opts)).toEqual(await tableDigest(offline.pool, 'public.nodes', opts));
    } finally {
      await offline.drop();
      await online?.drop();
    }
  });

  it('a leaf of a table other tables reference, copied alone (the differential case, through --strategy copy)', async () => {
    const c = PARTITIONED_CASES.find((k) => k.name === 'partitioned: a leaf of a table other tables reference, rewritten alone')!;
    const alter = 'ALTER TABLE orders_2024 ADD CONSTRAINT orders_2024_total_check CHECK (total >= 0), SET (fillfactor = 80)';
    const offline = await createTestDatabase('leaf_fk_off');
    let online: TestDatabase | undefined;
    try {
      await offline.query(c.setup(role));
      online = await cloneDatabase(offline, 'leaf_fk_on');
      await offline.query(alter);
      const report = await onlineAlter(alterOptions({ url: online.url, statements: alter, execute: true, dropOld: true, strategy: 'copy' }));
      expect(report.strategy).toBe('copy');
      await offline.query(c.after!);
      await online.query(c.after!);
      const differences = diffSnapshots(await snapshotCatalog(offline.pool, ['public']), await snapshotCatalog(online.pool, ['public']));
      expect(differences.filter((d) => !c.differences!.some((re) => re.test(d)))).toEqual([]);
      const fks = (await online.query(`SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' AND confrelid = 'orders'::regclass ORDER BY 1`)).rows;
      expect(fks).toEqual([{ conname: 'audits_order_id_placed_fkey', convalidated: false }, { conname: 'order_lines_order', convalidated: true }]);
      for (const t of ['orders', 'order_lines', 'audits']) {
        const opts = { orderBy: ['id'] };
        expect(await tableDigest(online.pool, `public.${t}`, opts), t).toEqual(await tableDigest(offline.pool, `public.${t}`, opts));
      }
    } finally {
      await offline.drop();
      await online?.drop();
    }
  });
});
