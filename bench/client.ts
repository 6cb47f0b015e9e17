import pg from 'pg';

/** One plain client on `url` for the duration of `fn` (the benchmarks' own connections). */
export async function withClientAt<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A benchmark's `--name value` argument, or the fallback. */
export function benchArg(name: string, fallback: string): string;
export function benchArg(name: string, fallback?: string): string | undefined;
export function benchArg(name: string, fallback?: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}

/** `url` with its database replaced by `db` (user, password, host, options kept). */
export function urlWithDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}
