import { describe, expect, it } from 'vitest';
import {
  chunkBoundSql, copyRangeSql, deleteShadowRowsSql, insertPreservedRowsSql, insertRowsSql, takeEntriesSql, uniqueConflictsSql,
  type Tables,
} from '../../src/copy/sql.js';
import type { RowMapping } from '../../src/plan/mapping.js';

// Hand-built inputs: the builders are pure, so each statement is compared as an exact string.
const ORIGIN = '"public"."t"';
const SHADOW = '"pgshift_1"."t"';
const CHANGELOG = '"pgshift_1"."t_changes"';

function tables(mapping: Partial<RowMapping>, shadowKeyTypes?: string[]): Tables {
  const m: RowMapping = {
    targets: ['id', 'name'],
    expressions: ['"id"', '"name"'],
    constants: [],
    preserved: [],
    overriding: false,
    originKey: [{ name: 'id', type: 'integer', collation: null }],
    shadowKey: ['id'],
    narrowedKey: [],
    ...mapping,
  };
  return { origin: ORIGIN, shadow: SHADOW, changelog: CHANGELOG, mapping: m, shadowKeyTypes: shadowKeyTypes ?? m.originKey.map((k) => k.type) };
}

const single = tables({});

// Composite key (tenant, seq), renamed seq -> n in the shadow, key widened integer -> bigint,
// two once-evaluated constants, a USING expression, an identity ALWAYS column written.
const composite = tables(
  {
    targets: ['tenant', 'n', 'payload', 'created', 'flag'],
    expressions: ['"tenant"', '"seq"', '("payload"::jsonb)', '$1::timestamp with time zone', '$2::boolean'],
    constants: ['2024-01-01 00:00:00+00', 't'],
    preserved: ['token'],
    overriding: true,
    originKey: [
      { name: 'tenant', type: 'text', collation: null },
      { name: 'seq', type: 'integer', collation: null },
    ],
    shadowKey: ['tenant', 'n'],
  },
  ['text', 'bigint'],
);

/** The $n numbers a statement references, in order of first appearance. */
function paramNumbers(sql: string): number[] {
  return [...new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))];
}

// The copy is two statements (src/copy/copier.ts): chunkBoundSql finds the chunk's upper key,
// then copyRangeSql inserts the rows in (low, high].
describe('chunkBoundSql', () => {
  it('single key, first chunk (no low key): the n-th key, n is $1', () => {
    expect(chunkBoundSql(single, false)).toBe(
      `SELECT "id"::text AS k0 FROM (SELECT "id" FROM ${ORIGIN} ORDER BY "id" OFFSET $1::bigint - 1 LIMIT 1) b`,
    );
  });

  it('single key, after a low key: key $1 cast to its type, n is $2', () => {
    expect(chunkBoundSql(single, true)).toBe(
      `SELECT "id"::text AS k0 FROM (SELECT "id" FROM ${ORIGIN} WHERE "id" > $1::integer ORDER BY "id" OFFSET $2::bigint - 1 LIMIT 1) b`,
    );
  });

  it('composite key: row comparison on the origin key names and types; constants are not parameters', () => {
    expect(chunkBoundSql(composite, true)).toBe(
      `SELECT "tenant"::text AS k0, "seq"::text AS k1 FROM (SELECT "tenant", "seq" FROM ${ORIGIN} WHERE ("tenant", "seq") > ($1::text, $2::integer)` +
        ' ORDER BY "tenant", "seq" OFFSET $3::bigint - 1 LIMIT 1) b',
    );
    expect(chunkBoundSql(composite, false)).toBe(
      `SELECT "tenant"::text AS k0, "seq"::text AS k1 FROM (SELECT "tenant", "seq" FROM ${ORIGIN} ORDER BY "tenant", "seq" OFFSET $1::bigint - 1 LIMIT 1) b`,
    );
  });
});

describe('copyRangeSql', () => {
  it('single key, no bounds (a table that fits in one chunk)', () => {
    expect(copyRangeSql(single, false, false)).toBe(
      `INSERT INTO ${SHADOW} ("id", "name") SELECT "id", "name" FROM ${ORIGIN} ORDER BY "id"`,
    );
  });

  it('single key, first chunk: only the upper bound, $1', () => {
    expect(copyRangeSql(single, false, true)).toBe(
      `INSERT INTO ${SHADOW} ("id", "name") SELECT "id", "name" FROM ${ORIGIN} WHERE "id" <= $1::integer ORDER BY "id"`,
    );
  });

  it('single key, middle chunk: (low, high] as $1, $2', () => {
    expect(copyRangeSql(single, true, true)).toBe(
      `INSERT INTO ${SHADOW} ("id", "name") SELECT "id", "name" FROM ${ORIGIN} WHERE "id" > $1::integer AND "id" <= $2::integer ORDER BY "id"`,
    );
  });

  it('single key, last chunk: only the low bound', () => {
    expect(copyRangeSql(single, true, false)).toBe(
      `INSERT INTO ${SHADOW} ("id", "name") SELECT "id", "name" FROM ${ORIGIN} WHERE "id" > $1::integer ORDER BY "id"`,
    );
  });

  it('composite key with constants and OVERRIDING SYSTEM VALUE, both bounds', () => {
    expect(copyRangeSql(composite, true, true)).toBe(
      `INSERT INTO ${SHADOW} ("tenant", "n", "payload", "created", "flag") OVERRIDING SYSTEM VALUE` +
        ` SELECT "tenant", "seq", ("payload"::jsonb), $1::timestamp with time zone, $2::boolean FROM ${ORIGIN}` +
        ' WHERE ("tenant", "seq") > ($3::text, $4::integer) AND ("tenant", "seq") <= ($5::text, $6::integer)' +
        ' ORDER BY "tenant", "seq"',
    );
  });

  it('composite key with constants, first chunk (no low key)', () => {
    expect(copyRangeSql(composite, false, true)).toBe(
      `INSERT INTO ${SHADOW} ("tenant", "n", "payload", "created", "flag") OVERRIDING SYSTEM VALUE` +
        ` SELECT "tenant", "seq", ("payload"::jsonb), $1::timestamp with time zone, $2::boolean FROM ${ORIGIN}` +
        ' WHERE ("tenant", "seq") <= ($3::text, $4::integer) ORDER BY "tenant", "seq"',
    );
  });

  it('numbers parameters constants first ($1..$m), then low keys, then high keys, with no gaps', () => {
    // copier.ts passes [...constants, ...low, ...high]
    expect(paramNumbers(copyRangeSql(composite, true, true))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(paramNumbers(copyRangeSql(composite, true, false))).toEqual([1, 2, 3, 4]);
    expect(paramNumbers(copyRangeSql(composite, false, false))).toEqual([1, 2]);
    expect(paramNumbers(copyRangeSql(single, true, true))).toEqual([1, 2]);
  });
});

describe('takeEntriesSql', () => {
  it('without a watermark: everything, limit $1', () => {
    expect(takeEntriesSql(single, false)).toBe(
      `WITH taken AS (DELETE FROM ${CHANGELOG} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${CHANGELOG} LIMIT $1)) RETURNING "id")` +
        ' SELECT "id"::text AS k0 FROM (SELECT DISTINCT "id" FROM taken) d',
    );
  });

  it('with a watermark: only entries at or below it; keys $1..$k, then the limit', () => {
    expect(takeEntriesSql(single, true)).toBe(
      `WITH taken AS (DELETE FROM ${CHANGELOG} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${CHANGELOG} WHERE "id" <= $1::integer LIMIT $2)) RETURNING "id")` +
        ' SELECT "id"::text AS k0 FROM (SELECT DISTINCT "id" FROM taken) d',
    );
  });

  it('composite key with a watermark: no constants (the statement reads no mapping expression)', () => {
    expect(takeEntriesSql(composite, true)).toBe(
      `WITH taken AS (DELETE FROM ${CHANGELOG} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${CHANGELOG}` +
        ' WHERE ("tenant", "seq") <= ($1::text, $2::integer) LIMIT $3)) RETURNING "tenant", "seq")' +
        ' SELECT "tenant"::text AS k0, "seq"::text AS k1 FROM (SELECT DISTINCT "tenant", "seq" FROM taken) d',
    );
    expect(takeEntriesSql(composite, false)).toContain(`FROM ${CHANGELOG} LIMIT $1)`);
  });
});

describe('deleteShadowRowsSql', () => {
  it('single key, nothing preserved', () => {
    expect(deleteShadowRowsSql(single)).toBe(
      `DELETE FROM ${SHADOW} WHERE "id" IN (SELECT * FROM unnest($1::integer[])) RETURNING "id"::text`,
    );
  });

  it('composite key in shadow names and shadow types, returning preserved values', () => {
    expect(deleteShadowRowsSql(composite)).toBe(
      `DELETE FROM ${SHADOW} WHERE ("tenant", "n") IN (SELECT * FROM unnest($1::text[], $2::bigint[]))` +
        ' RETURNING "tenant"::text, "n"::text, "token"::text',
    );
  });
});

describe('uniqueConflictsSql', () => {
  it('single key, one unique column copied as is', () => {
    expect(uniqueConflictsSql(single, ['name'])).toBe(
      `DELETE FROM ${SHADOW} s WHERE s."name" = ANY (ARRAY(SELECT "name" FROM ${ORIGIN} WHERE "id" IN (SELECT * FROM unnest($1::integer[]))))` +
        ' AND s."id" NOT IN (SELECT * FROM unnest($1::integer[])) RETURNING s."id"::text',
    );
  });

  it('composite key, unique columns through a rename and a USING expression', () => {
    expect(uniqueConflictsSql(composite, ['n', 'payload'])).toBe(
      `DELETE FROM ${SHADOW} s WHERE s."n" = ANY (ARRAY(SELECT "seq" FROM ${ORIGIN}` +
        ' WHERE ("tenant", "seq") IN (SELECT * FROM unnest($1::text[], $2::integer[]))))' +
        ` AND (s."n", s."payload") IN (SELECT "seq", ("payload"::jsonb) FROM ${ORIGIN}` +
        ' WHERE ("tenant", "seq") IN (SELECT * FROM unnest($1::text[], $2::integer[])))' +
        ' AND (s."tenant", s."n") NOT IN (SELECT * FROM unnest($1::text[], $2::bigint[]))' +
        ' RETURNING s."tenant"::text, s."n"::text, s."token"::text',
    );
  });

  it('is null when a unique column takes a once-evaluated constant ($n::type)', () => {
    expect(uniqueConflictsSql(composite, ['created'])).toBeNull();
    expect(uniqueConflictsSql(composite, ['tenant', 'flag'])).toBeNull();
  });

  it('is null when a unique column is not copied (preserved, or unknown)', () => {
    expect(uniqueConflictsSql(composite, ['token'])).toBeNull();
    expect(uniqueConflictsSql(composite, ['n', 'no_such_column'])).toBeNull();
  });

  it('takes only the key arrays as parameters, even when the mapping has constants', () => {
    // replayer.ts passes transpose(keys) only
    expect(paramNumbers(uniqueConflictsSql(composite, ['n'])!)).toEqual([1, 2]);
  });
});

describe('insertRowsSql', () => {
  it('single key, no constants: key array $1', () => {
    expect(insertRowsSql(single)).toBe(
      `INSERT INTO ${SHADOW} ("id", "name") SELECT "id", "name" FROM ${ORIGIN} WHERE "id" IN (SELECT * FROM unnest($1::integer[]))`,
    );
  });

  it('composite key with constants: constants $1..$2, then origin key arrays $3..$4', () => {
    const sql = insertRowsSql(composite);
    expect(sql).toBe(
      `INSERT INTO ${SHADOW} ("tenant", "n", "payload", "created", "flag") OVERRIDING SYSTEM VALUE` +
        ` SELECT "tenant", "seq", ("payload"::jsonb), $1::timestamp with time zone, $2::boolean FROM ${ORIGIN}` +
        ' WHERE ("tenant", "seq") IN (SELECT * FROM unnest($3::text[], $4::integer[]))',
    );
    expect(paramNumbers(sql)).toEqual([1, 2, 3, 4]);
  });
});

describe('insertPreservedRowsSql', () => {
  it('single key, one preserved column', () => {
    const t = tables({ preserved: ['token'] });
    expect(insertPreservedRowsSql(t, ['uuid'])).toBe(
      `INSERT INTO ${SHADOW} ("id", "name", "token") SELECT "id", "name", p.pgshift_v0::uuid` +
        ` FROM ${ORIGIN} JOIN unnest($1::integer[], $2::text[]) AS p(pgshift_k0, pgshift_v0)` +
        ` ON ${ORIGIN}."id" = p.pgshift_k0`,
    );
  });

  it('composite key with constants and two preserved columns: constants, key arrays, then text arrays', () => {
    const t = tables({ ...composite.mapping, preserved: ['token', 'seq_no'] }, ['text', 'bigint']);
    const sql = insertPreservedRowsSql(t, ['uuid', 'bigint']);
    expect(sql).toBe(
      `INSERT INTO ${SHADOW} ("tenant", "n", "payload", "created", "flag", "token", "seq_no") OVERRIDING SYSTEM VALUE` +
        ` SELECT "tenant", "seq", ("payload"::jsonb), $1::timestamp with time zone, $2::boolean, p.pgshift_v0::uuid, p.pgshift_v1::bigint` +
        ` FROM ${ORIGIN} JOIN unnest($3::text[], $4::integer[], $5::text[], $6::text[])` +
        ' AS p(pgshift_k0, pgshift_k1, pgshift_v0, pgshift_v1)' +
        ` ON (${ORIGIN}."tenant", ${ORIGIN}."seq") = (p.pgshift_k0, p.pgshift_k1)`,
    );
    expect(paramNumbers(sql)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
