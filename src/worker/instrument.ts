/**
 * Every task, wrapped: it runs in a scope holding the job's id, task and the
 * request id its payload carries (functions/260-job-request-ids.sql), so its
 * log lines name them, and its outcome and duration go to the metrics.
 */
import type { Task, TaskList } from 'graphile-worker';
import { loggerFor } from '../log/logger.ts';
import { runInScope } from '../log/scope.ts';
import { jobDuration, jobsRun } from '../metrics/registry.ts';

const log = loggerFor('worker');

const requestIdOf = (payload: unknown): string | undefined => {
  const id = (payload as { request_id?: unknown } | null)?.request_id;
  return typeof id === 'string' ? id : undefined;
};

export function instrumentTask(name: string, task: Task): Task {
  return (payload, helpers) =>
    runInScope({ requestId: requestIdOf(payload), jobId: String(helpers.job.id), task: name }, async () => {
      const end = jobDuration.startTimer({ task: name });
      try {
        await task(payload, helpers);
        jobsRun.inc({ task: name, outcome: 'completed' });
        log.debug({ seconds: end(), attempt: helpers.job.attempts }, 'job completed');
      } catch (error) {
        jobsRun.inc({ task: name, outcome: 'failed' });
        log.warn({ seconds: end(), attempt: helpers.job.attempts, maxAttempts: helpers.job.max_attempts, err: { message: error instanceof Error ? error.message : String(error) } }, 'job failed');
        throw error;
      }
    });
}

export function instrumentTasks(tasks: TaskList): TaskList {
  return Object.fromEntries(Object.entries(tasks).map(([name, task]) => [name, instrumentTask(name, task as Task)]));
}
