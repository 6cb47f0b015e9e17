import type { ReportModel } from './model.js';
import { chartSummary, sections, title } from './sections.js';

/** report.md: the report's sections as Markdown; each chart summed up in a line (report.html draws them). */
export function renderMarkdown(m: ReportModel): string {
  const out = [`# ${title(m)}`, ''];
  for (const s of sections(m)) {
    out.push(`## ${s.title}`, '');
    if (s.kind === 'facts') out.push(...table(['', ''], s.rows));
    else if (s.kind === 'table') out.push(...(s.rows.length ? table(s.head, s.rows) : [s.empty]));
    else if (s.kind === 'chart') out.push(...chartSummary(s).map((l) => `- ${l}`));
    else out.push(...s.lines);
    out.push('');
  }
  out.push('The charts are drawn in report.html; report.json holds every figure.', '');
  return out.join('\n');
}

function table(head: string[], rows: string[][]): string[] {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [`| ${head.map(cell).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}
