// Differential cases on partitioned tables and partitions for the changes that need no copy
// (issue 15): each runs as PostgreSQL allows it on a partitioned table, compared with the same
// statements run offline, and again through the online copy of the whole tree. A range table with a list-partitioned level below it and default
// partitions at both levels; a hash table; a leaf partition alone.
import type { DiffCase } from './differential-cases.js';

function events(): string {
  return `
    CREATE TABLE ref (id int PRIMARY KEY);
    INSERT INTO ref SELECT generate_series(1, 60);
    CREATE TABLE events (id int NOT NULL, at date NOT NULL, kind int NOT NULL, ref_id int, note text, PRIMARY KEY (id, at, kind)) PARTITION BY RANGE (at);
    CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY LIST (kind);
    CREATE TABLE events_2025_low PARTITION OF events_2025 FOR VALUES IN (1, 2, 3);
    CREATE TABLE events_2025_rest PARTITION OF events_2025 DEFAULT;
    CREATE TABLE events_default PARTITION OF events DEFAULT;
    INSERT INTO events SELECT i, date '2024-06-01' + (i % 700), i % 7, i % 50 + 1, 'n' || i FROM generate_series(1, 3000) i;
  `;
}

/** A two-level list tree whose partition below the sub-partitioned level tasks_2 has a foreign key into the tree. */
function tasksTree(): string {
  return `
    CREATE TABLE tasks (id int, grp int, kind int, up int, upg int, upk int, note text, PRIMARY KEY (id, grp, kind)) PARTITION BY LIST (grp);
    CREATE TABLE tasks_1 PARTITION OF tasks FOR VALUES IN (1);
    CREATE TABLE tasks_2 PARTITION OF tasks FOR VALUES IN (2) PARTITION BY LIST (kind);
    CREATE TABLE tasks_2_a PARTITION OF tasks_2 FOR VALUES IN (1, 2);
    CREATE TABLE tasks_2_b PARTITION OF tasks_2 DEFAULT;
    INSERT INTO tasks SELECT i, i % 2 + 1, i % 4 + 1, up, up % 2 + 1, up % 4 + 1, 'n' || i
      FROM generate_series(1, 3000) i, LATERAL (SELECT CASE WHEN i > 30 AND i % 4 IN (0, 1) THEN (i * 7) % (i - 1) + 1 END AS up) u;
    ALTER TABLE tasks_2_a ADD CONSTRAINT tasks_2_a_up FOREIGN KEY (up, upg, upk) REFERENCES tasks ON DELETE SET NULL;
    COMMENT ON CONSTRAINT tasks_2_a_up ON tasks_2_a IS 'the task above';`;
}

/** A list tree whose leaf net_2 has a foreign key of its own into the tree (`notValid`: ' NOT VALID' or ''). */
function netTree(notValid: string): string {
  return `
    CREATE TABLE net (id int, k int, up int, upk int, label text, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
    CREATE TABLE net_1 PARTITION OF net FOR VALUES IN (1);
    CREATE TABLE net_2 PARTITION OF net FOR VALUES IN (2);
    CREATE TABLE net_3 PARTITION OF net FOR VALUES IN (3);
    INSERT INTO net SELECT i, i % 3 + 1, up, up % 3 + 1, 'n' || i
      FROM generate_series(1, 3000) i, LATERAL (SELECT CASE WHEN i > 30 THEN (i * 7) % (i - 1) + 1 END AS up) u;
    ALTER TABLE net_2 ADD CONSTRAINT net_2_up FOREIGN KEY (up, upk) REFERENCES net ON DELETE CASCADE${notValid};
    COMMENT ON CONSTRAINT net_2_up ON net_2 IS 'the node above';`;
}

/**
 * Before PostgreSQL 18 the constraints PostgreSQL keeps under the leaf's key per referenced
 * partition stay flagged NOT VALID after the VALIDATE that follows the swap (enforced all the
 * same; README: One leaf alone), where offline they are valid.
 */
const NET_KEY_BELOW_18: RegExp[] = [
  /^constraints public\.net_2\.net_2_up_upk_fkey[12]? -> public\.net_[123]: definition: ".*" -> ".* NOT VALID"$/,
  /^constraints public\.net_2\.net_2_up_upk_fkey[12]? -> public\.net_[123]: validated: true -> false$/,
];

/** A range tree with partitions in two other schemas than its own, one named like a partition of its schema's, and another table's foreign key into that one. */
function schemasTree(role: string): string {
  return `
      CREATE SCHEMA arch; CREATE SCHEMA hot;
      CREATE TABLE ref (id int PRIMARY KEY);
      INSERT INTO ref SELECT generate_series(0, 49);
      CREATE TABLE m (id int NOT NULL, at date NOT NULL, v int, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE INDEX m_v_idx ON m (v);
      CREATE TABLE m_old PARTITION OF m FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
      CREATE TABLE arch.m_old PARTITION OF m FOR VALUES FROM ('2022-01-01') TO ('2023-01-01') WITH (fillfactor = 80);
      CREATE TABLE hot.m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY RANGE (id);
      CREATE TABLE hot.m_2024_low PARTITION OF hot.m_2024 FOR VALUES FROM (MINVALUE) TO (1500);
      CREATE TABLE arch.m_2024_high PARTITION OF hot.m_2024 FOR VALUES FROM (1500) TO (MAXVALUE);
      CREATE TABLE m_default PARTITION OF m DEFAULT;
      CREATE INDEX m_old_note_idx ON public.m_old (note);
      CREATE INDEX m_old_note_idx ON arch.m_old (note);
      ALTER TABLE arch.m_old ADD CONSTRAINT m_old_v_check CHECK (v >= 0);
      ALTER TABLE arch.m_old ADD CONSTRAINT m_old_ref FOREIGN KEY (v) REFERENCES ref (id);
      ALTER TABLE arch.m_old ALTER COLUMN note SET STATISTICS 300;
      CREATE STATISTICS arch.m_old_stats (ndistinct) ON v, note FROM arch.m_old;
      COMMENT ON TABLE arch.m_old IS 'the archive of 2022';
      GRANT SELECT ON hot.m_2024_low TO ${role};
      CREATE TABLE m_log (id int, at date);
      CREATE FUNCTION m_log_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO m_log VALUES (NEW.id, NEW.at); RETURN NULL; END $$;
      CREATE TRIGGER m_old_log AFTER UPDATE ON arch.m_old FOR EACH ROW EXECUTE FUNCTION m_log_row();
      INSERT INTO m SELECT i, date '2022-01-01' + (i % 1200), i % 50, 'n' || i FROM generate_series(1, 3000) i;
      CREATE TABLE m_refs (id int PRIMARY KEY, m_id int, m_at date, FOREIGN KEY (m_id, m_at) REFERENCES arch.m_old (id, at));
      INSERT INTO m_refs SELECT i, i, date '2022-01-01' + i FROM generate_series(1, 100) i;`;
}

export const PARTITIONED_CASES: DiffCase[] = [
  {
    // Offline keeps both (same OIDs); the swap moves each to the new relation of its name.
    name: 'partitioned: a rule on the partitioned table and one of a partition\'s own, written through after the change',
    setup: () => `${events()}
      CREATE TABLE events_audit (id int, tag text);
      CREATE RULE events_log AS ON INSERT TO events DO ALSO INSERT INTO events_audit VALUES (NEW.id, 'tree');
      CREATE RULE events_2024_log AS ON UPDATE TO events_2024 DO ALSO INSERT INTO events_audit VALUES (NEW.id, 'leaf');
      ALTER TABLE events_2024 ENABLE ALWAYS RULE events_2024_log;
      COMMENT ON RULE events_2024_log ON events_2024 IS 'updates of 2024 are audited';`,
    alter: 'ALTER TABLE events ALTER COLUMN ref_id TYPE bigint',
    after: `INSERT INTO events (id, at, kind) VALUES (100001, '2024-02-02', 1); UPDATE events_2024 SET note = 'u' WHERE id < 40`,
  },
  {
    name: 'partitioned: instant changes on a range table with a sub-partitioned level and defaults',
    setup: () => events(),
    alter: `ALTER TABLE events ADD COLUMN extra int DEFAULT 7, ALTER COLUMN kind SET DEFAULT 1, ALTER COLUMN note SET STATISTICS 200;
            ALTER TABLE events RENAME COLUMN note TO body; ALTER TABLE events DROP COLUMN ref_id`,
    strategy: 'instant',
    after: `INSERT INTO events (id, at) VALUES (100001, '2024-02-02'), (100002, '2025-03-03'), (100003, '2030-03-03')`,
  },
  {
    name: 'partitioned: CREATE INDEX built per partition CONCURRENTLY, ON ONLY the parent, attached',
    setup: () => events(),
    alter: 'CREATE INDEX ON events (kind, at); CREATE INDEX events_ref_idx ON events (ref_id) WHERE ref_id > 10',
    strategy: 'online',
  },
  {
    name: 'partitioned: CREATE INDEX attaches the equal indexes partitions have of their own, builds the others',
    setup: () => `${events()}
      CREATE INDEX events_2024_own ON events_2024 (kind, at) WITH (fillfactor = 70);
      CREATE INDEX events_2025_own ON events_2025 (kind, at);
      CREATE INDEX events_default_own ON events_default (kind, at) WHERE kind > 1;`,
    alter: 'CREATE INDEX ON events (kind, at)',
    strategy: 'online',
  },
  {
    name: 'partitioned: CREATE UNIQUE INDEX over every level\'s partition key',
    setup: () => events(),
    alter: 'CREATE UNIQUE INDEX events_id_at_kind_key ON events (id, at, kind)',
    strategy: 'online',
  },
  {
    name: 'partitioned: FOREIGN KEY validated partition by partition, then added to the table',
    setup: () => events(),
    alter: 'ALTER TABLE events ADD CONSTRAINT events_ref_fkey FOREIGN KEY (ref_id) REFERENCES ref (id)',
    strategy: 'online',
    after: 'DELETE FROM ref WHERE id = 60',
  },
  {
    name: 'partitioned: CHECK and SET NOT NULL through NOT VALID + VALIDATE',
    setup: () => events(),
    alter: 'ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind >= 0); ALTER TABLE events ALTER COLUMN ref_id SET NOT NULL',
    strategy: 'online',
  },
  {
    name: 'partitioned: DROP INDEX of a partitioned index, and CREATE INDEX ... ON ONLY',
    setup: () => `${events()} CREATE INDEX events_note_idx ON events (note);`,
    alter: 'DROP INDEX events_note_idx; CREATE INDEX events_only_idx ON ONLY events (ref_id)',
    strategy: 'instant',
  },
  {
    name: 'partitioned: a hash-partitioned table gets an index and a column',
    setup: () => `
      CREATE TABLE h (id bigint PRIMARY KEY, v int) PARTITION BY HASH (id);
      CREATE TABLE h0 PARTITION OF h FOR VALUES WITH (MODULUS 3, REMAINDER 0);
      CREATE TABLE h1 PARTITION OF h FOR VALUES WITH (MODULUS 3, REMAINDER 1);
      CREATE TABLE h2 PARTITION OF h FOR VALUES WITH (MODULUS 3, REMAINDER 2);
      INSERT INTO h SELECT i, i % 11 FROM generate_series(1, 3000) i;`,
    alter: 'CREATE INDEX ON h (v); ALTER TABLE h ADD COLUMN w text',
    strategy: 'online',
  },
  {
    name: 'partitioned: a leaf partition alone, as a plain table',
    setup: () => events(),
    alter: 'ALTER TABLE events_2024 ADD CONSTRAINT events_2024_kind_check CHECK (kind < 100); CREATE INDEX ON events_2024 (ref_id); ALTER TABLE events_2024 ALTER COLUMN note SET STATISTICS 50',
    strategy: 'online',
  },
  {
    // Through the copy (the --strategy copy run): a plain shadow with the leaf's indexes, the
    // parent's foreign key and CHECK, its own trigger, grant, options and comment, swapped in by
    // DETACH and ATTACH PARTITION; the identity column is the parent's again after ATTACH.
    name: 'partitioned: a leaf of a list table alone, with its parent\'s foreign key, identity and trigger',
    setup: (role) => `
      CREATE TABLE customers (id int PRIMARY KEY);
      INSERT INTO customers SELECT generate_series(1, 40);
      CREATE TABLE orders (id bigint GENERATED BY DEFAULT AS IDENTITY, region text NOT NULL, customer_id int REFERENCES customers,
                           amount numeric CHECK (amount > -1000), note text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
      CREATE INDEX orders_amount_idx ON orders (amount);
      CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('eu', 'uk') WITH (fillfactor = 90);
      CREATE TABLE orders_us PARTITION OF orders FOR VALUES IN ('us');
      CREATE INDEX orders_eu_note_idx ON orders_eu (note);
      COMMENT ON TABLE orders_eu IS 'european orders';
      GRANT SELECT ON orders_eu TO ${role};
      CREATE FUNCTION orders_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := coalesce(NEW.note, 'touched'); RETURN NEW; END $$;
      CREATE TRIGGER orders_touch BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION orders_touch();
      CREATE TRIGGER orders_eu_touch BEFORE UPDATE ON orders_eu FOR EACH ROW EXECUTE FUNCTION orders_touch();
      INSERT INTO orders (region, customer_id, amount, note) SELECT (ARRAY['eu', 'uk', 'us'])[i % 3 + 1], i % 40 + 1, i % 500, 'n' || i FROM generate_series(1, 3000) i;`,
    alter: 'ALTER TABLE orders_eu ADD CONSTRAINT orders_eu_amount_check CHECK (amount >= 0); ALTER TABLE orders_eu ADD CONSTRAINT orders_eu_note_key UNIQUE (note)',
    strategy: 'online',
    after: `INSERT INTO orders (region, customer_id, amount) VALUES ('eu', 3, 1), ('us', 4, 2); UPDATE orders_eu SET amount = amount + 1 WHERE id < 10; DELETE FROM customers WHERE id NOT IN (SELECT customer_id FROM orders WHERE customer_id IS NOT NULL)`,
  },
  {
    since: 15,
    // Rewrites PostgreSQL allows on a partition: auto copies them (above the threshold of 0).
    name: 'partitioned: a leaf of a range table with a default partition rewritten alone (SET UNLOGGED, SET ACCESS METHOD)',
    setup: () => `${events()} CREATE ACCESS METHOD pgshift_heap2 TYPE TABLE HANDLER heap_tableam_handler;`,
    alter: 'ALTER TABLE events_2024 SET UNLOGGED, SET ACCESS METHOD pgshift_heap2',
    after: `INSERT INTO events (id, at, kind) VALUES (100001, '2024-02-02', 1), (100003, '2030-03-03', 2)`,
  },
  {
    since: 15,
    // Other tables' foreign keys into the tree: the cutover drops them before DETACH and adds
    // them again NOT VALID after ATTACH, then VALIDATEs them after the commit (cutover/swap.ts).
    // PostgreSQL (before 18) validates the main constraint only: the ones it keeps per referenced
    // partition stay flagged NOT VALID, every partition's, as after the tree's swap (README:
    // Partitioned tables, Foreign keys); they are enforced all the same (the after script's
    // cascade and inserts run through them).
    name: 'partitioned: a leaf of a table other tables reference, rewritten alone',
    setup: () => `
      CREATE ACCESS METHOD pgshift_heap2 TYPE TABLE HANDLER heap_tableam_handler;
      CREATE TABLE orders (id int, placed date, total int, PRIMARY KEY (id, placed)) PARTITION BY RANGE (placed);
      CREATE TABLE orders_2024 PARTITION OF orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      CREATE TABLE orders_2025 PARTITION OF orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      INSERT INTO orders SELECT i, date '2024-01-01' + (i % 700), i FROM generate_series(1, 3000) i;
      CREATE TABLE order_lines (id int PRIMARY KEY, order_id int NOT NULL, placed date NOT NULL, qty int,
                                CONSTRAINT order_lines_order FOREIGN KEY (order_id, placed) REFERENCES orders ON DELETE CASCADE);
      COMMENT ON CONSTRAINT order_lines_order ON order_lines IS 'lines of an order';
      INSERT INTO order_lines SELECT i, i, date '2024-01-01' + (i % 700), 1 FROM generate_series(1, 1500) i;
      CREATE TABLE audits (id int PRIMARY KEY, order_id int, placed date);
      INSERT INTO audits VALUES (1, 5, date '2024-01-01' + 5), (2, 999999, '2024-03-03');
      ALTER TABLE audits ADD FOREIGN KEY (order_id, placed) REFERENCES orders NOT VALID;`,
    alter: 'ALTER TABLE orders_2024 SET ACCESS METHOD pgshift_heap2, ADD CONSTRAINT orders_2024_total_check CHECK (total >= 0)',
    after: `DELETE FROM orders WHERE id IN (3, 4) AND placed < '2025-01-01';
      INSERT INTO order_lines VALUES (100000, 10, date '2024-01-01' + 10, 2), (100001, 500, date '2024-01-01' + 500, 2);`,
    differencesBelow: 18,
    differences: [
      /^constraints public\.order_lines\.order_lines_order_id_placed_fkey1? -> public\.orders_202[45]: definition: ".*" -> ".* NOT VALID"$/,
      /^constraints public\.order_lines\.order_lines_order_id_placed_fkey1? -> public\.orders_202[45]: validated: true -> false$/,
    ],
  },
  {
    since: 15,
    // A self-referencing tree (its own foreign key references it): rows of the leaf reference
    // rows of other partitions and of the leaf, and rows of other partitions reference the
    // leaf's. The cutover takes the tree's key off before DETACH, adds it back on the tree NOT
    // VALID after ATTACH (PostgreSQL clones it onto the new partition then) and VALIDATEs it
    // after the commit. Before PostgreSQL 18 it could only go back valid, a check of the whole
    // tree under the lock: refused there (README: Refused, and why).
    name: 'partitioned: a leaf of a self-referencing table, rewritten alone',
    setup: () => `
      CREATE ACCESS METHOD pgshift_heap2 TYPE TABLE HANDLER heap_tableam_handler;
      CREATE TABLE nodes (id int, region int, up_id int, up_region int, label text NOT NULL, PRIMARY KEY (id, region),
                          CONSTRAINT nodes_up FOREIGN KEY (up_id, up_region) REFERENCES nodes ON DELETE CASCADE) PARTITION BY LIST (region);
      COMMENT ON CONSTRAINT nodes_up ON nodes IS 'the node above';
      CREATE TABLE nodes_1 PARTITION OF nodes FOR VALUES IN (1);
      CREATE TABLE nodes_2 PARTITION OF nodes FOR VALUES IN (2);
      CREATE TABLE nodes_3 PARTITION OF nodes FOR VALUES IN (3);
      CREATE INDEX nodes_up_idx ON nodes (up_id, up_region);
      INSERT INTO nodes SELECT i, i % 3 + 1, up, up % 3 + 1, 'n' || i
        FROM generate_series(1, 3000) i, LATERAL (SELECT CASE WHEN i > 30 THEN (i * 7) % (i - 1) + 1 END AS up) u;`,
    alter: "ALTER TABLE nodes_2 SET ACCESS METHOD pgshift_heap2, ADD CONSTRAINT nodes_2_label_check CHECK (label <> '')",
    after: `DELETE FROM nodes WHERE id = 5 AND region = 3;
      INSERT INTO nodes VALUES (5001, 2, 1, 2, 'x'), (5002, 1, 5001, 2, 'y'), (5003, 2, 2, 3, 'z');`,
    refusedBelow: { major: 18, message: /which its own tree's foreign key nodes_up on nodes references: DETACH PARTITION fails on rows referencing the partition's unless that key is off the tree, and before PostgreSQL 18/ },
  },
  {
    // A foreign key into the tree declared on a partition below a sub-partitioned leaf
    // (tasks_2_a's, its rows referencing rows of tasks_1, tasks_2_a and tasks_2_b): the cutover
    // takes it off before DETACH and adds it back NOT VALID on the new partition of its name after
    // ATTACH, validated after the commit, as the leaf's own (the --strategy copy run; auto runs
    // the change without a copy).
    name: 'partitioned: a sub-partitioned level alone, with a foreign key into the tree declared on a partition below it',
    setup: () => tasksTree(),
    alter: "ALTER TABLE tasks_2 ADD CONSTRAINT tasks_2_note_check CHECK (note <> ''), ALTER COLUMN note SET STATISTICS 70",
    strategy: 'online',
    after: `DELETE FROM tasks WHERE id = 7 AND grp = 1;
      INSERT INTO tasks VALUES (5001, 2, 1, 1, 2, 2, 'x'), (5002, 1, 3, 5001, 2, 1, 'y');`,
    differencesBelow: 18,
    differencesThroughCopy: true,
    differences: [
      /^constraints public\.tasks_2_a\.tasks_2_a_up_upg_upk_fkey[123]? -> public\.tasks_(1|2|2_a|2_b): definition: ".*" -> ".* NOT VALID"$/,
      /^constraints public\.tasks_2_a\.tasks_2_a_up_upg_upk_fkey[123]? -> public\.tasks_(1|2|2_a|2_b): validated: true -> false$/,
    ],
  },
  {
    // The leaf's own foreign key into its tree, dropped by the change that rewrites the leaf: the
    // cutover runs the DROP on the new leaf's key, added back as it was, inside its transaction,
    // so the new leaf ends without it (the after script's orphan goes in, as offline).
    name: 'partitioned: a leaf rewritten alone, the change dropping its own foreign key into the tree',
    setup: () => netTree(''),
    alter: 'ALTER TABLE net_2 SET UNLOGGED, DROP CONSTRAINT net_2_up',
    after: `DELETE FROM net WHERE id = 40 AND k = 2; INSERT INTO net VALUES (5001, 2, 999999, 1, 'orphan');`,
  },
  {
    // ... renaming it and making it deferrable: run on the new leaf's key in the cutover, with its
    // comment; on 18 the constraints PostgreSQL keeps under it keep the names they had (net_2_up_1),
    // as offline's do.
    name: 'partitioned: a leaf rewritten alone, the change renaming its own foreign key into the tree and altering it',
    setup: () => netTree(''),
    alter: 'ALTER TABLE net_2 SET UNLOGGED; ALTER TABLE net_2 RENAME CONSTRAINT net_2_up TO net_2_parent; ALTER TABLE net_2 ALTER CONSTRAINT net_2_parent DEFERRABLE INITIALLY DEFERRED',
    after: `DELETE FROM net WHERE id = 39 AND k = 1; INSERT INTO net VALUES (5001, 2, 41, 3, 'x');`,
    differencesBelow: 18,
    differences: NET_KEY_BELOW_18,
  },
  {
    // ... validating it (NOT VALID before): proven on the shadow before the swap, added back NOT
    // VALID and VALIDATEd after the commit, as a user's VALIDATE always runs.
    name: 'partitioned: a leaf rewritten alone, the change validating its own foreign key into the tree',
    setup: () => netTree(' NOT VALID'),
    alter: 'ALTER TABLE net_2 SET UNLOGGED, VALIDATE CONSTRAINT net_2_up',
    after: `DELETE FROM net WHERE id = 39 AND k = 1; INSERT INTO net VALUES (5001, 2, 41, 3, 'x');`,
  },
  {
    // A sub-partitioned level alone (events_2025, list-partitioned with a default below, beside
    // the root's default partition): copied as a tree of its own, swapped in by DETACH/ATTACH.
    name: 'partitioned: a sub-partitioned level alone (a leaf that is a tree)',
    setup: () => events(),
    alter: 'ALTER TABLE events_2025 ADD CONSTRAINT events_2025_kind_check CHECK (kind >= 0), ALTER COLUMN note SET STATISTICS 70',
    strategy: 'online',
    after: `INSERT INTO events (id, at, kind) VALUES (100001, '2025-02-02', 1), (100002, '2025-03-03', 6), (100003, '2030-03-03', 2); UPDATE events SET at = '2025-05-05' WHERE id < 20`,
  },
  {
    // Partitions in two other schemas than the table's, one named like a partition of the
    // table's schema (arch.m_old beside public.m_old, each with an index m_old_note_idx of its
    // own), a sub-partitioned level in hot whose partitions live in hot and arch: each goes
    // through a migration schema of its schema's (plan/partition-homes.ts) and ends where it was.
    // The type change rebuilds m_v_idx and CREATE INDEX names an index on every partition: the
    // names PostgreSQL generates in each schema are offline's.
    name: 'partitioned: a range tree with partitions in two other schemas, one named like a partition of the table\'s schema',
    schemas: ['public', 'arch', 'hot'],
    setup: (role) => schemasTree(role),
    alter: 'ALTER TABLE m ALTER COLUMN v TYPE bigint, ADD COLUMN flag boolean DEFAULT true; CREATE INDEX ON m (note)',
    after: `INSERT INTO m VALUES (100001, '2022-03-03', 1, 'a'), (100002, '2023-03-03', 2, 'b'), (100003, '2024-03-03', 3, 'c'), (1, '2030-01-01', 4, 'd');
      UPDATE m SET note = note || '!' WHERE at < '2023-01-01' AND id < 100;
      UPDATE m SET at = '2022-06-06' WHERE id BETWEEN 1600 AND 1610 AND at >= '2024-01-01';
      DELETE FROM ref WHERE id NOT IN (SELECT v FROM arch.m_old)`,
  },
  {
    // The index route (no copy) on the same tree: each partition's index is named among its own
    // schema's names, as offline (arch.m_old and public.m_old both get m_old_note_v_idx).
    name: 'partitioned: CREATE INDEX on a tree with partitions in two other schemas, built partition by partition',
    schemas: ['public', 'arch', 'hot'],
    setup: (role) => schemasTree(role),
    alter: 'CREATE INDEX ON m (note, v)',
    strategy: 'online',
  },
];
