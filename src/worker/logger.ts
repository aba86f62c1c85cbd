/**
 * graphile-worker's logger, writing to our structured log (src/log/logger.ts)
 * with the job's task and id; LOG_LEVEL filters it (its default would print
 * a line per job at info, which we log at debug).
 */
import { Logger } from 'graphile-worker';
import { loggerFor } from '../log/logger.ts';

const log = loggerFor('worker');

export function workerLogger(): Logger {
  return new Logger((scope) => (logLevel, message, meta) => {
    const fields: Record<string, unknown> = {};
    if (scope.taskIdentifier) fields.task = scope.taskIdentifier;
    if (scope.jobId !== undefined) fields.jobId = String(scope.jobId);
    if (scope.workerId) fields.workerId = scope.workerId;
    const error = (meta as { error?: unknown } | undefined)?.error;
    if (error instanceof Error) fields.err = { name: error.name, message: error.message };
    // Per-job start/finish lines are debug noise.
    const chatter = logLevel === 'info' && /^(Completed task|Worker connected|Worker .* started)/.test(message);
    const level = chatter ? 'debug' : logLevel === 'warning' ? 'warn' : logLevel === 'error' ? 'error' : logLevel === 'debug' ? 'debug' : 'info';
    log[level](fields, message);
  });
}
