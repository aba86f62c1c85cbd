/**
 * `npm run test:pg15`: jest against Debian's PostgreSQL 15 (package
 * postgresql-15), in a throw-away cluster, so both supported major versions
 * are proven; the embedded server covers PostgreSQL 18. By default the suites
 * the Citus run does not cover (its nodes are PostgreSQL 15 too) and every
 * database suite (test/suites.ts); arguments replace that list (`npm run
 * test:pg15 -- test/` runs everything).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/db/embedded.ts';
import { startSystemNode } from '../src/db/system-postgres.ts';
import { runJest } from './run-jest.ts';
import { pg15SuiteArgs } from './suites.ts';

const node = startSystemNode({
  dir: path.join(os.tmpdir(), `penguinmails-pg15-${process.pid}`),
  port: await freePort(),
  superuserPassword: randomBytes(12).toString('hex'),
  settings: { max_connections: '200' },
});
let code = 1;
try {
  const owner = new URL(node.superuserUrl('penguinmails_test'));
  owner.username = 'penguinmails_owner';
  const args = process.argv.slice(2);
  code = await runJest(args.length ? args : pg15SuiteArgs(), {
    TEST_DATABASE_URL: owner.toString(),
    TEST_ROOT_DATABASE_URL: node.superuserUrl(),
  });
} finally {
  node.stop();
}
process.exit(code);
