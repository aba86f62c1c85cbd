/**
 * Which engine the suite runs on, and the tests that run on one PostgreSQL
 * only. `npm run test:citus` runs the same files on a Citus cluster; a test
 * that cannot run there is declared with `singleNodeTest(reason, …)`, whose
 * reason is one of those below (README's Scale-out section lists them).
 */
import { test } from '@jest/globals';
import { citusWorkerRootUrls } from './test-database.ts';

/** True under `npm run test:citus`. */
const ON_CITUS = citusWorkerRootUrls().length > 0;

export const SINGLE_NODE_REASONS = {
  /**
   * The test asks an insert or update mutation's payload for a computed
   * column of the new row: PostGraphile passes the row as json_build_array()
   * in RETURNING, and Citus refuses non-immutable functions there.
   */
  computedColumnInMutationPayload: "a mutation payload asks for a computed column of its row",
  /**
   * The test runs in one rolled-back transaction (`withTx`, test/helpers/db.ts)
   * that writes as the owner and then reads as a member: Citus refuses a
   * second role in a transaction that modified a distributed table.
   */
  rolledBackTransaction: 'the test writes as the owner and reads as a member in one rolled-back transaction',
} as const;

type Reason = keyof typeof SINGLE_NODE_REASONS;

/** A test that runs on one PostgreSQL and is skipped on Citus, for a listed reason. */
export function singleNodeTest(reason: Reason, name: string, fn: () => Promise<unknown>, timeout?: number): void {
  (ON_CITUS ? test.skip : test)(name, fn, timeout);
}
