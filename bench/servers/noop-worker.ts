/**
 * Child process: graphile-worker with one no-op task, `bench_noop`, under a
 * given configuration (BENCH_CHILD_CONFIG = {"connectionString", "options"}).
 * Each job carries the wall-clock time (ms, sub-millisecond precision) at
 * which its producer called add_job; the task records how long after that it
 * started. The parent collects the latencies with a `latencies` request.
 */
import { run, type RunnerOptions } from 'graphile-worker';
import { workerLogger } from '../../src/worker/logger.ts';
import { failStart, serveParent } from '../lib/child.ts';

export const NOOP_TASK = 'bench_noop';

const now = () => performance.timeOrigin + performance.now();
let latencies: number[] = [];
let started = 0;

try {
  const config = JSON.parse(process.env.BENCH_CHILD_CONFIG ?? '{}') as {
    connectionString: string;
    options: Pick<RunnerOptions, 'concurrency' | 'pollInterval' | 'preset'>;
  };
  const runner = await run({
    ...config.options,
    connectionString: config.connectionString,
    noHandleSignals: true,
    logger: workerLogger(),
    taskList: {
      [NOOP_TASK]: async (payload) => {
        const t = (payload as { t?: number }).t;
        started++;
        if (typeof t === 'number') latencies.push(now() - t);
      },
    },
  });
  serveParent(
    {
      latencies: () => {
        const out = { started, latencies };
        latencies = [];
        started = 0;
        return out;
      },
      stop: async () => {
        await runner.stop();
        setImmediate(() => process.exit(0));
      },
    },
    {},
  );
} catch (error) {
  failStart(error);
}
