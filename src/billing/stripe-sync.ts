/**
 * Makes Stripe match one of our subscriptions. The database says what Stripe
 * should hold (app_private.stripe_sync_state); this module only talks to
 * Stripe and records the ids Stripe returns. Every write carries an
 * idempotency key derived from what it writes, so a retried job (graphile-
 * worker retries with backoff) never creates a second customer or
 * subscription, and a job for an old change converges on the latest state.
 */
import type Stripe from 'stripe';
import { z } from 'zod';

/** The slice of a pg client / graphile-worker helpers this module needs. */
import type { RunQuery as Query } from '../db/query.ts';

const SyncState = z.object({
  tenant_id: z.uuid(),
  tenant_name: z.string(),
  billing_email: z.string().nullable(),
  stripe_customer_id: z.string().nullable(),
  subscription_id: z.uuid(),
  status: z.enum(['active', 'past_due', 'unpaid', 'canceled']),
  stripe_subscription_id: z.string().nullable(),
  price_id: z.string().nullable(),
  proration_behavior: z.enum(['none', 'create_prorations']),
  cancel_at_period_end: z.boolean(),
  version: z.string(),
});
type SyncState = z.infer<typeof SyncState>;

export type SyncStep =
  | 'customer_created'
  | 'subscription_created'
  | 'subscription_updated'
  | 'subscription_canceled'
  | 'in_sync'
  | 'not_billed_by_stripe'
  | 'gone';

async function loadState(query: Query, tenantId: string, subscriptionId: string): Promise<SyncState | null> {
  const rows = await query<Record<string, unknown>>('select * from app_private.stripe_sync_state($1, $2)', [tenantId, subscriptionId]);
  return rows[0] ? SyncState.parse(rows[0]) : null;
}

function isMissing(error: unknown): boolean {
  return (error as { code?: string }).code === 'resource_missing';
}

async function ensureCustomer(query: Query, stripe: Stripe, state: SyncState, steps: SyncStep[]): Promise<string> {
  if (state.stripe_customer_id) return state.stripe_customer_id;
  const customer = await stripe.customers.create(
    {
      name: state.tenant_name,
      ...(state.billing_email ? { email: state.billing_email } : {}),
      metadata: { tenant_id: state.tenant_id },
    },
    { idempotencyKey: `pm-customer-${state.tenant_id}` },
  );
  await query('select app_private.record_stripe_customer($1, $2)', [state.tenant_id, customer.id]);
  steps.push('customer_created');
  return customer.id;
}

async function cancelInStripe(stripe: Stripe, state: SyncState, steps: SyncStep[]): Promise<void> {
  if (!state.stripe_subscription_id) return;
  try {
    const current = await stripe.subscriptions.retrieve(state.stripe_subscription_id);
    if (current.status === 'canceled' || current.status === 'incomplete_expired') return;
    await stripe.subscriptions.cancel(state.stripe_subscription_id, {}, { idempotencyKey: `pm-cancel-${state.subscription_id}` });
    steps.push('subscription_canceled');
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
}

/** Brings Stripe in line with our subscription; returns what it did. */
export async function syncStripeSubscription(
  query: Query,
  stripe: Stripe,
  ids: { tenantId: string; subscriptionId: string },
): Promise<SyncStep[]> {
  const state = await loadState(query, ids.tenantId, ids.subscriptionId);
  if (!state) return ['gone'];
  const steps: SyncStep[] = [];

  if (state.status === 'canceled') {
    await cancelInStripe(stripe, state, steps);
    return steps.length ? steps : ['in_sync'];
  }
  if (!state.price_id) {
    // A plan billed outside Stripe (a Stripe subscription, if any, was told to end with the period).
    return ['not_billed_by_stripe'];
  }

  const customerId = await ensureCustomer(query, stripe, state, steps);
  if (!state.stripe_subscription_id) {
    const created = await stripe.subscriptions.create(
      {
        customer: customerId,
        items: [{ price: state.price_id }],
        cancel_at_period_end: state.cancel_at_period_end,
        // The first invoice is paid by the customer (Checkout / invoice link); until then Stripe reports it incomplete.
        payment_behavior: 'default_incomplete',
        metadata: { tenant_id: state.tenant_id, subscription_id: state.subscription_id },
      },
      { idempotencyKey: `pm-subscription-${state.subscription_id}` },
    );
    await query('select app_private.record_stripe_subscription($1, $2, $3)', [state.tenant_id, state.subscription_id, created.id]);
    steps.push('subscription_created');
    return steps;
  }

  const current = await stripe.subscriptions.retrieve(state.stripe_subscription_id);
  const item = current.items.data[0];
  const params: Stripe.SubscriptionUpdateParams = {};
  if (!item || item.price.id !== state.price_id) {
    params.items = item ? [{ id: item.id, price: state.price_id }] : [{ price: state.price_id }];
    params.proration_behavior = state.proration_behavior;
  }
  if (current.cancel_at_period_end !== state.cancel_at_period_end) {
    params.cancel_at_period_end = state.cancel_at_period_end;
  }
  if (Object.keys(params).length === 0) return steps.length ? steps : ['in_sync'];
  await stripe.subscriptions.update(state.stripe_subscription_id, params, {
    idempotencyKey: `pm-sync-${state.subscription_id}-${state.version}`,
  });
  steps.push('subscription_updated');
  return steps;
}
