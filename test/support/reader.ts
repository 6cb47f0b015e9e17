// A session reading bound objects (views, materialized views, routines) through a cutover: what
// a reader sees while the swap exchanges what it reads (test/bound-objects.test.ts, test/inherit-tree.test.ts).
import pg from 'pg';

export interface Reader {
  stop(): Promise<{ ok: number; errors: string[]; empty: number }>;
}

/** A session that runs `queries` over and over until stopped, keeping every error it gets. */
export async function startReader(url: string, queries: string[]): Promise<Reader> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  let running = true;
  const tally = { ok: 0, errors: [] as string[], empty: 0 };
  const loop = (async () => {
    while (running) {
      for (const q of queries) {
        try {
          const r = await c.query(q);
          tally.ok++;
          if (Number(r.rows[0]?.n ?? 0) === 0) tally.empty++;
        } catch (err) {
          tally.errors.push(`${q}: ${(err as Error).message}`);
        }
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await c.end();
      return tally;
    },
  };
}
