/**
 * What each persona may do: tenant roles (owner, admin, member, viewer),
 * personal preferences, platform staff through audited access sessions, the
 * read-only analytics role and anonymous visitors.
 */
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

async function tenantWithRoles(t: TestTx) {
  const { tenant, owner } = await t.tenantWithOwner('roles');
  const users: Record<string, string> = { owner: owner.id };
  for (const role of ['admin', 'member', 'viewer']) {
    const u = await t.createUser(`${role}-${tenant.id.slice(0, 8)}@example.com`);
    await t.addMember(tenant.id, u.id, [role]);
    users[role] = u.id;
  }
  const [domain] = await t.query(sql`
    insert into app_public.domains (tenant_id, domain) values (${tenant.id}, 'roles.example') returning id
  `);
  await t.query(sql`insert into app_public.leads (tenant_id, email) values (${tenant.id}, 'existing@lead.example')`);
  return { tenantId: tenant.id, users, domainId: domain.id as string };
}

const insertLead = (email: string) => sql`insert into app_public.leads (email, first_name) values (${email}, 'Pat')`;
const insertDomain = (name: string) => sql`insert into app_public.domains (domain) values (${name})`;

test('viewers read but cannot write; members write leads but not domains or policies; admins manage sending; only owners rename the tenant', async () => {
  await withTx(async (t) => {
    const { tenantId, users, domainId } = await tenantWithRoles(t);
    const as = (role: string) => t.as({ kind: 'member', userId: users[role], tenantId });

    await as('viewer');
    expect(await t.query(sql`select email::text from app_public.leads`)).toEqual([{ email: 'existing@lead.example' }]);
    expect((await t.error(insertLead('v@lead.example'))).code).toBe('42501');
    expect(await t.query(sql`update app_public.leads set first_name = 'X' returning id`)).toEqual([]);
    expect(await t.query(sql`delete from app_public.leads returning id`)).toEqual([]);

    await as('member');
    await t.query(insertLead('m@lead.example'));
    expect(await t.query(sql`update app_public.leads set first_name = 'Sam' where email = 'm@lead.example' returning first_name`)).toEqual([{ first_name: 'Sam' }]);
    expect((await t.error(insertDomain('member.example'))).code).toBe('42501');
    expect(await t.query(sql`update app_public.domains set is_primary = true returning id`)).toEqual([]);
    expect(await t.query(sql`update app_public.tenant_policies set max_login_attempts = 3 returning 1`)).toEqual([]);
    expect(await t.query(sql`select * from app_public.payments`)).toEqual([]);
    expect(await t.query(sql`select * from app_public.invitations`)).toEqual([]);
    expect((await t.error(sql`insert into app_public.subscriptions (plan_id) select id from app_public.plans limit 1`)).code).toBe('42501');

    await as('admin');
    await t.query(insertDomain('admin.example'));
    await t.query(sql`
      insert into app_public.email_accounts (domain_id, email, smtp_settings)
      values (${domainId}, 'hi@roles.example', '{"host": "smtp.roles.example", "port": 587}')
    `);
    expect(await t.query(sql`update app_public.tenant_policies set max_login_attempts = 3 returning max_login_attempts`)).toEqual([{ max_login_attempts: 3 }]);
    expect(await t.query(sql`update app_public.tenants set name = 'Renamed by admin' returning 1`)).toEqual([]);
    expect((await t.query(sql`select count(*)::int as n from app_public.payments`))[0].n).toBeGreaterThanOrEqual(0);

    await as('owner');
    expect(await t.query(sql`update app_public.tenants set name = 'Renamed' returning name`)).toEqual([{ name: 'Renamed' }]);
    expect((await t.query(sql`select roles from app_public.tenant_users order by created`)).length).toBe(4);
  });
});

test('user preferences are visible and editable by their user only', async () => {
  await withTx(async (t) => {
    const { tenantId, users } = await tenantWithRoles(t);
    await t.as({ kind: 'member', userId: users.member, tenantId });
    const mine = await t.query(sql`select user_id from app_public.user_preferences`);
    expect(mine).toEqual([{ user_id: users.member }]);
    expect(await t.query(sql`update app_public.user_preferences set theme = 'dark' where user_id = ${users.owner} returning 1`)).toEqual([]);
    expect(await t.query(sql`update app_public.user_preferences set theme = 'dark' returning theme`)).toEqual([{ theme: 'dark' }]);
    // Colleagues are visible as users; their preferences are not.
    expect((await t.query(sql`select count(*)::int as n from app_public.users`))[0].n).toBe(4);
  });
});

test('plans are readable by every signed-in user and by nobody anonymous', async () => {
  await withTx(async (t) => {
    const { tenantId, users } = await tenantWithRoles(t);
    await t.as({ kind: 'member', userId: users.viewer, tenantId });
    const plans = await t.query(sql`select slug from app_public.plans order by price_monthly`);
    expect(plans.map((p) => p.slug)).toEqual(['free', 'starter', 'pro', 'enterprise']);
    await t.as({ kind: 'anonymous' });
    expect((await t.error(sql`select * from app_public.plans`)).code).toBe('42501');
    expect((await t.error(sql`select * from app_public.leads`)).code).toBe('42501');
    expect((await t.error(sql`select * from app_private.user_secrets`)).code).toBe('42501');
  });
});

test('staff see a tenant only through an open, permitted, audited access session', async () => {
  await withTx(async (t) => {
    const { tenantId, users } = await tenantWithRoles(t);
    const support = await t.createUser('support@penguinmails.example');
    await t.makeStaff(support.id, 'support');
    const staffIn = { kind: 'staff' as const, userId: support.id, tenantId };

    // Being staff is not enough.
    await t.as(staffIn);
    expect(await t.query(sql`select * from app_public.leads`)).toEqual([]);

    // Support may open read sessions, not write sessions, and must say why.
    expect((await t.error(sql`select app_public.open_tenant_access(${tenantId}, 'Debugging ticket #42', 'write')`)).code).toBe('42501');
    expect((await t.error(sql`select app_public.open_tenant_access(${tenantId}, 'hm')`)).message).toMatch(/Say why/);
    await t.query(sql`select app_public.open_tenant_access(${tenantId}, 'Customer asked about bounces, ticket #42')`);
    expect((await t.query(sql`select count(*)::int as n from app_public.leads`))[0].n).toBe(1);
    expect((await t.error(insertLead('staff@lead.example'))).code).toBe('42501');

    // The tenant's owner sees the access in their audit log.
    await t.as({ kind: 'member', userId: users.owner, tenantId });
    const audit = await t.query(sql`select action, actor_user_id, actor_is_staff, reason from app_public.audit_log where action like 'staff_access.%'`);
    expect(audit).toEqual([{ action: 'staff_access.opened', actor_user_id: support.id, actor_is_staff: true, reason: 'Customer asked about bounces, ticket #42' }]);
    // ...and a member below admin does not see the audit log.
    await t.as({ kind: 'member', userId: users.member, tenantId });
    expect(await t.query(sql`select * from app_public.audit_log`)).toEqual([]);

    // Closing (or expiry) ends it at once.
    await t.as(staffIn);
    expect((await t.query(sql`select app_public.close_tenant_access(${tenantId}) as n`))[0].n).toBe(1);
    expect(await t.query(sql`select * from app_public.leads`)).toEqual([]);

    // A superadmin may write, as a tenant admin would.
    const boss = await t.createUser('boss@penguinmails.example');
    await t.makeStaff(boss.id, 'superadmin');
    await t.as({ kind: 'staff', userId: boss.id, tenantId });
    await t.query(sql`select app_public.open_tenant_access(${tenantId}, 'Fixing a broken import for the customer', 'write', 15)`);
    await t.query(insertLead('fixed@lead.example'));
    await t.as({ kind: 'root' });
    await t.query(sql`update app_private.staff_access_sessions set created = now() - interval '1 hour', expires_at = now() - interval '1 second' where staff_user_id = ${boss.id}`);
    await t.as({ kind: 'staff', userId: boss.id, tenantId });
    expect(await t.query(sql`select * from app_public.leads`)).toEqual([]);

    // The platform log has both sessions.
    const platform = await t.query(sql`select action from app_public.platform_audit_log where target_tenant_id = ${tenantId}`);
    expect(platform).toHaveLength(2);
  });
});

test('the analytics role reads every tenant and writes nothing; secrets stay out of reach', async () => {
  await withTx(async (t) => {
    const a = await tenantWithRoles(t);
    const b = await tenantWithRoles(t);
    await t.as({ kind: 'analytics' });
    const tenants = await t.query(sql`select distinct tenant_id from app_public.leads where tenant_id in (${a.tenantId}, ${b.tenantId})`);
    expect(tenants).toHaveLength(2);
    expect((await t.error(sql`insert into app_public.leads (tenant_id, email) values (${a.tenantId}, 'x@y.example')`)).code).toBe('42501');
    expect((await t.error(sql`update app_public.plans set price_monthly = 0`)).code).toBe('42501');
    expect((await t.error(sql`select * from app_private.email_account_credentials`)).code).toBe('42501');
  });
});

test('sensitive system configuration is stored out of the readable table', async () => {
  await withTx(async (t) => {
    const { tenantId, users } = await tenantWithRoles(t);
    const ops = await t.createUser('ops@penguinmails.example');
    await t.makeStaff(ops.id, 'superadmin');
    await t.as({ kind: 'staff', userId: ops.id });
    await t.query(sql`select app_public.set_system_config('stripe.account_id', '"acct_123secret"', true, 'Platform Stripe account')`);
    await t.query(sql`select app_public.set_system_config('sending.default_daily_limit', '50')`);
    const rows = await t.query(sql`select key, value, is_sensitive from app_public.system_config order by key`);
    expect(rows).toEqual([
      { key: 'sending.default_daily_limit', value: 50, is_sensitive: false },
      { key: 'stripe.account_id', value: null, is_sensitive: true },
    ]);
    const [log] = await t.query(sql`select changes from app_public.platform_audit_log where record_id = 'stripe.account_id'`);
    expect(JSON.stringify(log.changes)).not.toContain('acct_123secret');

    await t.as({ kind: 'root' });
    expect((await t.query(sql`select value from app_private.system_secrets`))[0].value).toBe('acct_123secret');

    await t.as({ kind: 'member', userId: users.owner, tenantId });
    expect((await t.error(sql`select * from app_public.system_config`)).code).toBe('42501');
    expect((await t.error(sql`select app_public.set_system_config('x.y', '1')`)).code).toBe('42501');
  });
});

test('feature flags roll out to a stable, proportional set of tenants', async () => {
  await withTx(async (t) => {
    const { tenantId, users } = await tenantWithRoles(t);
    await t.query(sql`
      insert into app_public.feature_flags (key, is_enabled, rollout_percentage) values
        ('all-on', true, 100), ('all-off', true, 0), ('disabled', false, 100), ('half', true, 50)
    `);
    const buckets = await t.query(sql`
      select app_private.rollout_bucket('half', gen_random_uuid()) as b from generate_series(1, 4000)
    `);
    const below = buckets.filter((r) => r.b < 50).length / buckets.length;
    expect(below).toBeGreaterThan(0.45);
    expect(below).toBeLessThan(0.55);
    const [{ bucket }] = await t.query(sql`select app_private.rollout_bucket('half', ${tenantId}) as bucket`);

    await t.as({ kind: 'member', userId: users.member, tenantId });
    const flags = await t.query(sql`
      select app_public.feature_enabled('all-on') as on, app_public.feature_enabled('all-off') as off,
             app_public.feature_enabled('disabled') as disabled, app_public.feature_enabled('unknown') as unknown,
             app_public.feature_enabled('half') as half, app_public.feature_enabled('half') as half_again
    `);
    expect(flags[0]).toEqual({ on: true, off: false, disabled: false, unknown: false, half: bucket < 50, half_again: bucket < 50 });
    const enabled = (await t.query(sql`select app_public.enabled_features() as key`)).map((r) => r.key);
    expect(enabled).toEqual(bucket < 50 ? ['all-on', 'half'] : ['all-on']);
    // Flag definitions themselves are staff-only.
    expect((await t.error(sql`select * from app_public.feature_flags`)).code).toBe('42501');
  });
});
