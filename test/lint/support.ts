import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lint, type LintReport } from '../../src/lint/lint.js';

/** A fresh folder under the system's temporary directory, with the given files. */
export function folder(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-lint-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** Lints one dbmate file whose up section is `up` (and down section `down`), for `version`. */
export async function lintUp(up: string, opts: { version?: string; down?: string; header?: string } = {}): Promise<LintReport> {
  const text = `${opts.header ?? '-- migrate:up'}\n${up}\n${opts.down === undefined ? '' : `-- migrate:down\n${opts.down}\n`}`;
  return lint({ paths: [folder({ '20240101000000_test.sql': text })], pgVersion: opts.version });
}

/** The rule ids a report found, in order, without missing-lock-timeout (tested on its own). */
export function rules(r: LintReport): string[] {
  return r.findings.map((f) => f.rule).filter((id) => id !== 'missing-lock-timeout');
}
