/**
 * A per-client request budget for the GraphQL endpoint: at most `perMinute`
 * requests in any fixed one-minute window per key (a signed-in user in one
 * tenant, or the client's IP address when anonymous). In memory, per process:
 * it keeps one client from starving the others on this server; a fleet-wide
 * quota belongs in front of the servers. Off when perMinute is 0.
 */
export interface RateLimiter {
  /** Counts a request; returns the seconds to wait when the budget is spent, else null. */
  take(key: string, now?: number): number | null;
}

const WINDOW_MS = 60_000;

export function makeRateLimiter(perMinute: number): RateLimiter {
  let windowStart = 0;
  let counts = new Map<string, number>();
  return {
    take(key, now = Date.now()) {
      if (perMinute <= 0) return null;
      if (now - windowStart >= WINDOW_MS) {
        windowStart = now - (now % WINDOW_MS);
        counts = new Map();
      }
      const used = (counts.get(key) ?? 0) + 1;
      counts.set(key, used);
      return used > perMinute ? Math.max(1, Math.ceil((windowStart + WINDOW_MS - now) / 1000)) : null;
    },
  };
}
