/**
 * Staff reach tenant data only through an access session, and everything
 * they do inside one is audited (issue 11, items 6 and 7), over HTTP:
 *
 * - billing and infrastructure staff read no tenant's subscriptions, add-ons
 *   or IP assignments without a session (their permissions only let them
 *   change those rows inside a session into that tenant);
 * - every operation inside a session, reads included, leaves one row in the
 *   tenant's audit log and one in the platform's, naming the fields it
 *   selected;
 * - a staff session cannot bring anyone into the tenant: inviting is refused,
 *   and an invitation sent from a staff session cannot be accepted.
 */
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { createUser, login, ownedTenant, PASSWORD, type Member } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
let org: Member;
let other: Member;
beforeAll(async () => {
  t = await startTestApi({ PM_DATA_DIR: '/tmp/pm-staff-access-imports', IMPORT_MAX_BYTES: '1000000', STATEMENT_TIMEOUT_MS: '5000' }, 'platform');
  org = await ownedTenant(t, 'staffed');
  other = await ownedTenant(t, 'staffed-other');
  const [domain] = await t.owner.query(sql`
    insert into app_public.domains (tenant_id, domain) values (${org.tenantId}, ${`d${Date.now()}.staff.example`}) returning id`);
  const [ip] = await t.owner.query(sql`
    insert into app_public.smtp_ip_addresses (ip_address) values (${`198.51.100.${Math.floor(Math.random() * 250) + 1}`}) returning id`);
  await t.owner.query(sql`
    insert into app_public.domain_ip_assignments (tenant_id, domain_id, smtp_ip_address_id) values (${org.tenantId}, ${domain.id}, ${ip.id})`);
}, 60_000);
afterAll(() => t.close());

const OPEN = `mutation($id: UUID!, $mode: String) { openTenantAccess(input: { tenantId: $id, reason: "Ticket 99: billing question", accessMode: $mode, minutes: 30 }) { result } }`;
const SWITCH = `mutation($id: UUID!) { switchTenant(input: { tenantId: $id }) { jwtToken } }`;

async function staff(role: string): Promise<{ userId: string; token: string }> {
  const { userId, email } = await createUser(t, `staff-${role}`);
  await t.owner.query(sql`insert into app_public.staff_members (user_id, role_id) select ${userId}, id from app_public.staff_roles where name = ${role}`);
  const data = await t.ok(`mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { jwtToken } }`, { e: email, p: PASSWORD });
  return { userId, token: data.login.jwtToken };
}

async function inside(member: { token: string }, tenantId: string, mode: 'read' | 'write'): Promise<string> {
  await t.ok(OPEN, { id: tenantId, mode }, member.token);
  return (await t.ok(SWITCH, { id: tenantId }, member.token)).switchTenant.jwtToken;
}

const BILLING = `{ billingSubscriptions { totalCount nodes { rowId } } billingSubscriptionAddons { totalCount } domainIpAssignments { totalCount } }`;

async function subscriptionOf(tenantId: string): Promise<string> {
  const [row] = await t.owner.query(sql`select id from app_public.subscriptions where tenant_id = ${tenantId}`);
  return row.id;
}

test('billing and infrastructure staff read no tenant billing or IP assignment without an access session', async () => {
  for (const role of ['billing', 'operator', 'superadmin']) {
    const s = await staff(role);
    expect(await t.ok(BILLING, {}, s.token)).toEqual({
      billingSubscriptions: { totalCount: 0, nodes: [] },
      billingSubscriptionAddons: { totalCount: 0 },
      domainIpAssignments: { totalCount: 0 },
    });
    // A token naming a tenant without a session opens nothing either.
    const forged = await t.session({ role: 'staff', user_id: s.userId, tenant_id: org.tenantId, expires_at: new Date(Date.now() + 600_000) });
    expect((await t.ok(BILLING, {}, forged)).billingSubscriptions.totalCount).toBe(0);
  }
  // The members of the tenant still see theirs.
  expect((await t.ok(BILLING, {}, org.token)).billingSubscriptions.totalCount).toBe(1);
});

test('inside a session staff see that tenant only, and every operation is audited with the fields it touched', async () => {
  const biller = await staff('billing');
  const token = await inside(biller, org.tenantId, 'read');
  const before = await t.owner.query(sql`select count(*)::int as n from app_public.audit_log where tenant_id = ${org.tenantId} and action = 'staff_access.operation'`);

  const seen = await t.ok(`query StaffLooksAtBilling { billingSubscriptions { nodes { rowId status } } leads { totalCount } }`, {}, token);
  expect(seen.billingSubscriptions.nodes).toEqual([{ rowId: await subscriptionOf(org.tenantId), status: 'ACTIVE' }]);
  await t.ok(`{ currentTenant { name } }`, {}, token);
  // A refused write is audited too: the record is written before the operation runs.
  const refused = await t.gql(`mutation { createLead(input: { lead: { email: "staff@probe.example" } }) { lead { rowId } } }`, {}, token);
  expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

  const rows = await t.owner.query(sql`
    select actor_user_id, actor_is_staff, reason, changes from app_public.audit_log
    where tenant_id = ${org.tenantId} and action = 'staff_access.operation' order by id offset ${before[0].n}`);
  expect(rows).toHaveLength(3);
  expect(rows.every((r) => r.actor_user_id === biller.userId && r.actor_is_staff && r.reason === 'Ticket 99: billing question')).toBe(true);
  expect(rows[0].changes).toMatchObject({
    access_mode: 'read',
    type: 'query',
    name: 'StaffLooksAtBilling',
    fields: ['BillingSubscription.rowId', 'BillingSubscription.status', 'BillingSubscriptionConnection.nodes', 'LeadConnection.totalCount', 'Query.billingSubscriptions', 'Query.leads'],
  });
  expect(rows[0].changes.request_id).toMatch(/./);
  expect(rows[1].changes).toMatchObject({ type: 'query', name: null, fields: ['Query.currentTenant', 'Tenant.name'] });
  expect(rows[2].changes).toMatchObject({ type: 'mutation', fields: expect.arrayContaining(['Mutation.createLead']) });
  const platform = await t.owner.query(sql`
    select count(*)::int as n from app_public.platform_audit_log
    where target_tenant_id = ${org.tenantId} and actor_user_id = ${biller.userId} and action = 'staff_access.operation'`);
  expect(platform[0].n).toBe(3);
  // The tenant's owner reads them in its audit log.
  const log = await t.ok(`{ auditLogs(first: 100) { nodes { action actorIsStaff } } }`, {}, org.token);
  expect(log.auditLogs.nodes.filter((e: { action: string; actorIsStaff: boolean }) => e.action === 'staff_access.operation' && e.actorIsStaff).length).toBeGreaterThanOrEqual(3);

  // The other tenant stays out of reach and unaudited.
  expect((await t.ok(BILLING, {}, token)).billingSubscriptions.nodes).toEqual([{ rowId: await subscriptionOf(org.tenantId) }]);
  const otherLog = await t.owner.query(sql`select count(*)::int as n from app_public.audit_log where tenant_id = ${other.tenantId} and action = 'staff_access.operation'`);
  expect(otherLog[0].n).toBe(0);

  // A member acting in their own tenant writes no such record.
  const member = await t.owner.query(sql`select count(*)::int as n from app_public.audit_log where actor_user_id = ${org.userId} and action = 'staff_access.operation'`);
  expect(member[0].n).toBe(0);
});

test('a staff write session cannot invite anyone, and an invitation sent from one cannot be accepted', async () => {
  const admin = await staff('superadmin');
  const token = await inside(admin, org.tenantId, 'write');
  const invite = await t.gql(`mutation($e: String!) { inviteMember(input: { email: $e, roles: ["member"] }) { result { rowId } } }`, { e: `invitee-${Date.now()}@probe.example` }, token);
  expect(invite.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect(invite.errors?.[0]?.message).toMatch(/staff access session cannot invite/);
  const [{ n }] = await t.owner.query(sql`select count(*)::int as n from app_public.invitations where tenant_id = ${org.tenantId} and invited_by = ${admin.userId}`);
  expect(n).toBe(0);

  // An invitation a staff session sent before this rule (its audit row says so) is refused at acceptance:
  // the staff member's own account gets no membership.
  const token2 = 'staff-sent-invitation-token-' + Date.now();
  const [inv] = await t.owner.query(sql`
    insert into app_public.invitations (tenant_id, email, roles, invited_by)
    select ${org.tenantId}, u.email, '{admin}', ${admin.userId} from app_public.users u where u.id = ${admin.userId} returning id`);
  await t.owner.query(sql`
    insert into app_private.invitation_tokens (tenant_id, invitation_id, token_hash) values (${org.tenantId}, ${inv.id}, app_private.hash_token(${token2}))`);
  await t.owner.query(sql`update app_public.audit_log set actor_is_staff = true, actor_user_id = ${admin.userId}
    where tenant_id = ${org.tenantId} and action = 'invitations.insert' and record_id = ${inv.id}`);
  const accept = await t.gql(`mutation($token: String!, $p: String) { acceptInvitation(input: { token: $token, password: $p }) { jwtToken } }`, { token: token2, p: PASSWORD });
  expect(accept.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  const members = await t.owner.query(sql`select count(*)::int as n from app_public.tenant_users where tenant_id = ${org.tenantId} and user_id = ${admin.userId}`);
  expect(members[0].n).toBe(0);
  // The same staff user invited by the owner is welcome.
  expect(await login(t, org.email, org.tenantId)).toMatch(/^ey/);
});

test('membership changes record their actor, staff marked as staff', async () => {
  const admin = await staff('superadmin');
  const { userId: newcomer, email } = await createUser(t, 'newcomer');
  await t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${org.tenantId}, ${newcomer}, '{member}', ${email})`);
  const token = await inside(admin, org.tenantId, 'write');
  const changed = await t.gql(`mutation($u: UUID!) { changeMemberRoles(input: { userId: $u, roles: ["viewer"] }) { clientMutationId } }`, { u: newcomer }, token);
  expect(changed.errors).toBeUndefined();
  const [row] = await t.owner.query(sql`
    select actor_user_id, actor_is_staff, changes from app_public.audit_log
    where tenant_id = ${org.tenantId} and action = 'tenant_users.update' and record_id = ${newcomer} order by id desc limit 1`);
  expect(row).toMatchObject({ actor_user_id: admin.userId, actor_is_staff: true, changes: { roles: { from: ['member'], to: ['viewer'] } } });
});

test('a CSV upload by staff inside a session is audited like a GraphQL operation', async () => {
  const admin = await staff('superadmin');
  const token = await inside(admin, org.tenantId, 'write');
  const upload = await fetch(`${t.url}/imports/leads?fileName=staff.csv`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
    body: 'email\nstaff-upload@probe.example\n',
  });
  expect(upload.status).toBe(202);
  const [row] = await t.owner.query(sql`
    select actor_user_id, actor_is_staff, changes from app_public.audit_log
    where tenant_id = ${org.tenantId} and action = 'staff_access.operation' and changes->>'name' = 'POST /imports/leads'`);
  expect(row).toMatchObject({ actor_user_id: admin.userId, actor_is_staff: true, changes: { type: 'http', access_mode: 'write' } });
});

