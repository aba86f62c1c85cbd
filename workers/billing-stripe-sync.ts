/**
 * billing_stripe_sync: queued by the plan-change and cancellation functions
 * (app_private.queue_stripe_sync, one job per subscription, one queue per
 * tenant); makes Stripe match the subscription. Failures throw, and
 * graphile-worker retries with backoff using the same idempotency keys.
 */
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { stripeFactoryFromEnv } from '../src/billing/stripe-client.ts';
import { syncStripeSubscription, type Query } from '../src/billing/stripe-sync.ts';
import type { WorkerDeps } from '../src/worker/context.ts';

const Payload = z.object({ tenant_id: z.uuid(), subscription_id: z.uuid() });

export function billingStripeSync(deps: WorkerDeps): Task {
  const stripe = deps.stripe ?? stripeFactoryFromEnv(deps.env);
  return async (rawPayload, helpers) => {
    const payload = Payload.parse(rawPayload);
    const query: Query = (text, values) => helpers.query(text, values as unknown[]);
    const steps = await syncStripeSubscription(query, stripe(), { tenantId: payload.tenant_id, subscriptionId: payload.subscription_id });
    helpers.logger.info(`Stripe sync of subscription ${payload.subscription_id}: ${steps.join(', ')}`);
  };
}
