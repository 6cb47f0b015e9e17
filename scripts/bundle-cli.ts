/**
 * The command line as one file: dist/src/cli/main.js, as tsc emitted it (an ES module importing
 * some 180 others), is replaced by the same code bundled by esbuild, the packages it imports left
 * as imports. Node then loads one module of pgshift's instead of resolving and linking each: the
 * start of every command, measured with `pgshift --version` (npm run bench reports it as
 * cli_start_s). The other modules stay in dist/ for the library (dist/src/index.js) and for the
 * max-load worker. Without this step the emitted main.js runs the same, only slower to start.
 */
import { buildSync } from 'esbuild';
import { renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const bundled = `${main}.bundle`;
buildSync({ entryPoints: [main], outfile: bundled, bundle: true, platform: 'node', format: 'esm', packages: 'external', target: 'node20', logLevel: 'warning' });
renameSync(bundled, main);
