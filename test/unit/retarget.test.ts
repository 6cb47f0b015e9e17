import { describe, expect, it } from 'vitest';
import { qualifiedNameAt, retargetSchemas, schemaMoves } from '../../src/cutover/retarget.js';
import { columnRenames } from '../../src/cutover/matviews.js';
import { parseAlter } from '../../src/plan/parse.js';
import { fillsEveryRow } from '../../src/plan/subcommands.js';

describe('retargetSchemas', () => {
  const moves = schemaMoves([
    { schema: 'public', name: 't', to: 'pgshift_7' },
    { schema: 'Odd "Schema"', name: 'Mv', to: 'pgshift_7' },
  ]);

  it('moves qualified relations and types, and leaves every other byte as PostgreSQL printed it', async () => {
    const def = ` SELECT t.id,\n    (NULL::public.t) AS x,\n    t.* AS "é",\n    ARRAY[]::public.t[] AS a\n   FROM (public.t\n     JOIN public.films f ON ((f.id = t.id)))\n  WHERE (t.note <> 'public.t'::text);`;
    expect(await retargetSchemas(def, moves)).toBe(
      ` SELECT t.id,\n    (NULL::"pgshift_7".t) AS x,\n    t.* AS "é",\n    ARRAY[]::"pgshift_7".t[] AS a\n   FROM ("pgshift_7".t\n     JOIN public.films f ON ((f.id = t.id)))\n  WHERE (t.note <> 'public.t'::text);`,
    );
  });

  it('reads quoted names, and bytes (not UTF-16 units) as positions', async () => {
    const def = ` SELECT 'ünïcödé' AS s, m.n\n   FROM "Odd ""Schema"""."Mv" m;`;
    expect(await retargetSchemas(def, moves)).toBe(` SELECT 'ünïcödé' AS s, m.n\n   FROM "pgshift_7"."Mv" m;`);
  });

  it('moves an index onto the rebuild, WITH and WHERE kept in their order', async () => {
    const def = 'CREATE UNIQUE INDEX m_id_idx ON public.t USING btree (id) WITH (fillfactor=\'70\') WHERE (id > 0)';
    expect(await retargetSchemas(def, moves)).toBe('CREATE UNIQUE INDEX m_id_idx ON "pgshift_7".t USING btree (id) WITH (fillfactor=\'70\') WHERE (id > 0)');
  });

  it('moves a name at a given offset too (a statistics object\'s own name)', async () => {
    const stats = schemaMoves([{ schema: 'public', name: 's', to: 'pgshift_7' }, { schema: 'public', name: 't', to: 'pgshift_7' }]);
    expect(await retargetSchemas('CREATE STATISTICS public.s (ndistinct) ON a, b FROM public.t', stats, [{ offset: 'CREATE STATISTICS '.length }])).toBe(
      'CREATE STATISTICS "pgshift_7".s (ndistinct) ON a, b FROM "pgshift_7".t',
    );
  });

  it('reads a qualified name at a byte position', () => {
    expect(qualifiedNameAt(Buffer.from('x "a""b".c_1 y'), 2)).toEqual({ schema: 'a"b', name: 'c_1', schemaEnd: 8 });
    expect(() => qualifiedNameAt(Buffer.from('x abc y'), 2)).toThrow(/no qualified name/);
  });
});

describe('columnRenames', () => {
  it('gives columns their target names through temporary ones, and undoes it', () => {
    // shadow columns -> origin names: id stays, title was name, added "name" must step aside
    const target = new Map<string, string | undefined>([['id', 'id'], ['title', 'name'], ['name', undefined], ['b', 'a'], ['a', 'b']]);
    const r = columnRenames(['id', 'title', 'name', 'b', 'a'], (n) => target.get(n));
    expect(r.forward).toEqual([
      ['title', 'pgshift_col_1'], ['name', 'pgshift_col_2'], ['b', 'pgshift_col_3'], ['a', 'pgshift_col_4'],
      ['pgshift_col_1', 'name'], ['pgshift_col_2', 'pgshift_col_2_aside'], ['pgshift_col_3', 'a'], ['pgshift_col_4', 'b'],
    ]);
    expect(r.back).toEqual([
      ['name', 'pgshift_col_1'], ['pgshift_col_2_aside', 'pgshift_col_2'], ['a', 'pgshift_col_3'], ['b', 'pgshift_col_4'],
      ['pgshift_col_1', 'title'], ['pgshift_col_2', 'name'], ['pgshift_col_3', 'b'], ['pgshift_col_4', 'a'],
    ]);
  });

  it('renames nothing when every column keeps its name', () => {
    expect(columnRenames(['id', 'v'], (n) => n)).toEqual({ forward: [], back: [] });
  });
});

describe('fillsEveryRow (offline refuses these while another relation stores the row type)', () => {
  const fills = async (sql: string): Promise<boolean[]> =>
    (await parseAlter(sql)).statements.flatMap((s) => (s.kind === 'alter' ? s.cmds.map(fillsEveryRow) : []));

  it('knows the subcommands that compute a value for every row or rewrite the table', async () => {
    expect(await fills('ALTER TABLE t ADD COLUMN a int DEFAULT 1, ADD COLUMN b serial, ADD COLUMN c int GENERATED ALWAYS AS IDENTITY, ALTER COLUMN x TYPE bigint, SET UNLOGGED')).toEqual([true, true, true, true, true]);
    expect(await fills('ALTER TABLE t ADD COLUMN a int, ADD COLUMN b int DEFAULT NULL, DROP COLUMN x, ALTER COLUMN y SET NOT NULL, ADD CONSTRAINT c CHECK (y > 0)')).toEqual([false, false, false, false, false]);
  });
});
