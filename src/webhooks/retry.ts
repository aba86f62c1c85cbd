/**
 * When a failed webhook delivery is tried again: exponential backoff from
 * `baseMs`, doubling per attempt up to `capMs`, with ±20 % jitter so
 * endpoints that came back are not hit by every retry at once. With the
 * defaults (30 s doubling to 6 h, 13 attempts) a delivery is retried for
 * about 20 hours before it is given up.
 */
export interface RetrySchedule {
  baseMs: number;
  capMs: number;
  /** Attempts in all, the first included; after the last failed one the delivery fails for good. */
  maxAttempts: number;
}

export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = { baseMs: 30_000, capMs: 6 * 3600_000, maxAttempts: 13 };

/** Milliseconds to wait after failed attempt number `attempt` (1 = the first), or null when it was the last. */
export function retryDelayMs(attempt: number, schedule: RetrySchedule, random: () => number = Math.random): number | null {
  if (attempt >= schedule.maxAttempts) return null;
  const delay = Math.min(schedule.baseMs * 2 ** (attempt - 1), schedule.capMs);
  return Math.round(delay * (0.8 + 0.4 * random()));
}
