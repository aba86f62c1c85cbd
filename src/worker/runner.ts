/**
 * graphile-worker in library mode, in the same database as everything else.
 * Jobs are queued by triggers and SQL functions (graphile_worker.add_job);
 * recurring work comes from the crontab below.
 */
import { run, type Runner, type TaskList } from 'graphile-worker';
import { cleanupExpiredTokens, ensurePartitions } from '../../workers/maintenance.ts';
import { sendInvitationEmail, sendPasswordResetEmail } from '../../workers/transactional-email.ts';
import type { WorkerDeps } from './context.ts';
import { quietLogger } from './logger.ts';

export function makeTaskList(deps: WorkerDeps): TaskList {
  return {
    send_invitation_email: sendInvitationEmail(deps),
    send_password_reset_email: sendPasswordResetEmail(deps),
    cleanup_expired_tokens: cleanupExpiredTokens,
    ensure_partitions: ensurePartitions,
  };
}

/** Recurring jobs; `?fill` backfills a missed run after downtime. */
export const CRONTAB = [
  '17 3 * * * cleanup_expired_tokens ?fill=1d',
  '23 2 * * * ensure_partitions ?fill=1d',
].join('\n');

export interface WorkerHandle {
  runner: Runner;
  stop(): Promise<void>;
}

export async function startWorker(
  connectionString: string,
  deps: WorkerDeps,
  { concurrency = deps.env.WORKER_CONCURRENCY, crontab = CRONTAB, pollInterval = 1000 }: { concurrency?: number; crontab?: string; pollInterval?: number } = {},
): Promise<WorkerHandle> {
  const runner = await run({
    connectionString,
    concurrency,
    noHandleSignals: true,
    pollInterval,
    taskList: makeTaskList(deps),
    crontab,
    logger: quietLogger(deps.env.LOG_LEVEL),
  });
  return {
    runner,
    async stop() {
      await runner.stop();
    },
  };
}
