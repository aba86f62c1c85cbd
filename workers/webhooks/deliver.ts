/**
 * webhook_deliver: posts a subscription's pending deliveries, oldest event
 * first, one at a time: the jobs of one subscription share a named queue,
 * so one runs at a time (app_private.queue_webhook_delivery queues one per
 * event, without a key; a job finding nothing due ends at once, after making
 * sure the keyed job of the next retry is queued).
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
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { secretsKeyOf } from '../../src/config.ts';
import { makeSecretBox } from '../../src/crypto/secrets.ts';
import { deliveryBody, headDelivery, recordAttempt, signingSecrets } from '../../src/webhooks/deliveries.ts';
import { delivered, postWebhook } from '../../src/webhooks/post.ts';
import { DEFAULT_RETRY_SCHEDULE, retryDelayMs } from '../../src/webhooks/retry.ts';
import { webhookHeaders } from '../../src/webhooks/signing.ts';
import { outboundGuardOf, type WorkerDeps } from '../../src/worker/context.ts';

const Payload = z.object({ tenant_id: z.uuid(), subscription_id: z.uuid() });

/** Deliveries one job posts before it hands over to a fresh job (other subscriptions' jobs get their turn). */
const BATCH = 50;

export function webhookDeliver(deps: WorkerDeps): Task {
  const options = { ...DEFAULT_RETRY_SCHEDULE, timeoutMs: 10_000, ...deps.webhooks };
  let secretBox = deps.secretBox;
  return async (rawPayload, helpers) => {
    const { tenant_id: tenantId, subscription_id: subscriptionId } = Payload.parse(rawPayload);
    secretBox ??= makeSecretBox(secretsKeyOf(deps.env));
    const guard = outboundGuardOf(deps);
    const requeue = (runAt?: Date) =>
      helpers.addJob('webhook_deliver', { tenant_id: tenantId, subscription_id: subscriptionId },
        { queueName: `webhook:${subscriptionId}`, jobKey: `webhook:${subscriptionId}`, runAt });
    for (let n = 0; n < BATCH; n++) {
      const head = await helpers.withPgClient((db) => headDelivery(db, tenantId, subscriptionId));
      // Nothing pending, or disabled: enabling it again queues this job.
      if (!head || !head.enabled) return;
      if (head.nextAttemptAt && head.nextAttemptAt.getTime() > Date.now()) {
        await requeue(head.nextAttemptAt);
        return;
      }
      const secrets = await helpers.withPgClient((db) => signingSecrets(db, secretBox!, tenantId, subscriptionId));
      if (secrets.length === 0) return;
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
        return;
      }
      if (retryAt) {
        await requeue(retryAt);
        return;
      }
      // Given up on this one while the subscription stays enabled (it was disabled meanwhile and enabled): next.
    }
    await requeue();
  };
}
