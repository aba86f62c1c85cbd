/**
 * webhook_deliver: posts a subscription's pending deliveries, oldest event
 * first, one at a time. One job at a time does so: the one holding the
 * subscription's lease (app_private.claim_webhook_lease, extended before
 * a post it could not cover, given back when the job stops). app_private.queue_webhook_delivery
 * queues a job per event, without a key; a job that finds the lease taken
 * ends at once; a job that finds nothing due ends at once, after making sure
 * the keyed job of the next retry is queued (once it has given the lease
 * back, so that job cannot find it taken). After giving the lease back a
 * job looks once more for a due delivery, so an event whose own job found the
 * lease taken is not left waiting. If a worker dies holding a lease, the
 * lease ends at expires_at and webhook_delivery_sweep (every minute) queues a
 * job for a subscription whose deliveries have been due for over a minute
 * with no live lease.
 *
 * Ordering guarantee: deliveries of one subscription are attempted in event
 * order, and a delivery is not attempted before every older one has
 * succeeded or failed for good. A failing delivery is retried with
 * exponential backoff and jitter (src/webhooks/retry.ts) and holds back the
 * newer ones meanwhile; after its last attempt (about 20 hours with the
 * default schedule) it is marked failed and the subscription is disabled
 * (its admins get an email); the newer deliveries stay pending and go out,
 * in order, when the subscription is enabled again. A replayed delivery
 * takes its event's place in that order.
 *
 * "Event order" is the time each event was recorded (clock_timestamp() in
 * the transaction that caused it). Deliveries become visible when their
 * transaction commits: an event of a transaction that commits after a
 * later-recorded event of another transaction was already delivered comes
 * after it. Events of one transaction, and of transactions that follow one
 * another, keep their order.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { claimLease, deliveryBody, headDelivery, recordAttempt, releaseLease, signingSecrets } from '../../src/webhooks/deliveries.ts';
import { delivered, postWebhook } from '../../src/webhooks/post.ts';
import { retryDelayMs } from '../../src/webhooks/retry.ts';
import { webhookHeaders } from '../../src/webhooks/signing.ts';
import type { TaskDeps } from '../../src/worker/context.ts';

const Payload = z.object({ tenant_id: z.uuid(), subscription_id: z.uuid() });

/** Deliveries one job posts before it hands over to a fresh job (other subscriptions' jobs get their turn). */
const BATCH = 50;

export function webhookDeliver(deps: TaskDeps): Task {
  const options = deps.webhooks;
  // A lease outlives one attempt (timeout included) with room to record it; it is extended before a post it could not cover.
  const leaseMs = options.timeoutMs + 30_000;
  return async (rawPayload, helpers) => {
    const { tenant_id: tenantId, subscription_id: subscriptionId } = Payload.parse(rawPayload);
    const { secretBox, outbound: guard } = deps;
    const holder = randomUUID();
    // Through app_private.add_job, whose row lock keeps a keyed add from being lost to a worker fetching the pending job.
    const requeue = (runAt: Date | null = null) =>
      helpers.query(`select app_private.add_job($1, 'webhook_deliver', $2::json, run_at => $3, job_key => $4)`, [
        tenantId, JSON.stringify({ tenant_id: tenantId, subscription_id: subscriptionId }), runAt, `webhook:${subscriptionId}`,
      ]);
    let leaseEnds = 0;
    const claim = async () => {
      const asked = Date.now();
      const lease = await helpers.withPgClient((db) => claimLease(db, tenantId, subscriptionId, holder, leaseMs));
      if (lease.claimed) leaseEnds = asked + leaseMs;
      return lease;
    };

    /**
     * Posts due deliveries while holding the lease: 'empty' when none was pending, 'stop' when the rest must
     * wait (a disabled subscription, no secret, the lease lost), a Date when the head is next due (a retry
     * time), 'more' after a full batch.
     */
    const drain = async (): Promise<'empty' | 'stop' | 'more' | Date> => {
      for (let n = 0; n < BATCH; n++) {
        const head = await helpers.withPgClient((db) => headDelivery(db, tenantId, subscriptionId));
        // Nothing pending, or disabled: enabling it again queues this job.
        if (!head) return 'empty';
        if (!head.enabled) return 'stop';
        if (head.nextAttemptAt && head.nextAttemptAt.getTime() > Date.now()) return head.nextAttemptAt;
        // Extended when the next attempt could outlast it; lost only if it ran out (a stalled worker): another job has it.
        if (leaseEnds - Date.now() < options.timeoutMs + 10_000 && !(await claim()).claimed) return 'stop';
        const secrets = await helpers.withPgClient((db) => signingSecrets(db, secretBox, tenantId, subscriptionId));
        if (secrets.length === 0) return 'stop';
        const body = deliveryBody(head);
        const headers = webhookHeaders(secrets, head.eventId, Math.floor(Date.now() / 1000), body);
        const outcome = await postWebhook(head.url, headers, body, {
          guard,
          timeoutMs: options.timeoutMs,
          allowHttp: deps.env.NODE_ENV !== 'production',
        });
        const ok = delivered(outcome);
        const delay = ok ? null : retryDelayMs(head.attempts + 1, options);
        const retryAt = delay === null ? null : new Date(Date.now() + delay);
        const disabled = await helpers.withPgClient((db) => recordAttempt(db, tenantId, head.id, ok, outcome, retryAt));
        if (ok) continue;
        if (disabled) {
          helpers.logger.warn(`webhook subscription ${subscriptionId} disabled after delivery ${head.id} failed ${head.attempts + 1} times`);
          return 'stop';
        }
        if (retryAt) return retryAt;
        // Given up on this one while the subscription stays enabled (it was disabled meanwhile and enabled): next.
      }
      return 'more';
    };

    for (;;) {
      const lease = await claim();
      // Another job is posting, and looks for due deliveries again when it stops.
      if (!lease.claimed) return;
      const result = await drain().finally(() => helpers.withPgClient((db) => releaseLease(db, tenantId, subscriptionId, holder)));
      // Queued once the lease is free: a job that started before (a short retry delay, a busy worker)
      // would find it taken and end, and nothing would look again until the sweep.
      if (result instanceof Date) {
        await requeue(result);
        return;
      }
      if (result === 'more') {
        // Other subscriptions' jobs get their turn.
        await requeue();
        return;
      }
      if (result === 'stop') return;
      // Nothing was pending: a delivery may have come whose own job found the lease taken meanwhile.
      const head = await helpers.withPgClient((db) => headDelivery(db, tenantId, subscriptionId));
      if (!head || !head.enabled || (head.nextAttemptAt && head.nextAttemptAt.getTime() > Date.now())) return;
    }
  };
}

/** webhook_delivery_sweep (every minute): a job for each subscription whose due deliveries lost theirs. */
export const webhookDeliverySweep: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ n: number }>('select count(*)::int as n from app_private.queue_stalled_webhook_deliveries()');
  if (rows[0]?.n) helpers.logger.info(`queued webhook_deliver for ${rows[0].n} subscriptions with stalled deliveries`);
};
