/**
 * `npm run test:citus`: the test suites below against a real Citus cluster (a
 * coordinator and two workers of Debian's PostgreSQL 15 with Citus built from
 * the vendored source, see src/db/citus-cluster.ts), with every tenant table
 * distributed by tenant_id and the global tables as reference tables
 * (src/db/citus-distribution.ts). Arguments replace the list of suites.
 *
 * README's Scale-out section says which suites do not run here yet and why.
 */
import { startCitusCluster } from '../src/db/citus-cluster.ts';
import { runJest } from './run-jest.ts';

export const CITUS_SUITES = [
  'test/db/catalogue.test.ts',
  'test/citus/',
  'test/api/',
  'test/import/',
  'test/sending/',
  'test/tracking/',
  'test/billing/(done|dunning|plans|plan-features|stripe-sync|stripe-webhooks)',
  'test/deliverability/(dns-checks|domain-verification|reputation)',
  'test/imap/(parse|poller|complaints)',
  'test/crm/',
  'test/inbox/',
  'test/ops/cli.test.ts',
  'test/webhooks/',
  'test/privacy/',
  'test/oauth/',
  'test/notifications/',
];


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
