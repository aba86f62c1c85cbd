/**
 * Scales the time limits tests and hooks give themselves (`test(name, fn,
 * 60_000)`) by TEST_WAIT_SCALE, as waitBudget scales their waits
 * (test/helpers/eventually.ts): on the Citus run a wait may take three times as
 * long, so the test around it may too. jest's default limit is scaled in
 * jest.config.js. Without TEST_WAIT_SCALE nothing changes.
 */
import { waitBudget } from '../helpers/eventually.ts';

type Registrar = (...args: unknown[]) => unknown;
const g = globalThis as unknown as Record<string, Registrar>;

if (waitBudget(1000) !== 1000) {
  // test/it take (name, fn, timeout); the hooks take (fn, timeout).
  for (const [name, at] of [['test', 2], ['it', 2], ['beforeAll', 1], ['afterAll', 1], ['beforeEach', 1], ['afterEach', 1]] as const) {
    const original = g[name];
    const scaled = (...args: unknown[]) => {
      if (typeof args[at] === 'number') args[at] = waitBudget(args[at]);
      return original(...args);
    };
    // test.each, test.skip, test.only and friends stay as they were.
    g[name] = Object.assign(scaled, original);
  }
}
