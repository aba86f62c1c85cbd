/**
 * The "done" scenario of the billing issue, end to end over real peers: a
 * tenant sees its usage and limits in the API and hits one; it upgrades; the
 * worker creates its Stripe customer and subscription on the local Stripe
 * stand-in; Stripe's signed webhooks (invoice paid, subscription active)
 * change the subscription state the tenant sees; the limit has moved.
 */
import os from 'node:os';
import path from 'node:path';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';
import { registerUser, startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import {
  TEST_WEBHOOK_SECRET,
  deliverEvent,
  invoiceObject,
  startStripeServer,
  stripeEvent,
  subscriptionObject,
  type StripeStandIn,
} from '../helpers/stripe-server.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
let stripe: StripeStandIn;
let worker: TestWorker;

beforeAll(async () => {
  stripe = await startStripeServer();
  t = await startTestApi({ STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET }, 'platform');
  await t.owner.query(sql`update app_public.plans set stripe_price_id = 'price_' || slug || '_monthly' where slug in ('starter', 'pro', 'enterprise')`);
  const env = testEnv({ ...stripe.env, LOG_LEVEL: 'error' });
  worker = await startTestWorker(t.urls.owner, env, { pollInterval: 100 });
});
afterAll(async () => {
  await worker.stop();
  await t.close();
  await stripe.close();
});

const VIEW = `{
  currentUsage { metric used limit plan }
  billingSubscriptions { nodes { status currentPeriodEnd cancelAtPeriodEnd plan { slug } } }
  payments { nodes { amount status } }
}`;

test('usage and limits are visible and enforced from the API; Stripe webhooks change the subscription state', async () => {
  const owner = await registerUser(t, 'done');
  const domains = (view: { currentUsage: Array<{ metric: string; used: string; limit: string | null; plan: string }> }) =>
    view.currentUsage.find((m) => m.metric === 'domains');

  // Visible: Free allows one sending domain.
  let view = await t.ok(VIEW, {}, owner.jwtToken);
  expect(domains(view)).toEqual({ metric: 'domains', used: 0, limit: 1, plan: 'Free' });
  expect(view.billingSubscriptions.nodes).toEqual([{ status: 'ACTIVE', currentPeriodEnd: expect.any(String), cancelAtPeriodEnd: false, plan: { slug: 'free' } }]);

  // Enforced at the moment of the write.
  const CREATE_DOMAIN = `mutation($d: Hostname!) { createDomain(input: { domain: { domain: $d } }) { domain { rowId } } }`;
  await t.ok(CREATE_DOMAIN, { d: 'first.done.example' }, owner.jwtToken);
  const refused = await t.gql(CREATE_DOMAIN, { d: 'second.done.example' }, owner.jwtToken);
  expect(refused.errors?.[0]).toMatchObject({
    message: 'Your Free plan allows 1 sending domain; 1 already used. Upgrade the plan or buy an add-on to go further.',
    extensions: { code: 'PLAN_LIMIT_REACHED' },
  });

  // Upgrade: limits move at once; the worker sets up billing in Stripe.
  await t.ok(`mutation { changePlan(input: { planSlug: "pro" }) { result { rowId } } }`, {}, owner.jwtToken);
  await t.ok(CREATE_DOMAIN, { d: 'second.done.example' }, owner.jwtToken);
  const { customer, subscription } = await eventually(async () => {
    const [row] = await t.owner.query(sql`
      select tc.stripe_customer_id as customer, s.stripe_subscription_id as subscription
      from app_public.tenant_config tc join app_public.subscriptions s on s.tenant_id = tc.tenant_id and s.status <> 'canceled'
      where tc.tenant_id = ${owner.tenantId}
    `);
    return row?.subscription ? (row as { customer: string; subscription: string }) : null;
  });
  expect(stripe.subscriptions.get(subscription)?.customer).toBe(customer);

  // Stripe: the first payment fails, then succeeds; the subscription follows.
  const now = Math.floor(Date.now() / 1000);
  const periodEnd = now + 30 * 86400;
  const invoice = invoiceObject({ customer, subscription, amountCents: 9900, periodStart: now, periodEnd });
  expect((await deliverEvent(t.url, stripeEvent('invoice.payment_failed', invoice, { created: now - 30 }))).status).toBe(200);
  view = await t.ok(VIEW, {}, owner.jwtToken);
  expect(view.billingSubscriptions.nodes[0].status).toBe('PAST_DUE');
  expect(view.payments.nodes).toEqual([{ amount: '99.00', status: 'FAILED' }]);

  expect((await deliverEvent(t.url, stripeEvent('invoice.paid', { ...invoice, amount_paid: 9900, status_transitions: { paid_at: now } }, { created: now - 20 }))).body.outcome).toBe('applied');
  expect((await deliverEvent(t.url, stripeEvent('customer.subscription.updated', subscriptionObject({
    id: subscription, customer, status: 'active', priceId: 'price_pro_monthly', periodStart: now, periodEnd, cancelAtPeriodEnd: true,
  }), { created: now - 10 }))).body.outcome).toBe('applied');

  view = await t.ok(VIEW, {}, owner.jwtToken);
  expect(view.billingSubscriptions.nodes).toEqual([{ status: 'ACTIVE', currentPeriodEnd: expect.any(String), cancelAtPeriodEnd: true, plan: { slug: 'pro' } }]);
  expect(new Date(view.billingSubscriptions.nodes[0].currentPeriodEnd).getTime()).toBe(periodEnd * 1000);
  expect(view.payments.nodes).toEqual([{ amount: '99.00', status: 'SUCCEEDED' }]);
  expect(domains(view)).toEqual({ metric: 'domains', used: 2, limit: 10, plan: 'Pro' });
});
