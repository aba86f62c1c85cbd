/**
 * Figure 5 — Jobs: graphile-worker running a no-op task in its own process,
 * under several configurations:
 *   - graphile-worker's defaults (the anchor),
 *   - ours (src/worker/runner.ts: WORKER_CONCURRENCY, pollInterval 1000),
 *   - ours plus the batching options graphile-worker documents for
 *     throughput (a local queue and batched completion).
 * For each: trigger-to-start latency (add_job at a steady rate from SQL, the
 * way our triggers queue work; latency = task start − the moment add_job was
 * sent) and throughput (a burst of jobs queued with one add_jobs call; jobs
 * completed per second until the queue is empty or the run's time is up).
 */
import pg from 'pg';
import type { RunnerOptions } from 'graphile-worker';
import { workerSettings } from '../../src/worker/runner.ts';
import { startChild } from '../lib/child.ts';
import { benchFile, type BenchContext } from '../lib/context.ts';
import { compare, type Comparison, type FigureResult, type Measurement } from '../lib/report.ts';
import { summarize, type Summary } from '../lib/stats.ts';

const TASK = 'bench_noop';
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Config {
  key: string;
  label: string;
  options: Pick<RunnerOptions, 'concurrency' | 'pollInterval' | 'preset'>;
}

export function configurations(workerConcurrency: number): Config[] {
  const ours = workerSettings(workerConcurrency);
  const queue = ours.preset?.worker?.localQueue?.size;
  return [
    { key: 'defaults', label: 'graphile-worker defaults (concurrency 1, pollInterval 2000)', options: {} },
    {
      key: 'ours',
      label: `ours (runner.ts: concurrency ${workerConcurrency}, pollInterval ${ours.pollInterval}, localQueue ${queue}, batched completion)`,
      options: ours,
    },
    {
      // Our settings before the local queue: one job fetched and completed per round trip.
      key: 'ours-no-queue',
      label: `ours without the local queue (concurrency ${workerConcurrency}, pollInterval ${ours.pollInterval})`,
      options: { concurrency: workerConcurrency, pollInterval: ours.pollInterval },
    },
  ];
}

async function pendingJobs(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`select count(*) as n from graphile_worker.jobs where task_identifier = $1`, [TASK]);
  return Number(rows[0]!.n);
}

/** Removes every bench job, including ones a stopped worker still had locked. */
async function purgeJobs(db: pg.Pool): Promise<void> {
  await db.query(
    `select graphile_worker.force_unlock_workers(array(
       select distinct locked_by from graphile_worker.jobs where task_identifier = $1 and locked_by is not null))`,
    [TASK],
  );
  await db.query(`select graphile_worker.complete_jobs(array(select id from graphile_worker.jobs where task_identifier = $1))`, [TASK]);
}

async function waitForEmptyQueue(db: pg.Pool, deadline: number): Promise<number> {
  let pending = await pendingJobs(db);
  while (pending > 0 && performance.now() < deadline) {
    await sleep(20);
    pending = await pendingJobs(db);
  }
  return pending;
}

interface RoundResult {
  latencies: number[];
  jobs: number;
  seconds: number;
}

/** One configuration, once: a latency trickle, then a throughput burst. */
async function measureOnce(ctx: BenchContext, producers: pg.Pool, config: Config, record: boolean): Promise<RoundResult> {
  const { durationSec } = ctx.options;
  const total = Math.round(LATENCY_RATE * Math.max(2, Math.min(8, durationSec / 3)));
  const child = await startChild<Record<string, never>>(benchFile('servers/noop-worker.ts'), {
    BENCH_CHILD_CONFIG: JSON.stringify({ connectionString: ctx.db.urls.owner, options: config.options }),
  });
  try {
    await sleep(500); // connect and LISTEN

    // Latency: a steady trickle of add_job calls, each stamped with the moment it was sent.
    const sends: Promise<unknown>[] = [];
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const wait = start + (i * 1000) / LATENCY_RATE - performance.now();
      if (wait > 0) await sleep(wait);
      sends.push(producers.query(`select graphile_worker.add_job($1, json_build_object('t', $2::float8))`, [TASK, now()]));
    }
    await Promise.all(sends);
    const stuck = await waitForEmptyQueue(producers, performance.now() + 15_000);
    if (stuck > 0) throw new Error(`${config.label}: ${stuck} of ${total} jobs still queued 15 s after the last add_job.`);
    const { latencies } = await child.request<{ started: number; latencies: number[] }>('latencies');

    // Throughput: a burst queued with one add_jobs call, drained as fast as the configuration goes.
    await producers.query(
      `select graphile_worker.add_jobs(array(
         select json_populate_record(null::graphile_worker.job_spec, json_build_object('identifier', $1::text, 'payload', '{}'::json))
         from generate_series(1, $2)))`,
      [TASK, BURST],
    );
    const t0 = performance.now();
    const left = await waitForEmptyQueue(producers, t0 + (durationSec * 1000) / 2);
    return { latencies, jobs: BURST - left, seconds: (performance.now() - t0) / 1000 };
  } finally {
    if (record) await ctx.stopChild('worker (no-op jobs, our configuration)', child);
    else await child.stop();
    await purgeJobs(producers);
  }
}

const LATENCY_RATE = 100; // add_job calls per second: well below every configuration's capacity
const BURST = 50_000;
const ROUNDS = 2;

export async function jobs(ctx: BenchContext): Promise<Omit<FigureResult, 'key' | 'number' | 'title'>> {
  const producers = new pg.Pool({ connectionString: ctx.db.urls.owner, max: 4, application_name: 'penguinmails-bench-jobs' });
  const configs = configurations(ctx.db.env.WORKER_CONCURRENCY);
  const rounds = new Map<string, RoundResult[]>(configs.map((c) => [c.key, []]));
  try {
    await purgeJobs(producers);
    // Configurations take turns, round after round, so a noisy moment does not fall on one of them only.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const config of configs) {
        const r = await measureOnce(ctx, producers, config, round === ROUNDS && config.key === 'ours');
        rounds.get(config.key)!.push(r);
        ctx.log(`  round ${round}, ${config.label}: add_job → start p50 ${summarize(r.latencies, 1).p50.toFixed(1)} ms; ${Math.round(r.jobs / r.seconds).toLocaleString('en-US')} jobs/s`);
      }
    }
  } finally {
    await producers.end();
  }

  const measurements: Measurement[] = [];
  const results = new Map<string, { label: string; latency: Measurement & { summary: Summary }; throughput: Measurement }>();
  for (const config of configs) {
    const rs = rounds.get(config.key)!;
    const jobsDone = rs.reduce((n, r) => n + r.jobs, 0);
    const seconds = rs.reduce((n, r) => n + r.seconds, 0);
    const latencies = rs.flatMap((r) => r.latencies);
    const side = config.key === 'defaults' ? 'anchor' : 'product';
    const latency: Measurement & { summary: Summary } = {
      label: `${config.label}: add_job → task start`, side, summary: summarize(latencies, latencies.length / LATENCY_RATE),
      detail: `${latencies.length} jobs queued at ${LATENCY_RATE}/s over ${rs.length} rounds`,
    };
    const throughput: Measurement = {
      label: `${config.label}: throughput`, side, value: Math.round(jobsDone / seconds), unit: 'jobs/s',
      detail: `${jobsDone.toLocaleString('en-US')} no-op jobs in ${seconds.toFixed(1)} s over ${rs.length} rounds`,
    };
    measurements.push(latency, throughput);
    results.set(config.key, { label: config.label, latency, throughput });
  }

  const get = (key: string) => {
    const r = results.get(key);
    if (!r) throw new Error(`jobs: configuration ${key} was not measured`);
    return r;
  };
  const comparisons: Comparison[] = [
    compare('jobs/s: ours vs defaults', get('ours').throughput, get('defaults').throughput, 'value', (_, r) => `ours ×${round1(r)} the defaults' rate`),
    compare('add_job → start p50: ours vs defaults', get('ours').latency, get('defaults').latency, 'p50', (x) => `×${x}`),
    compare('add_job → start p99: ours vs defaults', get('ours').latency, get('defaults').latency, 'p99', (x) => `×${x}`),
    compare('jobs/s: ours vs ours without the local queue', get('ours').throughput, get('ours-no-queue').throughput, 'value', (_, r) => `the local queue ×${round1(r)} the rate`),
    compare('add_job → start p50: ours vs ours without the local queue', get('ours').latency, get('ours-no-queue').latency, 'p50', (x) => `×${x}`),
  ];
  const best = [...results.values()].sort((a, b) => (b.throughput.value ?? 0) - (a.throughput.value ?? 0))[0]!;
  return {
    measurements,
    comparisons,
    notes: [
      `Every configuration uses the project's quiet logger (graphile-worker's default logger prints a line per job, which alone costs throughput).`,
      `Highest throughput measured: ${best.label}, ${best.throughput.value?.toLocaleString('en-US')} jobs/s (add_job → start p50 ${best.latency.summary.p50.toFixed(1)} ms).`,
    ],
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;
