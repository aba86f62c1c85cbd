/**
 * Tenant security policies that decide who gets in, through the real API:
 * two_factor_required and company_require_email_verification refuse members
 * without two-factor authentication, or without a confirmed email,
 * everything in that organisation but setting it up. The confirmation email
 * goes through the product's worker to a real SMTP server on 127.0.0.1.
 */
import { startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { login, memberWithRoles, ownedTenant, PASSWORD } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';
import { CONFIRM_2FA, enrolTwoFactor, loginChallenge, START_2FA, totpCode, VERIFY_2FA } from '../helpers/totp.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';
import { uniqueEmail } from '../helpers/unique.ts';

let t: TestApi;
let smtp: TestSmtpServer;
let worker: TestWorker;
beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApi({ PM_DATA_DIR: '/tmp/pm-tenant-policies-test-imports', IMPORT_MAX_BYTES: '1000000', STATEMENT_TIMEOUT_MS: '5000' }, 'platform');
  worker = await startTestWorker(t.urls.owner, testEnv({ APP_URL: 'https://app.penguinmails.test', LOG_LEVEL: 'error' }), { smtpUrl: smtp.url, pollInterval: 100 });
});
afterAll(async () => {
  await worker.stop();
  await t.close();
  await smtp.close();
});

const code = (result: { errors?: Array<{ extensions?: { code?: string } }> }) => result.errors?.[0]?.extensions?.code;
const REQUIRE = `mutation($on: Boolean!) { updateTenantPolicy(input: { patch: { twoFactorRequired: $on } }) { tenantPolicy { twoFactorRequired } } }`;
const LISTS = `{ contactLists { totalCount } }`;
const CREATE_LIST = `mutation($name: String!) { createContactList(input: { contactList: { name: $name } }) { contactList { rowId } } }`;
const listsNamed = (tenantId: string, name: string) =>
  t.owner.query(sql`select 1 from app_public.contact_lists where tenant_id = ${tenantId} and name = ${name}`);

test('two_factor_required: a member without it reaches nothing in the organisation but the set-up; with it, everything', async () => {
  const owner = await ownedTenant(t, 'tfa-req');
  await enrolTwoFactor(t, owner.token);
  const member = await memberWithRoles(t, owner.tenantId, ['member'], 'tfa-req-member');
  // Off (the default): the member works normally.
  expect(await t.ok(LISTS, {}, member.token)).toEqual({ contactLists: { totalCount: 0 } });

  expect(await t.ok(REQUIRE, { on: true }, owner.token)).toEqual({ updateTenantPolicy: { tenantPolicy: { twoFactorRequired: true } } });
  // The owner has two-factor authentication: unaffected.
  expect(await t.ok(LISTS, {}, owner.token)).toEqual({ contactLists: { totalCount: 0 } });

  // The member's token still verifies, but every read and write in the organisation is refused, and nothing is written.
  const read = await t.gql(LISTS, {}, member.token);
  expect(read.status).toBe(200);
  expect(code(read)).toBe('TWO_FACTOR_ENROLMENT_REQUIRED');
  expect(read.errors?.[0]?.message).toMatch(/^This organisation requires two-factor authentication/);
  expect(read.data?.contactLists ?? null).toBeNull();
  expect(code(await t.gql(CREATE_LIST, { name: 'refused' }, member.token))).toBe('TWO_FACTOR_ENROLMENT_REQUIRED');
  expect(await listsNamed(owner.tenantId, 'refused')).toEqual([]);
  // The import endpoint too.
  const upload = await fetch(`${t.url}/imports/leads?fileName=leads.csv`, {
    method: 'POST',
    headers: { authorization: `Bearer ${member.token}`, 'content-type': 'text/csv' },
    body: 'email\na@example.com\n',
  });
  expect(upload.status).toBe(403);
  expect(((await upload.json()) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code).toBe('TWO_FACTOR_ENROLMENT_REQUIRED');
  expect(await t.owner.query(sql`select 1 from app_public.lead_imports where tenant_id = ${owner.tenantId}`)).toEqual([]);
  // A set-up operation that also selects the organisation's data is refused whole.
  const mixed = await t.gql(`mutation { startTwoFactorEnrollment { secret } createContactList(input: { contactList: { name: "mixed" } }) { contactList { rowId } } }`, {}, member.token);
  expect(code(mixed)).toBe('TWO_FACTOR_ENROLMENT_REQUIRED');
  expect(await listsNamed(owner.tenantId, 'mixed')).toEqual([]);
  expect(await t.owner.query(sql`select 1 from app_private.user_two_factor where user_id = ${member.userId}`)).toEqual([]);
  // A new sign-in gives the same kind of token (the password was right), just as limited.
  const fresh = await login(t, member.email, owner.tenantId);
  expect(code(await t.gql(LISTS, {}, fresh))).toBe('TWO_FACTOR_ENROLMENT_REQUIRED');

  // Setting it up is allowed, and sees who they are, with no role in the organisation meanwhile.
  const setup = await t.ok(`{ currentUser { rowId } myMemberships { nodes { tenantId roles } } }`, {}, member.token);
  expect(setup.currentUser).toEqual({ rowId: member.userId });
  expect(setup.myMemberships.nodes).toEqual([{ tenantId: owner.tenantId, roles: ['member'] }]);
  const { startTwoFactorEnrollment: { secret } } = await t.ok(START_2FA, {}, member.token);
  await t.ok(CONFIRM_2FA, { code: totpCode(secret) }, member.token);
  // From the next request on, the same token works.
  expect(await t.ok(CREATE_LIST, { name: 'allowed' }, member.token)).toEqual({ createContactList: { contactList: { rowId: expect.any(String) } } });
  expect(await listsNamed(owner.tenantId, 'allowed')).toEqual([{ '?column?': 1 }]);
});

test('the requirement binds only the organisation that sets it, and lifting it restores access', async () => {
  const strict = await ownedTenant(t, 'tfa-strict');
  const relaxed = await ownedTenant(t, 'tfa-relaxed');
  // A member of both, without two-factor authentication.
  const member = await memberWithRoles(t, strict.tenantId, ['member'], 'tfa-both');
  await t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${relaxed.tenantId}, ${member.userId}, '{member}', ${member.email})`);
  await t.owner.query(sql`update app_public.tenant_policies set two_factor_required = true where tenant_id = ${strict.tenantId}`);

  expect(code(await t.gql(LISTS, {}, member.token))).toBe('TWO_FACTOR_ENROLMENT_REQUIRED');
  const inRelaxed = await login(t, member.email, relaxed.tenantId);
  expect(await t.ok(LISTS, {}, inRelaxed)).toEqual({ contactLists: { totalCount: 0 } });
  // switchTenant is part of the set-up: it leads out of the strict organisation, not into it.
  const { switchTenant } = await t.ok(`mutation($id: UUID!) { switchTenant(input: { tenantId: $id }) { jwtToken } }`, { id: relaxed.tenantId }, member.token);
  expect(await t.ok(LISTS, {}, switchTenant.jwtToken)).toEqual({ contactLists: { totalCount: 0 } });
  expect(code(await t.gql(LISTS, {}, (await t.ok(`mutation($id: UUID!) { switchTenant(input: { tenantId: $id }) { jwtToken } }`, { id: strict.tenantId }, inRelaxed)).switchTenant.jwtToken)))
    .toBe('TWO_FACTOR_ENROLMENT_REQUIRED');

  await t.owner.query(sql`update app_public.tenant_policies set two_factor_required = false where tenant_id = ${strict.tenantId}`);
  expect(await t.ok(LISTS, {}, member.token)).toEqual({ contactLists: { totalCount: 0 } });
});

test('a member with two-factor authentication signs in to a strict organisation through the challenge', async () => {
  const owner = await ownedTenant(t, 'tfa-signin');
  const { secret, step } = await enrolTwoFactor(t, owner.token);
  await t.ok(REQUIRE, { on: true }, owner.token);
  const challenge = await loginChallenge(t, owner.email, PASSWORD, owner.tenantId);
  const { verifyTwoFactorLogin } = await t.ok(VERIFY_2FA, { challenge, code: totpCode(secret, step + 1) });
  expect(verifyTwoFactorLogin.tenantId).toBe(owner.tenantId);
  expect(await t.ok(LISTS, {}, verifyTwoFactorLogin.jwtToken)).toEqual({ contactLists: { totalCount: 0 } });
});

const REQUEST_VERIFICATION = `mutation { requestEmailVerification(input: {}) { result } }`;
const VERIFY_EMAIL = `mutation($token: String!) { verifyEmail(input: { token: $token }) { result } }`;

test('company_require_email_verification (on by default): an unconfirmed member confirms through the emailed link first', async () => {
  const owner = await ownedTenant(t, 'emv-owner');
  // An account whose address was never confirmed (accounts made by sign-up or invitation always are).
  const email = uniqueEmail('emv-member');
  const [{ id: userId }] = await t.owner.query(sql`select id from app_private.create_user(${email}, ${PASSWORD}, 'Unconfirmed', false)`);
  await t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${owner.tenantId}, ${userId}, '{member}', ${email})`);
  const token = await login(t, email, owner.tenantId);

  const read = await t.gql(LISTS, {}, token);
  expect(code(read)).toBe('EMAIL_VERIFICATION_REQUIRED');
  expect(code(await t.gql(CREATE_LIST, { name: 'unconfirmed' }, token))).toBe('EMAIL_VERIFICATION_REQUIRED');
  expect(await listsNamed(owner.tenantId, 'unconfirmed')).toEqual([]);

  expect(await t.ok(REQUEST_VERIFICATION, {}, token)).toEqual({ requestEmailVerification: { result: true } });
  const mail = await smtp.waitFor((m) => m.to.includes(email));
  expect(mail.parsed.subject).toBe('Confirm your email address on PenguinMails');
  const link = /https:\/\/app\.penguinmails\.test\/verify-email\?token=([A-Za-z0-9_-]+)/.exec(mail.parsed.text ?? '')?.[1];
  expect(link).toBeTruthy();
  // At most 3 links an hour per account, silently.
  for (let i = 0; i < 3; i++) expect(await t.ok(REQUEST_VERIFICATION, {}, token)).toEqual({ requestEmailVerification: { result: true } });
  expect(await t.owner.query(sql`select count(*)::int as n from app_private.email_verification_tokens where user_id = ${userId}`)).toEqual([{ n: 3 }]);
  // A wrong token changes nothing.
  expect(code(await t.gql(VERIFY_EMAIL, { token: `${link}x` }))).toBe('NOT_FOUND');
  expect(code(await t.gql(LISTS, {}, token))).toBe('EMAIL_VERIFICATION_REQUIRED');

  // The link works signed out, once.
  expect(await t.ok(VERIFY_EMAIL, { token: link })).toEqual({ verifyEmail: { result: true } });
  expect(code(await t.gql(VERIFY_EMAIL, { token: link }))).toBe('TOKEN_EXPIRED');
  expect(await t.ok(LISTS, {}, token)).toEqual({ contactLists: { totalCount: 0 } });
  expect(code(await t.gql(REQUEST_VERIFICATION, {}, token))).toBe('CONFLICT');
});

test('with company_require_email_verification off, an unconfirmed member works normally', async () => {
  const owner = await ownedTenant(t, 'emv-off');
  await t.ok(`mutation { updateTenantPolicy(input: { patch: { companyRequireEmailVerification: false } }) { tenantPolicy { companyRequireEmailVerification } } }`, {}, owner.token);
  const email = uniqueEmail('emv-off-member');
  const [{ id: userId }] = await t.owner.query(sql`select id from app_private.create_user(${email}, ${PASSWORD}, 'Unconfirmed', false)`);
  await t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${owner.tenantId}, ${userId}, '{member}', ${email})`);
  expect(await t.ok(LISTS, {}, await login(t, email, owner.tenantId))).toEqual({ contactLists: { totalCount: 0 } });
});
