/**
 * graphile-worker in library mode, in the same database as everything else.
 * Jobs are queued by triggers and SQL functions (graphile_worker.add_job);
 * recurring work comes from the crontab below.
 */
import { run, type Runner, type RunnerOptions, type TaskList } from 'graphile-worker';
import { cleanupExpiredTokens, ensurePartitions } from '../../workers/maintenance.ts';
import { importLeads } from '../../workers/import-leads.ts';
import { pollImapInbox, queueImapPolls } from '../../workers/imap-poll.ts';
import { billingDunning, billingRollOver } from '../../workers/billing-periods.ts';
import { billingStripeSync } from '../../workers/billing-stripe-sync.ts';
import { sendInvitationEmail, sendPasswordResetEmail } from '../../workers/transactional-email.ts';
import { generateDkimKey, refillDkimKeyPool } from '../../workers/deliverability/dkim-keys.ts';
import { domainVerificationSweep, verifyDomain } from '../../workers/deliverability/verify-domain.ts';
import { checkIpReputation, reputationSweep } from '../../workers/deliverability/reputation.ts';
import { warmupTick } from '../../workers/deliverability/warmup.ts';
import { campaignStep } from '../../workers/campaign-step.ts';
import { campaignCheckCompletion, campaignHousekeeping, campaignStart } from '../../workers/campaign-lifecycle.ts';
import { createSmtpPool } from '../sending/smtp-pool.ts';
import type { WorkerDeps } from './context.ts';
import { instrumentTasks } from './instrument.ts';
import { workerLogger } from './logger.ts';

export function makeTaskList(deps: WorkerDeps): TaskList {
  return {
    send_invitation_email: sendInvitationEmail(deps),
    send_password_reset_email: sendPasswordResetEmail(deps),
    import_leads: importLeads(deps),
    cleanup_expired_tokens: cleanupExpiredTokens,
    ensure_partitions: ensurePartitions,
    imap_poll_all: queueImapPolls,
    imap_poll_inbox: pollImapInbox(deps),
    billing_roll_over: billingRollOver,
    billing_dunning: billingDunning(deps),
    billing_stripe_sync: billingStripeSync(deps),
    generate_dkim_key: generateDkimKey(deps),
    dkim_key_pool_refill: refillDkimKeyPool(deps),
    verify_domain: verifyDomain(deps),
    domain_verification_sweep: domainVerificationSweep,
    check_ip_reputation: checkIpReputation(deps),
    reputation_sweep: reputationSweep,
    warmup_tick: warmupTick,
    campaign_step: campaignStep(deps),
    campaign_start: campaignStart,
    campaign_check_completion: campaignCheckCompletion,
    campaign_housekeeping: campaignHousekeeping,
  };
}

/** Recurring jobs; `?fill` backfills a missed run after downtime. */
export const CRONTAB = [
  '17 3 * * * cleanup_expired_tokens ?fill=1d',
  '*/10 * * * * campaign_housekeeping',
  '23 2 * * * ensure_partitions ?fill=1d',
  '* * * * * imap_poll_all',
  '*/5 * * * * billing_roll_over',
  '11 * * * * billing_dunning',
  '* * * * * domain_verification_sweep',
  '*/10 * * * * dkim_key_pool_refill',
  '7 * * * * reputation_sweep',
  '*/15 * * * * warmup_tick ?fill=1h',
].join('\n');

export interface WorkerHandle {
  runner: Runner;
  stop(): Promise<void>;
}

/**
 * Our graphile-worker settings. Jobs are fetched a few per slot at a time (a
 * local queue of 4 × concurrency) and completions are batched: ×5 the no-op
 * job rate of fetching and completing one job per round trip (bench figure
 * 5). The queue stays small because queued jobs are locked by this process:
 * with several workers, a burst is shared out as the queues drain.
 */
export function workerSettings(concurrency: number, pollInterval = 1000): Pick<RunnerOptions, 'concurrency' | 'pollInterval' | 'preset'> {
  return {
    concurrency,
    pollInterval,
    preset: { worker: { localQueue: { size: 4 * concurrency }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  };
}

export async function startWorker(
  connectionString: string,
  deps: WorkerDeps,
  { concurrency = deps.env.WORKER_CONCURRENCY, crontab = CRONTAB, pollInterval = 1000 }: { concurrency?: number; crontab?: string; pollInterval?: number } = {},
): Promise<WorkerHandle> {
  // One set of reused SMTP connections for the campaign engine, closed when the worker stops
  // (it holds no socket or timer until the first message, so a failed start leaks nothing).
  const ownPool = deps.sending?.smtpPool ? null : createSmtpPool();
  const taskDeps: WorkerDeps = ownPool ? { ...deps, sending: { ...deps.sending, smtpPool: ownPool } } : deps;
  const runner = await run({
    ...workerSettings(concurrency, pollInterval),
    connectionString,
    noHandleSignals: true,
    taskList: instrumentTasks(makeTaskList(taskDeps)),
    crontab,
    logger: workerLogger(),
  });
  return {
    runner,
    async stop() {
      try {
        await runner.stop();
      } finally {
        // After the jobs: nothing is being sent any more.
        ownPool?.close();
      }
    },
  };
}
