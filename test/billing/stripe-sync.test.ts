/**
 * Outgoing Stripe calls, as a local Stripe stand-in on 127.0.0.1 sees them:
 * plan changes and cancellations queue billing_stripe_sync; the worker (the
 * official SDK, pointed at the stand-in through STRIPE_API_HOST/PORT/
 * PROTOCOL) creates the customer and subscription, changes the price,
 * cancels; every write carries the secret key and an idempotency key, and a
 * failed call is retried with the same key without creating anything twice.
 */
import os from 'node:os';
import path from 'node:path';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';
import { registerUser, startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { TEST_STRIPE_KEY, startStripeServer, type StripeRequest, type StripeStandIn } from '../helpers/stripe-server.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
let stripe: StripeStandIn;
let worker: TestWorker;

beforeAll(async () => {
  stripe = await startStripeServer();
  t = await startTestApi();
  await t.owner.query(sql`update app_public.plans set stripe_price_id = 'price_' || slug || '_monthly' where slug in ('starter', 'pro', 'enterprise')`);
  const env = testEnv({ ...stripe.env, LOG_LEVEL: 'silent' }); // the one failure below is expected and asserted
  worker = await startTestWorker(t.urls.owner, env, { pollInterval: 100 });
});
afterAll(async () => {
  await worker.stop();
  await t.close();
  await stripe.close();
});

const CHANGE = `mutation($slug: String!, $later: Boolean) { changePlan(input: { planSlug: $slug, atPeriodEnd: $later }) { result { rowId } } }`;
const CANCEL = `mutation($later: Boolean) { cancelBillingSubscription(input: { atPeriodEnd: $later }) { result { rowId } } }`;

async function billingIds(tenantId: string) {
  const [row] = await t.owner.query(sql`
    select tc.stripe_customer_id, s.id as subscription_id, s.stripe_subscription_id
    from app_public.tenant_config tc join app_public.subscriptions s on s.tenant_id = tc.tenant_id and s.status <> 'canceled'
    where tc.tenant_id = ${tenantId}
  `);
  return row as { stripe_customer_id: string | null; subscription_id: string; stripe_subscription_id: string | null };
}

async function noJobsLeft() {
  await eventually(async () => {
    const [{ n }] = await t.owner.query(sql`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'billing_stripe_sync'`);
    return n === 0;
  }, 15_000);
}

/** Requests made after `mark` (an index into stripe.requests). */
const since = (mark: number): StripeRequest[] => stripe.requests.slice(mark);

test('upgrading from Free creates the Stripe customer and subscription, with the key and idempotency keys', async () => {
  const owner = await registerUser(t, 'upgrader');
  const mark = stripe.requests.length;
  await t.ok(CHANGE, { slug: 'pro' }, owner.jwtToken);
  const ids = await eventually(async () => {
    const row = await billingIds(owner.tenantId);
    return row.stripe_subscription_id ? row : null;
  });
  await noJobsLeft();

  const calls = since(mark);
  expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /v1/customers', 'POST /v1/subscriptions']);
  for (const call of calls) expect(call.authorization).toBe(`Bearer ${TEST_STRIPE_KEY}`);
  const [customer, subscription] = calls;
  expect(customer!.idempotencyKey).toBe(`pm-customer-${owner.tenantId}`);
  expect(customer!.form).toEqual({ name: 'Org upgrader', email: owner.email, 'metadata[tenant_id]': owner.tenantId });
  expect(subscription!.idempotencyKey).toBe(`pm-subscription-${ids.subscription_id}`);
  expect(subscription!.form).toEqual({
    customer: ids.stripe_customer_id,
    'items[0][price]': 'price_pro_monthly',
    cancel_at_period_end: 'false',
    payment_behavior: 'default_incomplete',
    'metadata[tenant_id]': owner.tenantId,
    'metadata[subscription_id]': ids.subscription_id,
  });
  expect(stripe.customers.has(ids.stripe_customer_id!)).toBe(true);
  expect(stripe.subscriptions.get(ids.stripe_subscription_id!)?.items.data[0]?.price.id).toBe('price_pro_monthly');
});

test('a scheduled downgrade changes the Stripe price without proration; an upgrade prorates', async () => {
  const owner = await registerUser(t, 'changer');
  await t.ok(CHANGE, { slug: 'starter' }, owner.jwtToken);
  const { stripe_subscription_id: stripeId } = await eventually(async () => {
    const row = await billingIds(owner.tenantId);
    return row.stripe_subscription_id ? row : null;
  });
  await noJobsLeft();
  const item = stripe.subscriptions.get(stripeId!)!.items.data[0]!;

  let mark = stripe.requests.length;
  await t.ok(CHANGE, { slug: 'pro' }, owner.jwtToken);
  await eventually(async () => stripe.subscriptions.get(stripeId!)!.items.data[0]!.price.id === 'price_pro_monthly');
  await noJobsLeft();
  let calls = since(mark);
  expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([`GET /v1/subscriptions/${stripeId}`, `POST /v1/subscriptions/${stripeId}`]);
  expect(calls[1]!.form).toEqual({ 'items[0][id]': item.id, 'items[0][price]': 'price_pro_monthly', proration_behavior: 'create_prorations' });
  expect(calls[1]!.idempotencyKey).toMatch(/^pm-sync-[0-9a-f-]{36}-\d{20}$/);

  mark = stripe.requests.length;
  await t.ok(CHANGE, { slug: 'starter' }, owner.jwtToken);
  await eventually(async () => stripe.subscriptions.get(stripeId!)!.items.data[0]!.price.id === 'price_starter_monthly');
  await noJobsLeft();
  calls = since(mark);
  expect(calls[1]!.form).toEqual({ 'items[0][id]': item.id, 'items[0][price]': 'price_starter_monthly', proration_behavior: 'none' });
  // Our plan stays Pro until the period ends.
  const [sub] = await t.owner.query(sql`
    select p.slug as plan, pp.slug as pending from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id
    left join app_public.plans pp on pp.id = s.pending_plan_id where s.tenant_id = ${owner.tenantId} and s.status <> 'canceled'
  `);
  expect(sub).toEqual({ plan: 'pro', pending: 'starter' });
});

test('cancelling at the period end tells Stripe so; cancelling now cancels the Stripe subscription', async () => {
  const owner = await registerUser(t, 'leaver');
  await t.ok(CHANGE, { slug: 'pro' }, owner.jwtToken);
  const { stripe_subscription_id: stripeId } = await eventually(async () => {
    const row = await billingIds(owner.tenantId);
    return row.stripe_subscription_id ? row : null;
  });
  await noJobsLeft();

  let mark = stripe.requests.length;
  await t.ok(CANCEL, {}, owner.jwtToken);
  await eventually(async () => stripe.subscriptions.get(stripeId!)!.cancel_at_period_end);
  await noJobsLeft();
  expect(since(mark).filter((c) => c.method === 'POST').map((c) => c.form)).toEqual([{ cancel_at_period_end: 'true' }]);

  mark = stripe.requests.length;
  await t.ok(CANCEL, { later: false }, owner.jwtToken);
  await eventually(async () => stripe.subscriptions.get(stripeId!)!.status === 'canceled');
  await noJobsLeft();
  const calls = since(mark);
  expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([`GET /v1/subscriptions/${stripeId}`, `DELETE /v1/subscriptions/${stripeId}`]);
  expect(calls[1]!.idempotencyKey).toMatch(/^pm-cancel-[0-9a-f-]{36}$/);
});

test('a failed Stripe call is retried by the worker with the same idempotency key; nothing is created twice', async () => {
  const owner = await registerUser(t, 'retried');
  const mark = stripe.requests.length;
  stripe.failNext(1);
  await t.ok(CHANGE, { slug: 'starter' }, owner.jwtToken);
  const [{ last_error }] = await eventually(async () => {
    const rows = await t.owner.query(sql`select last_error from graphile_worker.jobs where task_identifier = 'billing_stripe_sync' and last_error is not null`);
    return rows.length ? rows : null;
  });
  expect(last_error).toMatch(/stand-in was told to fail/);
  await eventually(async () => (await billingIds(owner.tenantId)).stripe_subscription_id, 20_000);
  await noJobsLeft();

  const customerCalls = since(mark).filter((c) => c.path === '/v1/customers');
  expect(customerCalls.map((c) => c.status)).toEqual([500, 200]);
  expect(new Set(customerCalls.map((c) => c.idempotencyKey))).toEqual(new Set([`pm-customer-${owner.tenantId}`]));
  const created = [...stripe.customers.values()].filter((c) => (c.metadata as Record<string, string>).tenant_id === owner.tenantId);
  expect(created).toHaveLength(1);
}, 30_000);

test('plans without a Stripe price (Free) never call Stripe', async () => {
  const owner = await registerUser(t, 'freeloader');
  await t.owner.query(sql`update app_public.subscriptions set cancel_at_period_end = false where tenant_id = ${owner.tenantId}`);
  const [sub] = await t.owner.query(sql`select id from app_public.subscriptions where tenant_id = ${owner.tenantId}`);
  const [{ queued }] = await t.owner.query(sql`select app_private.queue_stripe_sync(${owner.tenantId}, ${sub.id}) as queued`);
  expect(queued).toBe(false);
});
