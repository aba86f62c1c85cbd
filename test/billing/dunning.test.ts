/**
 * Dunning end to end: a failed payment (Stripe webhook) makes the
 * subscription past due; sending goes on through the grace period
 * (DUNNING_GRACE_DAYS); the billing_dunning task then makes it unpaid, which
 * pauses the tenant's running campaigns and refuses new sends with a clear
 * error; a payment (invoice.paid) restores the subscription and resumes
 * exactly what dunning paused.
 */
import type { TaskList } from 'graphile-worker';
import os from 'node:os';
import path from 'node:path';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { billingDunning } from '../../workers/billing-periods.ts';
import { resolveWorkerDeps } from '../../src/worker/context.ts';
import { registerUser, startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { putTenantOnPlan } from '../helpers/billing.ts';
import { TEST_WEBHOOK_SECRET, deliverEvent, invoiceObject, stripeEvent, subscriptionObject } from '../helpers/stripe-server.ts';
import { drainJobs } from '../helpers/worker.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
let tasks: TaskList;
const DAY = 86400;

beforeAll(async () => {
  t = await startTestApi({ STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET }, 'platform');
  const env = testEnv({ DUNNING_GRACE_DAYS: '3', LOG_LEVEL: 'error' });
  const systemMailer = makeSystemMailer({ from: env.MAIL_FROM, outboxDir: path.join(os.tmpdir(), 'pm-dunning-outbox') });
  // Only the dunning task: the campaign jobs that resuming queues are not this test's business.
  tasks = { billing_dunning: billingDunning(resolveWorkerDeps({ env, systemMailer })) };
});
afterAll(() => t.close());

async function runDunning(): Promise<void> {
  const [{ id }] = await t.owner.query(sql`select id from graphile_worker.add_job('billing_dunning', '{}'::json)`);
  await drainJobs(t.urls.owner, tasks);
  expect(await t.owner.query(sql`select last_error from graphile_worker.jobs where id = ${id}`)).toEqual([]);
}

async function state(tenantId: string) {
  const [sub] = await t.owner.query(sql`select status, past_due_since from app_public.subscriptions where tenant_id = ${tenantId} and status <> 'canceled'`);
  const campaigns = await t.owner.query(sql`select name, status, paused_by, pause_reason from app_public.campaigns where tenant_id = ${tenantId} order by name`);
  return { ...sub, campaigns };
}

test('past due → (grace) → unpaid: campaigns paused and sends refused; a payment restores both', async () => {
  const owner = await registerUser(t, 'dunned');
  await putTenantOnPlan(t.owner, owner.tenantId, 'pro');
  const customer = 'cus_dunned1';
  const subscription = 'sub_dunned1';
  await t.owner.query(sql`update app_public.tenant_config set stripe_customer_id = ${customer} where tenant_id = ${owner.tenantId}`);
  await t.owner.query(sql`update app_public.subscriptions set stripe_subscription_id = ${subscription} where tenant_id = ${owner.tenantId}`);
  // A running campaign (with someone in its sequence), a draft and one the user paused.
  const [lead] = await t.owner.query(sql`insert into app_public.leads (tenant_id, email) values (${owner.tenantId}, 'prospect@dunning.example') returning id`);
  const [running] = await t.owner.query(sql`
    insert into app_public.campaigns (tenant_id, name, status, started_at) values (${owner.tenantId}, 'A running', 'sending', now() - interval '1 day') returning id
  `);
  await t.owner.query(sql`
    insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, next_run_at)
    values (${owner.tenantId}, ${running.id}, ${lead.id}, 'active', now() + interval '1 day')
  `);
  await t.owner.query(sql`
    insert into app_public.campaigns (tenant_id, name, status, started_at, paused_at, paused_by, pause_reason)
    values (${owner.tenantId}, 'B paused by me', 'paused', now() - interval '2 days', now(), 'user', 'Holiday')
  `);
  await t.owner.query(sql`insert into app_public.campaigns (tenant_id, name) values (${owner.tenantId}, 'C draft')`);

  const now = Math.floor(Date.now() / 1000);
  const invoice = invoiceObject({ customer, subscription, amountCents: 9900, periodStart: now, periodEnd: now + 30 * DAY });
  const failed = stripeEvent('invoice.payment_failed', invoice, { created: now - DAY });
  expect((await deliverEvent(t.url, failed)).body.outcome).toBe('applied');
  expect(await state(owner.tenantId)).toMatchObject({ status: 'past_due', past_due_since: new Date((now - DAY) * 1000) });

  // Within the 3-day grace period: still sending.
  await runDunning();
  expect((await state(owner.tenantId)).status).toBe('past_due');
  await t.owner.query(sql`select app_private.consume_usage(${owner.tenantId}, 'emails_sent', 1)`);

  // Four days overdue: unpaid.
  await t.owner.query(sql`update app_public.subscriptions set past_due_since = now() - interval '4 days' where tenant_id = ${owner.tenantId} and status = 'past_due'`);
  await runDunning();
  const since = new Date(Date.now() - 4 * DAY * 1000).toISOString().slice(0, 10);
  expect(await state(owner.tenantId)).toMatchObject({
    status: 'unpaid',
    campaigns: [
      { name: 'A running', status: 'paused', paused_by: 'system', pause_reason: `Payment overdue since ${since}: sending is suspended until the open invoice is paid.` },
      { name: 'B paused by me', status: 'paused', paused_by: 'user', pause_reason: 'Holiday' },
      { name: 'C draft', status: 'draft', paused_by: null, pause_reason: null },
    ],
  });
  await expect(t.owner.query(sql`select app_private.consume_usage(${owner.tenantId}, 'emails_sent', 1)`)).rejects.toMatchObject({
    code: 'LIMIT',
    message: `Sending is suspended: the payment for your Pro plan is overdue (since ${since}). Pay the open invoice or update your payment method; sending resumes as soon as the payment succeeds.`,
  });
  await expect(t.owner.query(sql`select app_private.consume_usage(${owner.tenantId}, 'campaigns_started', 1)`)).rejects.toMatchObject({ code: 'LIMIT' });
  // The tenant sees why in the API.
  const seen = await t.ok(`{ billingSubscriptions { nodes { status pastDueSince } } }`, {}, owner.jwtToken);
  expect(seen.billingSubscriptions.nodes).toEqual([{ status: 'UNPAID', pastDueSince: expect.stringMatching(new RegExp(`^${since}`)) }]);
  // Running dunning again changes nothing.
  await runDunning();
  expect((await state(owner.tenantId)).status).toBe('unpaid');

  // A later "past_due" from Stripe does not lift "unpaid"; only a payment does.
  const stillDue = stripeEvent('invoice.payment_failed', invoice, { created: now - 60 });
  expect((await deliverEvent(t.url, stillDue)).body.outcome).toBe('applied');
  expect((await state(owner.tenantId)).status).toBe('unpaid');

  const paid = stripeEvent('invoice.paid', { ...invoice, amount_paid: 9900, status_transitions: { paid_at: now } }, { created: now });
  expect((await deliverEvent(t.url, paid)).body.outcome).toBe('applied');
  expect(await state(owner.tenantId)).toMatchObject({
    status: 'active',
    past_due_since: null,
    campaigns: [
      { name: 'A running', status: 'sending', paused_by: null },
      { name: 'B paused by me', status: 'paused', paused_by: 'user' },
      { name: 'C draft', status: 'draft' },
    ],
  });
  expect(Number((await t.owner.query(sql`select app_private.consume_usage(${owner.tenantId}, 'emails_sent', 1) as n`))[0].n)).toBe(2);
  expect(await t.owner.query(sql`select status from app_public.payments where tenant_id = ${owner.tenantId}`)).toEqual([{ status: 'succeeded' }]);
});

test('Stripe reporting the subscription unpaid pauses the campaigns too; Stripe reporting it active again resumes them', async () => {
  const owner = await registerUser(t, 'stripe-unpaid');
  await putTenantOnPlan(t.owner, owner.tenantId, 'starter');
  await t.owner.query(sql`update app_public.plans set stripe_price_id = 'price_starter_dunning' where slug = 'starter'`);
  await t.owner.query(sql`update app_public.tenant_config set stripe_customer_id = 'cus_dunned2' where tenant_id = ${owner.tenantId}`);
  await t.owner.query(sql`update app_public.subscriptions set stripe_subscription_id = 'sub_dunned2' where tenant_id = ${owner.tenantId}`);
  const [lead] = await t.owner.query(sql`insert into app_public.leads (tenant_id, email) values (${owner.tenantId}, 'someone@dunning.example') returning id`);
  const [running] = await t.owner.query(sql`
    insert into app_public.campaigns (tenant_id, name, status, started_at) values (${owner.tenantId}, 'A running', 'sending', now()) returning id
  `);
  await t.owner.query(sql`
    insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, next_run_at) values (${owner.tenantId}, ${running.id}, ${lead.id}, 'active', now())
  `);
  const now = Math.floor(Date.now() / 1000);
  const subscription = (status: string) => subscriptionObject({
    id: 'sub_dunned2', customer: 'cus_dunned2', status, priceId: 'price_starter_dunning', periodStart: now - DAY, periodEnd: now + 29 * DAY,
  });
  expect((await deliverEvent(t.url, stripeEvent('customer.subscription.updated', subscription('unpaid'), { created: now - 10 }))).body.outcome).toBe('applied');
  expect(await state(owner.tenantId)).toMatchObject({ status: 'unpaid', campaigns: [{ name: 'A running', status: 'paused', paused_by: 'system' }] });
  expect((await deliverEvent(t.url, stripeEvent('customer.subscription.updated', subscription('active'), { created: now }))).body.outcome).toBe('applied');
  expect(await state(owner.tenantId)).toMatchObject({ status: 'active', past_due_since: null, campaigns: [{ name: 'A running', status: 'sending' }] });
});

test('the grace period may be zero, never negative', async () => {
  const owner = await registerUser(t, 'no-grace');
  await t.owner.query(sql`update app_public.subscriptions set status = 'past_due', past_due_since = now() where tenant_id = ${owner.tenantId}`);
  const [rows] = await t.owner.query(sql`select count(*)::int as n from app_private.apply_dunning(interval '0', now() + interval '1 second') where tenant_id = ${owner.tenantId}`);
  expect(rows.n).toBe(1);
  expect((await state(owner.tenantId)).status).toBe('unpaid');
  await expect(t.owner.query(sql`select * from app_private.apply_dunning(interval '-1 day')`)).rejects.toMatchObject({
    code: 'INVAL',
    message: 'The dunning grace period must be zero or more, not -1 days.',
  });
});
