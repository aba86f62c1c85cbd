/** Jest runs the TypeScript sources as native ES modules, compiled by SWC. */
import os from 'node:os';
export default {
  // jest's Node environment plus the API thread each worker process keeps (test/helpers/api-thread.ts).
  testEnvironment: '<rootDir>/test/setup/environment.js',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
        module: { type: 'es6' },
      },
    ],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // test/citus/ needs a Citus cluster: npm run test:citus starts one and runs it.
  testPathIgnorePatterns: process.env.TEST_CITUS_WORKER_ROOT_URLS ? [] : ['<rootDir>/test/citus/'],
  setupFilesAfterEnv: ['<rootDir>/test/setup/wait-scale.ts'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  // A test's own limit grows with its waits (TEST_WAIT_SCALE, test/helpers/eventually.ts).
  testTimeout: 30000 * Math.max(1, Number(process.env.TEST_WAIT_SCALE ?? '1') || 1),
  // At least two workers: with one, jest runs every file in its own main process
  // (in band), whose ES-module registry outgrows the heap over ~90 files (seen:
  // out of memory at 4 GB on a 2-core machine). A worker whose memory
  // passed 1.5 GB after a file is replaced before the next one.
  maxWorkers: process.env.CI ? 2 : Math.max(2, Math.floor(os.availableParallelism() / 2)),
  workerIdleMemoryLimit: '1500MB',
};
