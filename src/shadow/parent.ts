import { withTransaction, type Client, type Pool } from '../db/session.js';
import { ident, qualified, trusted, type SqlText } from '../db/quote.js';
import { withRetry, type RetryPolicy } from '../db/retry.js';
import { RuntimeError, UserError, describeError, sqlState } from '../errors.js';
import type { TableInfo } from '../catalog/table.js';
import { deparseStatement, type AlterStatement, type Node } from '../plan/parse.js';
import { createStandInSql } from './inherit.js';
import { placementOf } from '../plan/subcommands.js';

/**
 * A table with legacy inheritance children (a parent) is copied alone when the change does not
 * reach its children: a rewrite PostgreSQL never recurses (SET LOGGED / UNLOGGED, SET ACCESS
 * METHOD, SET TABLESPACE), or one written ALTER TABLE ONLY. The copy, the replay and the
 * validation read ONLY the parent (its children's rows are theirs: copy/sql.ts originRows), its
 * capture sees its own rows only (a row trigger on a parent does not fire for its children's),
 * and the cutover moves the children from the old table to the new one: INHERIT the new before
 * NO INHERIT the old (moveChildren), so what they have only from the parent stays so
 * (attislocal = false, attinhcount back to 1); the user's ONLY drops run meanwhile on a stand-in
 * of the old table the children inherit, so they do to the children what they do offline; other
 * parents a child has after it are put back after the new table, in order; a CHECK the change
 * VALIDATEs is validated on the children first (validateChildrenFirst). A change that reaches
 * the children is copied with the whole tree instead (shadow/tree.ts).
 */

/** Why a parent's change cannot be copied (a reason for `refused: <table> ...`), or null when it can. */
export async function parentRefusal(c: Client, table: TableInfo, statements: AlterStatement[]): Promise<string | null> {
  const notOwned = await c.query<{ name: string }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(ch.relname) AS name FROM pg_inherits i
       JOIN pg_class ch ON ch.oid = i.inhrelid JOIN pg_namespace n ON n.oid = ch.relnamespace
      WHERE i.inhparent = $1::oid AND NOT ch.relispartition AND NOT pg_has_role(ch.relowner, 'USAGE') ORDER BY 1`,
    [table.oid],
  );
  if (notOwned.rows.length && !table.isSuperuser) {
    return `needs its inheritance children moved to the new table in the cutover (ALTER TABLE ... INHERIT, which only their owner may run): missing privilege: ownership of ${notOwned.rows.map((r) => r.name).join(', ')}`;
  }
  // What applies at the swap (owner, triggers' state, row security, replica identity, CLUSTER ON)
  // never recurses to legacy children (measured on 17). VALIDATE CONSTRAINT of a CHECK does: its
  // children's copies are validated before the swap (validateChildrenFirst); written ONLY, offline
  // refuses it.
  const only = await validatedChecks(c, table.oid, statements.filter((s) => s.kind === 'alter' && s.node.relation?.inh !== true));
  if (only.length) return `has inheritance children (INHERITS), and ALTER TABLE ONLY ... VALIDATE CONSTRAINT ${only.join(', ')}: constraint must be validated on child tables too (offline PostgreSQL refuses it too)`;
  return null;
}

/** The inheritable CHECKs of `oid` (its children have copies of them) that the statements VALIDATE. */
async function validatedChecks(c: Client, oid: string, statements: AlterStatement[]): Promise<string[]> {
  const names = statements.flatMap((s) => (s.kind === 'alter' ? s.cmds.filter((cmd) => placementOf(cmd) === 'validate').map((cmd) => cmd.name as string) : []));
  if (names.length === 0) return [];
  const r = await c.query<{ name: string }>(
    `SELECT conname AS name FROM pg_constraint WHERE conrelid = $1::oid AND contype = 'c' AND NOT connoinherit AND conname = ANY ($2::text[]) ORDER BY 1`,
    [oid, names],
  );
  return r.rows.map((row) => row.name);
}

/**
 * Before the swap of a parent copied alone whose statements VALIDATE a CHECK: offline, VALIDATE
 * CONSTRAINT validates the children's copies too, and fails on a child's row that breaks it. The
 * children's copies are validated here, in one transaction (ALTER TABLE child VALIDATE CONSTRAINT,
 * which reaches the child's own children: SHARE UPDATE EXCLUSIVE, writes go on), so such a row
 * fails the migration before anything is swapped, with PostgreSQL's words, and a failure leaves
 * every copy as it was. The parent's own rows are proven in the shadow (verify/foreign-keys.ts) and
 * its copy validated after the swap, which finds the children's valid. A copy made valid here stays
 * so if the migration stops later, or is reverted (PostgreSQL cannot make a constraint not valid
 * again; its rows hold).
 */
export async function validateChildrenFirst(pool: Pool, retry: RetryPolicy, table: TableInfo, statements: AlterStatement[]): Promise<void> {
  if (!table.hasInheritanceChildren) return;
  await withRetry(retry, (_a, lockTimeoutMs) =>
    withTransaction(pool, async (c) => {
      const validate = await validateChildrenSql(c, table, statements);
      if (validate.length === 0) return;
      await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
      for (const sql of validate) await c.query(sql);
    }),
  ).catch((err: unknown) => {
    if (sqlState(err) !== '23514') throw err;
    throw new RuntimeError(`${describeError(err)}: offline, VALIDATE CONSTRAINT on ${table.schema}.${table.name} fails the same way (it validates its children's copies too); nothing was swapped`);
  });
}

/** validateChildrenFirst's statements (none when the statements VALIDATE no CHECK the children have): a runbook writes them too (runbook/copy.ts). */
export async function validateChildrenSql(c: Client, table: TableInfo, statements: AlterStatement[]): Promise<string[]> {
  if (!table.hasInheritanceChildren) return [];
  const checks = await validatedChecks(c, table.oid, statements);
  if (checks.length === 0) return [];
  const copies = await c.query<{ child: string; name: string }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(ch.relname) AS child, k.conname AS name
       FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid JOIN pg_namespace n ON n.oid = ch.relnamespace
       JOIN pg_constraint k ON k.conrelid = ch.oid AND k.contype = 'c' AND k.conname = ANY ($2::text[])
      WHERE i.inhparent = $1::oid AND NOT ch.relispartition ORDER BY i.inhrelid, k.conname`,
    [table.oid, checks],
  );
  return copies.rows.map((x) => `ALTER TABLE ${trusted(x.child)} VALIDATE CONSTRAINT ${ident(x.name)}`);
}

/**
 * A column and constraint fingerprint of a relation (what an ALTER recursing into a child would
 * change), without what is local or inherited: ALTER TABLE ONLY ... DROP COLUMN (or CONSTRAINT)
 * leaves the children theirs, and moving them to the new table does the same (NO INHERIT makes
 * what they no longer inherit their own).
 */
async function fingerprint(c: Client, relation: SqlText): Promise<string> {
  const r = await c.query<{ f: string }>(
    `SELECT concat_ws(' | ',
        (SELECT string_agg(concat_ws(':', attname, format_type(atttypid, atttypmod), attnotnull, attstorage, attcompression, attstattarget, attoptions::text,
                                     attcollation, attgenerated, pg_get_expr(d.adbin, d.adrelid)), ',' ORDER BY attnum)
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped),
        (SELECT string_agg(concat_ws(':', conname, contype, pg_get_constraintdef(oid), convalidated), ',' ORDER BY conname)
           FROM pg_constraint WHERE conrelid = $1::regclass)) AS f`,
    [relation],
  );
  return r.rows[0]!.f;
}

/** The change reaches a parent's children: the plan copies the whole tree instead (shadow/tree.ts). */
export class ReachesChildren extends UserError {
  constructor(origin: TableInfo) {
    super(`refused: ${origin.schema}.${origin.name} has inheritance children (INHERITS), and the change reaches them (offline it recurses to every child): it is copied with its whole tree`);
  }
}

/**
 * Runs the user's statements on the shadow of a parent (`apply`) with an empty child of it in
 * place, then takes the child away: offline, the parent has children, so PostgreSQL refuses with
 * its own words what it refuses there (ALTER TABLE ONLY ... ADD COLUMN: "column must be added to
 * child tables too"), and a change that reached the child is one that would reach the real
 * children: the plan copies the whole tree instead (ReachesChildren, shadow/tree.ts).
 */
export async function withProbeChild(c: Client, origin: TableInfo, schema: string, shadow: SqlText, apply: () => Promise<void>): Promise<void> {
  const probe = qualified(schema, 'pgshift_probe_child');
  await c.query(`CREATE TABLE ${probe} () INHERITS (${shadow})`);
  const before = await fingerprint(c, probe);
  await apply();
  if ((await fingerprint(c, probe)) !== before) throw new ReachesChildren(origin);
  await c.query(`DROP TABLE ${probe}`);
}

/** A legacy inheritance child of a table, and the parents it has after that table (pg_inherits order). */
export interface InheritanceChild {
  name: SqlText;
  later: { oid: string; name: SqlText }[];
}

/** A table's legacy inheritance children (not its partitions), in OID order (moveChildren). */
export async function childrenOf(c: Client, oid: string): Promise<InheritanceChild[]> {
  const r = await c.query<{ schema: string; name: string; later: string[]; later_schemas: string[]; later_names: string[] }>(
    `SELECT n.nspname AS schema, ch.relname AS name,
            ARRAY(SELECT o.inhparent::int8::text FROM pg_inherits o WHERE o.inhrelid = i.inhrelid AND o.inhseqno > i.inhseqno ORDER BY o.inhseqno) AS later,
            ARRAY(SELECT pn.nspname::text FROM pg_inherits o JOIN pg_class p ON p.oid = o.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
                   WHERE o.inhrelid = i.inhrelid AND o.inhseqno > i.inhseqno ORDER BY o.inhseqno) AS later_schemas,
            ARRAY(SELECT p.relname::text FROM pg_inherits o JOIN pg_class p ON p.oid = o.inhparent
                   WHERE o.inhrelid = i.inhrelid AND o.inhseqno > i.inhseqno ORDER BY o.inhseqno) AS later_names
       FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid JOIN pg_namespace n ON n.oid = ch.relnamespace
      WHERE i.inhparent = $1::oid AND NOT ch.relispartition ORDER BY i.inhrelid`,
    [oid],
  );
  return r.rows.map((x) => ({ name: qualified(x.schema, x.name), later: x.later.map((o, i) => ({ oid: o, name: qualified(x.later_schemas[i]!, x.later_names[i]!) })) }));
}

/**
 * Inside a swap (and a swap back), once the tables changed places: every legacy inheritance
 * child of the outgoing table (`children`, read before: childrenOf) moves from it (now `from`)
 * to the incoming one (now `to`), INHERIT first (counts 2), NO INHERIT after (back to 1: what
 * was inherited only stays so). INHERIT appends the new table to the child's parents; a child
 * with other parents after the outgoing table gets them back after it, each through a stand-in
 * (shadow/inherit.ts) in `schema`: INHERIT the stand-in, NO INHERIT the parent, INHERIT it again,
 * NO INHERIT the stand-in, so that what the child has from that parent never drops to no parent
 * (NO INHERIT would make it the child's own) and its parents end in the order they had
 * (pg_inherits order; inhseqno values higher than offline's).
 *
 * `drops` (oldParentDrops: the user's ALTER TABLE ONLY ... DROP COLUMN / DROP CONSTRAINT) run on
 * a stand-in of the outgoing table that the children inherit meanwhile: they do to the children
 * what they did offline, PostgreSQL's own way, which moving alone cannot: a CHECK the dropped
 * column took with it stays counted inherited on the children (coninhcount 1, conislocal false,
 * with no parent having it), where NO INHERIT would make it theirs.
 *
 * The stand-ins are dropped before the transaction ends. The children are in the cutover's lock
 * set, the later parents too (INHERIT takes them SHARE UPDATE EXCLUSIVE: cutover/lock-set.ts).
 * Nothing for a table without children. The statements name the tables, never read them by
 * OID: a runbook records them before the exchange has happened (runbook/copy.ts).
 */
export async function moveChildren(c: Client, children: InheritanceChild[], x: { from: SqlText; to: SqlText; schema: string; drops?: string[] }): Promise<void> {
  if (children.length === 0) return;
  const drops = x.drops ?? [];
  const oldParent = qualified(x.schema, OLD_PARENT);
  if (drops.length) {
    await c.query(createStandInSql(oldParent, x.from));
    for (const child of children) await c.query(`ALTER TABLE ${child.name} INHERIT ${oldParent}`);
  }
  for (const child of children) {
    await c.query(`ALTER TABLE ${child.name} INHERIT ${x.to}`);
    await c.query(`ALTER TABLE ${child.name} NO INHERIT ${x.from}`);
  }
  if (drops.length) {
    for (const sql of drops) await c.query(sql);
    for (const child of children) await c.query(`ALTER TABLE ${child.name} NO INHERIT ${oldParent}`);
    await c.query(`DROP TABLE ${oldParent}`);
  }
  const standIns = new Map<string, SqlText>();
  for (const child of children) {
    for (const parent of child.later) {
      let standIn = standIns.get(parent.oid);
      if (!standIn) {
        standIn = qualified(x.schema, laterStandInName(standIns.size + 1));
        await c.query(createStandInSql(standIn, parent.name));
        standIns.set(parent.oid, standIn);
      }
      await c.query(`ALTER TABLE ${child.name} INHERIT ${standIn}`);
      await c.query(`ALTER TABLE ${child.name} NO INHERIT ${parent.name}`);
      await c.query(`ALTER TABLE ${child.name} INHERIT ${parent.name}`);
      await c.query(`ALTER TABLE ${child.name} NO INHERIT ${standIn}`);
    }
  }
  for (const standIn of standIns.values()) await c.query(`DROP TABLE ${standIn}`);
}

/** The stand-in of the outgoing table that its children inherit while the user's ONLY drops run on it (moveChildren). */
const OLD_PARENT = 'pgshift_old_parent';

/** The user's subcommands written ALTER TABLE ONLY that drop a column or a constraint, in their order. */
export function onlyDrops(statements: AlterStatement[]): { statement: AlterStatement; cmd: Node }[] {
  return statements.flatMap((statement) =>
    statement.kind === 'alter' && statement.node.relation?.inh !== true
      ? statement.cmds.filter((cmd) => cmd.subtype === 'AT_DropColumn' || cmd.subtype === 'AT_DropConstraint').map((cmd) => ({ statement, cmd }))
      : [],
  );
}

/**
 * For a parent copied alone: the user's ALTER TABLE ONLY ... DROP COLUMN and DROP CONSTRAINT, one
 * statement each, in their order, on the stand-in of the old table that moveChildren makes in
 * `schema` (IF EXISTS for a constraint: the stand-in has only the CHECK and NOT NULL ones, which
 * are all that reach children).
 */
export function oldParentDrops(statements: AlterStatement[], schema: string): string[] {
  return onlyDrops(statements).map(({ statement, cmd }) => {
    const node = structuredClone(statement.node);
    node.relation = { ...node.relation, schemaname: schema, relname: OLD_PARENT };
    node.cmds = [{ AlterTableCmd: cmd.subtype === 'AT_DropConstraint' ? { ...cmd, missing_ok: true } : cmd }];
    return deparseStatement({ kind: 'alter', node, cmds: node.cmds });
  });
}

/** The stand-in of the n-th parent that moved children have after the moving table (moveChildren). */
function laterStandInName(n: number): string {
  return `pgshift_later_parent_${n}`;
}

/** The parents other than `oid` that its legacy inheritance children have after it (moveChildren puts them back in order). */
export async function laterParents(c: Client, oid: string): Promise<string[]> {
  const r = await c.query<{ oid: string }>(
    `SELECT DISTINCT o.inhparent::int8::text AS oid FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid
       JOIN pg_inherits o ON o.inhrelid = i.inhrelid AND o.inhseqno > i.inhseqno
      WHERE i.inhparent = $1::oid AND NOT ch.relispartition ORDER BY 1`,
    [oid],
  );
  return r.rows.map((row) => row.oid);
}
