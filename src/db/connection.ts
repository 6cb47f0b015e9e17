import type pg from 'pg';

/**
 * Where the engine's connections go: --url (or a URL read from --url-file), else DATABASE_URL,
 * else the libpq variables. The one place a connection target is resolved.
 */
export function connectionConfig(url: string | undefined): pg.PoolConfig {
  return { connectionString: url ?? process.env.DATABASE_URL ?? undefined };
}
