import { parseSync } from 'libpg-query';
import type { Client } from '../db/session.js';
import { ident, qualified } from '../db/quote.js';
import { deparseStatement, loadParser, type AlterStatement, type Node } from '../plan/parse.js';
import { attachIndexSql, attachSql, deparseIndex, type Classification, type Decision, type Step } from '../strategy/classify.js';
import { unitsOf } from '../migration/without-copy.js';
import { inverseOf } from '../migrate/inverse.js';
import { foreignKeyColumns, orphanCondition } from '../verify/foreign-keys.js';
import type { Runbook } from '../dry-run/model.js';
import { guard, scriptText, sessionSettings, type Section } from './script.js';

/**
 * A change without a copy as SQL scripts: forward runs the units pgshift runs (consecutive
 * instant changes in one transaction; each online route step by step: its read-only checks as
 * guards that stop the script, NOT VALID then VALIDATE, CREATE INDEX CONCURRENTLY then USING
 * INDEX; a direct change as written, in one transaction); abort removes what forward added, from
 * any point, newest first (every statement may run when its object is absent); revert is the
 * same after a finished forward; cleanup has nothing to do (a route leaves nothing behind).
 * Where a change has no sure inverse (a DROP COLUMN, a type change), the scripts say so.
 */
export interface RoutesRunbookInput {
  table: { schema: string; name: string };
  statements: AlterStatement[];
  classification: Classification;
  lockTimeoutMs: number;
  searchPath: string;
}

export async function routesRunbook(c: Client, x: RoutesRunbookInput): Promise<Runbook> {
  await loadParser();
  const table = qualified(x.table.schema, x.table.name);
  const units = unitsOf(x.classification, x.statements);
  const settings: Section = { title: 'session settings', statements: sessionSettings(x.searchPath, x.lockTimeoutMs) };
  const forward: Section[] = [settings];
  for (const u of units) {
    if (u.kind === 'locked') {
      forward.push({
        title: x.classification.overall.strategy === 'direct' ? 'the statements as written, in one transaction' : 'catalog-only changes, in one transaction',
        notes: [`locks: ${strongest(x.classification.decisions)} on ${x.table.schema}.${x.table.name}${x.classification.overall.strategy === 'direct' ? ', for as long as the statements take' : ', for milliseconds'}`, 'on a lock timeout: ROLLBACK; and run this section again'],
        statements: ['BEGIN', `SET LOCAL lock_timeout = '${x.lockTimeoutMs}ms'`, ...u.statements, 'COMMIT'],
      });
    } else {
      for (const step of u.decision.route) forward.push(await stepSection(c, u.decision, step, table, x.lockTimeoutMs));
    }
  }
  const undo = undoStatements(x, units, table);
  const notes = undo.unsure.map((s) => `no sure inverse, not in abort.sql or revert.sql: ${s}`);
  const head = (what: string, more: string[] = []): string[] => [
    `pgshift runbook: ${what}`,
    `table ${x.table.schema}.${x.table.name}, strategy: ${x.classification.overall.strategy} (no copy)`,
    ...x.statements.map((s) => `statement: ${deparseStatement(s)}`),
    ...more,
    'Run as the table\'s owner, e.g. psql -v ON_ERROR_STOP=1 -f <file>, outside a transaction block (CONCURRENTLY cannot run in one).',
    `Every lock waits at most lock_timeout (${x.lockTimeoutMs}ms): when one times out, the section stops; run it again.`,
  ];
  const undoSections = (title: string): Section[] => [settings, { title, statements: undo.statements.length ? undo.statements : ["SELECT 'nothing to undo' AS note"] }];
  return {
    scripts: [
      { name: 'forward', file: 'forward.sql', purpose: 'the change, as pgshift runs it', sql: scriptText(head('forward'), forward) },
      {
        name: 'abort', file: 'abort.sql', purpose: 'removes what forward.sql added, from any point, newest first',
        sql: scriptText(head('abort', ['Safe at any point of forward.sql, and again: each statement skips what is not there.', ...notes]), undoSections('undo, newest first')),
      },
      {
        name: 'revert', file: 'revert.sql', purpose: 'undoes a finished forward.sql (what was written into added columns or constraints is lost with them)',
        sql: scriptText(head('revert', ['LOSES what was written into what the change added (an added column\'s values).', ...notes]), undoSections('undo, newest first')),
      },
      {
        name: 'cleanup', file: 'cleanup.sql', purpose: 'nothing to do: a route without a copy leaves nothing behind',
        sql: scriptText(head('cleanup'), [{ title: 'nothing to clean up: the change is in place and nothing else was made', statements: ["SELECT 'nothing to clean up' AS note"] }]),
      },
    ],
    notes,
  };
}

/** One step of an online route as a script section: its SQL, in a transaction where it takes a lock, a check as a guard. */
export async function stepSection(c: Client, d: Decision, step: Step, table: string, lockTimeoutMs: number): Promise<Section> {
  const of = d.subcommand;
  switch (step.kind) {
    case 'check':
      return { title: `read-only check for ${of}`, notes: ['stops here when the rows there now break the rule (offline the ALTER fails the same way); nothing added yet'], statements: [guard(`(${step.sql})`, `${step.violation}: nothing was added`)] };
    case 'check-foreign-key': {
      const k = await foreignKeyColumns(c, step.node);
      const sql = `SELECT EXISTS (SELECT 1 FROM ${step.table} s WHERE ${orphanCondition('s', { ...k, matchFull: step.node.fk_matchtype === 'f' })})`;
      return { title: `read-only check for ${of}`, notes: [`stops here when a row references no row of ${k.parent}`], statements: [guard(`(${sql})`, `foreign key ${step.constraint} is violated: some row references no row of ${k.parent}; nothing was added`)] };
    }
    case 'locked':
      return {
        title: `catalog change for ${of}${step.on ? ` on ${step.on}` : ''}`,
        notes: [`locks: ${step.lock ?? d.lock} on ${step.on ?? 'the table'} for milliseconds`, 'on a lock timeout: ROLLBACK; and run this section again'],
        statements: ['BEGIN', `SET LOCAL lock_timeout = '${lockTimeoutMs}ms'`, ...step.sql, 'COMMIT'],
      };
    case 'build-index':
      return {
        title: `index ${step.name}, built CONCURRENTLY${step.attach ? `, then attached as ${step.attach.type} constraint ${step.attach.constraint}` : ''}${step.attachTo ? ` on ${step.table}, then attached to ${step.attachTo}` : ''}`,
        notes: [
          'locks: SHARE UPDATE EXCLUSIVE (reads and writes go on); it waits for transactions older than itself',
          `if it fails, an invalid index ${step.name} stays: abort.sql removes it (DROP INDEX CONCURRENTLY IF EXISTS) before this runs again`,
        ],
        statements: [
          deparseIndex({ ...step.node, idxname: step.name, concurrent: true }),
          ...(step.attach ? ['BEGIN', `SET LOCAL lock_timeout = '${lockTimeoutMs}ms'`, attachSql(table, step.attach, step.name), 'COMMIT'] : []),
          ...(step.attachTo ? ['BEGIN', `SET LOCAL lock_timeout = '${lockTimeoutMs}ms'`, attachIndexSql(step), 'COMMIT'] : []),
        ],
      };
    case 'drop-index':
      return { title: `drop for ${of}`, notes: ['locks: SHARE UPDATE EXCLUSIVE; it waits for transactions using the index'], statements: [step.sql] };
    case 'validate':
      return { title: `VALIDATE for ${of}${step.on ? ` on ${step.on}` : ''}`, notes: ['locks: SHARE UPDATE EXCLUSIVE while it scans (reads and writes go on)'], statements: [step.sql] };
  }
}

function strongest(decisions: Decision[]): string {
  const order = ['SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'];
  return decisions.map((d) => d.lock).sort((a, b) => order.indexOf(b) - order.indexOf(a))[0] ?? 'ACCESS EXCLUSIVE';
}

/**
 * What undoes forward, newest first, each statement harmless when its object is absent: a
 * route's own undo (strategy/classify.ts) and the inverse of what it made (its index, its
 * constraint, SET NOT NULL); an instant or direct statement's inverse from its parse tree
 * (migrate/inverse.ts), made to skip what is not there. `unsure`: what has none.
 */
function undoStatements(x: RoutesRunbookInput, units: ReturnType<typeof unitsOf>, table: string): { statements: string[]; unsure: string[] } {
  const statements: string[] = [];
  const unsure: string[] = [];
  for (const u of [...units].reverse()) {
    if (u.kind === 'locked') {
      for (const sql of [...u.statements].reverse()) {
        const inv = inverseOfText(sql);
        if (inv) statements.push(...inv);
        else unsure.push(sql);
      }
      continue;
    }
    const d = u.decision;
    if (d.route.some((s) => s.kind === 'drop-index')) unsure.push(d.subcommand);
    statements.push(...routeUndo(d, table, x.table.schema));
  }
  return { statements, unsure };
}

/** What removes one route's additions and its result, each statement harmless when its object is absent. */
export function routeUndo(d: Decision, table: string, schema: string): string[] {
  const own: string[] = [];
  for (const step of d.route) {
    if (step.kind === 'build-index') {
      if (step.attach) own.push(`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${ident(step.attach.constraint)}`);
      own.push(`DROP INDEX CONCURRENTLY IF EXISTS ${qualified(step.schema ?? schema, step.name)}`);
    }
    if (step.kind === 'validate') own.push(`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${ident(step.constraint)}`);
  }
  const notNull = /ALTER COLUMN (\S+) SET NOT NULL$/.exec(d.subcommand);
  if (notNull) own.push(`ALTER TABLE ${table} ALTER COLUMN ${notNull[1]} DROP NOT NULL`);
  return [...new Set([...d.undo, ...own])];
}

/** The inverse of one statement, each part made to skip an absent object; null: none is sure. */
export function inverseOfText(sql: string): string[] | null {
  let node: Node;
  try {
    node = parseSync(sql).stmts?.[0]?.stmt;
  } catch {
    return null;
  }
  const inv = node ? inverseOf(node) : null;
  if (!inv) return null;
  return inv.map((s) =>
    s.replace(/ DROP COLUMN (?!IF EXISTS)/, ' DROP COLUMN IF EXISTS ').replace(/ DROP CONSTRAINT (?!IF EXISTS)/, ' DROP CONSTRAINT IF EXISTS ').replace(/^DROP INDEX CONCURRENTLY (?!IF EXISTS)/, 'DROP INDEX CONCURRENTLY IF EXISTS ').replace(/^DROP TABLE (?!IF EXISTS)/, 'DROP TABLE IF EXISTS '),
  );
}
