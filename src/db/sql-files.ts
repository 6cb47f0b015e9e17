import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SqlText } from './quote.js';

/**
 * SQL lives in sql/*.sql with {{name}} placeholders for identifiers only; values stay $n
 * parameters. The folder is found by walking up from this module, so the same code works from
 * src/ under vitest and from dist/ after the build.
 */
function findSqlDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'sql')) && existsSync(join(dir, 'package.json'))) return join(dir, 'sql');
    dir = dirname(dir);
  }
  throw new Error('pgshift: cannot find its sql/ folder');
}

const SQL_DIR = findSqlDir();
const cache = new Map<string, string>();

export function sqlFile(name: string, names: Record<string, SqlText> = {}): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(join(SQL_DIR, name), 'utf8');
    cache.set(name, text);
  }
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = names[key];
    if (value === undefined) throw new Error(`sql/${name}: no value for {{${key}}}`);
    return value;
  });
}
