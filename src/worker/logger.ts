/** graphile-worker's logger, filtered by LOG_LEVEL (its default prints a line per job). */
import { Logger } from 'graphile-worker';

const ORDER = ['debug', 'info', 'warning', 'error'] as const;

export function quietLogger(level: 'debug' | 'info' | 'warn' | 'error' | 'silent'): Logger {
  const min = level === 'silent' ? Infinity : ORDER.indexOf(level === 'warn' ? 'warning' : level);
  return new Logger((scope) => (logLevel, message) => {
    const rank = ORDER.indexOf(logLevel as (typeof ORDER)[number]);
    // Per-job start/finish lines are debug noise.
    const isJobChatter = logLevel === 'info' && /^(Completed task|Worker connected|Worker .* started)/.test(message);
    if (rank < min || (isJobChatter && min > 0)) return;
    const where = scope.taskIdentifier ? `[worker:${scope.taskIdentifier}]` : '[worker]';
    (logLevel === 'error' ? console.error : console.log)(`${where} ${message}`);
  });
}
