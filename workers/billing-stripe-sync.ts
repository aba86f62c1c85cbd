/**
 * billing_stripe_sync: queued by the plan-change and cancellation functions
 * (app_private.queue_stripe_sync, one job per subscription, one queue per
 * tenant); makes Stripe match the subscription. Failures throw, and
 * graphile-worker retries with backoff using the same idempotency keys.
 */
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { syncStripeSubscription } from '../src/billing/stripe-sync.ts';
import { queryRows } from '../src/db/query.ts';
import type { TaskDeps } from '../src/worker/context.ts';

const Payload = z.object({ tenant_id: z.uuid(), subscription_id: z.uuid() });

export function billingStripeSync(deps: TaskDeps): Task {
  const { stripe } = deps;
  return async (rawPayload, helpers) => {
    const payload = Payload.parse(rawPayload);
    const steps = await syncStripeSubscription(queryRows(helpers), stripe(), { tenantId: payload.tenant_id, subscriptionId: payload.subscription_id });
    helpers.logger.info(`Stripe sync of subscription ${payload.subscription_id}: ${steps.join(', ')}`);
  };
}
