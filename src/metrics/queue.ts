/**
 * Gauges over graphile-worker's tables, read when /metrics is scraped: jobs
 * by task and state, the age of the oldest job waiting to run, and jobs still
 * locked long after they were taken (their worker is most likely gone; after
 * 4 hours graphile-worker itself hands them out again).
 */
import { Gauge, type Registry } from 'prom-client';
import type pg from 'pg';

const QUEUE_SQL = `
  select t.identifier as task,
         count(*) filter (where j.locked_at is null and j.run_at <= now() and j.attempts < j.max_attempts)::int as ready,
         count(*) filter (where j.locked_at is null and j.run_at > now() and j.attempts < j.max_attempts)::int as scheduled,
         count(*) filter (where j.locked_at is not null)::int as running,
         count(*) filter (where j.attempts >= j.max_attempts)::int as failed,
         count(*) filter (where j.locked_at < now() - make_interval(mins => $1))::int as stale,
         coalesce(extract(epoch from now() - min(j.run_at) filter (
           where j.locked_at is null and j.run_at <= now() and j.attempts < j.max_attempts)), 0)::float8 as oldest_ready_age
  from graphile_worker._private_jobs j
  join graphile_worker._private_tasks t on t.id = j.task_id
  group by t.identifier`;

interface QueueRow {
  task: string;
  ready: number;
  scheduled: number;
  running: number;
  failed: number;
  stale: number;
  oldest_ready_age: number;
}

/** Registers the queue gauges on `registry`, read through `pool` (the owner role: graphile_worker is not the API's). */
export function registerQueueMetrics(registry: Registry, pool: pg.Pool, staleMinutes: number): void {
  let pending: Promise<QueueRow[]> | null = null;
  // One query per scrape, shared by the three gauges.
  const rows = () =>
    (pending ??= pool
      .query<QueueRow>(QUEUE_SQL, [staleMinutes])
      .then((r) => r.rows)
      .finally(() => setTimeout(() => (pending = null), 0)));

  new Gauge({
    name: 'penguinmails_jobs',
    help: 'Jobs in the queue by task and state: ready (due, waiting for a worker), scheduled (run_at in the future), running (locked by a worker), failed (out of attempts).',
    labelNames: ['task', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await rows()) {
        for (const state of ['ready', 'scheduled', 'running', 'failed'] as const) this.set({ task: row.task, state }, row[state]);
      }
    },
  });
  new Gauge({
    name: 'penguinmails_job_oldest_ready_age_seconds',
    help: 'Seconds the oldest due, unlocked job of each task has waited past its run_at (0 when none waits).',
    labelNames: ['task'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await rows()) this.set({ task: row.task }, row.oldest_ready_age);
    },
  });
  new Gauge({
    name: 'penguinmails_jobs_stale_locked',
    help: `Jobs locked longer than METRICS_STALE_JOB_MINUTES (here ${staleMinutes}): most likely taken by a worker that is gone.`,
    labelNames: ['task'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await rows()) this.set({ task: row.task }, row.stale);
    },
  });
}
