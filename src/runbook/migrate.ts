import type { Client } from '../db/session.js';
import { literal, qualified } from '../db/quote.js';
import type { PlannedStatement } from '../migrate/runner.js';
import type { MigrationFile } from '../migrate/files.js';
import type { Runbook } from '../dry-run/model.js';
import { inverseOfText, routeUndo, stepSection } from './routes.js';
import { scriptText, sessionSettings, type Section } from './script.js';

/**
 * `migrate up`'s pending statements as scripts: forward runs them as pgshift would, segment by
 * segment (statements sharing a transaction together; an online route step by step); abort
 * undoes what forward did, newest first, where an inverse is sure; revert runs the files' down
 * sections, newest first; cleanup has nothing to do. An online copy or a backfill inside a file
 * is named, not written out: pgshift plan "<statement>" writes a copy's own runbook, and a
 * backfill is a batched UPDATE pgshift throttles.
 */
export async function migrateRunbook(c: Client, planned: PlannedStatement[], files: MigrationFile[], o: { lockTimeoutMs: number; searchPath: string }): Promise<Runbook> {
  const settings: Section = { title: 'session settings', statements: sessionSettings(o.searchPath, o.lockTimeoutMs) };
  const forward: Section[] = [settings];
  const undo: string[] = [];
  const unsure: string[] = [];
  const notes: string[] = [];
  for (let i = 0; i < planned.length; ) {
    const p = planned[i]!;
    const table = p.table ? qualified(p.table.schema, p.table.name) : '';
    const where = `${p.version} line ${p.line}`;
    if (p.strategy === 'copy' || p.strategy === 'backfill') {
      const what = p.strategy === 'copy' ? `an online copy: pgshift plan "${p.sql.replace(/;\s*$/, '')}" writes its own runbook` : 'a backfill: pgshift runs it in throttled batches of keys';
      forward.push({ title: `${where}: ${what}`, statements: [`SELECT ${literal(`${where}: run with pgshift migrate up`)} AS note`] });
      unsure.push(`${where} (${p.strategy})`);
      i++;
      continue;
    }
    if (p.strategy === 'online') {
      for (const d of p.decisions) {
        for (const step of d.route) {
          const section = await stepSection(c, d, step, table, o.lockTimeoutMs);
          forward.push({ ...section, title: `${where}: ${section.title}` });
        }
      }
      for (const d of [...p.decisions].reverse()) undo.unshift(...routeUndo(d, table, p.table!.schema));
      i++;
      continue;
    }
    // A segment: the statements sharing its number run in one transaction.
    const seg = planned.filter((q) => q.segment === p.segment);
    const sql = seg.flatMap((q) => (q.strategy === 'instant' ? q.decisions.flatMap((d) => d.route.flatMap((s) => (s.kind === 'locked' ? s.sql : []))) : [q.sql.replace(/;\s*$/, '')]));
    forward.push({ title: `${seg.map((q) => `${q.version} line ${q.line}`).join(', ')}: one transaction`, notes: ['on a lock timeout: ROLLBACK; and run this section again'], statements: ['BEGIN', `SET LOCAL lock_timeout = '${o.lockTimeoutMs}ms'`, ...sql, 'COMMIT'] });
    for (const s of sql) {
      const inv = inverseOfText(s);
      if (inv) undo.unshift(...inv);
      else unsure.push(firstLine(s));
    }
    i += seg.length;
  }
  if (unsure.length) notes.push(`abort.sql has no sure inverse of: ${unsure.join('; ')}`);
  const versions = new Set(planned.map((p) => p.version));
  const downs = files.filter((f) => versions.has(f.version)).reverse();
  const revert: Section[] = [settings, ...downs.map((f) => ({ title: `${f.version} ${f.name}: its down section`, statements: f.down?.statements.length ? f.down.statements.map((s) => s.sql) : [`SELECT ${literal(`${f.version} has no down section`)} AS note`] }))];
  for (const f of downs) if (!f.down?.statements.length) notes.push(`revert.sql: ${f.version} ${f.name} has no down section`);
  const head = (what: string): string[] => [
    `pgshift runbook: ${what}`,
    `migrate up: ${planned.length} pending statement(s) of ${versions.size} file(s)`,
    'Run with psql -v ON_ERROR_STOP=1 -f <file>, outside a transaction block. This does not record the files as applied: pgshift migrate mark applied <version> does.',
  ];
  return {
    scripts: [
      { name: 'forward', file: 'forward.sql', purpose: 'the pending statements as pgshift runs them', sql: scriptText(head('forward'), forward) },
      { name: 'abort', file: 'abort.sql', purpose: 'undoes forward.sql from any point, newest first, where an inverse is sure', sql: scriptText(head('abort'), [settings, { title: 'undo, newest first', statements: undo.length ? undo : ["SELECT 'nothing to undo' AS note"] }]) },
      { name: 'revert', file: 'revert.sql', purpose: "the files' down sections, newest first", sql: scriptText(head('revert'), revert) },
      { name: 'cleanup', file: 'cleanup.sql', purpose: 'nothing to do', sql: scriptText(head('cleanup'), [{ title: 'nothing to clean up', statements: ["SELECT 'nothing to clean up' AS note"] }]) },
    ],
    notes,
  };
}

function firstLine(sql: string): string {
  const l = sql.split('\n')[0]!;
  return l.length > 80 ? `${l.slice(0, 77)}...` : l;
}
