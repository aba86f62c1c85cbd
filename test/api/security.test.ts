/**
 * Security hardening (issue 11) as clients meet it over HTTP: what a tenant
 * may write into inbox settings and addresses, what each refusal says and
 * that nothing is written when it is refused.
 */
import { sql, startTestApi, type GqlResult, type TestApi } from '../helpers/api.ts';
import { ownedTenant, type Member } from './fixtures.ts';

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
