/**
 * graphile-worker in library mode, in the same database as everything else.
 * Jobs are queued by triggers and SQL functions (graphile_worker.add_job);
 * recurring work comes from the crontab below.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { run, type Runner, type RunnerOptions, type TaskList, type WorkerEvents } from 'graphile-worker';
import { cleanupExpiredTokens, ensurePartitions } from '../../workers/maintenance.ts';
import { importLeads } from '../../workers/import-leads.ts';
import { retention } from '../../workers/retention.ts';
import { tenantPurge, tenantPurgeSweep } from '../../workers/tenant-purge.ts';
import { tenantExport, tenantExportSweep } from '../../workers/tenant-export.ts';
import { pollImapInbox, queueImapPolls } from '../../workers/imap-poll.ts';
import { oauthRenewAccess, oauthRenewalSweep } from '../../workers/oauth-renewal.ts';
import { billingDunning, billingRollOver } from '../../workers/billing-periods.ts';
import { billingStripeSync } from '../../workers/billing-stripe-sync.ts';
import { sendEmailVerificationEmail, sendInvitationEmail, sendPasswordResetEmail, sendRegistrationEmail } from '../../workers/transactional-email.ts';
import { generateDkimKey, refillDkimKeyPool } from '../../workers/deliverability/dkim-keys.ts';
import { domainVerificationSweep, verifyDomain } from '../../workers/deliverability/verify-domain.ts';
import { verifyTrackingDomain } from '../../workers/deliverability/verify-tracking-domain.ts';
import { checkIpReputation, recountIpAssignments, reputationSweep } from '../../workers/deliverability/reputation.ts';
import { warmupTick } from '../../workers/deliverability/warmup.ts';
import { campaignStep } from '../../workers/campaign-step.ts';
import { sendReply } from '../../workers/send-reply.ts';
import { webhookDeliver, webhookDeliverySweep } from '../../workers/webhooks/deliver.ts';
import { webhookDisabledNotice } from '../../workers/webhooks/disabled-notice.ts';
import { safetyPauseNotice } from '../../workers/notices/safety-pause.ts';
import { sendNotification } from '../../workers/notices/events.ts';
import { queueWeeklyReports, weeklyReport } from '../../workers/notices/weekly-report.ts';
import { abWinnerSweep, campaignCheckCompletion, campaignHousekeeping, campaignStart } from '../../workers/campaign-lifecycle.ts';
import { createSmtpPool } from '../sending/smtp-pool.ts';
import { resolveWorkerDeps, type TaskDeps, type WorkerDeps } from './context.ts';
import { startOutboxDrain } from './job-outbox.ts';
import { startLiveness, type Liveness } from './liveness.ts';
import { instrumentTasks } from './instrument.ts';
import { workerLogger } from './logger.ts';
import { loggerFor } from '../log/logger.ts';

export function makeTaskList(deps: TaskDeps): TaskList {
  return {
    send_invitation_email: sendInvitationEmail(deps),
    send_password_reset_email: sendPasswordResetEmail(deps),
    send_email_verification: sendEmailVerificationEmail(deps),
    send_registration_email: sendRegistrationEmail(deps),
    import_leads: importLeads(deps),
    cleanup_expired_tokens: cleanupExpiredTokens,
    ensure_partitions: ensurePartitions,
    retention,
    tenant_purge_sweep: tenantPurgeSweep,
    tenant_purge: tenantPurge,
    tenant_export: tenantExport(deps),
    tenant_export_sweep: tenantExportSweep(deps),
    imap_poll_all: queueImapPolls,
    imap_poll_inbox: pollImapInbox(deps),
    oauth_renewal_sweep: oauthRenewalSweep,
    oauth_renew_access: oauthRenewAccess(deps),
    billing_roll_over: billingRollOver,
    billing_dunning: billingDunning(deps),
    billing_stripe_sync: billingStripeSync(deps),
    generate_dkim_key: generateDkimKey(deps),
    dkim_key_pool_refill: refillDkimKeyPool(deps),
    verify_domain: verifyDomain(deps),
    domain_verification_sweep: domainVerificationSweep,
    verify_tracking_domain: verifyTrackingDomain(deps),
    check_ip_reputation: checkIpReputation(deps),
    reputation_sweep: reputationSweep,
    recount_ip_assignments: recountIpAssignments,
    warmup_tick: warmupTick,
    campaign_step: campaignStep(deps),
    send_reply: sendReply(deps),
    campaign_start: campaignStart,
    campaign_check_completion: campaignCheckCompletion,
    campaign_housekeeping: campaignHousekeeping,
    ab_winner_sweep: abWinnerSweep,
    webhook_deliver: webhookDeliver(deps),
    webhook_delivery_sweep: webhookDeliverySweep,
    webhook_disabled_notice: webhookDisabledNotice(deps),
    safety_pause_notice: safetyPauseNotice(deps),
    send_notification: sendNotification(deps),
    queue_weekly_reports: queueWeeklyReports,
    weekly_report: weeklyReport(deps),
  };
}

/** Recurring jobs; `?fill` backfills a missed run after downtime. */
export const CRONTAB = [
  '17 3 * * * cleanup_expired_tokens ?fill=1d',
  '*/10 * * * * campaign_housekeeping',
  '* * * * * ab_winner_sweep',
  '23 2 * * * ensure_partitions ?fill=1d',
  '43 2 * * * retention ?fill=1d',
  '53 2 * * * tenant_purge_sweep ?fill=1d',
  '37 * * * * tenant_export_sweep',
  '* * * * * imap_poll_all',
  '*/5 * * * * oauth_renewal_sweep',
  '*/5 * * * * billing_roll_over',
  '11 * * * * billing_dunning',
  '* * * * * domain_verification_sweep',
  '*/10 * * * * dkim_key_pool_refill',
  '7 * * * * reputation_sweep',
  '*/15 * * * * warmup_tick ?fill=1h',
  '* * * * * webhook_delivery_sweep',
  '0 8 * * 1 queue_weekly_reports ?fill=6d',
].join('\n');

export interface WorkerHandle {
  /** The job runner running now (the supervisor replaces it after a failure). */
  readonly runner: Runner;
  /** How many times the supervisor started a new job runner after one stopped on its own. */
  readonly restarts: number;
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

/** graphile-worker's statements that complete or fail jobs (single statements, outside any transaction). */
const JOB_BOOKKEEPING = /^(with j as \(\s*)?(delete from|update) \S+\._private_jobs as jobs\b/;
const CONFLICT_CODES = new Set(['40P01', '40001']);

/**
 * The pg pool graphile-worker (and so every task) runs on. Its sessions check
 * every second that the worker is still connected while a statement runs.
 * Two things on top of a plain pool, for graphile-worker's own job
 * bookkeeping:
 *
 * - a batch of completed jobs is deleted in ascending id order (the ids are
 *   sorted before the statement runs), the order in which
 *   app_private.schedule_enrollments locks running jobs, so the two cannot
 *   deadlock;
 * - a deadlock or serialization failure of such a statement is retried (up to
 *   10 times): graphile-worker 0.18's batch retry gives up after the first
 *   failure and shuts the whole job runner down.
 */
export function makeWorkerPgPool(connectionString: string, log: (message: string) => void, concurrency = 8): pg.Pool {
  // client_connection_check_interval: a statement of a worker that died (e.g. a hand-over mark waiting on a
  // lock) is cancelled within a second instead of committing on behalf of a process that is gone.
  // application_name names the process, so an operator (or a test) can tell whose sessions are whose.
  const pool = new pg.Pool({
    connectionString,
    // A connection for every job that may run at once, and two for fetching and completing jobs.
    max: Math.max(10, concurrency + 2),
    // A checkout waits at most this long (pg's default is forever): a task
    // that cannot get a connection fails and is retried, never hangs its job.
    connectionTimeoutMillis: 10_000,
    application_name: `penguinmails-worker:${process.pid}`,
    options: '-c client_connection_check_interval=1000',
  });
  // Errors of idle or checked-out clients (a database restart) must not become uncaught exceptions.
  pool.on('error', (error) => log(`database connection lost: ${error.message}`));
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const config = args[0] as { text?: unknown; values?: unknown[] } | null;
      if (!config || typeof config !== 'object' || typeof config.text !== 'string' || !JOB_BOOKKEEPING.test(config.text) || args.length > 1) {
        return query(...args);
      }
      const text = config.text;
      const values = config.values?.map((v, i) =>
        i === 0 && Array.isArray(v) && text.includes('unnest($1::bigint[])')
          ? [...(v as Array<string | number>)].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : BigInt(x) > BigInt(y) ? 1 : 0))
          : v,
      );
      const statement = { ...config, values };
      return (async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await query(statement);
          } catch (error) {
            const code = (error as { code?: string }).code;
            if (!code || !CONFLICT_CODES.has(code) || attempt >= 10) throw error;
            log(`job bookkeeping hit ${code === '40P01' ? 'a deadlock' : 'a serialization failure'}; retrying (attempt ${attempt + 1})`);
            await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
          }
        }
      })();
    };
  });
  return pool;
}

/**
 * The jobs one graphile-worker pool knows it holds, from its events: fetched
 * into its local queue or started (held), until they complete (then kept a
 * minute more, while the completing statement runs) or go back to the queue.
 * The liveness sweep unlocks any other job locked by the pool.
 */
class JobsHeld {
  private readonly held = new Set<string>();
  private readonly done = new Map<string, number>();
  add(ids: readonly string[]): void {
    for (const id of ids) this.held.add(id);
  }
  completed(id: string): void {
    this.held.delete(id);
    this.done.set(id, Date.now());
  }
  forget(ids: readonly string[]): void {
    for (const id of ids) this.held.delete(id);
  }
  known(): string[] {
    const cutoff = Date.now() - 60_000;
    for (const [id, at] of this.done) if (at < cutoff) this.done.delete(id);
    return [...this.held, ...this.done.keys()];
  }
}

/**
 * graphile-worker 0.18 can reject a promise nobody awaits when a job runner
 * that is stopping (its database went away) fails to hand the jobs of its
 * local queue back: "Error occurred whilst returning jobs from local queue to
 * database queue". Unhandled, that rejection ends the whole process. Those
 * jobs are freed anyway (the stopped runner's pool is retired, which
 * force-unlocks them, once the database is back), so this one error is
 * logged instead; every other unhandled rejection still ends the process.
 */
const LOCAL_QUEUE_RETURN_FAILED = /^Error occurred whilst returning jobs from local queue to database queue/;
let rejectionGuard: ((message: string) => void) | null = null;
function guardLocalQueueRejections(log: (message: string) => void): void {
  const installed = rejectionGuard !== null;
  rejectionGuard = log;
  if (installed) return;
  process.on('unhandledRejection', (reason) => {
    if (reason instanceof Error && LOCAL_QUEUE_RETURN_FAILED.test(reason.message)) {
      rejectionGuard?.(`a stopping job runner could not hand its queued jobs back (${reason.message}); they are freed when its pool is retired`);
      return;
    }
    // Node's default for everything else: an uncaught exception, which ends the process.
    throw reason;
  });
}

/**
 * Starts the worker: graphile-worker's job runner, supervised, this
 * process's liveness (src/worker/liveness.ts) and, on a Citus cluster, the
 * move of jobs queued on worker nodes into the queue (src/worker/job-outbox.ts).
 *
 * Supervision: when the job runner stops on its own (graphile-worker shuts
 * its pool down when it cannot record a job's completion, e.g. while the
 * database restarts), a new one is started with a backoff of 0.1 s doubling
 * up to 1 s, for as long as it takes; the jobs the stopped runner held are
 * freed at once (its pool is retired), and the new runner, polling, picks
 * them up within a poll interval of the database accepting connections.
 */
export async function startWorker(
  connectionString: string,
  deps: WorkerDeps,
  { concurrency = deps.env.WORKER_CONCURRENCY, crontab = CRONTAB, pollInterval = 1000 }: { concurrency?: number; crontab?: string; pollInterval?: number } = {},
): Promise<WorkerHandle> {
  // One set of reused SMTP connections for the campaign engine, closed when the worker stops
  // (it holds no socket or timer until the first message, so a failed start leaks nothing).
  const ownPool = deps.sending?.smtpPool ? null : createSmtpPool();
  const taskDeps = resolveWorkerDeps(ownPool ? { ...deps, sending: { ...deps.sending, smtpPool: ownPool } } : deps);
  const logger = workerLogger();
  // Recovery lines (restarts, freed jobs, retried deadlocks) are warnings in the structured log.
  const recovery = loggerFor('worker');
  const log = (message: string) => recovery.warn(message);
  guardLocalQueueRejections(log);
  const jobsHeld = new Map<string, JobsHeld>();
  const liveness: Liveness = startLiveness(connectionString, { log, knownJobs: (poolId) => jobsHeld.get(poolId)?.known() ?? [] });
  const pgPool = makeWorkerPgPool(connectionString, log, concurrency);
  const taskList = instrumentTasks(makeTaskList(taskDeps));
  const poolIds = new Map<Runner, string>();
  let stopping = false;
  let restarts = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  let wake: (() => void) | null = null;
  let relaunching: Promise<void> | null = null;

  const launch = async (): Promise<Runner> => {
    const events: WorkerEvents = new EventEmitter();
    let poolId: string | null = null;
    const held = new JobsHeld();
    events.on('pool:create', ({ workerPool }) => {
      poolId = workerPool.id;
      jobsHeld.set(workerPool.id, held);
      liveness.register(workerPool.id);
    });
    events.on('localQueue:getJobs:complete', ({ jobs }) => held.add(jobs.map((j) => j.id)));
    events.on('job:start', ({ job }) => held.add([job.id]));
    events.on('job:complete', ({ job }) => held.completed(job.id));
    events.on('localQueue:returnJobs', ({ jobs }) => held.forget(jobs.map((j) => j.id)));
    const runner = await run({
      ...workerSettings(concurrency, pollInterval),
      pgPool,
      noHandleSignals: true,
      taskList,
      crontab,
      logger,
      events,
    });
    if (poolId) poolIds.set(runner, poolId);
    runner.promise.then(
      () => onStopped(runner, null),
      (error: unknown) => onStopped(runner, error),
    );
    return runner;
  };

  const onStopped = (runner: Runner, error: unknown) => {
    const poolId = poolIds.get(runner);
    poolIds.delete(runner);
    if (poolId) jobsHeld.delete(poolId);
    if (poolId) liveness.retire(poolId);
    if (stopping || runner !== current) return;
    log(`the job runner stopped${error ? ` (${(error as Error).message})` : ''}; starting a new one`);
    relaunching = relaunch().finally(() => {
      relaunching = null;
    });
  };

  const relaunch = async () => {
    for (let attempt = 0; !stopping; attempt++) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        retryTimer = setTimeout(resolve, Math.min(100 * 2 ** attempt, 1_000));
      });
      wake = null;
      if (stopping) return;
      try {
        const next = await launch();
        if (stopping) {
          await next.stop().catch(() => undefined);
          return;
        }
        current = next;
        restarts++;
        return;
      } catch (error) {
        if (attempt === 0 || attempt % 20 === 0) log(`could not start the job runner: ${(error as Error).message} (retrying)`);
      }
    }
  };

  await liveness.tick();
  const outbox = startOutboxDrain(connectionString, { log });
  let current: Runner;
  try {
    current = await launch();
  } catch (error) {
    await outbox.close();
    await liveness.close();
    await pgPool.end();
    ownPool?.close();
    throw error;
  }
  return {
    get runner() {
      return current;
    },
    get restarts() {
      return restarts;
    },
    async stop() {
      stopping = true;
      if (retryTimer) clearTimeout(retryTimer);
      wake?.();
      // A runner being started now is stopped by relaunch itself.
      await relaunching;
      try {
        await current.stop();
      } catch {
        // A runner that stopped on its own before is already stopped.
      } finally {
        // After the jobs: nothing is being sent any more.
        ownPool?.close();
        await outbox.close();
        await liveness.close();
        await pgPool.end();
      }
    },
  };
}
