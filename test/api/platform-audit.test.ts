/**
 * The platform audit log is written by triggers (issue 16, item 10): a staff
 * member creating and changing a plan, adding a feature flag, adding a staff
 * member and adding a sending IP through the GraphQL API leaves one row each,
 * with the staff member as actor and the row's before/after; tenant users
 * and staff without audit.read cannot read the log.
 */
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { createUser, ownedTenant, PASSWORD } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
}, 60_000);
afterAll(() => t.close());

async function staff(role: string): Promise<{ userId: string; token: string }> {
  const { userId, email } = await createUser(t, `audit-${role}`);
  await t.owner.query(sql`insert into app_public.staff_members (user_id, role_id) select ${userId}, id from app_public.staff_roles where name = ${role}`);
  const data = await t.ok(`mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { jwtToken } }`, { e: email, p: PASSWORD });
  return { userId, token: data.login.jwtToken };
}

const LOG = `query($actor: UUID!) {
  platformAuditLogs(condition: { actorUserId: $actor }, orderBy: ROW_ID_ASC) { nodes { action tableName recordId actorUserId changes } }
}`;

test('staff changes to plans, flags, staff and IPs through the API are in the platform audit log with actor and before/after', async () => {
  const admin = await staff('superadmin');
  const suffix = Date.now().toString(36);

  const plan = await t.ok(`mutation($slug: String!) {
    createPlan(input: { plan: { name: "Audit plan", slug: $slug, priceMonthly: 1000, maxUsers: 3 } }) { plan { rowId } }
  }`, { slug: `audit-${suffix}` }, admin.token);
  const planId = plan.createPlan.plan.rowId;
  await t.ok(`mutation($id: UUID!) { updatePlan(input: { rowId: $id, patch: { priceMonthly: 1500, maxUsers: 3 } }) { plan { rowId } } }`,
    { id: planId }, admin.token);
  const flag = await t.ok(`mutation($key: String!) {
    createFeatureFlag(input: { featureFlag: { key: $key, isEnabled: true, rolloutPercentage: 25 } }) { featureFlag { rowId } }
  }`, { key: `audit.flag-${suffix}` }, admin.token);
  const newcomer = await createUser(t, 'audit-newcomer');
  await t.ok(`mutation($user: UUID!) { createStaffMember(input: { staffMember: { userId: $user, roleId: "1", notes: "Support rota" } }) { staffMember { userId } } }`,
    { user: newcomer.userId }, admin.token);
  const ip = `203.0.113.${Math.floor(Math.random() * 250) + 1}`;
  const created = await t.ok(`mutation($ip: InternetAddress!) { createSmtpIpAddress(input: { smtpIpAddress: { ipAddress: $ip, approximateCost: "12.50" } }) { smtpIpAddress { rowId } } }`,
    { ip }, admin.token);

  const { platformAuditLogs } = await t.ok(LOG, { actor: admin.userId }, admin.token);
  const rows = platformAuditLogs.nodes;
  expect(rows.map((r: { action: string }) => r.action)).toEqual([
    'plans.insert', 'plans.update', 'feature_flags.insert', 'staff_members.insert', 'smtp_ip_addresses.insert',
  ]);
  for (const row of rows) expect(row.actorUserId).toBe(admin.userId);
  expect(rows[0]).toMatchObject({ tableName: 'plans', recordId: planId, changes: { before: null, after: expect.objectContaining({ slug: `audit-${suffix}`, price_monthly: 1000 }) } });
  // An update records the columns that changed, before and after (max_users was set to its own value: not a change).
  expect(rows[1]).toMatchObject({ tableName: 'plans', recordId: planId, changes: { before: { price_monthly: 1000 }, after: { price_monthly: 1500 } } });
  expect(rows[2]).toMatchObject({
    recordId: flag.createFeatureFlag.featureFlag.rowId,
    changes: { before: null, after: expect.objectContaining({ key: `audit.flag-${suffix}`, is_enabled: true, rollout_percentage: 25 }) },
  });
  expect(rows[3]).toMatchObject({ recordId: newcomer.userId, changes: { after: { user_id: newcomer.userId, role_id: 1, notes: 'Support rota' } } });
  expect(rows[4]).toMatchObject({ recordId: created.createSmtpIpAddress.smtpIpAddress.rowId, changes: { after: expect.objectContaining({ ip_address: ip, approximate_cost: 12.5 }) } });

  // Removing the staff member is recorded with what was removed.
  await t.ok(`mutation($user: UUID!) { deleteStaffMember(input: { userId: $user }) { staffMember { userId } } }`, { user: newcomer.userId }, admin.token);
  const after = (await t.ok(LOG, { actor: admin.userId }, admin.token)).platformAuditLogs.nodes;
  expect(after.at(-1)).toMatchObject({ action: 'staff_members.delete', changes: { before: { user_id: newcomer.userId, role_id: 1 }, after: null } });
});

test('a change in a staff request is recorded with its actor, once, even on a cluster where the table has a copy on every node', async () => {
  const admin = await staff('superadmin');
  const key = `audit.tx-${Date.now().toString(36)}`;
  // What the API does for a staff request, as SQL: the request settings name the user.
  await t.owner.tx(async (tx) => {
    await tx.query(sql`select set_config('app.current_user_id', ${admin.userId}, true)`);
    await tx.query(sql`insert into app_public.feature_flags (key, rollout_percentage) values (${key}, 10)`);
    await tx.query(sql`update app_public.feature_flags set rollout_percentage = 50, is_enabled = true where key = ${key}`);
    await tx.query(sql`update app_public.feature_flags set rollout_percentage = 50 where key = ${key}`); // no change: no row
  });
  const [flag] = await t.owner.query(sql`select id from app_public.feature_flags where key = ${key}`);
  const rows = await t.owner.query(sql`
    select action, actor_user_id, table_name, changes from app_public.platform_audit_log where record_id = ${flag.id} order by id`);
  expect(rows).toEqual([
    { action: 'feature_flags.insert', actor_user_id: admin.userId, table_name: 'feature_flags', changes: { before: null, after: expect.objectContaining({ key, rollout_percentage: 10, is_enabled: false }) } },
    { action: 'feature_flags.update', actor_user_id: admin.userId, table_name: 'feature_flags', changes: { before: { rollout_percentage: 10, is_enabled: false }, after: { rollout_percentage: 50, is_enabled: true } } },
  ]);
  // Staff with audit.read read them through the API.
  const seen = (await t.ok(LOG, { actor: admin.userId }, admin.token)).platformAuditLogs.nodes;
  expect(seen.map((r: { action: string }) => r.action)).toEqual(expect.arrayContaining(['feature_flags.insert', 'feature_flags.update']));
});

test('a tenant user cannot read the platform audit log, nor staff without audit.read', async () => {
  const admin = await staff('superadmin');
  await t.owner.tx(async (tx) => {
    await tx.query(sql`select set_config('app.current_user_id', ${admin.userId}, true)`);
    await tx.query(sql`insert into app_public.feature_flags (key) values (${`audit.hidden-${Date.now().toString(36)}`})`);
  });
  expect((await t.owner.query(sql`select count(*)::int as n from app_public.platform_audit_log where actor_user_id = ${admin.userId}`))[0].n).toBe(1);

  const owner = await ownedTenant(t, 'audit-tenant');
  const seen = await t.gql(`query($actor: UUID!) { platformAuditLogs(condition: { actorUserId: $actor }) { totalCount nodes { action } } }`,
    { actor: admin.userId }, owner.token);
  expect(seen.data.platformAuditLogs).toBeNull();
  expect(seen.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  // Staff without audit.read see no row either.
  const biller = await staff('billing');
  expect((await t.ok(LOG, { actor: admin.userId }, biller.token)).platformAuditLogs.nodes).toEqual([]);
  expect((await t.ok(LOG, { actor: admin.userId }, admin.token)).platformAuditLogs.nodes).toHaveLength(1);
});

test('staff add audit rows only through their changes and in their own name; the API offers no way to add one', async () => {
  const admin = await staff('superadmin');
  const other = await staff('billing');
  // The audit trigger runs as the role that made the change, so the staff role may insert rows: its own only.
  // As the API connects: the authenticator, become the staff role, with the request's user.
  const insertAs = async (actor: string, action: string) => {
    const client = await t.api.pool.connect();
    try {
      await client.query('begin');
      // SET LOCAL, as app_hidden.enter_request does: Citus forwards it to the nodes where the policy is checked.
      await client.query(`set local app.current_user_id = '${admin.userId}'`);
      await client.query(`select set_config('role', 'penguinmails_staff', true)`);
      await client.query('insert into app_public.platform_audit_log (actor_user_id, action) values ($1, $2)', [actor, action]);
      await client.query('commit');
    } finally {
      await client.query('rollback').catch(() => undefined);
      client.release();
    }
  };
  await expect(insertAs(other.userId, 'forged.entry')).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/row-level security/) });
  await insertAs(admin.userId, 'own.entry');
  expect((await t.owner.query(sql`delete from app_public.platform_audit_log where action = 'own.entry' and actor_user_id = ${admin.userId} returning id`))).toHaveLength(1);
  // No mutation adds a row (schema.graphql is checked in test/api/schema.test.ts).
  const attempt = await t.gql(`mutation { createPlatformAuditLog(input: { platformAuditLog: { action: "forged.entry" } }) { clientMutationId } }`, {}, admin.token);
  expect(attempt.errors?.[0]?.message).toMatch(/createPlatformAuditLog/);
  expect((await t.owner.query(sql`select count(*)::int as n from app_public.platform_audit_log where action = 'forged.entry'`))[0].n).toBe(0);
});
