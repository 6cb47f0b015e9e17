import fs from 'node:fs';
import path from 'node:path';

/** A URL without its password: targets files never carry one. */
export function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

/**
 * The environment a fleet's CLI runs with: a password file (0600) holding the test servers'
 * passwords, as an operator's ~/.pgpass would, so that the targets file has none.
 */
export function fleetEnv(dir: string, urls: string[]): Record<string, string> {
  const file = path.join(dir, 'pgpass');
  const lines = urls.map((url) => {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}:*:${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  });
  fs.writeFileSync(file, `${[...new Set(lines)].join('\n')}\n`, { mode: 0o600 });
  return { PGPASSFILE: file };
}
