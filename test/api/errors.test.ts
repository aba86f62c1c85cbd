/**
 * Errors as clients see them over HTTP: a database constraint or policy
 * violation becomes a GraphQL error with a stable code and a sentence a user
 * can act on (never a stack trace or SQL), and nothing is written. Documents
 * that never run get codes too.
 */
import { GraphQLError } from 'postgraphile/graphql';
import { captureLogs } from '../../src/log/logger.ts';
import { classifyDatabaseError, maskError } from '../../src/server/errors.ts';
import { startTestApi, type GqlResult, type TestApi } from '../helpers/api.ts';
import { memberWithRoles, ownedTenant, type Member } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
let owner: Member;
let free: Member;

/** What no error message may contain. */
const LEAKS = /\bat \w+ \(|\.ts:\d+|select |insert into|update app_|delete from|app_public\.|app_private\.|violates|constraint "|SQLSTATE|stack/i;

function expectError(result: GqlResult, code: string, message: RegExp | string) {
  expect(result.data ? Object.values(result.data).every((v) => v === null) : true).toBe(true);
  expect(result.errors).toHaveLength(1);
  const [error] = result.errors!;
  expect(error!.extensions).toEqual({ code });
  if (typeof message === 'string') expect(error!.message).toBe(message);
  else expect(error!.message).toMatch(message);
  expect(result.text).not.toMatch(LEAKS);
}

const count = async (table: string, tenantId: string) =>
  (await t.owner.query(sql`select count(*)::int as n from ${sql.ident('app_public', table)} where tenant_id = ${tenantId}`))[0].n as number;

beforeAll(async () => {
  t = await startTestApi();
  owner = await ownedTenant(t, 'errors', 'pro');
  free = await ownedTenant(t, 'errors-free', 'free');
});
afterAll(() => t?.close());

const CREATE_LEAD = `mutation($lead: LeadInput!) { createLead(input: { lead: $lead }) { lead { rowId } } }`;

test('a duplicate (case-insensitive) is ALREADY_EXISTS and writes nothing', async () => {
  await t.ok(CREATE_LEAD, { lead: { email: 'Dup@Probe.example' } }, owner.token);
  const before = await count('leads', owner.tenantId);
  expectError(await t.gql(CREATE_LEAD, { lead: { email: 'dup@probe.EXAMPLE', name: 'Again' } }, owner.token), 'ALREADY_EXISTS', 'A lead with this email already exists.');
  expect(await count('leads', owner.tenantId)).toBe(before);
});

test('values that break a domain or CHECK constraint are INVALID_INPUT, naming the rule', async () => {
  const before = await count('leads', owner.tenantId);
  expectError(await t.gql(CREATE_LEAD, { lead: { email: 'not an email' } }, owner.token), 'INVALID_INPUT', 'That is not a valid email address.');
  // A status outside its CHECK list is not even a value of its enum (plugins/check-enums.ts).
  expectError(await t.gql(CREATE_LEAD, { lead: { email: 'x@probe.example', status: 'VIP' } }, owner.token), 'INVALID_INPUT', /Value "VIP" does not exist in "LeadStatus" enum/);
  expectError(await t.gql(CREATE_LEAD, { lead: { email: 'y@probe.example', firstName: 'x'.repeat(101) } }, owner.token), 'INVALID_INPUT', /breaks the rule "leads_first_name_check"/);
  expectError(await t.gql(CREATE_LEAD, { lead: { email: 'z@probe.example', customFields: [1, 2] } }, owner.token), 'INVALID_INPUT', /leads_custom_fields_object/);
  expectError(
    await t.gql(`mutation { createContactList(input: { contactList: { name: "Bad", isDynamic: true, filterCriteria: { all: [{ field: "salary", op: "gt", value: 1 }] } } }) { contactList { rowId } } }`, {}, owner.token),
    'INVALID_INPUT',
    /^Invalid list filter: unknown field "salary"; use one of email, name/,
  );
  expect(await count('leads', owner.tenantId)).toBe(before);
  expect(await count('contact_lists', owner.tenantId)).toBe(0);
});

test('referring to a row that is not in your organisation is NOT_FOUND; so is changing one', async () => {
  const stranger = await ownedTenant(t, 'errors-stranger');
  const [{ id: foreignDomain }] = await t.owner.query(sql`
    insert into app_public.domains (tenant_id, domain) values (${stranger.tenantId}, 'stranger.example') returning id
  `);
  expectError(
    await t.gql(`mutation($d: UUID!) { createEmailAccount(input: { emailAccount: { domainId: $d, email: "sales@stranger.example" } }) { emailAccount { rowId } } }`, { d: foreignDomain }, owner.token),
    'NOT_FOUND',
    /^A referenced record does not exist in your organisation/,
  );
  expectError(await t.gql(`mutation($id: UUID!) { updateDomain(input: { rowId: $id, patch: { isPrimary: true } }) { domain { rowId } } }`, { id: foreignDomain }, owner.token), 'NOT_FOUND', 'There is no domain with this id in your organisation.');
  expectError(await t.gql(`mutation($id: UUID!) { deleteDomain(input: { rowId: $id }) { domain { rowId } } }`, { id: foreignDomain }, owner.token), 'NOT_FOUND', 'There is no domain with this id in your organisation.');
  expect(await count('email_accounts', owner.tenantId)).toBe(0);
  expect(await count('domains', stranger.tenantId)).toBe(1);
});

test('what your role may not do is FORBIDDEN, whether RLS, a grant or a SQL function refuses it', async () => {
  const viewer = await memberWithRoles(t, owner.tenantId, ['viewer']);
  const [{ id: lead }] = await t.owner.query(sql`select id from app_public.leads where tenant_id = ${owner.tenantId} limit 1`);
  expectError(await t.gql(CREATE_LEAD, { lead: { email: 'viewer@probe.example' } }, viewer.token), 'FORBIDDEN', 'Your role in this organisation does not allow you to write leads.');
  expectError(await t.gql(`mutation($id: UUID!) { updateLead(input: { rowId: $id, patch: { name: "v" } }) { lead { rowId } } }`, { id: lead }, viewer.token), 'FORBIDDEN', 'Your role in this organisation does not allow you to change this lead.');
  expectError(await t.gql(`mutation($id: UUID!) { deleteLead(input: { rowId: $id }) { lead { rowId } } }`, { id: lead }, viewer.token), 'FORBIDDEN', 'Your role in this organisation does not allow you to delete this lead.');
  expectError(await t.gql(`mutation { inviteMember(input: { email: "x@probe.example" }) { result { rowId } } }`, {}, viewer.token), 'FORBIDDEN', 'Only owners and admins can invite people to this organisation.');
  expectError(await t.gql(`{ systemConfigs { totalCount } }`, {}, viewer.token), 'FORBIDDEN', 'You do not have permission to do this (table system_config).');
  const [{ name }] = await t.owner.query(sql`select name from app_public.leads where id = ${lead}`);
  expect(name).not.toBe('v');
});

test('without a token, what needs a signed-in user is UNAUTHENTICATED (not FORBIDDEN), telling the caller to sign in', async () => {
  const SIGN_IN = 'Sign in first: this needs a signed-in user; send your session token as "Authorization: Bearer <token>".';
  expectError(await t.gql(`{ leads { totalCount } }`), 'UNAUTHENTICATED', SIGN_IN);
  expectError(await t.gql(CREATE_LEAD, { lead: { email: 'anon@probe.example' } }), 'UNAUTHENTICATED', SIGN_IN);
  // The same query with a token is answered; a signed-in caller refused something stays FORBIDDEN (above).
  expect((await t.ok(`{ leads { totalCount } }`, {}, owner.token)).leads.totalCount).toBeGreaterThanOrEqual(0);
});

describe('errors answered before a document runs carry a code too', () => {
  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${t.url}/graphql`, { method: 'POST', headers, body }).then(async (r) => ({ status: r.status, type: r.headers.get('content-type'), body: await r.json() }));

  test('a body that is not JSON is INVALID_INPUT', async () => {
    const result = await post('{ leads { totalCount } }', { 'content-type': 'application/json' });
    expect(result.status).toBe(400);
    expect(result.body).toEqual({ errors: [{ message: 'The request body is not valid JSON of the form {"query": "…", "variables": {…}}.', extensions: { code: 'INVALID_INPUT' } }] });
  });

  test('a Content-Type other than JSON, or none, is UNSUPPORTED_MEDIA_TYPE', async () => {
    for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, {}] as Record<string, string>[]) {
      const result = await post('query=%7B__typename%7D', headers);
      expect(result.body).toEqual({ errors: [{ message: 'Send the request body as JSON (Content-Type: application/json).', extensions: { code: 'UNSUPPORTED_MEDIA_TYPE' } }] });
      expect(result.type).toMatch(/json/);
    }
  });

  test('GET /graphql is METHOD_NOT_ALLOWED; an Accept header nothing satisfies is NOT_ACCEPTABLE', async () => {
    const get = await fetch(`${t.url}/graphql?query=%7B__typename%7D`, { headers: { accept: 'application/json' } });
    expect(get.status).toBe(405);
    expect(await get.json()).toEqual({ errors: [{ message: 'GraphQL is served at POST /graphql: send the query as a POST request.', extensions: { code: 'METHOD_NOT_ALLOWED' } }] });
    const html = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { accept: 'text/csv', 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' });
    expect(html.status).toBe(406);
    expect(((await html.json()) as any).errors[0].extensions).toEqual({ code: 'NOT_ACCEPTABLE' });
  });
});

test("going over the plan's limits is PLAN_LIMIT_REACHED with the plan, the limit and the usage; nothing is written", async () => {
  const CREATE_DOMAIN = `mutation($d: Hostname!) { createDomain(input: { domain: { domain: $d } }) { domain { rowId } } }`;
  await t.ok(CREATE_DOMAIN, { d: 'first.example' }, free.token);
  expectError(await t.gql(CREATE_DOMAIN, { d: 'second.example' }, free.token), 'PLAN_LIMIT_REACHED', /^Your Free plan allows 1 sending domain.*Upgrade the plan or buy an add-on/);
  expect(await count('domains', free.tenantId)).toBe(1);
});

test('documents that never run still carry a code: parse errors, unknown fields, bad variables', async () => {
  const parse = await t.gql(`{ leads { nodes { rowId }`, {}, owner.token);
  expect(parse.status).toBe(400);
  expect(parse.errors?.[0]).toEqual(expect.objectContaining({ message: 'Syntax Error: Expected Name, found <EOF>. (line 1, column 26)', extensions: expect.objectContaining({ code: 'GRAPHQL_PARSE_FAILED' }) }));
  const unknown = await t.gql(`{ leads { nodes { salary } } }`, {}, owner.token);
  expect(unknown.status).toBe(400);
  expect(unknown.errors?.[0]).toEqual(expect.objectContaining({ message: 'Cannot query field "salary" on type "Lead".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
  const badVariable = await t.gql(`query($id: UUID!) { lead(rowId: $id) { rowId } }`, { id: 'not-a-uuid' }, owner.token);
  expect(badVariable.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
  expect(badVariable.errors?.[0]?.message).toMatch(/Invalid UUID, expected 32 hexadecimal characters/);
  const missing = await t.gql(CREATE_LEAD, { lead: { name: 'No email' } }, owner.token);
  expect(missing.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
  expect(missing.errors?.[0]?.message).toMatch(/email/);
});

describe('the error mapping itself', () => {
  test('our SQLSTATEs map to stable codes; unknown failures become INTERNAL with a reference and no detail', () => {
    const sqlError = (code: string, message: string, extra: Record<string, string> = {}) => Object.assign(new Error(message), { code, ...extra });
    expect(classifyDatabaseError(sqlError('LIMIT', 'Your Free plan allows 1 member.'))).toEqual({ code: 'PLAN_LIMIT_REACHED', message: 'Your Free plan allows 1 member.' });
    expect(classifyDatabaseError(sqlError('STATE', 'Message x is bounced and cannot become sent.'))?.code).toBe('CONFLICT');
    expect(classifyDatabaseError(sqlError('57014', 'canceling statement due to statement timeout'))).toEqual({ code: 'TIMEOUT', message: 'The request took too long and was cancelled.' });
    expect(classifyDatabaseError(sqlError('40001', 'could not serialize access'))?.code).toBe('CONFLICT');
    expect(classifyDatabaseError(new Error('not a database error'))).toBeNull();

    const original = sqlError('22012', 'division by zero');
    const logs = captureLogs('error');
    try {
      const masked = maskError(new GraphQLError('division by zero', { originalError: original, path: ['x'] })) as GraphQLError;
      expect(masked.message).toMatch(/^An unexpected error occurred \(reference [0-9a-f]{10}\)\.$/);
      expect(masked.extensions).toEqual({ code: 'INTERNAL', reference: expect.stringMatching(/^[0-9a-f]{10}$/) });
      expect(JSON.stringify(masked)).not.toMatch(/division/);
      // The detail goes to the server log, with the same reference.
      expect(logs.lines().map((line) => JSON.parse(line))).toEqual([
        expect.objectContaining({ level: 'error', component: 'graphql', reference: masked.extensions.reference, err: expect.objectContaining({ message: 'division by zero' }) }),
      ]);
    } finally {
      logs.stop();
    }
  });
});
