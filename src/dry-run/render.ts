import { formatBytes } from '../plan/disk-space.js';
import { formatDuration } from '../units.js';
import type { Blockers, PlanModel, PlannedChange, TableSummary } from './model.js';

/**
 * The plan printed three ways from the one model: `text` for a terminal, `md` for a change
 * ticket (the runbook's scripts included), `json` for programs (the model itself).
 */
export const PLAN_FORMATS = ['text', 'md', 'json'] as const;
export type PlanFormat = (typeof PLAN_FORMATS)[number];

export function renderPlan(m: PlanModel, format: PlanFormat, written?: string): string {
  if (format === 'json') return `${JSON.stringify(m)}\n`;
  return `${(format === 'md' ? markdown(m, written) : text(m, written)).join('\n')}\n`;
}

const seconds = (s: number): string => formatDuration(s * 1000);

function estimateLine(ch: PlannedChange): string {
  if (!ch.estimate) return `estimated duration: not measured (${ch.unmeasured ?? 'no rehearsal'})`;
  return `estimated duration: ${seconds(ch.estimate.seconds)} (${ch.estimate.basis})`;
}

function totalLine(m: PlanModel): string {
  return m.estimate.seconds === null ? `estimated duration: not measured (${m.estimate.basis})` : `estimated duration: ${seconds(m.estimate.seconds)} in all (${m.estimate.basis})`;
}

function diskText(ch: PlannedChange): string {
  if (!ch.disk) return ch.estimate ? 'disk: nothing written but catalog rows' : 'disk: not measured';
  return `${ch.disk.text}${ch.disk.enough === false ? ' (NOT ENOUGH)' : ''}`;
}

function tableLines(t: TableSummary): string[] {
  const d = t.dependents;
  const list = (xs: string[]): string => (xs.length ? xs.join(', ') : 'none');
  return [
    `table ${t.name}: ~${t.rows} rows, ${formatBytes(t.tableBytes)} + ${formatBytes(t.indexBytes)} of indexes`,
    ...t.indexes.map((i) => `  index ${i.name} (${formatBytes(i.bytes)}${i.valid ? '' : ', INVALID'}): ${i.definition}`),
    `  foreign keys out: ${list(d.foreignKeysOut.map((f) => `${f.name} -> ${f.references}`))}`,
    `  foreign keys in: ${list(d.foreignKeysIn.map((f) => `${f.from}.${f.name}`))}`,
    `  views: ${list(d.views.map((v) => `${v.name}${v.materialized ? ' (materialized)' : ''}`))}`,
    `  triggers: ${list(d.triggers.map((x) => `${x.name} (${x.enabled})`))}`,
    `  policies: ${list(d.policies.map((p) => `${p.name} (${p.command})`))}`,
    `  publications: ${list(d.publications)}`,
  ];
}

function blockerLines(b: Blockers): string[] {
  const lines: string[] = [];
  for (const h of b.lockHolders) lines.push(`  pid ${h.pid} (${h.application || 'no application_name'}, ${h.state}) ${h.granted ? 'holds' : 'waits for'} ${h.mode} on ${h.table}${h.seconds === null ? '' : `, transaction open ${h.seconds.toFixed(1)}s`}`);
  for (const l of b.longTransactions) lines.push(`  long transaction: pid ${l.pid} (${l.application || 'no application_name'}, ${l.state}) open ${l.seconds.toFixed(1)}s: ${l.query.replace(/\s+/g, ' ').slice(0, 100)}`);
  for (const p of b.prepared) lines.push(`  prepared transaction '${p.gid}' (prepared ${p.prepared} by ${p.owner}${p.locksTables ? ', holds a lock on the table' : ''}): end it with ${p.end}`);
  for (const u of b.unreadable) lines.push(`  (${u})`);
  return [`blockers now: ${b.lockHolders.length + b.longTransactions.length + b.prepared.length ? '' : 'none'} (lock holders on the table; transactions open over ${b.olderThanSeconds}s; prepared transactions)`, ...lines];
}

function text(m: PlanModel, written?: string): string[] {
  const lines: string[] = [`pgshift ${m.command}: the plan (PostgreSQL ${m.server.version}, ${m.createdAt}); nothing was changed`];
  for (const t of m.tables) lines.push(...tableLines(t));
  lines.push('');
  m.changes.forEach((ch, i) => lines.push(...(m.command === 'migrate up' ? statementText(ch, m.changes[i - 1]) : callText(ch))));
  if (m.changes.length === 1 && m.command !== 'migrate up') lines.push(`overall: ${m.changes[0]!.strategy}: ${m.changes[0]!.why}`);
  lines.push('', ...blockerLines(m.blockers), totalLine(m), ...runbookLines(m, written), ...m.notes);
  return lines;
}

/** A call of plan or alter: each subcommand's decision, then the call's steps, disk and estimate. */
function callText(ch: PlannedChange): string[] {
  const lines = [`${ch.label}: ${firstLine(ch.sql)}`, `  strategy ${ch.strategy}: ${ch.why}`];
  for (const d of ch.decisions) {
    lines.push(`  ${d.subcommand}`, `    strategy ${d.strategy}: ${d.why}`, `    lock ${d.lock}, held: ${d.hold}; rewrites the table: ${d.rewrites ? 'yes' : 'no'}; scans it: ${d.scans ? 'yes' : 'no'}`);
    for (const step of d.steps) lines.push(`    step: ${step}`);
  }
  for (const l of ch.details) lines.push(`  ${l}`);
  return [...lines, ...stepsText(ch, '  ')];
}

/** A statement of migrate up: its segment (statements sharing one commit together), then as a call's. */
function statementText(ch: PlannedChange, before: PlannedChange | undefined): string[] {
  const lines: string[] = [];
  if (!before || before.segment !== ch.segment) lines.push(`segment ${ch.segment}${['statement', 'instant', 'direct'].includes(ch.strategy) ? ' (one transaction)' : ' (alone, online)'}`);
  const lock = ch.lock ? `lock ${ch.lock}, held: ${ch.hold}; rewrites the table: ${ch.rewrites ? 'yes' : 'no'}` : ch.strategy === 'backfill' ? 'row locks only, one batch at a time' : 'run as written';
  lines.push(`  ${ch.label}: ${ch.strategy}: ${firstLine(ch.sql)}`, `      ${ch.why}`, `      ${lock}`);
  return [...lines, ...stepsText(ch, '      ')];
}

function stepsText(ch: PlannedChange, pad: string): string[] {
  const lines = [`${pad}${estimateLine(ch)}`];
  for (const p of ch.estimate?.parts ?? []) lines.push(`${pad}  ${p.what}: ${seconds(p.seconds)} (${p.measured})`);
  lines.push(`${pad}${diskText(ch)}`, `${pad}steps, in order:`);
  ch.steps.forEach((s, i) => {
    lines.push(`${pad}  ${i + 1}. ${s.name}: lock ${s.lock} on ${s.on}, held: ${s.hold}`);
    for (const sql of s.sql) lines.push(...sql.split('\n').map((l) => `${pad}       ${l}`));
  });
  return lines;
}

function runbookLines(m: PlanModel, written?: string): string[] {
  const files = m.runbook.scripts.map((s) => `${s.file} (${s.purpose})`);
  return [
    files.length ? `runbook: ${files.join('; ')}${written ? `; written to ${written}` : '; --runbook-dir DIR writes them, --format md prints them'}` : 'runbook: none',
    ...m.runbook.notes.map((n) => `  ${n}`),
  ];
}

function firstLine(sql: string): string {
  const line = sql.split('\n')[0]!;
  return line.length > 120 ? `${line.slice(0, 117)}...` : line + (sql.includes('\n') ? ' ...' : '');
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function markdown(m: PlanModel, written?: string): string[] {
  const out = [`# pgshift ${m.command}: plan`, '', `PostgreSQL ${m.server.version}, ${m.createdAt}. Nothing was changed: every measurement ran in a transaction that was rolled back.`, ''];
  out.push(`**Estimated duration:** ${m.estimate.seconds === null ? `not measured (${m.estimate.basis})` : `${seconds(m.estimate.seconds)} (${m.estimate.basis})`}`, '');
  for (const t of m.tables) {
    const d = t.dependents;
    out.push(`## Table ${t.name}`, '', `| rows (estimate) | table | indexes |`, '|---|---|---|', `| ~${t.rows} | ${formatBytes(t.tableBytes)} | ${formatBytes(t.indexBytes)} |`, '');
    out.push('| index | size | definition |', '|---|---|---|', ...t.indexes.map((i) => `| ${i.name}${i.valid ? '' : ' (INVALID)'} | ${formatBytes(i.bytes)} | \`${cell(i.definition)}\` |`), '');
    out.push('| depends | what |', '|---|---|');
    const row = (k: string, xs: string[]): string => `| ${k} | ${xs.length ? cell(xs.join(', ')) : 'none'} |`;
    out.push(
      row('foreign keys out', d.foreignKeysOut.map((f) => `${f.name} → ${f.references}`)),
      row('foreign keys in', d.foreignKeysIn.map((f) => `${f.from}.${f.name}`)),
      row('views', d.views.map((v) => `${v.name}${v.materialized ? ' (materialized)' : ''}`)),
      row('triggers', d.triggers.map((x) => `${x.name} (${x.enabled})`)),
      row('policies', d.policies.map((p) => `${p.name} (${p.command})`)),
      row('publications', d.publications),
      '',
    );
  }
  out.push('## Blockers now', '', ...blockerLines(m.blockers).slice(1).map((l) => `- ${l.trim()}`));
  if (blockerLines(m.blockers).length === 1) out.push('- none');
  out.push('', `(lock holders on the table, transactions open over ${m.blockers.olderThanSeconds}s, prepared transactions)`, '');
  for (const ch of m.changes) {
    out.push(`## ${ch.label}${ch.segment === undefined ? '' : ` (segment ${ch.segment})`}: ${ch.strategy}`, '', '```sql', ch.sql, '```', '', `**Strategy ${ch.strategy}:** ${ch.why}`, '');
    if (ch.decisions.length) {
      out.push('| subcommand | strategy | why | lock | held | rewrites |', '|---|---|---|---|---|---|');
      for (const d of ch.decisions) out.push(`| \`${cell(d.subcommand)}\` | ${d.strategy} | ${cell(d.why)} | ${d.lock} | ${d.hold} | ${d.rewrites ? 'yes' : 'no'} |`);
      out.push('');
    }
    if (ch.details.length) out.push(...ch.details.map((l) => `- ${l}`), '');
    out.push('### Steps', '', '| # | step | lock | on | held |', '|---|---|---|---|---|', ...ch.steps.map((s, i) => `| ${i + 1} | ${cell(s.name)} | ${s.lock} | ${s.on} | ${cell(s.hold)} |`), '');
    ch.steps.forEach((s, i) => out.push(`${i + 1}. ${s.name}`, '', '```sql', ...s.sql.map((q) => `${q.replace(/;\s*$/, '')};`), '```', ''));
    out.push(`**Disk:** ${diskText(ch).replace(/^disk: /, '')}`, '', `**${estimateLine(ch).replace(/^estimated duration/, 'Estimated duration**')}`, '');
    if (ch.estimate?.parts.length) out.push('| part | time | measured |', '|---|---|---|', ...ch.estimate.parts.map((p) => `| ${cell(p.what)} | ${seconds(p.seconds)} | ${cell(p.measured)} |`), '');
  }
  out.push('## Runbook', '', ...m.runbook.notes.map((n) => `- ${n}`), '');
  if (written) out.push(`Written to \`${written}\`.`, '');
  for (const s of m.runbook.scripts) out.push(`### ${s.file}`, '', s.purpose, '', '```sql', s.sql.trimEnd(), '```', '');
  if (m.notes.length) out.push('## Notes', '', ...m.notes.map((n) => `- ${n}`), '');
  return out;
}
