import type { Client } from '../db/session.js';
import { ident, literal, qualified, trusted } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';
import { withQualifiedNames } from '../db/search-path.js';
import { RuntimeError } from '../errors.js';
import { ON_ANOTHER_RELATION, readBoundObjects, type BoundObject } from '../catalog/bound-objects.js';
import { copyAclStatements } from '../shadow/acl.js';
import { relOptionsList } from '../shadow/reloptions.js';
import { enabledStateSql } from './enabled-state.js';
import { asideName, dropOldMatview, exchangeMatview, finishMatviews, readMatviewDefs, type MatviewDef } from './matviews.js';

interface ViewDef {
  oid: string;
  schema: string;
  name: string;
  def: string;
  reloptions: string[] | null;
  owner: string;
  comment: string | null;
  columns: { name: string; comment: string | null; default: string | null }[];
}

interface RoutineDef {
  oid: string;
  /** e.g. public.f(public.t): names the new row type once the tables are exchanged */
  signature: string;
  def: string;
  kind: string;
  owner: string;
  comment: string | null;
}

/** A rule, policy or constraint trigger of another relation (sql/rebound-defs.sql). */
interface ReboundDef {
  oid: string;
  kind: 'rule' | 'policy' | 'trigger';
  name: string;
  /** its relation, quoted and qualified */
  relation: string;
  def: string | null;
  using_expr: string | null;
  check_expr: string | null;
  enabled: string | null;
  comment: string | null;
}

/** What the swap carries besides the table, with the definitions read before the exchange. */
export interface BoundDefs {
  objects: BoundObject[];
  views: Map<string, ViewDef>;
  routines: Map<string, RoutineDef>;
  matviews: Map<string, MatviewDef>;
  rebound: Map<string, ReboundDef>;
}

/**
 * Read inside the cutover, before the tables are exchanged (and with the user's column renames
 * applied to the outgoing table, so PostgreSQL has rewritten the definitions for them): every
 * name in a definition is schema-qualified, and executed after the exchange the table's name
 * means the new table. What cannot be carried (preflight refused it; something changed since)
 * fails the cutover before anything is swapped.
 */
export async function readBoundDefs(c: Client, tableOid: string, tree: readonly string[] = []): Promise<BoundDefs> {
  const bound = await readBoundObjects(c, tableOid, tree);
  if (bound.refusals.length) throw new RuntimeError(`the swap cannot carry what depends on the table: ${bound.refusals[0]}; nothing was swapped`);
  const oids = (...actions: BoundObject['action'][]): string[] => bound.objects.filter((o) => actions.includes(o.action)).map((o) => o.oid);
  return withQualifiedNames(c, async () => {
    const views = (await c.query<ViewDef>(sqlFile('view-defs.sql'), [oids('rebind-view', 'recreate-view')])).rows;
    const routines = (await c.query<RoutineDef>(sqlFile('routine-defs.sql'), [oids('rebind-routine', 'recreate-routine')])).rows;
    const matviews = await readMatviewDefs(c, oids('rebuild-matview'));
    const rebound = (await c.query<ReboundDef>(sqlFile('rebound-defs.sql'), [oids('rebind-rule', 'rebind-policy', 'recreate-trigger')])).rows;
    return {
      objects: bound.objects,
      views: new Map(views.map((v) => [v.oid, v])),
      routines: new Map(routines.map((r) => [r.oid, r])),
      matviews: new Map(matviews.map((m) => [m.oid, m])),
      rebound: new Map(rebound.map((r) => [r.oid, r])),
    };
  });
}

/**
 * After the exchange, in dependency order: routines and views created anew step aside (renamed)
 * for their new selves, rebuilt materialized views move in, views and BEGIN ATOMIC routines are
 * re-bound in place by CREATE OR REPLACE with their old text; then what stepped aside is dropped,
 * last-created first. Dropping never cascades: an old object something still uses fails the
 * cutover instead of taking that along.
 */
export async function carryBound(c: Client, d: BoundDefs, migrationSchema: string): Promise<void> {
  if (d.objects.length === 0) return;
  const saved = (await c.query<{ v: string }>(`SELECT current_setting('check_function_bodies') AS v`)).rows[0]!.v;
  // As pg_dump restores them: a body is not checked against the new table (offline, nothing
  // checks it again either; a BEGIN ATOMIC body is always bound, and so checked).
  await c.query(`SELECT set_config('check_function_bodies', 'off', true)`);
  // The views are locked already, before the table (cutover/lock-set.ts): a reader of one, or of
  // a view over a materialized view, waits before it holds anything the swap needs.
  for (const o of d.objects) {
    if (o.action === 'recreate-routine') await recreateRoutine(c, d.routines.get(o.oid)!);
    else if (o.action === 'rebind-routine') await c.query(trusted(d.routines.get(o.oid)!.def));
    else if (o.action === 'recreate-view') await recreateView(c, d.views.get(o.oid)!);
    else if (o.action === 'rebind-view') await replaceView(c, d.views.get(o.oid)!, 'CREATE OR REPLACE VIEW');
    else if (o.action === 'rebuild-matview') await exchangeMatview(c, d.matviews.get(o.oid)!, migrationSchema);
    else await rebindOnRelation(c, d.rebound.get(o.oid)!);
  }
  for (const o of d.objects.slice().reverse()) {
    if (o.action === 'recreate-routine') {
      const old = (await c.query<{ s: string }>(`SELECT $1::oid::regprocedure::text AS s`, [o.oid])).rows[0]!.s;
      await c.query(`DROP ROUTINE ${trusted(old)}`);
    } else if (o.action === 'recreate-view') {
      const v = d.views.get(o.oid)!;
      await c.query(`DROP VIEW ${qualified(v.schema, asideName(v.oid))}`);
    } else if (o.action === 'rebuild-matview') {
      await dropOldMatview(c, d.matviews.get(o.oid)!);
    }
  }
  await finishMatviews(c, [...d.matviews.values()], migrationSchema);
  await c.query(`SELECT set_config('check_function_bodies', $1, true)`, [saved]);
}

async function replaceView(c: Client, v: ViewDef, verb: 'CREATE VIEW' | 'CREATE OR REPLACE VIEW'): Promise<void> {
  const opts = relOptionsList(v.reloptions);
  await c.query(`${verb} ${qualified(v.schema, v.name)}${opts.length ? ` WITH (${opts.join(', ')})` : ''} AS ${trusted(v.def)}`);
}

/**
 * A view with a column of a replaced row type: CREATE OR REPLACE VIEW cannot change a column's
 * type, so a new view takes its name, owner, grants (column grants too), comments, options and
 * column defaults. Its OID is new: what depends on it is in the bound objects after it.
 */
async function recreateView(c: Client, v: ViewDef): Promise<void> {
  const view = qualified(v.schema, v.name);
  await c.query(`ALTER VIEW ${view} RENAME TO ${ident(asideName(v.oid))}`);
  await replaceView(c, v, 'CREATE VIEW');
  await c.query(`ALTER VIEW ${view} OWNER TO ${ident(v.owner)}`);
  for (const sql of await copyAclStatements(c, v.oid, view)) await c.query(sql);
  if (v.comment !== null) await c.query(`COMMENT ON VIEW ${view} IS ${literal(v.comment)}`);
  for (const col of v.columns) {
    if (col.comment !== null) await c.query(`COMMENT ON COLUMN ${view}.${ident(col.name)} IS ${literal(col.comment)}`);
    if (col.default !== null) await c.query(`ALTER VIEW ${view} ALTER COLUMN ${ident(col.name)} SET DEFAULT ${trusted(col.default)}`);
  }
}

/**
 * A routine taking or returning a replaced row type: its signature holds the old type's OID, and
 * CREATE OR REPLACE cannot change a return type. The old one steps aside (renamed); the same
 * text creates it anew on the new row type, with the old one's owner, privileges (EXECUTE to
 * PUBLIC or not included) and comment; SECURITY DEFINER, SET, volatility and the rest are in the
 * text.
 */
async function recreateRoutine(c: Client, r: RoutineDef): Promise<void> {
  const old = (await c.query<{ s: string }>(`SELECT $1::oid::regprocedure::text AS s`, [r.oid])).rows[0]!.s;
  await c.query(`ALTER ROUTINE ${trusted(old)} RENAME TO ${ident(asideName(r.oid))}`);
  await c.query(trusted(r.def));
  const created = (await c.query<{ oid: string | null }>(`SELECT to_regprocedure($1)::oid::int8::text AS oid`, [r.signature])).rows[0]!.oid;
  if (created === null) throw new RuntimeError(`re-creating ${r.signature} on the new table's row type did not give it that signature; nothing was swapped`);
  const routine = trusted(r.signature);
  await c.query(`ALTER ROUTINE ${routine} OWNER TO ${ident(r.owner)}`);
  const acl = await c.query<{ action: string; public: string | null; grantee: string; privilege: string; grantable: boolean }>(sqlFile('routine-acl.sql'), [r.oid, created]);
  for (const e of acl.rows) {
    const grantee = e.public ?? ident(e.grantee);
    await c.query(
      e.action === 'grant'
        ? `GRANT ${trusted(e.privilege)} ON ROUTINE ${routine} TO ${grantee}${e.grantable ? ' WITH GRANT OPTION' : ''}`
        : `REVOKE ${trusted(e.privilege)} ON ROUTINE ${routine} FROM ${grantee}`,
    );
  }
  if (r.comment !== null) await c.query(`COMMENT ON ROUTINE ${routine} IS ${literal(r.comment)}`);
}

/** Only the other relations' rules, policies and constraint triggers of `d` (the runbook's revert.sql re-binds these alone). */
export async function carryOnRelations(c: Client, d: BoundDefs): Promise<void> {
  for (const o of d.objects) if (ON_ANOTHER_RELATION.has(o.action)) await rebindOnRelation(c, d.rebound.get(o.oid)!);
}

/**
 * Another relation's rule, policy or constraint trigger, re-bound by name to the new table: a
 * rule by CREATE OR REPLACE RULE with its own text, a policy by ALTER POLICY with its own
 * expressions (both keep their OIDs, and so their comments, roles and enabled state); a
 * constraint trigger, whose FROM table PostgreSQL cannot change, dropped and created again by its
 * definition (timing, events, deferrable state, condition, function and arguments are in it),
 * with its enabled state and comment. Each takes its relation's lock: ACCESS EXCLUSIVE (CREATE
 * RULE, ALTER POLICY, DROP TRIGGER), a table's already in the cutover's lock set (lock-set.ts).
 */
async function rebindOnRelation(c: Client, r: ReboundDef): Promise<void> {
  const on = trusted(r.relation);
  if (r.kind === 'rule') {
    await c.query(trusted(r.def!));
  } else if (r.kind === 'policy') {
    const using = r.using_expr !== null ? ` USING (${trusted(r.using_expr)})` : '';
    const check = r.check_expr !== null ? ` WITH CHECK (${trusted(r.check_expr)})` : '';
    await c.query(`ALTER POLICY ${ident(r.name)} ON ${on}${using}${check}`);
  } else {
    await c.query(`DROP TRIGGER ${ident(r.name)} ON ${on}`);
    await c.query(trusted(r.def!));
    const state = enabledStateSql('TRIGGER', on, r.name, r.enabled);
    if (state) await c.query(state);
    if (r.comment !== null) await c.query(`COMMENT ON TRIGGER ${ident(r.name)} ON ${on} IS ${literal(r.comment)}`);
  }
}
