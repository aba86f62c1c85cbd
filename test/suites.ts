/**
 * Which suites run where. `npm test` runs every suite on the embedded
 * PostgreSQL 18; these on the Citus cluster (test/citus.ts), whose nodes are
 * PostgreSQL 15; and the rest, with every database suite, on a plain
 * PostgreSQL 15 (test/pg15.ts). So each suite meets PostgreSQL 15 once,
 * without running twice there: on the cluster the same SQL runs on the
 * coordinator and the workers, distributed.
 *
 * README's Scale-out section says which suites do not run on the cluster yet and why.
 */

/** Path patterns (jest regular expressions) of the suites the Citus run covers. */
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

/**
 * jest arguments for the plain PostgreSQL 15 pass: every suite but those the
 * cluster runs, keeping every database suite (test/db/: schema dump, upgrades,
 * catalogue, constraints) and leaving out test/citus/ (needs a cluster).
 */
export function pg15SuiteArgs(): string[] {
  const skipped = new Set(['test/citus/', ...CITUS_SUITES.filter((pattern) => !pattern.startsWith('test/db/'))]);
  return [`--testPathIgnorePatterns=${[...skipped].map((p) => `/${p}`).join('|')}`];
}
