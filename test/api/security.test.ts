/**
 * Security hardening (issue 11) as clients meet it over HTTP: what a tenant
 * may write into inbox settings and addresses, what each refusal says and
 * that nothing is written when it is refused.
 */
import { startTestApi, type GqlResult, type TestApi } from '../helpers/api.ts';
import { ownedTenant, type Member } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
let owner: Member;
let domainId: string;

function expectError(result: GqlResult, code: string, message: RegExp | string) {
  expect(result.errors).toHaveLength(1);
  const [error] = result.errors!;
  expect(error!.extensions?.code).toBe(code);
  if (typeof message === 'string') expect(error!.message).toBe(message);
  else expect(error!.message).toMatch(message);
}

const inboxes = async (tenantId: string) =>
  (await t.owner.query(sql`select email::text, smtp_settings, imap_settings from app_public.email_accounts where tenant_id = ${tenantId} order by email`)) as Array<{
    email: string;
    smtp_settings: { host?: string } | null;
    imap_settings: { host?: string } | null;
  }>;

beforeAll(async () => {
  // No private range allowed: the production default.
  t = await startTestApi({ OUTBOUND_ALLOW_PRIVATE: '' });
  owner = await ownedTenant(t, 'security', 'pro');
  const data = await t.ok(`mutation { createDomain(input: { domain: { domain: "acme-outbound.test" } }) { domain { rowId } } }`, {}, owner.token);
  domainId = data.createDomain.domain.rowId;
});
afterAll(() => t?.close());

const CREATE_INBOX = `mutation($a: EmailAccountInput!) { createEmailAccount(input: { emailAccount: $a }) { emailAccount { rowId email } } }`;
const UPDATE_INBOX = `mutation($id: UUID!, $p: EmailAccountPatch!) { updateEmailAccount(input: { rowId: $id, patch: $p }) { emailAccount { rowId } } }`;

describe('inbox server hosts (the outbound guard at write time)', () => {
  test.each([
    ['smtpSettings', '127.0.0.1'],
    ['smtpSettings', '10.0.0.5'],
    ['imapSettings', '169.254.169.254'],
    ['imapSettings', '[::1]'],
    ['smtpSettings', '::ffff:192.168.0.1'],
  ])('a literal private address in %s (%s) is INVALID_INPUT and nothing is written', async (field, host) => {
    expectError(
      await t.gql(CREATE_INBOX, { a: { domainId, email: 'probe@acme-outbound.test', [field]: { host, port: 25 } } }, owner.token),
      'INVALID_INPUT',
      `${field}.host: the server address is not allowed (private or reserved network); use the server's public address or name.`,
    );
    expect(await inboxes(owner.tenantId)).toEqual([]);
  });

  test('public addresses and names are accepted; an update to a private address is refused and changes nothing', async () => {
    const data = await t.ok(CREATE_INBOX, { a: { domainId, email: 'sales@acme-outbound.test', smtpSettings: { host: 'smtp.acme-outbound.test', port: 587 }, imapSettings: { host: '93.184.215.14' } } }, owner.token);
    const id = data.createEmailAccount.emailAccount.rowId;
    expectError(await t.gql(UPDATE_INBOX, { id, p: { imapSettings: { host: '192.168.1.10', port: 993 } } }, owner.token), 'INVALID_INPUT', /^imapSettings\.host: the server address is not allowed/);
    expect(await inboxes(owner.tenantId)).toEqual([
      { email: 'sales@acme-outbound.test', smtp_settings: { host: 'smtp.acme-outbound.test', port: 587 }, imap_settings: { host: '93.184.215.14' } },
    ]);
    await t.ok(UPDATE_INBOX, { id, p: { smtpSettings: { host: '8.8.4.4', port: 25 } } }, owner.token);
    await t.ok(`mutation($id: UUID!) { deleteEmailAccount(input: { rowId: $id }) { deletedEmailAccountId } }`, { id }, owner.token);
  });

  test('the operator allow-list admits its ranges at write time too', async () => {
    const allowing = await startTestApi({ OUTBOUND_ALLOW_PRIVATE: '10.20.0.0/16' });
    try {
      const tenant = await ownedTenant(allowing, 'security-allow', 'pro');
      const { createDomain } = await allowing.ok(`mutation { createDomain(input: { domain: { domain: "relay.test" } }) { domain { rowId } } }`, {}, tenant.token);
      await allowing.ok(CREATE_INBOX, { a: { domainId: createDomain.domain.rowId, email: 'a@relay.test', smtpSettings: { host: '10.20.1.1' } } }, tenant.token);
      expectError(
        await allowing.gql(CREATE_INBOX, { a: { domainId: createDomain.domain.rowId, email: 'b@relay.test', smtpSettings: { host: '10.21.1.1' } } }, tenant.token),
        'INVALID_INPUT',
        /^smtpSettings\.host: the server address is not allowed/,
      );
    } finally {
      await allowing.close();
    }
  });
});

describe("an inbox's address is on its own domain", () => {
  test('another domain, a subdomain or a look-alike is INVALID_INPUT and nothing is written', async () => {
    for (const email of ['ceo@globex-growth.test', 'ceo@mail.acme-outbound.test', 'ceo@acme-outbound.test.evil.test', 'ceo@xacme-outbound.test']) {
      expectError(
        await t.gql(CREATE_INBOX, { a: { domainId, email } }, owner.token),
        'INVALID_INPUT',
        `The inbox address ${email} is not on its domain acme-outbound.test: use an address ending in @acme-outbound.test.`,
      );
    }
    expect(await inboxes(owner.tenantId)).toEqual([]);
  });

  test('the same domain in any case is accepted', async () => {
    const data = await t.ok(CREATE_INBOX, { a: { domainId, email: 'Founder@ACME-Outbound.test' } }, owner.token);
    expect(data.createEmailAccount.emailAccount.email).toMatch(/^founder@acme-outbound\.test$/i);
    await t.ok(`mutation($id: UUID!) { deleteEmailAccount(input: { rowId: $id }) { deletedEmailAccountId } }`, { id: data.createEmailAccount.emailAccount.rowId }, owner.token);
  });

  test('the database enforces it for every writer, not only the API', async () => {
    await expect(
      t.owner.query(sql`insert into app_public.email_accounts (tenant_id, domain_id, email) values (${owner.tenantId}, ${domainId}, 'x@other.test')`),
    ).rejects.toMatchObject({ code: 'INVAL' });
    const [row] = await t.owner.query(sql`insert into app_public.email_accounts (tenant_id, domain_id, email) values (${owner.tenantId}, ${domainId}, 'x@acme-outbound.test') returning id`);
    await expect(t.owner.query(sql`update app_public.email_accounts set email = 'x@other.test' where tenant_id = ${owner.tenantId} and id = ${row.id}`)).rejects.toMatchObject({ code: 'INVAL' });
    await t.owner.query(sql`delete from app_public.email_accounts where tenant_id = ${owner.tenantId} and id = ${row.id}`);
  });
});

describe('hostile values are INVALID_INPUT naming the field, and write nothing', () => {
  const CREATE_LEAD = `mutation($lead: LeadInput!) { createLead(input: { lead: $lead }) { lead { rowId } } }`;
  const leadCount = async () => (await t.owner.query(sql`select count(*)::int as n from app_public.leads where tenant_id = ${owner.tenantId}`))[0].n as number;

  test('a NUL character in text, in JSON or in a document literal', async () => {
    const before = await leadCount();
    expectError(await t.gql(CREATE_LEAD, { lead: { email: 'nul@probe.example', firstName: 'Ada\u0000' } }, owner.token), 'INVALID_INPUT',
      'Invalid value for $lead.firstName: text cannot contain the NUL character (\\u0000).');
    expectError(await t.gql(CREATE_LEAD, { lead: { email: 'nul@probe.example', customFields: { note: ['ok', 'x\u0000y'] } } }, owner.token), 'INVALID_INPUT',
      'Invalid value for $lead.customFields.note[1]: text cannot contain the NUL character (\\u0000).');
    expectError(await t.gql(CREATE_LEAD, { lead: { email: 'nul@probe.example', customFields: { 'k\u0000': 1 } } }, owner.token), 'INVALID_INPUT',
      'Invalid value for $lead.customFields: a key cannot contain the NUL character (\\u0000).');
    expectError(await t.gql(`mutation { createLead(input: { lead: { email: "nul@probe.example", company: "Acme\\u0000" } }) { lead { rowId } } }`, {}, owner.token), 'INVALID_INPUT',
      'Invalid value for argument "input".lead.company: text cannot contain the NUL character (\\u0000).');
    expect(await leadCount()).toBe(before);
  });

  test('JSON nested thousands of levels deep', async () => {
    const before = await leadCount();
    // Written by hand: JSON.stringify itself gives up at this depth.
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` },
      body: `{"query": ${JSON.stringify(CREATE_LEAD)}, "variables": {"lead": {"email": "deep@probe.example", "customFields": ${deep}}}}`,
    });
    const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('INVALID_INPUT');
    expect(body.errors[0]!.message).toMatch(/^Invalid value for \$lead\.customFields(\.a)+: it is nested more than 32 levels deep\.$/);
    expect(await leadCount()).toBe(before);
    // 30 levels are fine.
    let ok: unknown = 1;
    for (let i = 0; i < 28; i++) ok = { a: ok };
    await t.ok(CREATE_LEAD, { lead: { email: 'deep-ok@probe.example', customFields: { a: ok } } }, owner.token);
  });

  test('NaN and ±Infinity for deal values and annual revenue', async () => {
    const deals = async () => (await t.owner.query(sql`select count(*)::int as n from app_public.deals where tenant_id = ${owner.tenantId}`))[0].n as number;
    const accounts = async () => (await t.owner.query(sql`select count(*)::int as n from app_public.crm_accounts where tenant_id = ${owner.tenantId}`))[0].n as number;
    const [dealsBefore, accountsBefore] = [await deals(), await accounts()];
    for (const bad of ['NaN', 'Infinity', '-Infinity', 'nan', '1e', '']) {
      expectError(await t.gql(`mutation($d: DealInput!) { createDeal(input: { deal: $d }) { deal { rowId } } }`, { d: { title: 'Big one', value: bad } }, owner.token), 'INVALID_INPUT',
        new RegExp(`^Variable "\\$d" got invalid value .* at "d\\.value"; .*is not a finite number`));
      expectError(await t.gql(`mutation($a: CrmAccountInput!) { createCrmAccount(input: { crmAccount: $a }) { crmAccount { rowId } } }`, { a: { name: 'Acme', annualRevenue: bad } }, owner.token), 'INVALID_INPUT',
        /at "a\.annualRevenue"; .*is not a finite number/);
    }
    expectError(await t.gql(`mutation { createDeal(input: { deal: { title: "Literal", value: "NaN" } }) { deal { rowId } } }`, {}, owner.token), 'INVALID_INPUT', /is not a finite number/);
    expect([await deals(), await accounts()]).toEqual([dealsBefore, accountsBefore]);
    await t.ok(`mutation($d: DealInput!) { createDeal(input: { deal: $d }) { deal { rowId } } }`, { d: { title: 'Fine', value: '1250.50' } }, owner.token);
  });

  test('dates outside the years 1 to 9999, and words PostgreSQL would read as dates', async () => {
    const before = (await t.owner.query(sql`select count(*)::int as n from app_public.deals where tenant_id = ${owner.tenantId}`))[0].n as number;
    for (const bad of ['99999-01-01', '+99999-01-01', '0000-01-01', 'infinity', 'tomorrow', 'epoch', '2026-01-01 BC']) {
      expectError(await t.gql(`mutation($d: DealInput!) { createDeal(input: { deal: $d }) { deal { rowId } } }`, { d: { title: 'Dated', expectedCloseDate: bad } }, owner.token), 'INVALID_INPUT',
        /at "d\.expectedCloseDate"; .*is not a date \(YYYY-MM-DD\) between the years 1 and 9999/);
    }
    expectError(await t.gql(`{ leads(filter: { created: { greaterThan: "99999-01-01T00:00:00Z" } }) { totalCount } }`, {}, owner.token), 'INVALID_INPUT', /between the years 1 and 9999/);
    expect((await t.owner.query(sql`select count(*)::int as n from app_public.deals where tenant_id = ${owner.tenantId}`))[0].n).toBe(before);
    await t.ok(`mutation($d: DealInput!) { createDeal(input: { deal: $d }) { deal { rowId } } }`, { d: { title: 'Dated', expectedCloseDate: '2027-03-31' } }, owner.token);
    await t.ok(`{ leads(filter: { created: { greaterThan: "2026-01-01T00:00:00.123+02:00" } }) { totalCount } }`, {}, owner.token);
  });
});

describe("a deal's owner is a member of the organisation", () => {
  const CREATE_DEAL = `mutation($d: DealInput!) { createDeal(input: { deal: $d }) { deal { rowId ownerUserId } } }`;
  const OWNER_ERROR = 'The deal owner must be a member of this organisation; pick one from its members.';

  test("another organisation's user and an id of nobody get the same NOT_FOUND, and nothing is written", async () => {
    const stranger = await ownedTenant(t, 'security-stranger', 'pro');
    const deals = async () => (await t.owner.query(sql`select count(*)::int as n from app_public.deals where tenant_id = ${owner.tenantId}`))[0].n as number;
    const before = await deals();
    const foreign = await t.gql(CREATE_DEAL, { d: { title: 'Poached', ownerUserId: stranger.userId } }, owner.token);
    const nobody = await t.gql(CREATE_DEAL, { d: { title: 'Ghost', ownerUserId: '00000000-0000-4000-8000-000000000001' } }, owner.token);
    expectError(foreign, 'NOT_FOUND', OWNER_ERROR);
    expectError(nobody, 'NOT_FOUND', OWNER_ERROR);
    expect(foreign.errors).toEqual(nobody.errors);
    expect(await deals()).toBe(before);

    const { createDeal } = await t.ok(CREATE_DEAL, { d: { title: 'Mine', ownerUserId: owner.userId } }, owner.token);
    expect(createDeal.deal.ownerUserId).toBe(owner.userId);
    expectError(
      await t.gql(`mutation($id: UUID!, $u: UUID!) { updateDeal(input: { rowId: $id, patch: { ownerUserId: $u } }) { deal { rowId } } }`, { id: createDeal.deal.rowId, u: stranger.userId }, owner.token),
      'NOT_FOUND',
      OWNER_ERROR,
    );
    const [row] = await t.owner.query(sql`select owner_user_id from app_public.deals where tenant_id = ${owner.tenantId} and id = ${createDeal.deal.rowId}`);
    expect(row.owner_user_id).toBe(owner.userId);
  });
});
