/**
 * Measures the choice the shadow builder makes: secondary indexes maintained during a chunked
 * copy, or dropped and built once after it. Same table, same chunks, rounds interleaved, so
 * only the ratio matters (this machine's storage drifts).
 *
 *   npm run bench:indexes -- [--rows N] [--url URL]
 */
import pg from 'pg';
import { startEmbeddedServer } from '../src/demo/embedded-server.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const rows = Number(arg('--rows', '1000000'));
const chunk = 50_000;
const rounds = 3;

const server = args.includes('--url') ? null : await startEmbeddedServer();
const url = args.includes('--url') ? arg('--url', '') : server!.url();
const c = new pg.Client({ connectionString: url });
await c.connect();
try {
  await c.query(`DROP TABLE IF EXISTS bench_src, bench_dst;
    CREATE TABLE bench_src (id bigint PRIMARY KEY, account_id int, amount numeric(12,2), memo text, meta jsonb, at timestamptz);
    INSERT INTO bench_src SELECT g, g % 50000, g * 1.5, md5(g::text) || 'abcd', jsonb_build_object('k', g, 'tag', 'x' || (g % 7)), now() - g * interval '1 second'
      FROM generate_series(1, ${rows}) g;`);
  await c.query('VACUUM ANALYZE bench_src');
  const indexes = [
    'CREATE INDEX ON bench_dst (account_id)',
    'CREATE INDEX ON bench_dst (at)',
    'CREATE INDEX ON bench_dst (account_id, at)',
  ];
  const copy = async (): Promise<void> => {
    for (let lo = 0; lo < rows; lo += chunk) {
      await c.query(`INSERT INTO bench_dst SELECT * FROM bench_src WHERE id > $1 AND id <= $2 ORDER BY id`, [lo, lo + chunk]);
    }
  };
  const timed = async (fn: () => Promise<void>): Promise<number> => {
    await c.query(`DROP TABLE IF EXISTS bench_dst; CREATE TABLE bench_dst (LIKE bench_src INCLUDING ALL); CHECKPOINT`);
    const t0 = performance.now();
    await fn();
    return (performance.now() - t0) / 1000;
  };
  const during: number[] = [];
  const after: number[] = [];
  for (let r = 0; r < rounds; r++) {
    during.push(await timed(async () => {
      for (const sql of indexes) await c.query(sql);
      await copy();
    }));
    after.push(await timed(async () => {
      await copy();
      for (const sql of indexes) await c.query(sql);
    }));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`rows ${rows}, chunks of ${chunk}, ${rounds} interleaved rounds (median seconds)`);
  console.log(`indexes maintained during the copy: ${median(during).toFixed(2)}s  (${during.map((x) => x.toFixed(2)).join(', ')})`);
  console.log(`indexes built after the copy:       ${median(after).toFixed(2)}s  (${after.map((x) => x.toFixed(2)).join(', ')})`);
  console.log(`during / after = ${(median(during) / median(after)).toFixed(2)}`);
} finally {
  await c.query('DROP TABLE IF EXISTS bench_src, bench_dst').catch(() => undefined);
  await c.end();
  await server?.stop();
}
