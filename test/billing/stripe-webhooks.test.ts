/**
 * POST /webhooks/stripe on a real API server: signatures verified on the raw
 * body with the SDK (bad ones: 400, nothing stored), each event stored once
 * (replays and concurrent duplicates are no-ops), invoices and subscription
 * changes applied in SQL, and late events never undoing newer state. Events
 * are signed for real with stripe.webhooks.generateTestHeaderString.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stripeWebhookRoutes } from '../../src/billing/stripe-webhook.ts';
import { registerUser, startTestApi, type TestApi } from '../helpers/api.ts';
import {
  TEST_WEBHOOK_SECRET,
  deliverEvent,
  invoiceObject,
  signatureFor,
  stripeEvent,
  subscriptionObject,
} from '../helpers/stripe-server.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
const DAY = 86400;

beforeAll(async () => {
  t = await startTestApi({ STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET }, 'platform');
  await t.owner.query(sql`
    update app_public.plans set stripe_price_id = 'price_' || slug || '_monthly' where slug in ('starter', 'pro', 'enterprise')
  `);
});
afterAll(async () => {
  await t.close();
});

let seq = 0;
/** A registered tenant billed by Stripe: customer and subscription ids linked, on the given plan. */
async function stripeTenant(label: string, plan = 'pro') {
  const owner = await registerUser(t, label);
  seq += 1;
  const customer = `cus_${label.replace(/[^a-z0-9]/gi, '')}${seq}`;
  const subscription = `sub_${label.replace(/[^a-z0-9]/gi, '')}${seq}`;
  await t.owner.query(sql`update app_public.tenant_config set stripe_customer_id = ${customer} where tenant_id = ${owner.tenantId}`);
  await t.owner.query(sql`
    update app_public.subscriptions set stripe_subscription_id = ${subscription}, plan_id = (select id from app_public.plans where slug = ${plan})
    where tenant_id = ${owner.tenantId}
  `);
  return { ...owner, customer, subscription };
}

async function subscriptionOf(tenantId: string) {
  const [row] = await t.owner.query(sql`
    select s.status, p.slug as plan, pp.slug as pending, s.cancel_at_period_end, s.past_due_since, s.current_period_start, s.current_period_end, s.stripe_updated_at
    from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id left join app_public.plans pp on pp.id = s.pending_plan_id
    where s.tenant_id = ${tenantId} and s.status <> 'canceled'
  `);
  return row;
}

const storedEvents = async (id: string) => t.owner.query(sql`select id, outcome, tenant_id, error from app_private.stripe_events where id = ${id}`);

describe('signatures', () => {
  test('a missing, wrong, tampered or stale signature gets 400 and stores nothing', async () => {
    const tenant = await stripeTenant('sig');
    const event = stripeEvent('customer.subscription.updated', subscriptionObject({
      id: tenant.subscription, customer: tenant.customer, status: 'past_due', priceId: 'price_pro_monthly', periodStart: 1_800_000_000, periodEnd: 1_800_000_000 + 30 * DAY,
    }));
    const payload = JSON.stringify(event);

    const missing = await deliverEvent(t.url, event, { signature: null });
    expect(missing).toEqual({ status: 400, body: { error: 'Missing the Stripe-Signature header.' } });
    const wrongSecret = await deliverEvent(t.url, event, { secret: 'whsec_notTheRightSecret000000' });
    expect(wrongSecret.status).toBe(400);
    expect(wrongSecret.body.error).toMatch(/^The Stripe signature does not verify: No signatures found matching the expected signature for payload/);
    const tampered = await deliverEvent(t.url, payload.replace('"past_due"', '"active"'), { signature: signatureFor(payload) });
    expect(tampered.status).toBe(400);
    const stale = await deliverEvent(t.url, event, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(400);
    expect(stale.body.error).toMatch(/Timestamp outside the tolerance zone/);
    const garbage = await deliverEvent(t.url, event, { signature: 't=1,v1=deadbeef' });
    expect(garbage.status).toBe(400);

    expect(await storedEvents(event.id)).toEqual([]);
    expect((await subscriptionOf(tenant.tenantId)).status).toBe('active');

    // The same event, correctly signed, goes through.
    expect(await deliverEvent(t.url, event)).toEqual({ status: 200, body: { received: true, id: event.id, outcome: 'applied' } });
    expect((await subscriptionOf(tenant.tenantId)).status).toBe('past_due');
  });
});

describe('invoices and subscription changes', () => {
  test('invoice.paid records the payment, reactivates the subscription and moves the period', async () => {
    const tenant = await stripeTenant('paid');
    await t.owner.query(sql`update app_public.subscriptions set status = 'past_due', past_due_since = now() - interval '2 days' where tenant_id = ${tenant.tenantId}`);
    const start = Math.floor(Date.now() / 1000) + 5 * DAY;
    const invoice = invoiceObject({ customer: tenant.customer, subscription: tenant.subscription, amountCents: 9900, periodStart: start, periodEnd: start + 30 * DAY, paidAt: start });
    const event = stripeEvent('invoice.paid', invoice);
    expect((await deliverEvent(t.url, event)).body.outcome).toBe('applied');

    const payments = await t.owner.query(sql`
      select amount::text, currency, status, stripe_invoice_id, billing_period_start, billing_period_end, processed_at
      from app_public.payments where tenant_id = ${tenant.tenantId}
    `);
    expect(payments).toEqual([{
      amount: '99.00', currency: 'USD', status: 'succeeded', stripe_invoice_id: invoice.id,
      billing_period_start: new Date(start * 1000), billing_period_end: new Date((start + 30 * DAY) * 1000), processed_at: new Date(start * 1000),
    }]);
    const sub = await subscriptionOf(tenant.tenantId);
    expect(sub).toMatchObject({ status: 'active', past_due_since: null, current_period_start: new Date(start * 1000), current_period_end: new Date((start + 30 * DAY) * 1000) });
    expect(await storedEvents(event.id)).toEqual([{ id: event.id, outcome: 'applied', tenant_id: tenant.tenantId, error: null }]);

    // The tenant sees its payment through the API (owners and admins).
    const api = await t.ok(`{ payments { nodes { amount status stripeInvoiceId } } billingSubscriptions { nodes { status } } }`, {}, tenant.jwtToken);
    expect(api).toEqual({ payments: { nodes: [{ amount: '99.00', status: 'SUCCEEDED', stripeInvoiceId: invoice.id }] }, billingSubscriptions: { nodes: [{ status: 'ACTIVE' }] } });
  });

  test('invoice.payment_failed records a failed payment and makes the subscription past due', async () => {
    const tenant = await stripeTenant('failed');
    const now = Math.floor(Date.now() / 1000);
    const invoice = invoiceObject({ customer: tenant.customer, subscription: tenant.subscription, amountCents: 3900, periodStart: now, periodEnd: now + 30 * DAY });
    const event = stripeEvent('invoice.payment_failed', invoice, { created: now - 60 });
    expect((await deliverEvent(t.url, event)).body.outcome).toBe('applied');
    const [payment] = await t.owner.query(sql`select amount::text, status from app_public.payments where tenant_id = ${tenant.tenantId}`);
    expect(payment).toEqual({ amount: '39.00', status: 'failed' });
    const sub = await subscriptionOf(tenant.tenantId);
    expect(sub.status).toBe('past_due');
    expect(sub.past_due_since).toEqual(new Date((now - 60) * 1000));
  });

  test('customer.subscription.updated applies status, plan (by Stripe price), period and cancel_at_period_end', async () => {
    const tenant = await stripeTenant('updated', 'starter');
    const start = Math.floor(Date.now() / 1000);
    const event = stripeEvent('customer.subscription.updated', subscriptionObject({
      id: tenant.subscription, customer: tenant.customer, status: 'active', priceId: 'price_pro_monthly', periodStart: start, periodEnd: start + 31 * DAY, cancelAtPeriodEnd: true,
    }));
    expect((await deliverEvent(t.url, event)).body.outcome).toBe('applied');
    expect(await subscriptionOf(tenant.tenantId)).toMatchObject({
      status: 'active', plan: 'pro', pending: null, cancel_at_period_end: true,
      current_period_start: new Date(start * 1000), current_period_end: new Date((start + 31 * DAY) * 1000),
      stripe_updated_at: new Date(event.created * 1000),
    });
    const [period] = await t.owner.query(sql`select p.slug from app_public.usage_periods up join app_public.plans p on p.id = up.plan_id where up.tenant_id = ${tenant.tenantId} and up.closed_at is null`);
    expect(period.slug).toBe('pro');

    // A scheduled downgrade pushed to Stripe (its price already the pending plan's) does not change the plan before the period ends.
    await t.owner.query(sql`update app_public.subscriptions set pending_plan_id = (select id from app_public.plans where slug = 'starter') where tenant_id = ${tenant.tenantId}`);
    const pushed = stripeEvent('customer.subscription.updated', subscriptionObject({
      id: tenant.subscription, customer: tenant.customer, status: 'active', priceId: 'price_starter_monthly', periodStart: start, periodEnd: start + 31 * DAY,
    }), { created: event.created + 1 });
    expect((await deliverEvent(t.url, pushed)).body.outcome).toBe('applied');
    expect(await subscriptionOf(tenant.tenantId)).toMatchObject({ plan: 'pro', pending: 'starter', cancel_at_period_end: false });
  });

  test('customer.subscription.deleted ends the subscription; the tenant continues on Free', async () => {
    const tenant = await stripeTenant('deleted');
    const now = Math.floor(Date.now() / 1000);
    const event = stripeEvent('customer.subscription.deleted', subscriptionObject({
      id: tenant.subscription, customer: tenant.customer, status: 'canceled', priceId: 'price_pro_monthly', periodStart: now - DAY, periodEnd: now + 29 * DAY,
    }));
    expect((await deliverEvent(t.url, event)).body.outcome).toBe('applied');
    const subs = await t.owner.query(sql`
      select s.status, p.slug, s.stripe_subscription_id from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id
      where s.tenant_id = ${tenant.tenantId} order by s.created
    `);
    expect(subs).toEqual([
      { status: 'canceled', slug: 'pro', stripe_subscription_id: tenant.subscription },
      { status: 'active', slug: 'free', stripe_subscription_id: null },
    ]);
    // Anything later about the ended Stripe subscription changes nothing.
    const late = stripeEvent('customer.subscription.updated', subscriptionObject({
      id: tenant.subscription, customer: tenant.customer, status: 'active', priceId: 'price_pro_monthly', periodStart: now, periodEnd: now + 30 * DAY,
    }), { created: event.created + 10 });
    expect((await deliverEvent(t.url, late)).body.outcome).toBe('stale');
    expect((await subscriptionOf(tenant.tenantId)).plan).toBe('free');
  });

  test('a subscription created in Stripe for a known customer is linked to the tenant', async () => {
    const owner = await registerUser(t, 'linked');
    await t.owner.query(sql`update app_public.tenant_config set stripe_customer_id = 'cus_linkme42' where tenant_id = ${owner.tenantId}`);
    const now = Math.floor(Date.now() / 1000);
    const event = stripeEvent('customer.subscription.created', subscriptionObject({
      id: 'sub_linkme42', customer: 'cus_linkme42', status: 'active', priceId: 'price_starter_monthly', periodStart: now, periodEnd: now + 30 * DAY,
    }));
    expect((await deliverEvent(t.url, event)).body.outcome).toBe('applied');
    const [sub] = await t.owner.query(sql`
      select s.stripe_subscription_id, p.slug from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id
      where s.tenant_id = ${owner.tenantId} and s.status = 'active'
    `);
    expect(sub).toEqual({ stripe_subscription_id: 'sub_linkme42', slug: 'starter' });
  });

  test('unknown customers and unhandled event types are stored and acknowledged; an unknown price is stored as failed and changes nothing', async () => {
    const stranger = stripeEvent('invoice.paid', invoiceObject({ customer: 'cus_nobody', subscription: 'sub_nobody', amountCents: 100, periodStart: 1_800_000_000, periodEnd: 1_800_086_400, paidAt: 1_800_000_000 }));
    expect(await deliverEvent(t.url, stranger)).toEqual({ status: 200, body: { received: true, id: stranger.id, outcome: 'unknown_customer' } });
    expect(await storedEvents(stranger.id)).toEqual([{ id: stranger.id, outcome: 'unknown_customer', tenant_id: null, error: null }]);

    const other = stripeEvent('charge.refunded', { id: 'ch_123', object: 'charge' });
    expect((await deliverEvent(t.url, other)).body.outcome).toBe('ignored');
    expect((await storedEvents(other.id))[0].outcome).toBe('ignored');

    const tenant = await stripeTenant('badprice');
    const now = Math.floor(Date.now() / 1000);
    const bad = stripeEvent('customer.subscription.updated', subscriptionObject({
      id: tenant.subscription, customer: tenant.customer, status: 'past_due', priceId: 'price_unknown', periodStart: now, periodEnd: now + 30 * DAY,
    }));
    expect((await deliverEvent(t.url, bad)).body.outcome).toBe('failed');
    expect(await storedEvents(bad.id)).toEqual([{
      id: bad.id, outcome: 'failed', tenant_id: null, error: "No plan has the Stripe price price_unknown; set it as a plan's stripe_price_id (monthly) or stripe_price_id_yearly (yearly).",
    }]);
    expect(await subscriptionOf(tenant.tenantId)).toMatchObject({ status: 'active', plan: 'pro', stripe_updated_at: null });
  });
});

describe('exactly once, in the right order', () => {
  test('a replayed event is a no-op', async () => {
    const tenant = await stripeTenant('replay');
    const now = Math.floor(Date.now() / 1000);
    const event = stripeEvent('invoice.payment_failed', invoiceObject({ customer: tenant.customer, subscription: tenant.subscription, amountCents: 9900, periodStart: now, periodEnd: now + 30 * DAY }));
    expect((await deliverEvent(t.url, event)).body.outcome).toBe('applied');
    // In between, the tenant pays (a newer event)…
    const paid = stripeEvent('invoice.paid', invoiceObject({ customer: tenant.customer, subscription: tenant.subscription, amountCents: 9900, periodStart: now, periodEnd: now + 30 * DAY, paidAt: now }), { created: event.created + 5 });
    expect((await deliverEvent(t.url, paid)).body.outcome).toBe('applied');
    // …then Stripe redelivers the failure: it was received already, nothing happens.
    expect(await deliverEvent(t.url, event)).toEqual({ status: 200, body: { received: true, id: event.id, outcome: 'duplicate' } });
    expect((await subscriptionOf(tenant.tenantId)).status).toBe('active');
    expect(await t.owner.query(sql`select count(*)::int as n from app_private.stripe_events where id = ${event.id}`)).toEqual([{ n: 1 }]);
  });

  test('twenty concurrent deliveries of one event apply it once', async () => {
    const tenant = await stripeTenant('concurrent');
    const now = Math.floor(Date.now() / 1000);
    const event = stripeEvent('invoice.paid', invoiceObject({ customer: tenant.customer, subscription: tenant.subscription, amountCents: 9900, periodStart: now, periodEnd: now + 30 * DAY, paidAt: now }));
    const payload = JSON.stringify(event);
    const [{ since }] = await t.owner.query(sql`select coalesce(max(id), 0) as since from app_public.audit_log where tenant_id = ${tenant.tenantId}`);
    const results = await Promise.all(Array.from({ length: 20 }, () => deliverEvent(t.url, payload)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(results.map((r) => r.body.outcome).sort()).toEqual(['applied', ...Array(19).fill('duplicate')]);
    expect(await t.owner.query(sql`select count(*)::int as n from app_public.payments where tenant_id = ${tenant.tenantId}`)).toEqual([{ n: 1 }]);
    // Every change to the subscription came from one transaction (audit_log.occurred_at is its start time).
    const audit = await t.owner.query(sql`select count(distinct occurred_at)::int as n from app_public.audit_log where tenant_id = ${tenant.tenantId} and action = 'subscriptions.update' and id > ${since}`);
    expect(audit[0].n).toBe(1);
  });

  test('an older event delivered late never undoes a newer state', async () => {
    const tenant = await stripeTenant('order', 'starter');
    const now = Math.floor(Date.now() / 1000);
    const sub = (status: string, price: string) => subscriptionObject({ id: tenant.subscription, customer: tenant.customer, status, priceId: price, periodStart: now, periodEnd: now + 30 * DAY });
    const older = stripeEvent('customer.subscription.updated', sub('past_due', 'price_starter_monthly'), { created: now - 100 });
    const newer = stripeEvent('customer.subscription.updated', sub('active', 'price_pro_monthly'), { created: now - 50 });
    expect((await deliverEvent(t.url, newer)).body.outcome).toBe('applied');
    expect((await deliverEvent(t.url, older)).body.outcome).toBe('stale');
    expect(await subscriptionOf(tenant.tenantId)).toMatchObject({ status: 'active', plan: 'pro', past_due_since: null, stripe_updated_at: new Date((now - 50) * 1000) });

    // A failure notice older than the payment: the payment row stays succeeded and the subscription active.
    const invoice = invoiceObject({ customer: tenant.customer, subscription: tenant.subscription, amountCents: 9900, periodStart: now, periodEnd: now + 30 * DAY, paidAt: now });
    const paid = stripeEvent('invoice.paid', invoice, { created: now - 10 });
    const failed = stripeEvent('invoice.payment_failed', { ...invoice, amount_paid: 0 }, { created: now - 20 });
    expect((await deliverEvent(t.url, paid)).body.outcome).toBe('applied');
    expect((await deliverEvent(t.url, failed)).body.outcome).toBe('stale');
    expect(await t.owner.query(sql`select status from app_public.payments where tenant_id = ${tenant.tenantId}`)).toEqual([{ status: 'succeeded' }]);
    expect((await subscriptionOf(tenant.tenantId)).status).toBe('active');
  });
});

test('without STRIPE_WEBHOOK_SECRET the endpoint answers 503 and stores nothing', async () => {
  // The same route, mounted on a bare HTTP server (no API needed to prove it).
  const [route] = stripeWebhookRoutes({ pool: t.api.ownerPool, secret: undefined });
  const server = createServer((req, res) => void route!.handler(req, res, new URL(req.url ?? '/', 'http://localhost')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const event = stripeEvent('charge.refunded', { id: 'ch_1', object: 'charge' });
    const result = await deliverEvent(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, event);
    expect(result).toEqual({ status: 503, body: { error: 'Stripe webhooks are not configured on this server (STRIPE_WEBHOOK_SECRET is not set).' } });
    expect(await storedEvents(event.id)).toEqual([]);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
