/**
 * Usage, limits and plan changes through the GraphQL API: a tenant sees its
 * usage and limits, hits PLAN_LIMIT_REACHED with the exact message, upgrades
 * (limits rise at once), schedules a downgrade, cancels, and staff with
 * billing.manage do the same for any tenant.
 */
import { registerUser, startTestApi, type TestApi } from '../helpers/api.ts';
import { putTenantOnPlan } from '../helpers/billing.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => {
  await t.close();
});

const USAGE = `{ currentUsage { metric used limit plan } }`;
const CHANGE = `mutation($slug: String!, $later: Boolean) { changePlan(input: { planSlug: $slug, atPeriodEnd: $later }) { result { rowId status cancelAtPeriodEnd plan { slug } pendingPlan { slug } } } }`;
const CANCEL = `mutation($later: Boolean) { cancelBillingSubscription(input: { atPeriodEnd: $later }) { result { rowId status cancelAtPeriodEnd plan { slug } } } }`;

const usageMap = (rows: Array<{ metric: string; used: string; limit: string | null; plan: string }>) =>
  Object.fromEntries(rows.map((r) => [r.metric, [Number(r.used), r.limit === null ? null : Number(r.limit), r.plan]]));

async function login(email: string, password: string): Promise<string> {
  const data = await t.ok(`mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { jwtToken } }`, { e: email, p: password });
  return data.login.jwtToken;
}

test('a new tenant sees its usage and Free limits; writes past a limit get PLAN_LIMIT_REACHED with the plan, limit and usage', async () => {
  const owner = await registerUser(t, 'usage');
  const before = usageMap((await t.ok(USAGE, {}, owner.jwtToken)).currentUsage);
  expect(before).toEqual({
    emails_sent: [0, 500, 'Free'],
    campaigns_started: [0, 2, 'Free'],
    warmups: [0, 1, 'Free'],
    contacts: [0, 500, 'Free'],
    domains: [0, 1, 'Free'],
    email_accounts: [0, 1, 'Free'],
    users: [1, 1, 'Free'],
  });

  await t.owner.query(sql`
    insert into app_public.leads (tenant_id, email) select ${owner.tenantId}, 'l' || g || '@usage.example' from generate_series(1, 500) g
  `);
  const refused = await t.gql(`mutation { createLead(input: { lead: { email: "one-more@usage.example" } }) { lead { rowId } } }`, {}, owner.jwtToken);
  expect(refused.errors?.[0]).toMatchObject({
    message: 'Your Free plan allows 500 contacts; 500 already used. Upgrade the plan or buy an add-on to go further.',
    extensions: { code: 'PLAN_LIMIT_REACHED' },
  });
  const invite = await t.gql(`mutation { inviteMember(input: { email: "colleague@usage.example" }) { result { rowId } } }`, {}, owner.jwtToken);
  expect(invite.errors?.[0]?.extensions?.code).toBe('PLAN_LIMIT_REACHED');
  expect(invite.errors?.[0]?.message).toMatch(/^Your Free plan allows 1 member; 1 already taken \(1 active, 0 invited\)/);
  expect(await t.owner.query(sql`select 1 from app_public.leads where email = 'one-more@usage.example'`)).toEqual([]);

  // Sends are metered; the open period shows live figures.
  await t.owner.query(sql`select app_private.consume_usage(${owner.tenantId}, 'emails_sent', 42)`);
  const periods = await t.ok(`{ usagePeriods { nodes { closedAt plan { slug } usage { emailsSent campaignsStarted contacts users } } } }`, {}, owner.jwtToken);
  expect(periods.usagePeriods.nodes).toEqual([
    { closedAt: null, plan: { slug: 'free' }, usage: { emailsSent: 42, campaignsStarted: 0, contacts: 500, users: 1 } },
  ]);
  expect(usageMap((await t.ok(USAGE, {}, owner.jwtToken)).currentUsage).emails_sent).toEqual([42, 500, 'Free']);
});

test('upgrading applies at once and raises the limits; a downgrade waits for the period end; choosing the current plan undoes it', async () => {
  const owner = await registerUser(t, 'upgrade');
  const up = await t.ok(CHANGE, { slug: 'pro' }, owner.jwtToken);
  expect(up.changePlan.result).toMatchObject({ status: 'ACTIVE', plan: { slug: 'pro' }, pendingPlan: null });
  expect(usageMap((await t.ok(USAGE, {}, owner.jwtToken)).currentUsage).users).toEqual([1, 10, 'Pro']);
  await t.ok(`mutation { inviteMember(input: { email: "now-possible@upgrade.example" }) { result { rowId } } }`, {}, owner.jwtToken);
  const [period] = await t.owner.query(sql`select p.slug from app_public.usage_periods up join app_public.plans p on p.id = up.plan_id where up.tenant_id = ${owner.tenantId} and up.closed_at is null`);
  expect(period.slug).toBe('pro');

  const down = await t.ok(CHANGE, { slug: 'starter' }, owner.jwtToken);
  expect(down.changePlan.result).toMatchObject({ plan: { slug: 'pro' }, pendingPlan: { slug: 'starter' } });
  expect(usageMap((await t.ok(USAGE, {}, owner.jwtToken)).currentUsage).users[2]).toBe('Pro');

  const stay = await t.ok(CHANGE, { slug: 'pro' }, owner.jwtToken);
  expect(stay.changePlan.result).toMatchObject({ plan: { slug: 'pro' }, pendingPlan: null });
  const again = await t.gql(CHANGE, { slug: 'pro' }, owner.jwtToken);
  expect(again.errors?.[0]).toMatchObject({ message: 'You are already on the Pro plan.', extensions: { code: 'INVALID_INPUT' } });

  // A downgrade forced to apply now is allowed even above the new limits: data stays, adding is refused.
  await t.owner.query(sql`insert into app_public.leads (tenant_id, email) select ${owner.tenantId}, 'l' || g || '@down.example' from generate_series(1, 600) g`);
  const now = await t.ok(CHANGE, { slug: 'free', later: false }, owner.jwtToken);
  expect(now.changePlan.result).toMatchObject({ status: 'ACTIVE', plan: { slug: 'free' } });
  expect(usageMap((await t.ok(USAGE, {}, owner.jwtToken)).currentUsage).contacts).toEqual([600, 500, 'Free']);
  expect((await t.gql(`mutation { createLead(input: { lead: { email: "x@down.example" } }) { lead { rowId } } }`, {}, owner.jwtToken)).errors?.[0]?.message).toBe(
    'Your Free plan allows 500 contacts; 600 already used. Upgrade the plan or buy an add-on to go further.',
  );
});

test('plan changes are for owners and admins, name a real plan, and are refused while a payment is overdue', async () => {
  const owner = await registerUser(t, 'roles');
  await putTenantOnPlan(t.owner, owner.tenantId, 'starter');
  const member = await registerUser(t, 'roles-member');
  await t.owner.query(sql`
    insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${owner.tenantId}, ${member.userId}, '{member}', ${member.email})
  `);
  const memberToken = (await t.ok(`mutation($id: UUID!) { switchTenant(input: { tenantId: $id }) { jwtToken } }`, { id: owner.tenantId }, member.jwtToken)).switchTenant.jwtToken;
  const forbidden = await t.gql(CHANGE, { slug: 'pro' }, memberToken);
  expect(forbidden.errors?.[0]).toMatchObject({
    message: 'Only owners and admins can change the plan or cancel the subscription.',
    extensions: { code: 'FORBIDDEN' },
  });
  expect((await t.gql(CANCEL, {}, memberToken)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  // Members still read the usage.
  expect(usageMap((await t.ok(USAGE, {}, memberToken)).currentUsage).users).toEqual([2, 3, 'Starter']);

  const unknown = await t.gql(CHANGE, { slug: 'platinum' }, owner.jwtToken);
  expect(unknown.errors?.[0]).toMatchObject({
    message: 'There is no plan "platinum". Choose one of: free, starter, pro, enterprise.',
    extensions: { code: 'NOT_FOUND' },
  });

  await t.owner.query(sql`update app_public.subscriptions set status = 'unpaid', past_due_since = now() - interval '10 days' where tenant_id = ${owner.tenantId}`);
  const overdue = await t.gql(CHANGE, { slug: 'pro' }, owner.jwtToken);
  expect(overdue.errors?.[0]).toMatchObject({
    message: 'The payment for your Starter plan is overdue: pay the open invoice before changing plans.',
    extensions: { code: 'CONFLICT' },
  });
  const [sub] = await t.owner.query(sql`select p.slug from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id where s.tenant_id = ${owner.tenantId} and s.status <> 'canceled'`);
  expect(sub.slug).toBe('starter');
});

test('cancelling at the period end keeps the plan until then; cancelling now continues on Free with a fresh period', async () => {
  const owner = await registerUser(t, 'cancel');
  await t.ok(CHANGE, { slug: 'starter' }, owner.jwtToken);
  const free = await registerUser(t, 'cancel-free');
  expect((await t.gql(CANCEL, {}, free.jwtToken)).errors?.[0]).toMatchObject({
    message: 'The Free plan is free: there is nothing to cancel.',
    extensions: { code: 'INVALID_INPUT' },
  });

  const later = await t.ok(CANCEL, {}, owner.jwtToken);
  expect(later.cancelBillingSubscription.result).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: true, plan: { slug: 'starter' } });
  const twice = await t.gql(CANCEL, {}, owner.jwtToken);
  expect(twice.errors?.[0]?.message).toMatch(/^Your Starter plan already ends on \d{4}-\d\d-\d\d\.$/);
  // Changing to the current plan takes the cancellation back.
  expect((await t.ok(CHANGE, { slug: 'starter' }, owner.jwtToken)).changePlan.result.cancelAtPeriodEnd).toBe(false);

  await t.owner.query(sql`select app_private.consume_usage(${owner.tenantId}, 'emails_sent', 7)`);
  const now = await t.ok(CANCEL, { later: false }, owner.jwtToken);
  expect(now.cancelBillingSubscription.result).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: false, plan: { slug: 'free' } });
  const subs = await t.owner.query(sql`
    select s.status, p.slug, s.cancelled_at is not null as canceled from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id
    where s.tenant_id = ${owner.tenantId} order by s.created
  `);
  expect(subs).toEqual([
    { status: 'canceled', slug: 'starter', canceled: true },
    { status: 'active', slug: 'free', canceled: false },
  ]);
  const periods = await t.ok(`{ usagePeriods(orderBy: PERIOD_START_ASC) { nodes { closedAt emailsSent plan { slug } usage { emailsSent } } } }`, {}, owner.jwtToken);
  expect(periods.usagePeriods.nodes).toEqual([
    { closedAt: expect.any(String), emailsSent: 7, plan: { slug: 'starter' }, usage: { emailsSent: 7 } },
    { closedAt: null, emailsSent: null, plan: { slug: 'free' }, usage: { emailsSent: 0 } },
  ]);
});

test("staff with billing.manage change any tenant's plan (audited); other staff and members cannot", async () => {
  const customer = await registerUser(t, 'customer');
  const biller = await registerUser(t, 'biller');
  const supporter = await registerUser(t, 'supporter');
  await t.owner.query(sql`
    insert into app_public.staff_members (user_id, role_id)
    select u.id, r.id from (values (${biller.userId}::uuid, 'billing'), (${supporter.userId}::uuid, 'support')) as v (uid, role)
    join app_public.users u on u.id = v.uid join app_public.staff_roles r on r.name = v.role
  `);
  const STAFF_CHANGE = `mutation($tenant: UUID!, $slug: String!, $reason: String) { changeTenantPlan(input: { tenantId: $tenant, planSlug: $slug, reason: $reason }) { result { plan { slug } } } }`;
  const billerToken = await login(biller.email, biller.password);
  const supporterToken = await login(supporter.email, supporter.password);

  const changed = await t.ok(STAFF_CHANGE, { tenant: customer.tenantId, slug: 'enterprise', reason: 'Signed an enterprise contract' }, billerToken);
  expect(changed.changeTenantPlan.result).toEqual({ plan: { slug: 'enterprise' } });
  expect(usageMap((await t.ok(USAGE, {}, customer.jwtToken)).currentUsage).emails_sent).toEqual([0, null, 'Enterprise']);

  const refused = await t.gql(STAFF_CHANGE, { tenant: customer.tenantId, slug: 'free' }, supporterToken);
  expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  const byMember = await t.gql(STAFF_CHANGE, { tenant: biller.tenantId, slug: 'pro' }, customer.jwtToken);
  expect(byMember.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

  const cancel = await t.ok(
    `mutation($tenant: UUID!) { cancelTenantBillingSubscription(input: { tenantId: $tenant, atPeriodEnd: true }) { result { cancelAtPeriodEnd plan { slug } } } }`,
    { tenant: customer.tenantId },
    billerToken,
  );
  expect(cancel.cancelTenantBillingSubscription.result).toEqual({ cancelAtPeriodEnd: true, plan: { slug: 'enterprise' } });

  const platform = await t.owner.query(sql`
    select action, reason from app_public.platform_audit_log where target_tenant_id = ${customer.tenantId} and action like 'billing.%' order by id
  `);
  expect(platform).toEqual([
    { action: 'billing.plan_changed', reason: 'Signed an enterprise contract' },
    { action: 'billing.subscription_canceled', reason: null },
  ]);
  const tenantLog = await t.owner.query(sql`
    select actor_is_staff from app_public.audit_log where tenant_id = ${customer.tenantId} and action = 'subscriptions.update' order by id
  `);
  expect(tenantLog.map((r) => r.actor_is_staff)).toEqual([true, true]);
});
