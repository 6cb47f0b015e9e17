import { literal } from '../db/quote.js';

/**
 * A runbook script as text: a header of comments, then numbered sections, each a comment that
 * says what it does and what it locks, and its statements, one per line group, each ending in
 * a semicolon, so psql (or any client that splits on the parser's statement boundaries) runs
 * it as written. No psql meta-commands: a script runs through any client.
 */
export interface Section {
  title: string;
  notes?: string[];
  statements: string[];
}

export function scriptText(header: string[], sections: Section[]): string {
  const out = header.map(comment);
  sections.forEach((s, i) => {
    out.push('', comment(`${i + 1}. ${s.title}`));
    for (const n of s.notes ?? []) out.push(comment(`   ${n}`));
    for (const st of s.statements) out.push(`${st.trimEnd().replace(/;$/, '')};`);
  });
  return `${out.join('\n')}\n`;
}

function comment(line: string): string {
  return line.split('\n').map((l) => `--${l ? ` ${l}` : ''}`).join('\n');
}

/** A tag for dollar quoting that the body does not contain. */
export function dollarTag(body: string): string {
  let tag = '$pgshift$';
  for (let n = 1; body.includes(tag); n++) tag = `$pgshift${n}$`;
  return tag;
}

export function doBlock(body: string): string {
  const tag = dollarTag(body);
  return `DO ${tag}\n${body}\n${tag}`;
}

/** Stops the script (an error) when `condition` holds, saying why and what to do. */
export function guard(condition: string, message: string): string {
  return doBlock(`BEGIN\n  IF ${condition} THEN\n    RAISE EXCEPTION '%', ${literal(message)};\n  END IF;\nEND`);
}

/** The settings every script starts with: the plan's search_path, a short lock_timeout, row security off. */
export function sessionSettings(searchPath: string, lockTimeoutMs: number): string[] {
  return [
    `SELECT pg_catalog.set_config('search_path', ${literal(searchPath)}, false)`,
    `SET lock_timeout = '${Math.max(1, Math.round(lockTimeoutMs))}ms'`,
    'SET statement_timeout = 0',
    'SET row_security = off',
  ];
}
