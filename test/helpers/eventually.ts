/**
 * Polling for a condition in tests: the one place for it (servers, workers
 * and databases are real, so tests wait for effects instead of mocking time).
 */

/**
 * How much longer than on one node a test may wait for an effect. The Citus
 * run (test/citus.ts) sets TEST_WAIT_SCALE: there every statement crosses
 * nodes, three PostgreSQL servers share the cores with eight suites, and an
 * effect that takes 2 s on one node can take 10 s. Scaling a deadline only
 * matters when a test would fail: a condition met early returns at once.
 */
export function waitBudget(ms: number): number {
  const scale = Number(process.env.TEST_WAIT_SCALE ?? '1');
  return Number.isFinite(scale) && scale > 1 ? Math.round(ms * scale) : ms;
}

/** Polls fn every `everyMs` until it returns a truthy value (returned); fails after `timeoutMs` (scaled by waitBudget). */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const budget = waitBudget(timeoutMs);
  const deadline = Date.now() + budget;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${budget} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
