/**
 * `npm run test:pg15`: the whole jest suite against Debian's PostgreSQL 15
 * (package postgresql-15), in a throw-away cluster, so both supported major
 * versions are proven. The embedded server covers PostgreSQL 18.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/db/embedded.ts';
import { startSystemNode } from '../src/db/system-postgres.ts';
import { runJest } from './run-jest.ts';

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
  code = await runJest(process.argv.slice(2), {
    TEST_DATABASE_URL: owner.toString(),
    TEST_ROOT_DATABASE_URL: node.superuserUrl(),
  });
} finally {
  node.stop();
}
process.exit(code);
