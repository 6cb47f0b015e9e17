import type { Client } from '../db/session.js';
import { sqlFile } from '../db/sql-files.js';
import { withQualifiedNames } from '../db/search-path.js';

/**
 * What the swap does with an object bound to the table by OID (beyond the table's own parts,
 * foreign keys in and the like, which cutover/swap.ts carries):
 * - rebind-view: a view reading it: CREATE OR REPLACE VIEW with the same text (keeps its OID,
 *   owner, grants and comments) re-binds it by name to the new table.
 * - recreate-view: a view with a column of a replaced row type (`SELECT t FROM t`): CREATE OR
 *   REPLACE VIEW cannot change a column's type, so the view is created anew (new OID) with its
 *   owner, grants, comments, options and column defaults, and the old one dropped.
 * - rebuild-matview: a materialized view over it: built and filled before the cutover against
 *   the new table (cutover/matviews.ts), exchanged with the old one inside the cutover.
 * - rebind-routine: a function or procedure with an SQL-standard body (BEGIN ATOMIC) that
 *   reads it: CREATE OR REPLACE with the same text re-binds the body (same OID).
 * - recreate-routine: a function or procedure taking or returning a replaced row type: its
 *   signature names the type by OID and CREATE OR REPLACE cannot change a return type, so it is
 *   created anew with its owner, grants and comment, and the old one dropped.
 * - rebind-rule: a rule of another relation (a table, or a view's INSERT/UPDATE/DELETE rule)
 *   whose action or condition reads or writes it: CREATE OR REPLACE RULE with its own text
 *   (same OID, enabled state and comment).
 * - rebind-policy: a policy of another table whose expressions read it: ALTER POLICY with its
 *   own USING and WITH CHECK text (same OID, roles and comment).
 * - recreate-trigger: a constraint trigger of another table declared FROM it: PostgreSQL cannot
 *   change a trigger's FROM table, so it is dropped and created again by its own definition,
 *   with its enabled state and comment.
 */
export type BoundAction = 'rebind-view' | 'recreate-view' | 'rebuild-matview' | 'rebind-routine' | 'recreate-routine' | 'rebind-rule' | 'rebind-policy' | 'recreate-trigger';

/** The actions on another relation's rule, policy or trigger: they change that relation. */
export const ON_ANOTHER_RELATION: ReadonlySet<BoundAction> = new Set(['rebind-rule', 'rebind-policy', 'recreate-trigger']);

export interface BoundObject {
  action: BoundAction;
  /** pg_class OID (views, materialized views), pg_proc OID (routines), or the rule's, policy's or trigger's own */
  oid: string;
  /** a rule's, policy's or trigger's relation (OID), which the swap changes; else null */
  relation: string | null;
  /** e.g. `materialized view public.m`, `function public.f(public.t)` */
  description: string;
  /** the longest chain of dependencies from the table: whatever an object depends on comes first */
  depth: number;
  /** a relation with a column of a replaced row type */
  typed: boolean;
  /** relation or routine OIDs of the bound objects it depends on */
  dependsOn: string[];
}

export interface BoundObjects {
  /** in dependency order (by depth, then OID) */
  objects: BoundObject[];
  /** what cannot be carried, each with its reason; empty when the swap can carry everything */
  refusals: string[];
}

interface Row {
  class: 'relation' | 'rule' | 'column' | 'routine' | 'type' | 'policy' | 'trigger' | 'other';
  oid: string;
  on_oid: string;
  relkind: string | null;
  prokind: string | null;
  atomic: boolean;
  typed: boolean;
  in_extension: boolean;
  on_table: string | null;
  description: string;
  on_description: string;
}

const RECREATED: ReadonlySet<BoundAction> = new Set(['recreate-view', 'rebuild-matview', 'recreate-routine']);

/**
 * Everything bound to the table that a swap must carry: found step by step through pg_depend,
 * from the table and its row type to what depends on them, and on from every object the swap
 * creates anew (its dependents are bound to its OID in turn). Objects re-bound in place keep
 * their OIDs, so what depends on them needs nothing. The table's other dependents (views are
 * here; foreign keys, policies and triggers of other tables are catalog-dependents.sql's) are
 * left to the caller. Names in descriptions are schema-qualified when it runs in a transaction.
 */
export async function readBoundObjects(c: Client, tableOid: string, tree: readonly string[] = []): Promise<BoundObjects> {
  return withQualifiedNames(c, () => discover(c, new Set([tableOid, ...tree])));
}

/**
 * `replaced`: the table, and a tree's relations exchanged with it (shadow/tree.ts), each bound to
 * as the table is; an object bound to several of them is carried once, after every one.
 */
async function discover(c: Client, replaced: ReadonlySet<string>): Promise<BoundObjects> {
  const found = new Map<string, { action: BoundAction; description: string; typed: boolean; deps: Set<string>; relation: string | null }>();
  const refusals: string[] = [];
  const refuse = (why: string): void => {
    if (!refusals.includes(why)) refusals.push(why);
  };
  // A relation and its row types stand for one another: a dependent of either depends on it.
  const typeOwner = new Map<string, string>();
  let relations = [...replaced];
  let routines: string[] = [];
  const seen = new Set<string>(replaced);
  while (relations.length || routines.length) {
    const types = (await c.query<{ rel: string; t: string }>(
      `SELECT c.oid::int8::text AS rel, unnest(ARRAY[t.oid, t.typarray])::int8::text AS t
         FROM pg_class c JOIN pg_type t ON t.oid = c.reltype WHERE c.oid = ANY ($1::oid[])`,
      [relations],
    )).rows;
    for (const t of types) typeOwner.set(t.t, t.rel);
    const rows = (await c.query<Row>(sqlFile('bound-objects.sql'), [relations, types.map((t) => t.t), routines])).rows;
    const next = { relations: [] as string[], routines: [] as string[] };
    for (const row of rows) {
      const on = typeOwner.get(row.on_oid) ?? row.on_oid;
      if (row.oid === on) continue; // a relation's own columns of its own row type
      const via = !replaced.has(on) ? 'other' : typeOwner.has(row.on_oid) ? 'row type' : 'table';
      const action = classify(row, via, row.on_table !== null && replaced.has(row.on_table), refuse);
      if (action === null) continue;
      const prior = found.get(row.oid);
      const chosen = prior && (RECREATED.has(prior.action) || !RECREATED.has(action)) ? prior.action : action;
      const entry = prior ?? {
        action: chosen,
        description: row.class === 'column' ? relationOf(row.description) : row.description,
        typed: false,
        deps: new Set<string>(),
        relation: ON_ANOTHER_RELATION.has(chosen) ? row.on_table : null,
      };
      entry.action = chosen;
      entry.typed ||= row.typed;
      if (!replaced.has(on)) entry.deps.add(on);
      found.set(row.oid, entry);
      if (RECREATED.has(chosen) && !seen.has(row.oid)) {
        seen.add(row.oid);
        (chosen === 'recreate-routine' ? next.routines : next.relations).push(row.oid);
      }
    }
    relations = next.relations;
    routines = next.routines;
  }

  for (const [, o] of found) {
    if (o.action !== 'rebuild-matview') continue;
    // Built before the cutover, a materialized view can read only what exists then.
    for (const d of o.deps) {
      const dep = found.get(d);
      if (dep && dep.action !== 'rebuild-matview') {
        refuse(`${o.description} reads ${dep.description}, which the swap creates anew at the cutover; a materialized view is built before the cutover (its query may take long), from what exists then`);
      }
    }
  }
  const depth = new Map<string, number>();
  const depthOf = (oid: string, path: Set<string>): number => {
    const known = depth.get(oid);
    if (known !== undefined) return known;
    if (path.has(oid)) return 0;
    path.add(oid);
    const deps = [...(found.get(oid)?.deps ?? [])].filter((d) => found.has(d));
    const d = 1 + Math.max(0, ...deps.map((x) => depthOf(x, path)));
    path.delete(oid);
    depth.set(oid, d);
    return d;
  };
  const objects = [...found.entries()].map(([oid, o]) => ({
    action: o.action,
    oid,
    description: o.description,
    depth: depthOf(oid, new Set()),
    typed: o.typed,
    relation: o.relation,
    dependsOn: [...o.deps].filter((d) => found.has(d)),
  }));
  objects.sort((a, b) => a.depth - b.depth || Number(a.oid) - Number(b.oid));
  refusals.push(...(await ownershipRefusals(c, objects)));
  refusals.push(...(await recreatedViewRefusals(c, objects)));
  return { objects, refusals };
}

/**
 * What the swap does with one dependent, or null when it is not this module's (the table's
 * direct dependents other than views and routines are catalog-dependents.sql's). A refusal says
 * what PostgreSQL would need and why the swap cannot do it.
 */
function classify(row: Row, via: 'table' | 'row type' | 'other', onTheTable: boolean, refuse: (why: string) => void): BoundAction | null {
  const ofTheTable = via === 'table';
  const what = row.description;
  const on = row.on_description;
  switch (row.class) {
    case 'relation':
      if (row.relkind === 'v') return row.typed ? 'recreate-view' : 'rebind-view';
      if (row.relkind === 'm') return 'rebuild-matview';
      if (ofTheTable) return null;
      refuse(`${what} depends on ${on}, which the swap replaces`);
      return null;
    case 'column':
      if (row.relkind === 'v') return 'recreate-view';
      if (row.relkind === 'm') return 'rebuild-matview';
      if (row.relkind === 'r' || row.relkind === 'p' || row.relkind === 'f') {
        refuse(`${what} is of ${on}: PostgreSQL re-points a column at another type only by rewriting its table (ALTER COLUMN ... TYPE, under an ACCESS EXCLUSIVE lock for the whole rewrite), which no short cutover can do; drop the column, or change this table without pgshift's copy`);
      } else if (row.relkind === 'c') {
        refuse(`${what} is of ${on}: the swap cannot re-point a composite type's attribute at the new table's row type (ALTER TYPE ... ALTER ATTRIBUTE ... TYPE would, but refuses while a table stores the type)`);
      } else {
        refuse(`${what} is of ${on}, which the swap replaces`);
      }
      return null;
    case 'routine':
      if (row.in_extension) {
        refuse(`${what} belongs to an extension and is bound to ${on}: only the extension's own scripts may re-create it`);
        return null;
      }
      if (row.prokind === 'a') {
        refuse(`${what} is bound to ${on}: re-creating an aggregate is not supported (PostgreSQL has no function that prints its definition)`);
        return null;
      }
      if (row.typed) return 'recreate-routine';
      if (row.atomic) return 'rebind-routine';
      if (ofTheTable) return null;
      refuse(`${what} is bound to ${on} by OID (outside its signature and body), which the swap cannot re-point`);
      return null;
    case 'type':
      refuse(`${what} is based on ${on}: PostgreSQL cannot change a domain's base type or a range's subtype, so the swap cannot re-point it`);
      return null;
    case 'rule':
    case 'policy':
    case 'trigger':
      // The table's own are created again on the new table from their text (cutover/swap.ts); the
      // old table keeps its own policies and triggers, bound to its own row type, and its rules
      // are dropped. Another relation's, bound to the table itself, are re-bound by name to the
      // new table. Bound to an object created anew, the old one's would keep that object from
      // being dropped; through the row type, re-parsed on the new row type, it might no longer
      // mean what it meant.
      if (onTheTable ? via !== 'other' : via === 'table') return onTheTable ? null : REBIND[row.class];
      refuse(`${what} uses ${on}, which the swap creates anew; the ${row.class} would keep the old one (drop it, run the migration, create it again)`);
      return null;
    default:
      if (ofTheTable) return null;
      refuse(`${what} uses ${on}, which the swap creates anew, and cannot be re-pointed`);
      return null;
  }
}

const REBIND: Record<'rule' | 'policy' | 'trigger', BoundAction> = { rule: 'rebind-rule', policy: 'rebind-policy', trigger: 'recreate-trigger' };

/** `column x of view public.v` -> `view public.v` (a view's columns are the view's). */
function relationOf(columnDescription: string): string {
  const of = columnDescription.indexOf(' of ');
  return of < 0 ? columnDescription : columnDescription.slice(of + 4);
}

/** The engine re-creates, replaces and re-owns these objects: it must be able to act as their owners. */
async function ownershipRefusals(c: Client, objects: BoundObject[]): Promise<string[]> {
  if (objects.length === 0) return [];
  const r = await c.query<{ oid: string; owner: string }>(
    `SELECT c.oid::int8::text AS oid, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
      WHERE c.oid = ANY ($1::oid[]) AND NOT pg_has_role(c.relowner, 'MEMBER')
     UNION ALL
     SELECT p.oid::int8::text, pg_get_userbyid(p.proowner) FROM pg_proc p
      WHERE p.oid = ANY ($1::oid[]) AND NOT pg_has_role(p.proowner, 'MEMBER')
     UNION ALL
     SELECT o.oid, pg_get_userbyid(c.relowner) FROM unnest($2::text[], $3::oid[]) o(oid, rel) JOIN pg_class c ON c.oid = o.rel
      WHERE NOT pg_has_role(c.relowner, 'MEMBER')`,
    [objects.filter((o) => o.relation === null).map((o) => o.oid), ...unzipRelations(objects)],
  );
  return r.rows.map((row) => {
    const o = objects.find((x) => x.oid === row.oid)!;
    return `missing privilege: the swap ${verb(o.action)} ${o.description}, owned by ${row.owner}: the engine's role must be a member of ${row.owner} (or a superuser)`;
  });
}

/** [object OIDs, their relations' OIDs] of the rules, policies and triggers: their relations' owners act on them. */
function unzipRelations(objects: BoundObject[]): [string[], string[]] {
  const on = objects.filter((o) => o.relation !== null);
  return [on.map((o) => o.oid), on.map((o) => o.relation!)];
}

export function verb(action: BoundAction): string {
  return {
    'rebind-view': 're-binds',
    'recreate-view': 're-creates',
    'rebuild-matview': 'rebuilds',
    'rebind-routine': 're-binds',
    'recreate-routine': 're-creates',
    'rebind-rule': 're-binds',
    'rebind-policy': 're-binds',
    'recreate-trigger': 're-creates',
  }[action];
}

/** A view created anew takes its triggers and rules along only where the swap knows how. */
async function recreatedViewRefusals(c: Client, objects: BoundObject[]): Promise<string[]> {
  const views = objects.filter((o) => o.action === 'recreate-view');
  if (views.length === 0) return [];
  const r = await c.query<{ oid: string; what: string }>(
    `SELECT t.tgrelid::int8::text AS oid, 'trigger ' || t.tgname AS what FROM pg_trigger t WHERE t.tgrelid = ANY ($1::oid[]) AND NOT t.tgisinternal
     UNION ALL
     SELECT r.ev_class::int8::text, 'rule ' || r.rulename FROM pg_rewrite r WHERE r.ev_class = ANY ($1::oid[]) AND r.rulename <> '_RETURN'`,
    [views.map((v) => v.oid)],
  );
  return r.rows.map((row) => {
    const v = views.find((x) => x.oid === row.oid)!;
    return `${v.description} has a column of the table's row type, so the swap creates it anew, and it has ${row.what}, which pgshift does not carry to a new view`;
  });
}
