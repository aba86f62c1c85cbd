/**
 * Role gating through the API, over real HTTP. Tenant roles are data
 * (owner > admin > member > viewer), enforced by RLS policies and the SQL
 * functions; the API only carries the token. Staff reach a tenant only
 * through an explicit, audited access session.
 */
import { getNamedType, type GraphQLObjectType, type GraphQLSchema } from 'postgraphile/graphql';
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { createUser, demoTenant, login, memberWithRoles, type DemoTenant, type Member } from './fixtures.ts';
import { decodeNodeId, listNodes, liveSchema, operationFor, realUuids, sampleArgs, tableTypes, type TableType } from './schema-walker.ts';
import { sql } from '../../src/db/pg.ts';

const LONG = 120_000;

let t: TestApi;
let org: DemoTenant;
let schema: GraphQLSchema;
let tables: Map<string, TableType>;
let nodes: Map<string, string[]>;
let viewer: Member;
let member: Member;
let admin: Member;

/** Mutations about the caller themselves (profile, preferences, password, sessions, their account and the closed organisations they own), not the current tenant's data. */
const PERSONAL = /^(register|confirmRegistration|login|logout|logoutEverywhere|acceptInvitation|requestPasswordReset|resetPassword|switchTenant|changePassword|(create|update|delete)UserPreference.*|updateUser|requestEmailVerification|verifyEmail|startTwoFactorEnrollment|confirmTwoFactor|disableTwoFactor|verifyTwoFactorLogin|deleteMyAccount|myClosedTenants|reopenTenant)$/;

const ident = (qualified: string) => sql.ident(...(qualified.split('.') as [string, string]));

async function snapshot(tenantId: string): Promise<Record<string, string>> {
  const digest: Record<string, string> = {};
  for (const table of tables.values()) {
    if (!table.tenantOwned) continue;
    const [row] = await t.owner.query(sql`
      select md5(coalesce(string_agg(to_jsonb(x)::text, '|' order by to_jsonb(x)::text), '')) as h from ${ident(table.table)} x where x.tenant_id = ${tenantId}
    `);
    digest[table.table] = row.h;
  }
  return digest;
}

/** The table a CRUD mutation works on, from its payload. */
function crudTable(field: { name: string; type: Parameters<typeof getNamedType>[0] }): TableType | undefined {
  if (!/^(create|update|delete)/.test(field.name)) return undefined;
  const payload = getNamedType(field.type) as GraphQLObjectType;
  const row = Object.values(payload.getFields()).find((f) => tables.has(getNamedType(f.type).name));
  return row ? tables.get(getNamedType(row.type).name) : undefined;
}

/** Variables for any mutation, naming real rows of the organisation where an id is needed. */
function variablesFor(field: Parameters<typeof sampleArgs>[0]): Record<string, unknown> {
  const table = crudTable(field as never);
  const target = table ? nodes.get(table.typeName)?.[0] : undefined;
  const variables = sampleArgs(field, {
    uuid: org.tenantId,
    nodeId: target,
    uuidFor: realUuids(nodes, { tenantId: org.tenantId, userId: org.userId }),
    string: 'role probe',
  });
  // Key-based updates and deletes: aim at a real row.
  const input = variables.input as Record<string, unknown> | undefined;
  if (table && target && input && /^(update|delete)/.test(field.name) && !('id' in input)) {
    const key = decodeNodeId(target).key;
    table.pkFields.forEach((f, i) => {
      if (f in input) input[f] = key[i];
    });
  }
  return variables;
}

beforeAll(async () => {
  // In this process: the schema walker reads the server's own preset (PostGraphile's registry and inflection).
  t = await startTestApi({}, undefined, undefined, { inProcess: true });
  org = await demoTenant(t, 'roles', 'roles.example');
  schema = await liveSchema(t, org.token);
  tables = await tableTypes(t);
  nodes = await listNodes(t, schema, tables, org.token, { all: true });
  viewer = await memberWithRoles(t, org.tenantId, ['viewer']);
  member = await memberWithRoles(t, org.tenantId, ['member']);
  admin = await memberWithRoles(t, org.tenantId, ['admin']);
}, LONG);
afterAll(() => t?.close());

test('a viewer reads the organisation but cannot change anything in it, through any mutation', async () => {
  expect((await t.ok(`{ leads { totalCount } campaigns { totalCount } }`, {}, viewer.token)).leads.totalCount).toBeGreaterThan(5);
  const before = await snapshot(org.tenantId);
  const problems: string[] = [];
  let forbidden = 0;
  const mutations = Object.values(schema.getMutationType()!.getFields()).filter((f) => !PERSONAL.test(f.name));
  expect(mutations.length).toBeGreaterThan(80);
  for (const field of mutations) {
    const result = await t.gql(operationFor('mutation', field, '{ __typename }'), variablesFor(field), viewer.token);
    const code = result.errors?.[0]?.extensions?.code;
    if (code === 'FORBIDDEN') forbidden += 1;
    // NOT_FOUND: rows a viewer cannot even read (invitations, the audit log).
    else if (code !== 'NOT_FOUND' || result.data?.r) problems.push(`${field.name}: ${result.text.slice(0, 250)}`);
  }
  expect(problems).toEqual([]);
  expect(forbidden).toBeGreaterThan(60);
  expect(await snapshot(org.tenantId)).toEqual(before);
}, LONG);

test('a member works with leads, lists, templates and campaigns', async () => {
  const created = await t.ok(
    `mutation {
      lead: createLead(input: { lead: { email: "member-made@probe.example", firstName: "Mem" } }) { lead { rowId } }
      list: createContactList(input: { contactList: { name: "Member list" } }) { contactList { rowId } }
      template: createTemplate(input: { template: { name: "Member template", subject: "Hi" } }) { template { rowId } }
      campaign: createCampaign(input: { campaign: { name: "Member campaign" } }) { campaign { rowId } }
    }`,
    {},
    member.token,
  );
  await t.ok(`mutation($id: UUID!) { updateLead(input: { rowId: $id, patch: { company: "Globex" } }) { lead { company } } }`, { id: created.lead.lead.rowId }, member.token);
  const [row] = await t.owner.query(sql`select tenant_id, company, created_by from app_public.leads where id = ${created.lead.lead.rowId}`);
  expect(row).toEqual({ tenant_id: org.tenantId, company: 'Globex', created_by: member.userId });
}, LONG);

test('a member cannot touch billing, domains, inboxes, policies or settings; each refusal is FORBIDDEN and writes nothing', async () => {
  const before = await snapshot(org.tenantId);
  const attempts: Array<[string, string, Record<string, unknown>]> = [
    ['createDomain', `mutation { r: createDomain(input: { domain: { domain: "member-domain.example" } }) { domain { rowId } } }`, {}],
    ['updateDomain', `mutation($id: UUID!) { r: updateDomain(input: { rowId: $id, patch: { isPrimary: false } }) { domain { rowId } } }`, { id: org.ids.domain }],
    ['deleteDomain', `mutation($id: UUID!) { r: deleteDomain(input: { rowId: $id }) { domain { rowId } } }`, { id: org.ids.domain }],
    ['createEmailAccount', `mutation($d: UUID!) { r: createEmailAccount(input: { emailAccount: { domainId: $d, email: "new@roles.example" } }) { emailAccount { rowId } } }`, { d: org.ids.domain }],
    ['updateEmailAccount', `mutation($id: UUID!) { r: updateEmailAccount(input: { rowId: $id, patch: { dailyLimit: 500 } }) { emailAccount { rowId } } }`, { id: org.ids.inbox }],
    ['deleteEmailAccount', `mutation($id: UUID!) { r: deleteEmailAccount(input: { rowId: $id }) { emailAccount { rowId } } }`, { id: org.ids.inbox }],
    ['updateTenantPolicy', `mutation { r: updateTenantPolicy(input: { patch: { maxLoginAttempts: 50 } }) { tenantPolicy { maxLoginAttempts } } }`, {}],
    ['updateTenantConfig', `mutation { r: updateTenantConfig(input: { patch: { themePrimaryColor: "#000000" } }) { tenantConfig { themePrimaryColor } } }`, {}],
    ['updateCompany', `mutation($id: UUID!) { r: updateCompany(input: { rowId: $id, patch: { name: "Renamed" } }) { company { rowId } } }`, { id: org.ids.company }],
    ['changePlan', `mutation { r: changePlan(input: { planSlug: "enterprise" }) { result { rowId } } }`, {}],
    ['cancelBillingSubscription', `mutation { r: cancelBillingSubscription(input: {}) { result { rowId } } }`, {}],
    ['updateBillingSubscription', `mutation($id: UUID!) { r: updateBillingSubscription(input: { rowId: $id, patch: { cancelAtPeriodEnd: true } }) { billingSubscription { rowId } } }`, { id: org.ids.subscription }],
    ['inviteMember (as admin)', `mutation { r: inviteMember(input: { email: "boss@probe.example", roles: ["admin"] }) { result { rowId } } }`, {}],
    ['changeMemberRoles', `mutation($u: UUID!) { r: changeMemberRoles(input: { userId: $u, roles: ["owner"] }) { result { roles } } }`, { u: member.userId }],
    ['removeMember (someone else)', `mutation($u: UUID!) { r: removeMember(input: { userId: $u }) { result { deletedAt } } }`, { u: viewer.userId }],
  ];
  const outcomes = [];
  for (const [name, query, variables] of attempts) {
    const result = await t.gql(query, variables, member.token);
    outcomes.push([name, result.data?.r ?? null, result.errors?.[0]?.extensions?.code, result.errors?.[0]?.message]);
  }
  expect(outcomes).toEqual(attempts.map(([name]) => [name, null, 'FORBIDDEN', expect.any(String)]));
  expect(await snapshot(org.tenantId)).toEqual(before);
}, LONG);

test('admins manage domains, inboxes and policies; only owners rename the organisation or make owners', async () => {
  const domain = await t.ok(`mutation { createDomain(input: { domain: { domain: "admin-domain.example" } }) { domain { rowId domain } } }`, {}, admin.token);
  expect(domain.createDomain.domain.domain).toBe('admin-domain.example');
  await t.ok(`mutation { updateTenantPolicy(input: { patch: { maxLoginAttempts: 7 } }) { tenantPolicy { maxLoginAttempts } } }`, {}, admin.token);
  await t.ok(`mutation($id: UUID!) { updateEmailAccount(input: { rowId: $id, patch: { dailyLimit: 45 } }) { emailAccount { dailyLimit } } }`, { id: org.ids.inbox }, admin.token);
  await t.ok(`mutation { changePlan(input: { planSlug: "enterprise" }) { result { rowId } } }`, {}, admin.token);

  const rename = `mutation($id: UUID!) { r: updateTenant(input: { rowId: $id, patch: { name: "Renamed Org" } }) { tenant { name } } }`;
  expect((await t.gql(rename, { id: org.tenantId }, admin.token)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect((await t.ok(rename, { id: org.tenantId }, org.token)).r.tenant.name).toBe('Renamed Org');
  const promote = `mutation($u: UUID!) { r: changeMemberRoles(input: { userId: $u, roles: ["owner"] }) { result { roles } } }`;
  expect((await t.gql(promote, { u: member.userId }, admin.token)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect((await t.ok(promote, { u: member.userId }, org.token)).r.result.roles).toEqual(['owner']);

  const [policy] = await t.owner.query(sql`select max_login_attempts from app_public.tenant_policies where tenant_id = ${org.tenantId}`);
  expect(policy.max_login_attempts).toBe(7);
  // The organisation's one-row settings are read without naming it, by every member.
  const settings = await t.ok(`{ tenantPolicy { maxLoginAttempts } tenantConfig { id } }`, {}, member.token);
  expect(settings.tenantPolicy).toEqual({ maxLoginAttempts: 7 });
  expect(settings.tenantConfig).not.toBeNull();
}, LONG);

describe('staff', () => {
  const OPEN = `mutation($id: UUID!, $mode: String) { openTenantAccess(input: { tenantId: $id, reason: "Ticket 4711: leads missing", accessMode: $mode, minutes: 30 }) { result } }`;
  const SWITCH = `mutation($id: UUID!) { switchTenant(input: { tenantId: $id }) { jwtToken tenantId role } }`;

  async function staffMember(staffRole: string): Promise<string> {
    const { userId, email } = await createUser(t, `staff-${staffRole}`);
    await t.owner.query(sql`insert into app_public.staff_members (user_id, role_id) select ${userId}, id from app_public.staff_roles where name = ${staffRole}`);
    const data = await t.ok(`mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { jwtToken role tenantId } }`, { e: email, p: 'correct horse battery' });
    expect(data.login).toMatchObject({ role: 'staff', tenantId: null });
    return data.login.jwtToken;
  }

  test('reach a tenant only through openTenantAccess + switchTenant; read access reads, write access writes; the owner sees it all in the audit log', async () => {
    const support = await staffMember('support');
    // No session yet: no way in, not even with a forged tenant claim.
    expect((await t.gql(SWITCH, { id: org.tenantId }, support)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const [{ user_id }] = await t.owner.query(sql`select user_id from app_public.staff_members order by created desc limit 1`);
    const forged = await t.session({ role: 'staff', user_id, tenant_id: org.tenantId, expires_at: new Date(Date.now() + 600_000) });
    expect(await t.ok(`{ leads { totalCount } currentTenant { rowId } }`, {}, forged)).toEqual({ leads: { totalCount: 0 }, currentTenant: null });
    // Support may not open write access.
    expect((await t.gql(OPEN, { id: org.tenantId, mode: 'write' }, support)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    await t.ok(OPEN, { id: org.tenantId, mode: 'read' }, support);
    const inside = (await t.ok(SWITCH, { id: org.tenantId }, support)).switchTenant;
    expect(inside).toMatchObject({ tenantId: org.tenantId, role: 'staff' });
    const [{ n }] = await t.owner.query(sql`select count(*)::int as n from app_public.leads where tenant_id = ${org.tenantId}`);
    expect((await t.ok(`{ leads { totalCount } currentTenantRoles }`, {}, inside.jwtToken))).toEqual({ leads: { totalCount: n }, currentTenantRoles: ['viewer'] });
    const write = await t.gql(`mutation { createLead(input: { lead: { email: "staff-wrote@probe.example" } }) { lead { rowId } } }`, {}, inside.jwtToken);
    expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const superadmin = await staffMember('superadmin');
    await t.ok(OPEN, { id: org.tenantId, mode: 'write' }, superadmin);
    const writer = (await t.ok(SWITCH, { id: org.tenantId }, superadmin)).switchTenant.jwtToken;
    await t.ok(`mutation { createLead(input: { lead: { email: "staff-fixed@probe.example" } }) { lead { rowId } } }`, {}, writer);

    const audit = await t.ok(`{ auditLogs(first: 100) { nodes { action reason actorUserId actorIsStaff } } }`, {}, org.token);
    const staffEntries = audit.auditLogs.nodes.filter((e: { action: string; actorIsStaff: boolean }) => e.action === 'staff_access.opened' && e.actorIsStaff);
    expect(staffEntries).toHaveLength(2);
    expect(staffEntries.map((e: { reason: string }) => e.reason)).toEqual(['Ticket 4711: leads missing', 'Ticket 4711: leads missing']);
    // Viewers and members do not see the audit log; admins and owners do.
    expect((await t.ok(`{ auditLogs { totalCount } }`, {}, viewer.token)).auditLogs.totalCount).toBe(0);
    expect((await t.ok(`{ auditLogs { totalCount } }`, {}, admin.token)).auditLogs.totalCount).toBeGreaterThan(1);
  }, LONG);
});

test('login chooses among the tenants a user belongs to and nothing else', async () => {
  const outsider = await createUser(t, 'outsider');
  const refused = await t.gql(`mutation($e: String!, $t: UUID) { login(input: { email: $e, password: "correct horse battery", tenantId: $t }) { jwtToken } }`, { e: outsider.email, t: org.tenantId });
  expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect(await login(t, viewer.email, org.tenantId)).toMatch(/^ey/);
}, LONG);
