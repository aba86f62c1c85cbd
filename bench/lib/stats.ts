/**
 * Measuring: latency percentiles, closed-loop load at a given concurrency
 * (every client sends its next request as soon as the previous one
 * answered, like autocannon does), and ratios.
 */

export interface Summary {
  /** Completed operations. */
  count: number;
  errors: number;
  seconds: number;
  perSecond: number;
  /** Latencies in milliseconds. */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(latencies: number[], seconds: number, errors = 0): Summary {
  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((a, b) => a + b, 0);
  return {
    count: latencies.length,
    errors,
    seconds,
    perSecond: latencies.length / seconds,
    mean: latencies.length ? sum / latencies.length : NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
  };
}

export interface LoopOptions {
  concurrency: number;
  durationMs: number;
  /** Run (unrecorded) for this long first. */
  warmupMs?: number;
  /** Stop early after this many recorded operations. */
  maxOps?: number;
  /** One operation by client `client`; throwing counts an error. */
  op: (client: number) => Promise<void>;
}

/** Runs `op` in `concurrency` closed loops for the duration; latencies of the successful ones. */
export async function closedLoop({ concurrency, durationMs, warmupMs = 0, maxOps = Infinity, op }: LoopOptions): Promise<Summary> {
  let firstError: unknown;
  const run = async (ms: number, record: boolean) => {
    const latencies: number[] = [];
    let errors = 0;
    const start = performance.now();
    const deadline = start + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, client) => {
        while (performance.now() < deadline && latencies.length + errors < maxOps) {
          const t0 = performance.now();
          try {
            await op(client);
            if (record) latencies.push(performance.now() - t0);
          } catch (error) {
            errors++;
            firstError ??= error;
          }
        }
      }),
    );
    return summarize(latencies, (performance.now() - start) / 1000, errors);
  };
  if (warmupMs > 0) await run(warmupMs, false);
  const summary = await run(durationMs, true);
  if (summary.count === 0 && firstError) throw firstError;
  if (summary.errors > 0) {
    const message = firstError instanceof Error ? firstError.message : String(firstError);
    process.stderr.write(`  warning: ${summary.errors} operations failed; first error: ${message}\n`);
  }
  return summary;
}

/**
 * Sequential timing of one operation (concurrency 1): `warmup` unrecorded
 * runs, then up to `iterations` recorded ones or until `durationMs` passed.
 */
export async function timeSequential(
  op: () => Promise<void>,
  { iterations, warmup = 3, durationMs = Infinity }: { iterations: number; warmup?: number; durationMs?: number },
): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await op();
  return closedLoop({ concurrency: 1, durationMs, maxOps: iterations, op: () => op() });
}

/**
 * Sequential timing of several operations taking turns (A, B, C, B, C, A, …:
 * the order rotates every round), so that whatever else the machine is doing
 * falls on all of them alike and their ratio holds on a noisy machine.
 * Stops after `iterations` rounds or `durationMs`; returns one summary per
 * operation, in the order given.
 */
export async function timeInterleaved(
  ops: ReadonlyArray<() => Promise<void>>,
  { iterations, warmup = 3, durationMs = Infinity }: { iterations: number; warmup?: number; durationMs?: number },
): Promise<Summary[]> {
  for (let i = 0; i < warmup; i++) for (const op of ops) await op();
  const latencies = ops.map(() => [] as number[]);
  const start = performance.now();
  for (let round = 0; round < iterations && performance.now() - start < durationMs; round++) {
    for (let k = 0; k < ops.length; k++) {
      const i = (k + round) % ops.length;
      const t0 = performance.now();
      await ops[i]!();
      latencies[i]!.push(performance.now() - t0);
    }
  }
  // Each operation's rate is what one client doing only that would get: 1 / its mean latency.
  return latencies.map((l) => summarize(l, l.reduce((a, b) => a + b, 0) / 1000));
}

export const round = (x: number, digits = 2): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

/** product / anchor, rounded; > 1 means the product is slower (for latencies) or faster (for rates). */
export function ratio(product: number, anchor: number): number {
  return round(product / anchor, 2);
}
