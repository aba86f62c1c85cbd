/**
 * Metered usage against plan limits: exact at the boundary, add-ons raise
 * the limit, the error names plan, limit and usage, and concurrent writers
 * cannot overshoot.
 */
import { createPool, sql } from '../../src/db/pg.ts';
import { baseTestUrls, closeDb, withTx } from '../helpers/db.ts';
import { withDatabase } from '../helpers/test-database.ts';

afterAll(closeDb);

test('the last allowed email passes, the next is refused with a clear message and nothing is counted', async () => {
  await withTx(async (t) => {
    const { tenant } = await t.tenantWithOwner('usage');
    await t.query(sql`update app_public.subscriptions set plan_id = (select id from app_public.plans where slug = 'free') where tenant_id = ${tenant.id}`);
    await t.query(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 499)`);
    const [{ used }] = await t.query(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 1) as used`);
    expect(Number(used)).toBe(500);
    const error = await t.error(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 1)`);
    expect(error.code).toBe('LIMIT');
    expect(error.message).toBe('Your Free plan allows 500 emails per month; 500 already used. Upgrade the plan or buy an add-on to go further.');
    expect(Number((await t.query(sql`select app_private.metered_usage(${tenant.id}, 'emails_sent') as n`))[0].n)).toBe(500);

    await t.query(sql`
      insert into app_public.subscription_addons (tenant_id, subscription_id, addon_type, quantity)
      select tenant_id, id, 'max_emails_per_month', 100 from app_public.subscriptions where tenant_id = ${tenant.id}
    `);
    await t.query(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 100)`);
    expect((await t.error(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 1)`)).message).toMatch(/allows 600 emails per month; 600 already used/);

    // Enterprise: unlimited.
    await t.query(sql`update app_public.subscriptions set plan_id = (select id from app_public.plans where slug = 'enterprise') where tenant_id = ${tenant.id}`);
    await t.query(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 1000000)`);
  });
});

test('concurrent senders cannot exceed the limit', async () => {
  const url = withDatabase(baseTestUrls().owner, 'penguinmails_test');
  const pool = createPool({ connectionString: url, bigIntMode: 'string', poolSize: 24 });
  let tenantId: string | undefined;
  try {
    const [user] = await pool.query(sql`select id from app_private.create_user(${`race-${Date.now()}@example.com`}, 'irrelevant-password')`);
    [{ id: tenantId }] = await pool.query(sql`select id from app_private.create_tenant('Race', ${user.id}, 'free')`);
    await pool.query(sql`select app_private.consume_usage(${tenantId}, 'emails_sent', 490)`);
    const attempts = await Promise.allSettled(
      Array.from({ length: 40 }, () =>
        pool.tx(async (tx) => {
          await tx.query(sql`select app_private.consume_usage(${tenantId!}, 'emails_sent', 1)`);
          await tx.query(sql`select pg_sleep(0.01)`);
        }),
      ),
    );
    const succeeded = attempts.filter((a) => a.status === 'fulfilled').length;
    expect(succeeded).toBe(10);
    const [{ n }] = await pool.query(sql`select app_private.metered_usage(${tenantId}, 'emails_sent') as n`);
    expect(Number(n)).toBe(500);
  } finally {
    if (tenantId) await pool.query(sql`delete from app_public.tenants where id = ${tenantId}`);
    await pool.dispose();
  }
});
