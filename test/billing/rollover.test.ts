/**
 * Period roll-over: final figures are recorded, the pending plan applies at
 * the period end, cancel_at_period_end ends the subscription (the tenant
 * continues on Free), and the roll-over is idempotent, catches up when late,
 * is safe when two run at once, and runs as the billing_roll_over worker task.
 */
import os from 'node:os';
import path from 'node:path';
import { createPool, sql, type ConnectionPool } from '../../src/db/pg.ts';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { startWorker } from '../../src/worker/runner.ts';
import { isolatedDatabase, testEnv } from '../helpers/api.ts';
import { putTenantOnPlan } from '../helpers/billing.ts';
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { eventually } from '../helpers/eventually.ts';
import { createOwnedTenant } from '../helpers/tenants.ts';

afterAll(closeDb);

async function openPeriod(t: TestTx, tenantId: string) {
  return t.one(sql`
    select up.id, up.period_start, up.period_end, p.slug as plan, up.subscription_id
    from app_public.usage_periods up join app_public.plans p on p.id = up.plan_id
    where up.tenant_id = ${tenantId} and up.closed_at is null
  `);
}

async function currentSubscription(t: TestTx, tenantId: string) {
  return t.one(sql`
    select s.id, s.status, p.slug as plan, pp.slug as pending, s.cancel_at_period_end, s.current_period_start, s.current_period_end
    from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id left join app_public.plans pp on pp.id = s.pending_plan_id
    where s.tenant_id = ${tenantId} and s.status <> 'canceled'
  `);
}

test('at the period end: final figures recorded, the pending plan applied, the next period opened', async () => {
  await withTx(async (t) => {
    const { tenant } = await t.tenantWithOwner('pending');
    await t.query(sql`select app_private.apply_plan_change(${tenant.id}, 'starter', true)`);
    await t.query(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 10)`);
    await t.query(sql`select app_private.consume_usage(${tenant.id}, 'campaigns_started', 2)`);
    await t.query(sql`insert into app_public.leads (tenant_id, email) values (${tenant.id}, 'a@roll.example'), (${tenant.id}, 'b@roll.example')`);
    const first = await openPeriod(t, tenant.id);
    expect(first.plan).toBe('pro');

    // Not yet due: nothing happens.
    expect((await t.one(sql`select app_private.roll_over_tenant(${tenant.id}, ${first.period_end}::timestamptz - interval '1 second') as n`)).n).toBe(0);
    expect((await t.one(sql`select app_private.roll_over_tenant(${tenant.id}, ${first.period_end}::timestamptz + interval '1 minute') as n`)).n).toBe(1);

    const closed = await t.one(sql`select * from app_public.usage_periods where tenant_id = ${tenant.id} and id = ${first.id}`);
    expect(closed.closed_at).not.toBeNull();
    expect(closed.period_end).toEqual(first.period_end);
    expect({ emails: Number(closed.emails_sent), campaigns: closed.campaigns_started, warmups: closed.warmups, contacts: closed.contacts, users: closed.users })
      .toEqual({ emails: 10, campaigns: 2, warmups: 0, contacts: 2, users: 1 });

    const next = await openPeriod(t, tenant.id);
    expect(next.plan).toBe('starter');
    expect(next.period_start).toEqual(first.period_end);
    const sub = await currentSubscription(t, tenant.id);
    expect(sub).toMatchObject({ status: 'active', plan: 'starter', pending: null, cancel_at_period_end: false });
    expect(sub.current_period_start).toEqual(first.period_end);
    expect(next.period_end).toEqual(sub.current_period_end);

    // The new period counts from zero, against the new plan; gauges carry on.
    expect(Number((await t.one(sql`select app_private.metered_usage(${tenant.id}, 'emails_sent') as n`)).n)).toBe(0);
    await t.query(sql`select app_private.consume_usage(${tenant.id}, 'campaigns_started', 20)`);
    expect((await t.error(sql`select app_private.consume_usage(${tenant.id}, 'campaigns_started', 1)`)).message).toMatch(
      /^Your Starter plan allows 20 campaign starts per month; 20 already used\./,
    );
    // The closed period keeps its figures; the computed column reads them.
    await t.as({ kind: 'member', userId: (await t.one(sql`select user_id from app_public.tenant_users where tenant_id = ${tenant.id}`)).user_id, tenantId: tenant.id });
    const figures = await t.query(sql`select p.closed_at is not null as closed, (app_public.usage_periods_usage(row(p.*)::app_public.usage_periods)).* from app_public.usage_periods p where p.tenant_id = ${tenant.id} order by p.period_start`);
    expect(figures.map((f) => [f.closed, Number(f.emails_sent), Number(f.campaigns_started), Number(f.contacts)])).toEqual([
      [true, 10, 2, 2],
      [false, 0, 20, 2],
    ]);
  });
});

test('cancel_at_period_end: the subscription ends at the period end and the tenant continues on Free with its data', async () => {
  await withTx(async (t) => {
    const { tenant } = await t.tenantWithOwner('ending');
    await t.query(sql`insert into app_public.domains (tenant_id, domain) select ${tenant.id}, 'd' || g || '.ending.example' from generate_series(1, 2) g`);
    const paid = await currentSubscription(t, tenant.id);
    await t.query(sql`select app_private.apply_cancellation(${tenant.id}, true)`);
    const first = await openPeriod(t, tenant.id);
    expect((await t.one(sql`select app_private.roll_over_tenant(${tenant.id}, ${first.period_end}::timestamptz + interval '1 hour') as n`)).n).toBe(1);

    const ended = await t.one(sql`select status, cancelled_at, cancel_at_period_end from app_public.subscriptions where tenant_id = ${tenant.id} and id = ${paid.id}`);
    expect(ended).toEqual({ status: 'canceled', cancelled_at: first.period_end, cancel_at_period_end: false });
    const free = await currentSubscription(t, tenant.id);
    expect(free).toMatchObject({ status: 'active', plan: 'free', pending: null });
    expect(free.current_period_start).toEqual(first.period_end);
    const next = await openPeriod(t, tenant.id);
    expect([next.plan, next.subscription_id, next.period_start]).toEqual(['free', free.id, first.period_end]);
    // Two domains stay; a third is refused by the Free plan.
    expect(Number((await t.one(sql`select count(*) as n from app_public.domains where tenant_id = ${tenant.id}`)).n)).toBe(2);
    expect((await t.error(sql`insert into app_public.domains (tenant_id, domain) values (${tenant.id}, 'd3.ending.example')`)).message).toMatch(
      /^Your Free plan allows 1 sending domain; 2 already used\./,
    );
  });
});

test('idempotent and safe when late: run twice, or three months late, the periods come out the same', async () => {
  await withTx(async (t) => {
    const { tenant } = await t.tenantWithOwner('late');
    await t.query(sql`select app_private.apply_plan_change(${tenant.id}, 'starter', true)`);
    await t.query(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 5)`);
    const first = await openPeriod(t, tenant.id);
    const late = sql`${first.period_end}::timestamptz + interval '3 months 1 day'`;
    expect((await t.one(sql`select app_private.roll_over_tenant(${tenant.id}, ${late}) as n`)).n).toBe(4);
    expect((await t.one(sql`select app_private.roll_over_tenant(${tenant.id}, ${late}) as n`)).n).toBe(0);
    const rows = await t.query(sql`select count(*)::int as n from app_private.roll_over_due_periods(${late}) where tenant_id = ${tenant.id}`);
    expect(rows[0].n).toBe(0);

    const periods = await t.query(sql`
      select up.period_start, up.period_end, up.closed_at is not null as closed, up.emails_sent, p.slug
      from app_public.usage_periods up join app_public.plans p on p.id = up.plan_id
      where up.tenant_id = ${tenant.id} order by up.period_start
    `);
    expect(periods.map((p) => [p.closed, p.slug, p.emails_sent === null ? null : Number(p.emails_sent)])).toEqual([
      [true, 'pro', 5],
      [true, 'starter', 0],
      [true, 'starter', 0],
      [true, 'starter', 0],
      [false, 'starter', null],
    ]);
    // Contiguous, monthly.
    for (let i = 1; i < periods.length; i++) expect(periods[i].period_start).toEqual(periods[i - 1].period_end);
    const sub = await currentSubscription(t, tenant.id);
    expect(sub.current_period_end).toEqual(periods[4].period_end);
  });
});

describe('committed data', () => {
  let database: Awaited<ReturnType<typeof isolatedDatabase>>;
  let pool: ConnectionPool;
  beforeAll(async () => {
    database = await isolatedDatabase('rollover');
    pool = createPool({ connectionString: database.urls.owner, bigIntMode: 'string', poolSize: 6 });
  });
  afterAll(async () => {
    await pool.dispose();
    await database.drop();
  });

  async function tenantWithEndedPeriod(label: string, plan: string): Promise<string> {
    const { tenantId: id } = await createOwnedTenant(pool, label, { plan, tenantName: label });
    // The period started five weeks ago and ended a few days ago.
    await pool.query(sql`
      update app_public.subscriptions set current_period_start = now() - interval '5 weeks', current_period_end = now() - interval '5 weeks' + interval '1 month'
      where tenant_id = ${id}
    `);
    await pool.query(sql`
      update app_public.usage_periods set period_start = now() - interval '5 weeks', period_end = now() - interval '5 weeks' + interval '1 month'
      where tenant_id = ${id}
    `);
    return id;
  }

  test('two roll-overs at the same moment close the period once', async () => {
    const tenantId = await tenantWithEndedPeriod('twice', 'pro');
    await pool.query(sql`select app_private.apply_plan_change(${tenantId}, 'starter', true)`);
    const results = await Promise.all(
      Array.from({ length: 4 }, () => pool.query(sql`select app_private.roll_over_tenant(${tenantId}) as n`)),
    );
    expect(results.map((r) => r[0].n).sort()).toEqual([0, 0, 0, 1]);
    const [{ closed, open }] = await pool.query(sql`
      select count(*) filter (where closed_at is not null)::int as closed, count(*) filter (where closed_at is null)::int as open
      from app_public.usage_periods where tenant_id = ${tenantId}
    `);
    expect([closed, open]).toEqual([1, 1]);
  });

  test('the billing_roll_over task (crontab every 5 minutes) does the roll-over; running it again changes nothing', async () => {
    const due = await tenantWithEndedPeriod('cron', 'starter');
    await pool.query(sql`select app_private.apply_cancellation(${due}, true)`);
    const env = testEnv({ LOG_LEVEL: 'error' });
    const systemMailer = makeSystemMailer({ from: env.MAIL_FROM, outboxDir: path.join(os.tmpdir(), 'pm-rollover-outbox') });
    const worker = await startWorker(database.urls.owner, { env, systemMailer }, { pollInterval: 100, crontab: '' });
    try {
      await pool.query(sql`select graphile_worker.add_job('billing_roll_over', '{}'::json)`);
      await eventually(async () => {
        const [row] = await pool.query(sql`select p.slug from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id where s.tenant_id = ${due} and s.status = 'active'`);
        return row?.slug === 'free';
      });
      const snapshot = async () => pool.query(sql`select id, closed_at, period_end from app_public.usage_periods where tenant_id = ${due} order by period_start`);
      const before = await snapshot();
      expect(before).toHaveLength(2);
      await pool.query(sql`select graphile_worker.add_job('billing_roll_over', '{}'::json, job_key => 'again')`);
      await eventually(async () => {
        const [{ n }] = await pool.query(sql`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'billing_roll_over'`);
        return n === 0;
      });
      expect(await snapshot()).toEqual(before);
    } finally {
      await worker.stop();
    }
  });
});

test('roll_over_due_periods reports each tenant, one subtransaction each', async () => {
  await withTx(async (t) => {
    const a = await t.tenantWithOwner('due-a');
    const b = await t.tenantWithOwner('due-b');
    await putTenantOnPlan(t.tx, b.tenant.id, 'starter');
    const late = sql`now() + interval '2 months'`;
    const rows = await t.query(sql`select tenant_id, periods_closed, error from app_private.roll_over_due_periods(${late}) where tenant_id in (${a.tenant.id}, ${b.tenant.id}) order by tenant_id`);
    expect(rows.map((r) => [r.periods_closed, r.error])).toEqual([[2, null], [2, null]]);
  });
});
