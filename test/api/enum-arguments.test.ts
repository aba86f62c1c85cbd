/**
 * Function arguments that take a CHECK-listed column's values are that
 * column's GraphQL enum (`@enumArg`, plugins/check-enums.ts), like the
 * outputs: clients send `LEADS`, `ACTIVE`, `QUARANTINED`; a value the enum
 * does not know is refused by GraphQL (a literal: GRAPHQL_VALIDATION_FAILED;
 * a variable: INVALID_INPUT) before anything reaches the database, and no
 * argument named like a status, kind, stage or role is left a plain String.
 */
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { ownedTenant, type Member } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';
import { uniqueEmail } from '../helpers/unique.ts';

let t: TestApi;
let owner: Member;
let staffToken: string;

beforeAll(async () => {
  t = await startTestApi();
  owner = await ownedTenant(t, 'enum-args');
  const [staff] = await t.owner.query(sql`select id from app_private.create_user(${uniqueEmail('enum-staff')}, 'a long staff password')`);
  await t.owner.query(sql`insert into app_public.staff_members (user_id, role_id) select ${staff.id}, id from app_public.staff_roles where name = 'operator'`);
  staffToken = await t.session({ role: 'staff', user_id: staff.id, tenant_id: null, expires_at: new Date(Date.now() + 3_600_000) });
}, 60_000);
afterAll(() => t.close());

/** The named type of an argument or input field, through NON_NULL and LIST wrappers. */
interface TypeRef { kind: string; name: string | null; ofType: TypeRef | null }
const named = (ref: TypeRef): string => (ref.ofType ? named(ref.ofType) : ref.name!);
const TYPE_REF = 'type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }';

test('the status and kind arguments of functions are the enums of their columns', async () => {
  const data = await t.ok(`{
    query: __type(name: "Query") { fields { name args { name ${TYPE_REF} } } }
    csv: __type(name: "RequestCsvExportInput") { inputFields { name ${TYPE_REF} } }
    vps: __type(name: "SetVpsInstanceStatusInput") { inputFields { name ${TYPE_REF} } }
    ip: __type(name: "SetSmtpIpStatusInput") { inputFields { name ${TYPE_REF} } }
    assignment: __type(name: "SetDomainIpAssignmentStatusInput") { inputFields { name ${TYPE_REF} } }
    interest: __type(name: "SetLeadInterestStatusInput") { inputFields { name ${TYPE_REF} } }
    deal: __type(name: "ConvertLeadToDealInput") { inputFields { name ${TYPE_REF} } }
  }`);
  const field = (type: { inputFields: Array<{ name: string; type: TypeRef }> }, name: string) =>
    named(type.inputFields.find((f) => f.name === name)!.type);
  const inbox = data.query.fields.find((f: { name: string }) => f.name === 'inboxConversations');
  const arg = (name: string) => named(inbox.args.find((a: { name: string }) => a.name === name).type);
  expect({
    leadStatus: arg('leadStatus'),
    interestStatus: arg('interestStatus'),
    csvKind: field(data.csv, 'kind'),
    vpsStatus: field(data.vps, 'status'),
    ipStatus: field(data.ip, 'status'),
    assignmentStatus: field(data.assignment, 'status'),
    interest: field(data.interest, 'interestStatus'),
    stage: field(data.deal, 'stage'),
  }).toEqual({
    leadStatus: 'LeadStatus',
    interestStatus: 'LeadInterestStatus',
    csvKind: 'TenantExportKind',
    vpsStatus: 'VpsInstanceStatus',
    ipStatus: 'SmtpIpAddressStatus',
    assignmentStatus: 'DomainIpAssignmentStatus',
    interest: 'LeadInterestStatus',
    stage: 'DealStage',
  });
});

test('no function argument named like a status, kind, stage or role is a plain String', async () => {
  const data = await t.ok(`{
    __schema { queryType { fields { name args { name ${TYPE_REF} } } } mutationType { fields { name args { name ${TYPE_REF} } } }
      types { name kind inputFields { name ${TYPE_REF} } } }
  }`);
  const LIKE = /^(status|kind|type|stage|role|[a-z]+(Status|Kind|Type|Stage|Role))$/;
  const types = new Map<string, { inputFields: Array<{ name: string; type: TypeRef }> | null }>(
    data.__schema.types.map((x: { name: string }) => [x.name, x]));
  const loose: string[] = [];
  for (const f of data.__schema.queryType.fields) {
    for (const a of f.args) if (LIKE.test(a.name) && named(a.type) === 'String') loose.push(`Query.${f.name}(${a.name})`);
  }
  // A mutation of a function takes its arguments in `input`; table mutations' inputs are rows and patches (enums already).
  for (const f of data.__schema.mutationType.fields) {
    const input = f.args.find((a: { name: string }) => a.name === 'input');
    const fields = input ? types.get(named(input.type))?.inputFields ?? [] : [];
    for (const x of fields) if (LIKE.test(x.name) && named(x.type) === 'String') loose.push(`Mutation.${f.name}(${x.name})`);
  }
  expect(loose).toEqual([]);
});

test('a member requests a CSV export by its enum kind; an unknown kind is refused by GraphQL, TENANT by the database, and nothing is written', async () => {
  const REQUEST = `mutation($kind: TenantExportKind!) { requestCsvExport(input: { kind: $kind }) { result { kind status } } }`;
  const unknown = await t.gql(REQUEST, { kind: 'DEALS' }, owner.token);
  expect(unknown.errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_INPUT' } });
  expect(unknown.errors?.[0]?.message).toMatch(/TenantExportKind/);
  const asText = await t.gql(`mutation { requestCsvExport(input: { kind: "leads" }) { result { kind } } }`, {}, owner.token);
  expect(asText.status).toBe(400);
  expect(asText.errors?.[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  const tenant = await t.gql(REQUEST, { kind: 'TENANT' }, owner.token);
  expect(tenant.errors?.[0]).toMatchObject({
    message: 'A CSV export is of leads, suppressions or campaign_results, not "tenant" (the whole organisation is exported with requestTenantExport).',
    extensions: { code: 'INVALID_INPUT' },
  });
  expect(await t.owner.query(sql`select id from app_public.tenant_exports where tenant_id = ${owner.tenantId}`)).toEqual([]);

  const requested = await t.ok(REQUEST, { kind: 'SUPPRESSIONS' }, owner.token);
  expect(requested.requestCsvExport.result).toEqual({ kind: 'SUPPRESSIONS', status: 'QUEUED' });
  const [row] = await t.owner.query(sql`select kind from app_public.tenant_exports where tenant_id = ${owner.tenantId}`);
  expect(row.kind).toBe('suppressions');
});

test('inboxConversations filters by the lead status enums; an unknown status is refused', async () => {
  const QUERY = `query($status: LeadStatus, $interest: LeadInterestStatus) {
    inboxConversations(leadStatus: $status, interestStatus: $interest) { totalCount } }`;
  const ok = await t.ok(QUERY, { status: 'ACTIVE', interest: 'MEETING_BOOKED' }, owner.token);
  expect(ok.inboxConversations.totalCount).toBe(0);
  const bad = await t.gql(QUERY, { status: 'active' }, owner.token);
  expect(bad.errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_INPUT' } });
  const literal = await t.gql(`{ inboxConversations(leadStatus: REPLYED) { totalCount } }`, {}, owner.token);
  expect(literal.errors?.[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
});

test('staff move a server and a sending IP by their status enums; unknown statuses are refused and nothing changes', async () => {
  const [vps] = await t.owner.query(sql`insert into app_public.vps_instances (status) values ('provisioning') returning id`);
  const octet = () => Math.floor(Math.random() * 250) + 1;
  const [ip] = await t.owner.query(sql`
    insert into app_public.smtp_ip_addresses (vps_instance_id, ip_address) values (${vps.id}, ${`198.18.${octet()}.${octet()}`}::inet) returning id`);

  const VPS = `mutation($id: UUID!, $status: VpsInstanceStatus!) { setVpsInstanceStatus(input: { vpsInstanceId: $id, status: $status }) { result { status } } }`;
  expect((await t.gql(VPS, { id: vps.id, status: 'RUNNING' }, staffToken)).errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_INPUT' } });
  expect((await t.gql(VPS, { id: vps.id, status: 'active' }, staffToken)).errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_INPUT' } });
  expect((await t.owner.query(sql`select status from app_public.vps_instances where id = ${vps.id}`))[0].status).toBe('provisioning');
  expect((await t.ok(VPS, { id: vps.id, status: 'ACTIVE' }, staffToken)).setVpsInstanceStatus.result).toEqual({ status: 'ACTIVE' });
  expect((await t.owner.query(sql`select status from app_public.vps_instances where id = ${vps.id}`))[0].status).toBe('active');

  const IP = `mutation($id: UUID!, $status: SmtpIpAddressStatus!) { setSmtpIpStatus(input: { smtpIpAddressId: $id, status: $status, reason: "test" }) { result { status } } }`;
  expect((await t.gql(IP, { id: ip.id, status: 'quarantined' }, staffToken)).errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_INPUT' } });
  const literal = await t.gql(`mutation { setSmtpIpStatus(input: { smtpIpAddressId: "${ip.id}", status: "quarantined" }) { result { status } } }`, {}, staffToken);
  expect(literal.errors?.[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  expect((await t.owner.query(sql`select status from app_public.smtp_ip_addresses where id = ${ip.id}`))[0].status).toBe('available');
  expect((await t.ok(IP, { id: ip.id, status: 'QUARANTINED' }, staffToken)).setSmtpIpStatus.result).toEqual({ status: 'QUARANTINED' });
  expect((await t.owner.query(sql`select status from app_public.smtp_ip_addresses where id = ${ip.id}`))[0].status).toBe('quarantined');
});
