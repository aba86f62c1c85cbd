/**
 * The product's worker (src/worker/runner.ts startWorker) for a test's
 * database, with the system mailer it needs: its emails go to `smtpUrl` when
 * given, else to an outbox folder of the test's own. No crontab, and a short
 * poll interval, unless the test says otherwise. stop() stops both.
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Env } from '../../src/config.ts';
import { makeSystemMailer, type SystemMailer } from '../../src/mail/system-mailer.ts';
import type { WorkerDeps } from '../../src/worker/context.ts';
import { runOnce, type TaskList } from 'graphile-worker';
import { startWorker, type WorkerHandle } from '../../src/worker/runner.ts';
import { workerLogger } from '../../src/worker/logger.ts';

export interface TestWorker extends WorkerHandle {
  systemMailer: SystemMailer;
  /** Where the system mailer writes when there is no smtpUrl. */
  outboxDir: string;
}

export async function startTestWorker(
  connectionString: string,
  env: Env,
  {
    deps = {},
    smtpUrl,
    outboxDir,
    pollInterval = 50,
    crontab = '',
    concurrency,
  }: { deps?: Partial<Omit<WorkerDeps, 'env' | 'systemMailer'>>; smtpUrl?: string; outboxDir?: string; pollInterval?: number; crontab?: string; concurrency?: number } = {},
): Promise<TestWorker> {
  const ownOutbox = outboxDir ? null : mkdtempSync(path.join(os.tmpdir(), 'pm-test-outbox-'));
  const dir = outboxDir ?? ownOutbox!;
  const systemMailer = makeSystemMailer({ smtpUrl, from: env.MAIL_FROM, outboxDir: dir });
  const worker = await startWorker(connectionString, { ...deps, env, systemMailer }, { pollInterval, crontab, ...(concurrency ? { concurrency } : {}) });
  return {
    get runner() { return worker.runner; },
    get restarts() { return worker.restarts; },
    systemMailer,
    outboxDir: dir,
    async stop() {
      await worker.stop();
      systemMailer.close();
      if (ownOutbox) await rm(ownOutbox, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the due jobs of these tasks until none is left (graphile-worker's
 * runOnce), then returns: for tests whose subject is a task rather than the
 * live worker, so they wait on nothing. Jobs of other tasks stay queued.
 * Give it tasks from makeTaskList(resolveWorkerDeps(...)) to run them as the
 * worker would.
 */
export async function drainJobs(connectionString: string, taskList: TaskList): Promise<void> {
  await runOnce({ connectionString, taskList, noHandleSignals: true, concurrency: 1, logger: workerLogger() });
}
