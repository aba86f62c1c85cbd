/**
 * Plan features: every column of plans does something or is gone.
 *
 * - price_yearly: yearly billing. changePlan takes a billing interval; the
 *   sync job sends the plan's yearly Stripe price to a local Stripe stand-in
 *   (the official SDK, as in stripe-sync.test.ts); a subscription webhook
 *   (signed for real) maps a yearly price back to plan and interval; a yearly
 *   subscription is metered month by month and a scheduled downgrade waits
 *   for the year's end.
 * - advanced_analytics: without it, the day-by-day rows are invisible (row
 *   policy: members, API keys) and the daily reads refuse with
 *   PLAN_FEATURE_REQUIRED; totals stay on every plan.
 * - priority_support, max_storage_gb: dropped, with the max_storage_gb add-on
 *   type.
 */
import { populatePlatform, populateTenant } from '../../src/db/demo-data.ts';
import { sql } from '../../src/db/pg.ts';
import { registerUser, startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { eventually } from '../helpers/eventually.ts';
import {
  TEST_WEBHOOK_SECRET,
  deliverEvent,
  startStripeServer,
  stripeEvent,
  subscriptionObject,
  type StripeRequest,
  type StripeStandIn,
} from '../helpers/stripe-server.ts';
import { singleNodeTest } from '../helpers/engine.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';

// The tests in one rolled-back transaction (withTx) run on one PostgreSQL
// only; on a cluster, the API tests below cover the same rules.

let t: TestApi;
let stripe: StripeStandIn;
let worker: TestWorker;
const DAY = 86400;

beforeAll(async () => {
  stripe = await startStripeServer();
  t = await startTestApi({ STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET }, 'platform');
  // Starter and Pro have a monthly and a yearly Stripe price; Enterprise only a monthly one.
  await t.owner.query(sql`
    update app_public.plans set stripe_price_id = 'price_' || slug || '_monthly',
      stripe_price_id_yearly = case when slug <> 'enterprise' then 'price_' || slug || '_yearly' end
    where slug in ('starter', 'pro', 'enterprise')
  `);
  worker = await startTestWorker(t.urls.owner, testEnv({ ...stripe.env, LOG_LEVEL: 'silent' }), { pollInterval: 100 });
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await stripe?.close();
  await closeDb();
});

/** changePlan, the interval an enum (MONTH, YEAR) read from subscriptions' CHECK constraint. */
const CHANGE = (interval: string) => `mutation($slug: String!, $later: Boolean) {
  changePlan(input: { planSlug: $slug, atPeriodEnd: $later, billingInterval: ${interval} }) { result { rowId billingInterval } }
}`;

async function subscriptionOf(tenantId: string) {
  const [row] = await t.owner.query(sql`
    select p.slug as plan, pp.slug as pending, s.billing_interval, s.stripe_subscription_id, s.cancel_at_period_end,
           s.current_period_start, s.current_period_end
    from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id left join app_public.plans pp on pp.id = s.pending_plan_id
    where s.tenant_id = ${tenantId} and s.status <> 'canceled'
  `);
  return row;
}

async function noJobsLeft() {
  await eventually(async () => {
    const [{ n }] = await t.owner.query(sql`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'billing_stripe_sync'`);
    return n === 0;
  }, 15_000);
}

const since = (mark: number): StripeRequest[] => stripe.requests.slice(mark);

describe('yearly billing (price_yearly)', () => {
  test('choosing yearly billing creates the Stripe subscription with the yearly price; back to monthly swaps the price, prorated', async () => {
    const owner = await registerUser(t, 'yearly');
    let mark = stripe.requests.length;
    const data = await t.ok(CHANGE('YEAR'), { slug: 'pro' }, owner.jwtToken);
    expect(data.changePlan.result.billingInterval).toBe('YEAR');
    const { stripe_subscription_id: stripeId } = await eventually(async () => {
      const row = await subscriptionOf(owner.tenantId);
      return row.stripe_subscription_id ? row : null;
    });
    await noJobsLeft();
    const created = since(mark).find((c) => c.method === 'POST' && c.path === '/v1/subscriptions');
    expect(created?.form['items[0][price]']).toBe('price_pro_yearly');
    expect(stripe.subscriptions.get(stripeId)?.items.data[0]?.price.id).toBe('price_pro_yearly');
    expect(await subscriptionOf(owner.tenantId)).toMatchObject({ plan: 'pro', pending: null, billing_interval: 'year' });

    // The same plan, monthly: applies now, with proration.
    const item = stripe.subscriptions.get(stripeId)!.items.data[0]!;
    mark = stripe.requests.length;
    await t.ok(CHANGE('MONTH'), { slug: 'pro' }, owner.jwtToken);
    await eventually(async () => stripe.subscriptions.get(stripeId)!.items.data[0]!.price.id === 'price_pro_monthly');
    await noJobsLeft();
    expect(since(mark).filter((c) => c.method === 'POST').map((c) => c.form)).toEqual([
      { 'items[0][id]': item.id, 'items[0][price]': 'price_pro_monthly', proration_behavior: 'create_prorations' },
    ]);
    expect(await subscriptionOf(owner.tenantId)).toMatchObject({ plan: 'pro', billing_interval: 'month' });

    // A cheaper plan keeps the interval and waits for the period end; Stripe gets the cheaper plan's price of that interval.
    await t.ok(CHANGE('MONTH'), { slug: 'starter' }, owner.jwtToken);
    await eventually(async () => stripe.subscriptions.get(stripeId)!.items.data[0]!.price.id === 'price_starter_monthly');
    await noJobsLeft();
    expect(await subscriptionOf(owner.tenantId)).toMatchObject({ plan: 'pro', pending: 'starter', billing_interval: 'month' });
  }, 30_000);

  test('refused: a plan without a yearly price, an unknown interval, an interval change at the period end; nothing changes', async () => {
    const owner = await registerUser(t, 'refused');
    const before = await subscriptionOf(owner.tenantId);
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['YEAR', { slug: 'enterprise' }, /^The Enterprise plan cannot be billed yearly; choose monthly billing\.$/],
      ['YEAR', { slug: 'pro', later: true }, /^A change of billing interval applies now/],
    ];
    for (const [interval, variables, message] of cases) {
      const result = await t.gql(CHANGE(interval), variables, owner.jwtToken);
      expect(result.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
      expect(result.errors?.[0]?.message).toMatch(message);
    }
    // An interval GraphQL does not know is refused before the database; SQL refuses it too.
    const weekly = await t.gql(CHANGE('WEEKLY'), { slug: 'pro' }, owner.jwtToken);
    expect(weekly.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    await expect(t.owner.query(sql`select app_private.apply_plan_change(${owner.tenantId}, 'pro', null, 'weekly')`)).rejects.toMatchObject({
      code: 'INVAL', message: 'The billing interval must be month or year, not "weekly".',
    });
    expect(await subscriptionOf(owner.tenantId)).toEqual(before);
  });

  test('a subscription webhook maps a yearly Stripe price to the plan and the yearly interval, and a monthly one back', async () => {
    const owner = await registerUser(t, 'hooked');
    const customer = `cus_hooked${Date.now()}`;
    const subscription = `sub_hooked${Date.now()}`;
    await t.owner.query(sql`update app_public.tenant_config set stripe_customer_id = ${customer} where tenant_id = ${owner.tenantId}`);
    await t.owner.query(sql`update app_public.subscriptions set stripe_subscription_id = ${subscription} where tenant_id = ${owner.tenantId}`);
    const start = Math.floor(Date.now() / 1000);
    const yearly = stripeEvent('customer.subscription.updated', subscriptionObject({
      id: subscription, customer, status: 'active', priceId: 'price_starter_yearly', periodStart: start, periodEnd: start + 365 * DAY,
    }), { created: start });
    const delivered = await deliverEvent(t.url, yearly);
    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'applied' } });
    const row = await subscriptionOf(owner.tenantId);
    expect(row).toMatchObject({ plan: 'starter', billing_interval: 'year' });
    expect((row.current_period_end.getTime() - row.current_period_start.getTime()) / 1000).toBe(365 * DAY);

    const monthly = stripeEvent('customer.subscription.updated', subscriptionObject({
      id: subscription, customer, status: 'active', priceId: 'price_pro_monthly', periodStart: start, periodEnd: start + 30 * DAY,
    }), { created: start + 1 });
    expect(await deliverEvent(t.url, monthly)).toMatchObject({ status: 200, body: { outcome: 'applied' } });
    expect(await subscriptionOf(owner.tenantId)).toMatchObject({ plan: 'pro', billing_interval: 'month' });
  });

  singleNodeTest('rolledBackTransaction', 'a yearly subscription is metered month by month; a scheduled downgrade waits for the year to end', async () => {
    await withTx(async (tx) => {
      const { tenant } = await tx.tenantWithOwner('yearly-roll'); // Pro, monthly, not billed by Stripe
      await tx.query(sql`select app_private.apply_plan_change(${tenant.id}, 'pro', null, 'year')`);
      const sub = async () => tx.one(sql`
        select p.slug as plan, pp.slug as pending, s.billing_interval, s.current_period_start, s.current_period_end
        from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id left join app_public.plans pp on pp.id = s.pending_plan_id
        where s.tenant_id = ${tenant.id} and s.status <> 'canceled'`);
      const open = async () => tx.one(sql`select period_start, period_end from app_public.usage_periods where tenant_id = ${tenant.id} and closed_at is null`);
      // The interval applies from the next period: the current one ends as it was.
      const first = await sub();
      expect(first.billing_interval).toBe('year');
      await tx.query(sql`select app_private.roll_over_tenant(${tenant.id}, ${first.current_period_end}::timestamptz + interval '1 minute')`);
      const year = await sub();
      expect(year.current_period_start).toEqual(first.current_period_end);
      expect((await tx.one(sql`select ${year.current_period_start}::timestamptz + interval '1 year' = ${year.current_period_end}::timestamptz as ok`)).ok).toBe(true);
      const month = await open();
      expect(month.period_start).toEqual(year.current_period_start);
      expect((await tx.one(sql`select ${month.period_start}::timestamptz + interval '1 month' = ${month.period_end}::timestamptz as ok`)).ok).toBe(true);

      // A downgrade is scheduled; a month later only the usage period rolls over.
      await tx.query(sql`select app_private.apply_plan_change(${tenant.id}, 'starter', null)`);
      expect(await tx.one(sql`select app_private.roll_over_tenant(${tenant.id}, ${month.period_end}::timestamptz + interval '1 minute') as n`)).toEqual({ n: 1 });
      expect(await sub()).toMatchObject({ plan: 'pro', pending: 'starter', current_period_start: year.current_period_start });
      // At the year's end the downgrade applies and the next year starts.
      await tx.query(sql`select app_private.roll_over_tenant(${tenant.id}, ${year.current_period_end}::timestamptz + interval '1 minute')`);
      const next = await sub();
      expect(next).toMatchObject({ plan: 'starter', pending: null, billing_interval: 'year', current_period_start: year.current_period_end });
      expect((await open()).period_start).toEqual(year.current_period_end);
      const [{ monthly, n }] = await tx.query(sql`
        select bool_and(period_end <= period_start + interval '1 month') as monthly, count(*)::int as n
        from app_public.usage_periods where tenant_id = ${tenant.id} and closed_at is not null and period_start >= ${year.current_period_start}::timestamptz`);
      expect(monthly).toBe(true);
      expect(n).toBeGreaterThanOrEqual(12);
    });
  });
});

describe('advanced analytics', () => {
  async function tenantWithStats(tx: TestTx, label: string) {
    const { tenant, owner } = await tx.tenantWithOwner(label);
    const { ipId } = await populatePlatform(tx.tx, label);
    const { ids } = await populateTenant(tx.tx, { tenantId: tenant.id, ownerId: owner.id, domain: `${label}.example`, ipId });
    // 30 messages, a third of them sent yesterday, besides the demo data's one.
    await tx.query(sql`
      insert into app_public.messages (tenant_id, id, direction, status, campaign_id, lead_id, to_email, sent_at)
      select ${tenant.id}, app_public.uuid_v7(now() - (g % 3 / 2) * interval '1 day'), 'outbound', 'sent', ${ids.campaign}, ${ids.lead2},
             'x' || g || '@example.com', now() - (g % 3 / 2) * interval '1 day'
      from generate_series(1, 30) g
    `);
    return { tenant, owner, campaign: ids.campaign as string };
  }

  const onPlan = (tx: TestTx, tenantId: string, slug: string) =>
    tx.asPersona({ kind: 'root' }, () => tx.query(sql`
      update app_public.subscriptions set plan_id = (select id from app_public.plans where slug = ${slug})
      where tenant_id = ${tenantId} and status <> 'canceled'`));

  singleNodeTest('rolledBackTransaction', 'without it: the daily rows are invisible and the daily reads refused; totals stay on every plan', async () => {
    await withTx(async (tx) => {
      const { tenant, owner, campaign } = await tenantWithStats(tx, 'gated');
      const { n: rows } = await tx.one(sql`select count(*)::int as n from app_public.campaign_stats_daily where tenant_id = ${tenant.id}`);
      expect(rows).toBeGreaterThan(1);
      const sent = Number((await tx.one(sql`select sum(sent) as n from app_public.campaign_stats_daily where tenant_id = ${tenant.id} and campaign_id = ${campaign}`)).n);
      expect(sent).toBe(31);
      const series = (await tx.query(sql`
        select day, sum(sent)::int as sent from app_public.campaign_stats_daily where tenant_id = ${tenant.id} and campaign_id = ${campaign}
        group by day order by day`)).map((d) => d.sent);
      expect(series.length).toBeGreaterThan(1);
      const { last } = await tx.one(sql`select max(day)::text as last from app_public.campaign_stats_daily where tenant_id = ${tenant.id} and campaign_id = ${campaign}`);

      await onPlan(tx, tenant.id, 'starter');
      await tx.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
      expect(await tx.one(sql`select count(*)::int as n from app_public.campaign_stats_daily`)).toEqual({ n: 0 });
      expect(Number((await tx.one(sql`select (app_public.campaigns_stats(c)).sent from app_public.campaigns c where c.id = ${campaign}`)).sent)).toBe(31);
      expect(Number((await tx.one(sql`select (app_public.tenant_stats()).sent`)).sent)).toBe(31);
      for (const q of [
        sql`select * from app_public.daily_stats()`,
        sql`select app_public.tenant_stats(current_date - 1, current_date - 1)`,
        sql`select app_public.campaigns_stats(c, current_date) from app_public.campaigns c where c.id = ${campaign}`,
      ]) {
        const error = await tx.error(q);
        expect(error.code).toBe('PLANF');
        expect(error.message).toMatch(/^(Daily statistics are|Statistics between two days are) part of advanced analytics \(in the Pro and Enterprise plans\): your organisation's plan does not include it; upgrade to use it\.$/);
      }
      // Totals of another tenant's campaign are not within reach either.
      const other = await tx.asPersona({ kind: 'root' }, () => tenantWithStats(tx, 'gate-other'));
      await tx.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
      expect(Number((await tx.one(sql`select (app_hidden.rollup_totals(${other.tenant.id}, ${other.campaign}, null, null)).sent`)).sent)).toBe(0);

      // On Pro: the rows, the series and ranges.
      await onPlan(tx, tenant.id, 'pro');
      await tx.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
      expect(await tx.one(sql`select count(*)::int as n from app_public.campaign_stats_daily`)).toEqual({ n: rows });
      const days = await tx.query(sql`select day, sent from app_public.daily_stats(${campaign})`);
      expect(days.map((d) => Number(d.sent))).toEqual(series);
      expect(Number((await tx.one(sql`select (app_public.campaigns_stats(c, ${last}::date)).sent from app_public.campaigns c where c.id = ${campaign}`)).sent))
        .toBe(series.at(-1));
    });
  });

  test('through the API: dailyStats answers PLAN_FEATURE_REQUIRED on Free, tenantStats answers', async () => {
    const owner = await registerUser(t, 'freestats');
    const daily = await t.gql(`{ dailyStats { nodes { day sent } } }`, {}, owner.jwtToken);
    expect(daily.errors?.[0]?.extensions?.code).toBe('PLAN_FEATURE_REQUIRED');
    expect(daily.errors?.[0]?.message).toMatch(/^Daily statistics are part of advanced analytics/);
    const totals = await t.ok(`{ tenantStats { sent } }`, {}, owner.jwtToken);
    expect(Number(totals.tenantStats.sent)).toBe(0);
  });

  test('through the API: the rollup rows appear with the plan, the totals are there on both', async () => {
    const owner = await registerUser(t, 'rowsgate');
    const [campaign] = await t.owner.query(sql`insert into app_public.campaigns (tenant_id, name) values (${owner.tenantId}, 'Gated') returning id`);
    await t.owner.query(sql`
      insert into app_public.campaign_stats_daily (tenant_id, campaign_id, day, shard, sent, opened)
      values (${owner.tenantId}, ${campaign.id}, current_date - 1, 0, 7, 2), (${owner.tenantId}, ${campaign.id}, current_date, 0, 5, 1)`);
    const READ = `{ campaignDailyStats { totalCount } tenantStats { sent } campaigns { nodes { name stats { sent opened } } } }`;
    const free = await t.ok(READ, {}, owner.jwtToken);
    expect(free.campaignDailyStats.totalCount).toBe(0);
    expect(Number(free.tenantStats.sent)).toBe(12);
    expect(free.campaigns.nodes.map((c: { stats: { sent: string; opened: string } }) => [Number(c.stats.sent), Number(c.stats.opened)])).toEqual([[12, 3]]);
    const range = await t.gql(`{ tenantStats(since: "2020-01-01") { sent } }`, {}, owner.jwtToken);
    expect(range.errors?.[0]?.extensions?.code).toBe('PLAN_FEATURE_REQUIRED');

    await t.owner.query(sql`update app_public.subscriptions set plan_id = (select id from app_public.plans where slug = 'pro')
      where tenant_id = ${owner.tenantId} and status <> 'canceled'`);
    const pro = await t.ok(`${READ.slice(0, -1)} dailyStats { nodes { sent } } }`, {}, owner.jwtToken);
    expect(pro.campaignDailyStats.totalCount).toBe(2);
    expect(pro.dailyStats.nodes.map((d: { sent: string }) => Number(d.sent))).toEqual([7, 5]);
    expect(Number(pro.tenantStats.sent)).toBe(12);
  });
});

describe('dropped columns', () => {
  test('priority_support and max_storage_gb are gone, with the max_storage_gb add-on type', async () => {
    const columns = await t.owner.query(sql`
      select column_name from information_schema.columns where table_schema = 'app_public' and table_name = 'plans'
        and column_name in ('priority_support', 'max_storage_gb', 'price_yearly', 'advanced_analytics', 'stripe_price_id_yearly')
      order by 1`);
    expect(columns.map((c) => c.column_name)).toEqual(['advanced_analytics', 'price_yearly', 'stripe_price_id_yearly']);
    const [{ description }] = await t.owner.query(sql`select description from app_public.plans where slug = 'enterprise'`);
    expect(description).toBe('Unlimited sending with white label.');
    const owner = await registerUser(t, 'storage');
    // On Citus the message names the shard's constraint (subscription_addons_type_check_<shard>).
    const [sub] = await t.owner.query(sql`select id from app_public.subscriptions where tenant_id = ${owner.tenantId} and status <> 'canceled'`);
    await expect(t.owner.query(sql`
      insert into app_public.subscription_addons (tenant_id, subscription_id, addon_type, quantity)
      values (${owner.tenantId}, ${sub.id}, 'max_storage_gb', 10)`))
      .rejects.toMatchObject({ code: '23514', message: expect.stringMatching(/subscription_addons_type_check/) });
  });
});
