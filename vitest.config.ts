import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Long-running suites (the fault matrix, sustained load) live in long/ folders and run with
    // their own scripts (PGSHIFT_LONG=1, see package.json); keep the default run quick.
    exclude: [...configDefaults.exclude, ...(process.env.PGSHIFT_LONG ? [] : ['**/long/**'])],
    // One PostgreSQL server for the whole run; each test file makes its own database on it.
    globalSetup: ['test/support/global-setup.ts'],
    // The engine's logs (in-process and in spawned CLIs) go to a file, not into the test output.
    env: { PGSHIFT_LOG_FILE: new URL('./test-logs/engine.log', import.meta.url).pathname },
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Forks, not threads: pg pools and native libpg-query are happier in separate processes, and a
    // hung connection in one file cannot wedge another.
    pool: 'forks',
    // Two cores: more parallel files than that only makes lock-timing tests flaky.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
