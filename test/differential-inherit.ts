// Differential cases on legacy inheritance children (issue 15, shadow/inherit.ts): a table with
// INHERITS parents and no children of its own, copied online with stand-ins for its parents and
// given the real parents in the cutover. The catalog comparison covers attislocal/attinhcount,
// conislocal/coninhcount and pg_inherits (test/support/catalog-queries.ts); the parents' rows
// are compared too (a parent's own rows, and through it none of the shadow's).
import type { DiffCase } from './differential-cases.js';

/** One parent with an inherited CHECK and default; a child declaring one inherited column again, a column of its own, a key. */
function widgets(): string {
  return `
    CREATE TABLE things (id int NOT NULL, label text DEFAULT 'thing', kind int, CONSTRAINT things_kind_check CHECK (kind >= 0));
    CREATE TABLE widgets (label text DEFAULT 'widget', weight numeric(8, 2) NOT NULL DEFAULT 1, note text,
                          CONSTRAINT widgets_weight_check CHECK (weight > 0)) INHERITS (things);
    ALTER TABLE widgets ADD PRIMARY KEY (id);
    CREATE INDEX widgets_note_idx ON widgets (note);
    COMMENT ON INDEX widgets_note_idx IS 'notes';
    COMMENT ON COLUMN widgets.kind IS 'inherited kind';
    ALTER TABLE widgets ALTER COLUMN kind SET DEFAULT 3;
    INSERT INTO widgets (id, label, kind, weight, note) SELECT i, 'w' || i, i % 5, i / 3.0 + 1, 'n' || i FROM generate_series(1, 2000) i;
    INSERT INTO things (id, label, kind) SELECT -i, 'plain', 1 FROM generate_series(1, 20) i;
  `;
}

/**
 * A parent with two children, one of them in another schema; a grandchild that has a second
 * parent outside the tree. Every relation has rows of its own, keys apart (a relation's rows are
 * compared through its parents too, ordered by key).
 */
function vehicles(): string {
  return `
    CREATE SCHEMA other;
    CREATE TABLE vehicles (id int PRIMARY KEY, make text NOT NULL DEFAULT 'x', year int, note text, CONSTRAINT vehicles_year_check CHECK (year > 1900));
    CREATE TABLE cars (doors int DEFAULT 4) INHERITS (vehicles);
    ALTER TABLE cars ADD PRIMARY KEY (id);
    CREATE TABLE other.trucks (load numeric(8, 2), CONSTRAINT trucks_load_check CHECK (load >= 0)) INHERITS (vehicles);
    CREATE TABLE tagged (tag text DEFAULT 't');
    CREATE TABLE vans (seats int) INHERITS (tagged, cars);
    INSERT INTO vehicles (id, make, year, note) SELECT i, 'v' || i, 1990 + i % 30, 'n' || i FROM generate_series(1, 300) i;
    INSERT INTO cars (id, make, year, doors) SELECT 1000 + i, 'c' || i, 2000 + i % 20, 2 + i % 3 FROM generate_series(1, 400) i;
    INSERT INTO other.trucks (id, make, year, load) SELECT 2000 + i, 't' || i, 2010, i / 2.0 FROM generate_series(1, 200) i;
    INSERT INTO vans (id, make, year, doors, tag, seats) SELECT 3000 + i, 'n' || i, 2015, 4, 'g' || i, 7 FROM generate_series(1, 150) i;
  `;
}

/**
 * Children of several parents: docs has parents after named (stamped, which gives a column named
 * gives too, and has a NO INHERIT check; tagged); notes has named last. Keys apart, as vehicles'.
 */
function severalParents(): string {
  return `
    CREATE TABLE named (id int PRIMARY KEY, name text COLLATE "C" DEFAULT 'n', CONSTRAINT named_name_check CHECK (name <> ''));
    CREATE TABLE stamped (id int NOT NULL, at timestamptz DEFAULT '2024-01-01', by_user text,
                          CONSTRAINT stamped_by_check CHECK (by_user <> 'x'), CONSTRAINT stamped_local_check CHECK (by_user <> 'y') NO INHERIT);
    CREATE TABLE tagged (tag text DEFAULT 't', CONSTRAINT tagged_tag_check CHECK (tag <> ''));
    CREATE TABLE docs (body text, CONSTRAINT docs_body_check CHECK (length(body) < 1000)) INHERITS (named, stamped, tagged);
    ALTER TABLE docs ADD PRIMARY KEY (id);
    CREATE TABLE notes (memo text) INHERITS (stamped, named);
    ALTER TABLE notes ADD PRIMARY KEY (id);
    INSERT INTO named (id, name) SELECT i, 'n' || i FROM generate_series(1, 500) i;
    INSERT INTO stamped (id, by_user) SELECT 1000 + i, 'u' || i FROM generate_series(1, 100) i;
    INSERT INTO tagged (tag) SELECT 'g' || i FROM generate_series(1, 50) i;
    INSERT INTO docs (id, name, by_user, tag, body) SELECT 2000 + i, 'd' || i, 'u' || (i % 7), 'g' || (i % 3), repeat('b', i % 50) FROM generate_series(1, 800) i;
    INSERT INTO notes (id, name, by_user, memo) SELECT 4000 + i, 'm' || i, 'w' || i, 'memo' || i FROM generate_series(1, 300) i;
  `;
}

/**
 * A tree copied with its parent (shadow/tree.ts): two children, one in another schema declaring
 * an inherited column again (merged, local), a grandchild with a second parent outside the tree
 * (after its parent in it) and a unique index of its own; every relation keyed, rows of its own.
 */
function fleetOf(outsideFirst: boolean): string {
  return `
    CREATE SCHEMA other;
    CREATE TABLE vehicles (id int PRIMARY KEY, make text NOT NULL DEFAULT 'x', year int, note text, CONSTRAINT vehicles_year_check CHECK (year > 1900));
    CREATE TABLE cars (doors int DEFAULT 4, CONSTRAINT cars_doors_check CHECK (doors > 0)) INHERITS (vehicles);
    ALTER TABLE cars ADD PRIMARY KEY (id);
    CREATE INDEX cars_make_idx ON cars (make);
    COMMENT ON TABLE cars IS 'cars';
    CREATE TABLE other.trucks (load numeric(8, 2), year int NOT NULL) INHERITS (vehicles);
    ALTER TABLE other.trucks ADD PRIMARY KEY (id);
    CREATE TABLE tagged (tag text DEFAULT 't');
    CREATE TABLE vans (seats int) INHERITS (${outsideFirst ? 'tagged, cars' : 'cars, tagged'});
    ALTER TABLE vans ADD PRIMARY KEY (id);
    CREATE UNIQUE INDEX vans_tag_key ON vans (tag);
    INSERT INTO vehicles (id, make, year, note) SELECT i, 'v' || i, 1990 + i % 30, 'n' || i FROM generate_series(1, 300) i;
    INSERT INTO cars (id, make, year, doors) SELECT 1000 + i, 'c' || i, 2000 + i % 20, 2 + i % 3 FROM generate_series(1, 400) i;
    INSERT INTO other.trucks (id, make, year, load) SELECT 2000 + i, 't' || i, 2010, i / 2.0 FROM generate_series(1, 200) i;
    INSERT INTO vans (id, make, year, doors, tag, seats) SELECT 3000 + i, 'n' || i, 2015, 4, 'g' || i, 7 FROM generate_series(1, 150) i;
    INSERT INTO tagged (tag) VALUES ('own');
  `;
}

const fleet = (): string => fleetOf(false);

const FLEET_TOKENS = { 'public.vehicles': ['token'], 'public.cars': ['token'], 'other.trucks': ['token'], 'public.vans': ['token'] };

/**
 * Objects bound to the fleet's descendants (catalog/bound-objects.ts): views over ONLY a child, over
 * the parent and a child, over the grandchild; a materialized view over the grandchild with a
 * unique index and a view over it, one over the parent and a child; a function of a child's row
 * type and a BEGIN ATOMIC one reading the child in another schema. None reads `note`.
 */
const FLEET_BOUND = (role: string): string => `
  CREATE VIEW cars_only AS SELECT id, make, doors FROM ONLY cars;
  GRANT SELECT ON cars_only TO ${role};
  COMMENT ON VIEW cars_only IS 'cars alone';
  CREATE VIEW fleet_join AS SELECT v.id, v.make, c.doors FROM ONLY vehicles v JOIN cars c ON c.id = v.id + 1000;
  CREATE VIEW vans_tags AS SELECT id, tag, make FROM vans;
  CREATE MATERIALIZED VIEW vans_mv AS SELECT id, year, tag FROM vans;
  CREATE UNIQUE INDEX vans_mv_id ON vans_mv (id);
  CREATE VIEW vans_mv_recent AS SELECT id FROM vans_mv WHERE year > 2000;
  CREATE MATERIALIZED VIEW fleet_mv AS SELECT id, make FROM ONLY vehicles UNION ALL SELECT id, make FROM ONLY cars;
  CREATE FUNCTION all_cars() RETURNS SETOF cars LANGUAGE sql STABLE AS 'SELECT * FROM cars';
  CREATE FUNCTION truck_count() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM other.trucks; END;`;

/** What the bound objects read after the change, kept in tables both sides compare. */
const FLEET_BOUND_AFTER = `INSERT INTO cars (id, doors) VALUES (-100, 3); INSERT INTO vans (id, tag, year) VALUES (-101, 'late', 2020);
  REFRESH MATERIALIZED VIEW vans_mv; REFRESH MATERIALIZED VIEW fleet_mv;
  CREATE TABLE seen_cars AS SELECT * FROM all_cars(); CREATE TABLE seen_trucks AS SELECT truck_count() AS n;
  CREATE TABLE seen_views AS SELECT (SELECT count(*) FROM cars_only) AS cars, (SELECT count(*) FROM fleet_join) AS joined,
    (SELECT count(*) FROM vans_tags) AS tags, (SELECT count(*) FROM vans_mv_recent) AS recent`;

export const INHERIT_CASES: DiffCase[] = [
  // A tree copied with its parent (shadow/tree.ts): the change reaches every relation.
  {
    name: 'inheritance tree copied with its parent: a type change reaching two children (one in another schema) and a grandchild with a second parent outside the tree',
    schemas: ['public', 'other'],
    setup: fleet,
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint, ALTER COLUMN make TYPE varchar(40)',
    // Offline: inherited-only columns stay so (a parent's DROP COLUMN reaches them), the merged one stays.
    after: `INSERT INTO vehicles (id, year) VALUES (-100, 3000000000); INSERT INTO vans (id, seats, tag) VALUES (-101, 2, 'late'); UPDATE cars SET year = year + 1 WHERE id % 10 = 0; ALTER TABLE vehicles DROP COLUMN note; ALTER TABLE vehicles DROP COLUMN year`,
  },
  {
    name: 'inheritance tree copied with its parent: a column added with a volatile default',
    schemas: ['public', 'other'],
    setup: fleet,
    alter: 'ALTER TABLE vehicles ADD COLUMN token double precision DEFAULT random()',
    nullnessOnly: FLEET_TOKENS,
    manyValues: [{ table: 'public.cars', column: 'token' }, { table: 'other.trucks', column: 'token' }],
    after: `INSERT INTO cars (id, doors) VALUES (-100, 3); INSERT INTO vans (id, tag) VALUES (-101, 'late')`,
  },
  {
    name: 'inheritance tree copied with its parent: a grandchild whose parent outside the tree comes first, its parents put back in their order in the cutover',
    schemas: ['public', 'other'],
    setup: () => fleetOf(true),
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint',
    after: `INSERT INTO vans (id, seats, tag) VALUES (-101, 2, 'late'); UPDATE tagged SET tag = tag || 'x'; ALTER TABLE tagged ADD COLUMN extra int DEFAULT 1; ALTER TABLE vehicles DROP COLUMN note`,
  },
  {
    name: 'inheritance tree copied with its parent: the children\'s own triggers (one disabled, one with a comment) and clustered index carried to the new relations',
    schemas: ['public', 'other'],
    setup: () => `${fleet()}
      CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := coalesce(NEW.note, TG_TABLE_NAME); RETURN NEW; END $$;
      CREATE TRIGGER cars_stamp BEFORE INSERT ON cars FOR EACH ROW EXECUTE FUNCTION stamp();
      COMMENT ON TRIGGER cars_stamp ON cars IS 'stamps';
      CREATE TRIGGER trucks_stamp BEFORE INSERT ON other.trucks FOR EACH ROW EXECUTE FUNCTION stamp();
      CREATE TRIGGER vans_stamp BEFORE INSERT ON vans FOR EACH ROW EXECUTE FUNCTION stamp();
      ALTER TABLE vans DISABLE TRIGGER vans_stamp;
      ALTER TABLE cars CLUSTER ON cars_make_idx;`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN note TYPE varchar(100)',
    after: `INSERT INTO cars (id) VALUES (-100); INSERT INTO other.trucks (id, year) VALUES (-101, 2000); INSERT INTO vans (id, tag) VALUES (-102, 'z')`,
  },
  {
    name: 'inheritance tree copied with its parent: the children\'s own policies and row security, statistics object, replica identities, publication and rule carried to the new relations',
    schemas: ['public', 'other'],
    setup: (role) => `${fleet()}
      CREATE POLICY cars_recent ON cars FOR SELECT TO ${role} USING (doors > 2);
      COMMENT ON POLICY cars_recent ON cars IS 'recent cars';
      ALTER TABLE cars ENABLE ROW LEVEL SECURITY;
      GRANT SELECT ON cars TO ${role};
      CREATE STATISTICS cars_stats (dependencies) ON make, doors FROM cars;
      ALTER TABLE other.trucks REPLICA IDENTITY FULL;
      ALTER TABLE vans REPLICA IDENTITY USING INDEX vans_pkey;
      CREATE PUBLICATION fleet_vans FOR TABLE vans;
      CREATE TABLE truck_log (id int, at int);
      CREATE RULE trucks_log AS ON INSERT TO other.trucks DO ALSO INSERT INTO truck_log VALUES (NEW.id, 1);`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint',
    after: `INSERT INTO cars (id, year) VALUES (-100, 2010), (-99, 2001); INSERT INTO other.trucks (id, year) VALUES (-98, 2002)`,
    afterAsRole: `CREATE TEMP TABLE seen AS SELECT count(*) AS n FROM cars`,
  },
  {
    // FOR TABLE of a parent makes each of its descendants a member on its own: every relation's
    // membership moves on its own (ONLY), as offline keeps it.
    name: 'inheritance tree copied with its parent: publications of the parent and of a child with a child, each relation a member of its own',
    schemas: ['public', 'other'],
    setup: () => `${fleet()}
      CREATE PUBLICATION fleet_all FOR TABLE vehicles;
      CREATE PUBLICATION fleet_cars FOR TABLE cars;`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint',
    after: `INSERT INTO cars (id, year) VALUES (-100, 2010); INSERT INTO vans (id, tag) VALUES (-102, 'z')`,
  },
  {
    name: 'inheritance tree copied with its parent: views over a child only, over parent and child, over a grandchild; a materialized view over a grandchild (unique index, a view over it) and one over parent and child; a function RETURNS SETOF a child; a BEGIN ATOMIC function reading a child',
    schemas: ['public', 'other'],
    setup: (role) => `${fleet()}${FLEET_BOUND(role)}`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN note TYPE varchar(100)',
    after: FLEET_BOUND_AFTER,
  },
  {
    name: 'inheritance tree copied with its parent: what is bound to the descendants sees a column rename recursing to them, as offline',
    schemas: ['public', 'other'],
    setup: (role) => `${fleet()}${FLEET_BOUND(role)}`,
    alter: 'ALTER TABLE vehicles RENAME COLUMN make TO maker; ALTER TABLE vehicles ALTER COLUMN note TYPE varchar(100)',
    after: FLEET_BOUND_AFTER,
  },
  {
    name: 'inheritance tree copied with its parent: other tables\' rule, policy and constraint trigger naming a child and the grandchild',
    schemas: ['public', 'other'],
    setup: () => `${fleet()}
      CREATE TABLE audit (id int, what text);
      CREATE RULE audit_cars AS ON INSERT TO audit DO ALSO INSERT INTO cars (id, make) VALUES (NEW.id + 50000, NEW.what);
      COMMENT ON RULE audit_cars ON audit IS 'audited cars';
      CREATE TABLE owners (id int PRIMARY KEY, truck int);
      CREATE POLICY owners_trucks ON owners USING (EXISTS (SELECT FROM other.trucks t WHERE t.id = truck));
      ALTER TABLE owners ENABLE ROW LEVEL SECURITY;
      CREATE FUNCTION noop_trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER owners_vans AFTER INSERT ON owners FROM vans DEFERRABLE FOR EACH ROW EXECUTE FUNCTION noop_trg();
      COMMENT ON TRIGGER owners_vans ON owners IS 'from vans';`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint',
    after: `INSERT INTO audit VALUES (1, 'audited'); INSERT INTO owners VALUES (1, 2001), (2, -5)`,
  },
  {
    name: 'inheritance tree copied with the middle table: its parent exchanged for a stand-in, its child (with a parent outside the tree) copied with it',
    schemas: ['public', 'other'],
    setup: fleet,
    alter: 'ALTER TABLE cars ALTER COLUMN doors TYPE bigint',
    after: `INSERT INTO vans (id, doors, seats) VALUES (-100, 3, 9); UPDATE vehicles SET year = year + 1 WHERE id % 7 = 0; ALTER TABLE vehicles DROP COLUMN note`,
  },
  // A tree's descendants' foreign keys, NOT VALID checks, owned sequences and other tables' keys into them (shadow/tree.ts).
  {
    name: 'inheritance tree copied with its parent: a child\'s foreign key to an outside table (ON DELETE SET NULL, a comment) and a self-referencing one',
    schemas: ['public', 'other'],
    setup: () => `${fleet()}
      CREATE TABLE depots (id int PRIMARY KEY); INSERT INTO depots SELECT generate_series(1, 10);
      ALTER TABLE cars ADD COLUMN depot int CONSTRAINT cars_depot_fkey REFERENCES depots (id) ON DELETE SET NULL;
      UPDATE ONLY cars SET depot = id % 10 + 1;
      COMMENT ON CONSTRAINT cars_depot_fkey ON cars IS 'home depot';
      ALTER TABLE other.trucks ADD COLUMN tows int CONSTRAINT trucks_tows_fkey REFERENCES other.trucks (id);
      UPDATE other.trucks SET tows = id - 1 WHERE id > 2001;`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint',
    after: `DELETE FROM depots WHERE id = 3; INSERT INTO cars (id, depot) VALUES (-100, 5); INSERT INTO other.trucks (id, year, tows) VALUES (-101, 2000, 2005); DELETE FROM other.trucks WHERE id = 2200`,
  },
  {
    name: 'inheritance tree copied with its parent: a child\'s foreign key on the column the change retypes, proven before the swap',
    schemas: ['public', 'other'],
    setup: () => `${fleet()}
      CREATE TABLE model_years (y bigint PRIMARY KEY); INSERT INTO model_years SELECT DISTINCT year FROM vehicles WHERE year IS NOT NULL;
      INSERT INTO model_years VALUES (2100) ON CONFLICT DO NOTHING;
      ALTER TABLE cars ADD CONSTRAINT cars_year_fkey FOREIGN KEY (year) REFERENCES model_years (y);`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint',
    after: `INSERT INTO cars (id, year) VALUES (-100, 2100); DELETE FROM model_years WHERE y NOT IN (SELECT year FROM vehicles WHERE year IS NOT NULL)`,
  },
  {
    name: 'inheritance tree copied with its parent: a grandchild\'s foreign key to the parent and a NOT VALID one to a child that old rows break',
    schemas: ['public', 'other'],
    setup: () => `${fleet()}
      ALTER TABLE vans ADD COLUMN base int CONSTRAINT vans_base_fkey REFERENCES vehicles (id) ON DELETE CASCADE;
      UPDATE vans SET base = id % 300 + 1;
      ALTER TABLE vans ADD COLUMN twin int;
      UPDATE vans SET twin = CASE WHEN id % 50 = 0 THEN -5 ELSE id - 2000 END;
      ALTER TABLE vans ADD CONSTRAINT vans_twin_fkey FOREIGN KEY (twin) REFERENCES cars (id) NOT VALID;`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN make TYPE varchar(40)',
    after: `DELETE FROM ONLY vehicles WHERE id = 7; INSERT INTO vans (id, tag, base, twin) VALUES (-101, 'late', 5, 1005)`,
  },
  {
    name: 'inheritance tree copied with its parent: NOT VALID checks that old rows break, a child\'s own (with a comment), the parent\'s reaching the tree, one both declare',
    schemas: ['public', 'other'],
    setup: () => `${fleet()}
      ALTER TABLE cars ADD CONSTRAINT cars_year_recent CHECK (year > 2000) NOT VALID;
      COMMENT ON CONSTRAINT cars_year_recent ON cars IS 'recent';
      ALTER TABLE vehicles ADD CONSTRAINT vehicles_make_check CHECK (make <> 'v1') NOT VALID;
      UPDATE other.trucks SET note = 'x' WHERE id = 2001;
      ALTER TABLE other.trucks ADD CONSTRAINT vehicles_note_check CHECK (note <> 'x') NOT VALID;
      ALTER TABLE vehicles ADD CONSTRAINT vehicles_note_check CHECK (note <> 'x') NOT VALID;`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint',
    after: `INSERT INTO cars (id, year) VALUES (-100, 2010); ALTER TABLE vehicles DROP CONSTRAINT vehicles_note_check`,
  },
  {
    name: 'inheritance tree copied with its parent: other tables\' foreign keys into a child and a grandchild (one NOT VALID, ON DELETE CASCADE)',
    schemas: ['public', 'other'],
    setup: () => `${fleet()}
      CREATE TABLE rentals (id int PRIMARY KEY, car int CONSTRAINT rentals_car_fkey REFERENCES cars (id), van int);
      INSERT INTO rentals SELECT i, 1000 + i, 3000 + i FROM generate_series(1, 100) i;
      INSERT INTO rentals VALUES (101, NULL, -1);
      ALTER TABLE rentals ADD CONSTRAINT rentals_van_fkey FOREIGN KEY (van) REFERENCES vans (id) ON DELETE CASCADE NOT VALID;
      COMMENT ON CONSTRAINT rentals_car_fkey ON rentals IS 'rented car';`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint',
    after: `DELETE FROM vans WHERE id = 3001; INSERT INTO rentals VALUES (500, 1002, 3002)`,
  },
  {
    name: 'inheritance tree copied with its parent: a child\'s serial column, another\'s identity column, the parent\'s serial its children inherit',
    schemas: ['public', 'other'],
    setup: () => `${fleet()}
      ALTER TABLE vehicles ADD COLUMN seq serial;
      ALTER TABLE cars ADD COLUMN serial_no serial;
      ALTER TABLE other.trucks ADD COLUMN fleet_no int GENERATED BY DEFAULT AS IDENTITY (START WITH 100 INCREMENT BY 5);
      INSERT INTO cars (id) VALUES (-1), (-2); INSERT INTO other.trucks (id, year) VALUES (-3, 2001); INSERT INTO vehicles (id) VALUES (-4);`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint',
    after: `INSERT INTO cars (id) VALUES (-100); INSERT INTO other.trucks (id, year) VALUES (-101, 2000); INSERT INTO vans (id, tag) VALUES (-102, 'z'); INSERT INTO vehicles (id) VALUES (-103)`,
  },
  {
    name: 'inheritance tree copied with its parent: a sequence a child\'s inherited column owns, the column dropped by the change (the sequence goes with it, as offline)',
    schemas: ['public', 'other'],
    setup: () => `${fleet()}
      ALTER TABLE vehicles ADD COLUMN gone int;
      CREATE SEQUENCE cars_gone_seq OWNED BY cars.gone;
      ALTER TABLE cars ALTER COLUMN gone SET DEFAULT nextval('cars_gone_seq');
      INSERT INTO cars (id) VALUES (-1);`,
    alter: 'ALTER TABLE vehicles ALTER COLUMN year TYPE bigint, DROP COLUMN gone',
    after: `INSERT INTO cars (id) VALUES (-100)`,
  },
  {
    name: 'inheritance child: add a column with a default',
    strategy: 'instant',
    setup: widgets,
    alter: 'ALTER TABLE widgets ADD COLUMN extra int DEFAULT 7',
    after: `ALTER TABLE things DROP COLUMN kind; INSERT INTO widgets (id, weight) VALUES (100000, 2)`,
  },
  {
    name: 'inheritance child of a parent with NOT VALID checks that rows of the child break (its copies stay inherited and not valid)',
    setup: () => `${widgets()}
      INSERT INTO widgets (id, label, kind, weight) VALUES (-50, 'old', 1, 1);
      ALTER TABLE things ADD CONSTRAINT things_id_check CHECK (id > 0) NOT VALID, ADD CONSTRAINT things_label_check CHECK (label <> 'old') NOT VALID;
      COMMENT ON CONSTRAINT things_id_check ON things IS 'positive';`,
    alter: 'ALTER TABLE widgets ALTER COLUMN note TYPE varchar(40)',
    after: `INSERT INTO widgets (id, weight) VALUES (100001, 2); ALTER TABLE things DROP CONSTRAINT things_label_check`,
  },
  {
    // Its generated column reads a column it has only from its parent: built after the rest, in its place.
    name: 'inheritance child with a generated column of its own over an inherited column',
    setup: () => `
      CREATE TABLE things (id int NOT NULL, label text DEFAULT 'thing', kind int);
      CREATE TABLE gadgets (double_kind int GENERATED ALWAYS AS (kind * 2) STORED, note text) INHERITS (things);
      ALTER TABLE gadgets ADD PRIMARY KEY (id);
      INSERT INTO gadgets (id, label, kind, note) SELECT i, 'g' || i, i % 7, 'n' || i FROM generate_series(1, 2000) i;`,
    alter: 'ALTER TABLE gadgets ALTER COLUMN note TYPE varchar(40)',
    after: `INSERT INTO gadgets (id, kind) VALUES (-1, 21); ALTER TABLE things ALTER COLUMN label SET DEFAULT 'x'`,
  },
  {
    name: 'inheritance child: retype a column of its own',
    setup: widgets,
    alter: 'ALTER TABLE widgets ALTER COLUMN note TYPE varchar(40), ALTER COLUMN weight TYPE numeric(12, 3)',
    // Offline: dropping the parent's column drops the child's too (it is inherited only).
    after: `ALTER TABLE things DROP COLUMN kind`,
  },
  {
    name: 'inheritance child of two parents (a column both give, merged)',
    setup: () => `
      CREATE TABLE named (id int NOT NULL, name text COLLATE "C", CONSTRAINT named_name_check CHECK (name <> ''));
      CREATE TABLE stamped (id int NOT NULL, at timestamptz DEFAULT '2024-01-01', by_user text, CONSTRAINT stamped_local_check CHECK (by_user <> 'x') NO INHERIT);
      CREATE TABLE docs (body text, CONSTRAINT docs_body_check CHECK (length(body) < 1000)) INHERITS (named, stamped);
      ALTER TABLE docs ADD PRIMARY KEY (id);
      INSERT INTO docs (id, name, by_user, body) SELECT i, 'd' || i, 'u' || (i % 7), repeat('b', i % 50) FROM generate_series(1, 1500) i;
      INSERT INTO stamped (id, by_user) VALUES (-1, 'own');
    `,
    alter: 'ALTER TABLE docs ALTER COLUMN body TYPE varchar(2000), ADD COLUMN rev int NOT NULL DEFAULT 1',
    after: `ALTER TABLE stamped DROP COLUMN by_user; INSERT INTO docs (id, name, body) VALUES (9999, 'late', 'x')`,
  },
  {
    name: 'inheritance child of a parent in another schema',
    strategy: 'instant',
    schemas: ['public', 'base'],
    setup: (role) => `
      CREATE SCHEMA base;
      CREATE TABLE base.items (id int NOT NULL, qty int NOT NULL DEFAULT 0, CONSTRAINT items_qty_check CHECK (qty >= 0));
      CREATE TABLE public.items (sku text NOT NULL, price numeric(10, 2)) INHERITS (base.items);
      ALTER TABLE public.items ADD PRIMARY KEY (id);
      CREATE UNIQUE INDEX items_sku_key ON public.items (sku);
      GRANT SELECT ON public.items TO ${role};
      INSERT INTO public.items (id, qty, sku, price) SELECT i, i % 9, 's' || i, i / 4.0 FROM generate_series(1, 2000) i;
      INSERT INTO base.items (id, qty) VALUES (-5, 5);
    `,
    alter: 'ALTER TABLE public.items ALTER COLUMN price TYPE numeric(14, 2), ADD COLUMN color text',
    after: `ALTER TABLE base.items ADD COLUMN later int DEFAULT 1`,
  },
  {
    name: 'inheritance child whose own columns come before columns its parent got later',
    setup: () => `
      CREATE TABLE gadgets_base (id int NOT NULL, label text DEFAULT 'g');
      CREATE TABLE gadgets (own text DEFAULT 'o', shared int, CONSTRAINT gadgets_own_check CHECK (own <> '')) INHERITS (gadgets_base);
      ALTER TABLE gadgets ADD PRIMARY KEY (id);
      INSERT INTO gadgets (id, label, own, shared) SELECT i, 'g' || i, 'o' || i, i % 4 FROM generate_series(1, 1500) i;
      ALTER TABLE gadgets_base ADD COLUMN late int NOT NULL DEFAULT 5, ADD CONSTRAINT gadgets_base_late_check CHECK (late > 0);
      ALTER TABLE gadgets_base ADD COLUMN shared int;
      ALTER TABLE gadgets ADD COLUMN own2 varchar(10) COLLATE "C" CONSTRAINT gadgets_own2_present NOT NULL DEFAULT '-';
      ALTER TABLE gadgets_base ADD COLUMN later numeric(8, 2) GENERATED ALWAYS AS (id * 2) STORED;
      ALTER TABLE gadgets ALTER COLUMN late SET DEFAULT 6;
      COMMENT ON COLUMN gadgets.own2 IS 'own, added late';
      UPDATE gadgets SET own2 = 'x' || (id % 9), late = id % 7 + 1;
      INSERT INTO gadgets_base (id) VALUES (-1);
    `,
    alter: 'ALTER TABLE gadgets ALTER COLUMN own TYPE varchar(50), ADD COLUMN extra int DEFAULT 2',
    // Offline: the parent's generated column leaves the child with it; the merged one stays, local.
    after: `ALTER TABLE gadgets_base DROP COLUMN later; ALTER TABLE gadgets_base DROP COLUMN shared; INSERT INTO gadgets (id, own) VALUES (99999, 'z')`,
  },
  {
    name: 'inheritance child of two parents, one giving later a column the other gave first, with an identity of its own added last',
    setup: () => `
      CREATE TABLE tags (id int NOT NULL);
      CREATE TABLE notes (x text DEFAULT 'n');
      CREATE TABLE tagged_notes (own int) INHERITS (tags, notes);
      INSERT INTO tagged_notes (id, x, own) SELECT i, 'x' || i, i FROM generate_series(1, 1200) i;
      ALTER TABLE tags ADD COLUMN y int DEFAULT 1;
      ALTER TABLE tags ADD COLUMN x text;
      ALTER TABLE tagged_notes ADD COLUMN seq bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 100 INCREMENT BY 5);
      ALTER TABLE tagged_notes ADD PRIMARY KEY (id);
    `,
    alter: 'ALTER TABLE tagged_notes ALTER COLUMN own TYPE bigint',
    // x stays, inherited from notes only; the identity goes on from where it was.
    after: `ALTER TABLE tags DROP COLUMN x; INSERT INTO tagged_notes (id) VALUES (-7)`,
  },
  // A parent (issue 15): what needs no copy runs on it as offline, recursing to the children;
  // the copy refuses it (README, Refused, and why).
  {
    name: 'inheritance parent (two children, one in another schema, a grandchild with a second parent): add a column, set a default',
    strategy: 'instant',
    copyRefused: 'the copy refuses a table with inheritance children',
    schemas: ['public', 'other'],
    setup: vehicles,
    alter: `ALTER TABLE vehicles ADD COLUMN color text DEFAULT 'white', ALTER COLUMN make SET DEFAULT 'y'`,
    after: `INSERT INTO vehicles (id) VALUES (-100); INSERT INTO vans (id, seats) VALUES (-101, 2); ALTER TABLE vehicles DROP COLUMN year`,
  },
  {
    name: 'inheritance parent: rename a column',
    strategy: 'instant',
    copyRefused: 'the copy refuses a table with inheritance children',
    schemas: ['public', 'other'],
    setup: vehicles,
    alter: 'ALTER TABLE vehicles RENAME COLUMN year TO built',
    after: `INSERT INTO cars (id, built) VALUES (-100, 2001)`,
  },
  {
    name: 'inheritance parent: ALTER TABLE ONLY drops a column the children keep as their own',
    strategy: 'instant',
    copyRefused: 'the copy refuses a table with inheritance children',
    schemas: ['public', 'other'],
    setup: vehicles,
    alter: 'ALTER TABLE ONLY vehicles DROP COLUMN year',
    after: `INSERT INTO vans (id, year, seats) VALUES (-100, 2001, 3)`,
  },
  {
    name: 'inheritance parent: a CHECK and a NOT NULL reach every child',
    strategy: 'online',
    copyRefused: 'the copy refuses a table with inheritance children',
    schemas: ['public', 'other'],
    setup: vehicles,
    alter: 'ALTER TABLE vehicles ADD CONSTRAINT vehicles_id_check CHECK (id > 0), ALTER COLUMN year SET NOT NULL',
  },
  // A parent copied alone (shadow/parent.ts): a rewrite that does not reach the children.
  {
    name: 'inheritance parent copied alone (SET UNLOGGED, REPLICA IDENTITY, ROW LEVEL SECURITY do not reach its children), the children moved to the new table',
    schemas: ['public', 'other'],
    setup: vehicles,
    alter: 'ALTER TABLE vehicles SET UNLOGGED, REPLICA IDENTITY FULL, ENABLE ROW LEVEL SECURITY',
    after: `INSERT INTO vehicles (id) VALUES (-100); INSERT INTO vans (id, seats) VALUES (-101, 2); UPDATE vehicles SET year = year + 1 WHERE id % 10 = 0; ALTER TABLE vehicles DROP COLUMN year`,
  },
  {
    name: 'inheritance parent copied alone: ALTER TABLE ONLY drops a column (the children keep it as their own) and rewrites the parent',
    schemas: ['public', 'other'],
    setup: vehicles,
    alter: 'ALTER TABLE ONLY vehicles DROP COLUMN note, SET UNLOGGED',
    after: `INSERT INTO cars (id, note) VALUES (-100, 'kept'); ALTER TABLE vehicles DROP COLUMN year`,
  },
  {
    name: 'inheritance parent copied alone: ONLY drops a CHECK, then a column another CHECK covers (offline leaves the children that one counted inherited from no parent)',
    schemas: ['public', 'other'],
    setup: () => `${vehicles()}
      ALTER TABLE vehicles ADD CONSTRAINT vehicles_make_check CHECK (make <> '' AND year > 0);`,
    alter: 'ALTER TABLE ONLY vehicles DROP CONSTRAINT vehicles_year_check, DROP COLUMN year, SET UNLOGGED',
    after: `INSERT INTO cars (id, year) VALUES (-100, 2001); INSERT INTO vans (id, year, seats) VALUES (-101, 2002, 3); ALTER TABLE vehicles DROP COLUMN note`,
  },
  {
    name: 'inheritance parent that is a child too, copied alone: its stand-in parent and its children moved in one cutover',
    schemas: ['public', 'other'],
    setup: vehicles,
    alter: 'ALTER TABLE ONLY cars DROP COLUMN doors, SET UNLOGGED',
    after: `INSERT INTO vans (id, doors, seats) VALUES (-100, 3, 9); UPDATE vehicles SET year = year + 1 WHERE id % 7 = 0; ALTER TABLE vehicles DROP COLUMN note`,
  },
  {
    name: 'inheritance parent copied alone with NOT VALID checks (its children\'s copies stay inherited), one of them VALIDATEd (its children\'s copies too, at every level)',
    schemas: ['public', 'other'],
    setup: () => `${vehicles()}
      ALTER TABLE vehicles ADD CONSTRAINT vehicles_make_check CHECK (make <> '') NOT VALID, ADD CONSTRAINT vehicles_id_check CHECK (id > -100000) NOT VALID;
      COMMENT ON CONSTRAINT vehicles_make_check ON vehicles IS 'not empty';`,
    alter: 'ALTER TABLE vehicles SET UNLOGGED, VALIDATE CONSTRAINT vehicles_make_check',
    after: `INSERT INTO vans (id, seats) VALUES (-101, 2); ALTER TABLE vehicles DROP CONSTRAINT vehicles_id_check`,
  },
  {
    name: 'inheritance parent that is a child too, copied alone, under a NOT VALID check of its parent that a row breaks',
    schemas: ['public', 'other'],
    setup: () => `${vehicles()}
      INSERT INTO cars (id, make, year) VALUES (-5, '', 2000);
      ALTER TABLE vehicles ADD CONSTRAINT vehicles_make_check CHECK (make <> '') NOT VALID;`,
    alter: 'ALTER TABLE cars SET UNLOGGED',
    after: `INSERT INTO vans (id, seats) VALUES (-101, 2); ALTER TABLE vehicles DROP CONSTRAINT vehicles_make_check`,
  },
  {
    name: 'inheritance parent copied alone whose children have other parents after it (their parents kept in order, a column given by two)',
    setup: severalParents,
    alter: 'ALTER TABLE named SET UNLOGGED',
    // Offline: what docs has only from stamped is dropped with it (inherited only, from one parent).
    after: `INSERT INTO named (id) VALUES (-1); INSERT INTO docs (id, body) VALUES (-2, 'x'); ALTER TABLE stamped DROP COLUMN by_user; ALTER TABLE named DROP COLUMN name`,
  },
];
