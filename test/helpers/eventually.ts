/**
 * Polling for a condition in tests: the one place for it (servers, workers
 * and databases are real, so tests wait for effects instead of mocking time).
 */

/** Polls fn every `everyMs` until it returns a truthy value (returned); fails after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
