/**
 * `npm run test:citus`: the test suites of CITUS_SUITES (test/suites.ts) against a real Citus cluster (a
 * coordinator and two workers of Debian's PostgreSQL 15 with Citus built from
 * the vendored source, see src/db/citus-cluster.ts), with every tenant table
 * distributed by tenant_id and the global tables as reference tables
 * (src/db/citus-distribution.ts). Arguments replace the list of suites.
 *
 * README's Scale-out section says which suites do not run here yet and why.
 */
import { startCitusCluster } from '../src/db/citus-cluster.ts';
import { runJest } from './run-jest.ts';
import { CITUS_SUITES } from './suites.ts';


const cluster = await startCitusCluster();
let code = 1;
try {
  const owner = new URL(cluster.coordinator.superuserUrl('penguinmails_test'));
  owner.username = 'penguinmails_owner';
  const args = process.argv.slice(2);
  code = await runJest(args.length ? args : CITUS_SUITES, {
    TEST_DATABASE_URL: owner.toString(),
    TEST_ROOT_DATABASE_URL: cluster.coordinator.superuserUrl(),
    TEST_CITUS_WORKER_ROOT_URLS: cluster.workers.map((w) => w.superuserUrl()).join(','),
    // Waits for effects (eventually, the SMTP sink) get three times as long.
    TEST_WAIT_SCALE: '3',
  });
} finally {
  cluster.stop();
}
process.exit(code);
