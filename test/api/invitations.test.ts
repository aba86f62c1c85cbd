/**
 * Invitations and password resets end to end: the SQL function queues a job,
 * the worker sends the email through a real SMTP server on 127.0.0.1, and the
 * token in that email is the only way in.
 */
import path from 'node:path';
import os from 'node:os';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';
import { registerUser, startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { putTenantOnPlan } from '../helpers/billing.ts';
import { sql } from '../../src/db/pg.ts';
import { uniqueEmail } from '../helpers/unique.ts';

let t: TestApi;
let smtp: TestSmtpServer;
let worker: TestWorker;

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApi();
  const env = testEnv({ APP_URL: 'https://app.penguinmails.test', LOG_LEVEL: 'error' });
  worker = await startTestWorker(t.urls.owner, env, { smtpUrl: smtp.url, pollInterval: 100 });
});
afterAll(async () => {
  await worker.stop();
  await t.close();
  await smtp.close();
});

const INVITE = `mutation($email: String!, $roles: [String]) { inviteMember(input: { email: $email, roles: $roles }) { result { rowId email roles expiresAt } } }`;
const ACCEPT = `mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { jwtToken tenantId userId } }`;
const tokenIn = (text: string, route: string) => new RegExp(`${route}\\?token=([A-Za-z0-9_-]+)`).exec(text)?.[1];

test('an owner invites someone, the email carries the link, and accepting joins with the invited roles', async () => {
  const owner = await registerUser(t, 'inviter');
  await putTenantOnPlan(t.owner, owner.tenantId, 'pro'); // Free allows one member
  const email = uniqueEmail('newbie');
  const { inviteMember } = await t.ok(INVITE, { email, roles: ['member'] }, owner.jwtToken);
  expect(inviteMember.result).toMatchObject({ email, roles: ['member'] });
  // The token is never in the API response or any readable table.
  expect(JSON.stringify(inviteMember)).not.toMatch(/token/i);

  const mail = await smtp.waitFor((m) => m.to.includes(email));
  expect(mail.parsed.subject).toBe('You are invited to an organisation on PenguinMails');
  expect(mail.parsed.text).toContain('You are invited to join the organisation “Org inviter” on PenguinMails.');
  expect(mail.parsed.text).toContain(`Invited by: “User inviter” <${owner.email}>`);
  const token = tokenIn(mail.parsed.text ?? '', 'https://app.penguinmails.test/accept-invitation');
  expect(token).toBeDefined();

  const weak = await t.gql(ACCEPT, { input: { token, password: 'short' } });
  expect(weak.errors?.[0]?.extensions?.code).toBe('WEAK_PASSWORD');

  const { acceptInvitation } = await t.ok(ACCEPT, { input: { token, password: 'a brand new password', name: 'New Bie' } });
  expect(acceptInvitation.tenantId).toBe(owner.tenantId);
  const me = await t.ok(`{ currentUser { email name } currentTenantRoles }`, {}, acceptInvitation.jwtToken);
  expect(me).toEqual({ currentUser: { email, name: 'New Bie' }, currentTenantRoles: ['member'] });

  const again = await t.gql(ACCEPT, { input: { token, password: 'a brand new password' } });
  expect(again.errors?.[0]).toMatchObject({ message: 'This invitation has already been accepted.', extensions: { code: 'TOKEN_EXPIRED' } });
});

test('inviting again replaces the open invitation; revoked and expired links stop working', async () => {
  const owner = await registerUser(t, 'reinviter');
  await putTenantOnPlan(t.owner, owner.tenantId, 'pro'); // Free allows one member
  const email = uniqueEmail('twice');
  await t.ok(INVITE, { email }, owner.jwtToken);
  const first = tokenIn((await smtp.waitFor((m) => m.to.includes(email))).parsed.text ?? '', '/accept-invitation');
  await t.ok(INVITE, { email, roles: ['viewer'] }, owner.jwtToken);
  const second = await smtp.waitFor((m) => m.to.includes(email) && tokenIn(m.parsed.text ?? '', '/accept-invitation') !== first);
  const secondToken = tokenIn(second.parsed.text ?? '', '/accept-invitation');

  const open = await t.ok(`{ invitations { nodes { email roles revokedAt } } }`, {}, owner.jwtToken);
  open.invitations.nodes = open.invitations.nodes.filter((n: any) => n.email === email).map(({ email: _e, ...n }: any) => n);
  expect(open.invitations.nodes).toHaveLength(2);
  expect(open.invitations.nodes.filter((n: any) => !n.revokedAt)).toEqual([{ roles: ['viewer'], revokedAt: null }]);
  const stale = await t.gql(ACCEPT, { input: { token: first, password: 'whatever password' } });
  expect(stale.errors?.[0]).toMatchObject({ message: 'This invitation was cancelled. Ask for a new one.', extensions: { code: 'TOKEN_EXPIRED' } });

  const [invitation] = await t.owner.query(sql`select id from app_public.invitations where email = ${email} and revoked_at is null`);
  await t.owner.query(sql`update app_public.invitations set expires_at = now() - interval '1 minute', created = now() - interval '8 days' where id = ${invitation.id}`);
  const expired = await t.gql(ACCEPT, { input: { token: secondToken, password: 'whatever password' } });
  expect(expired.errors?.[0]?.extensions?.code).toBe('TOKEN_EXPIRED');
  expect(expired.errors?.[0]?.message).toMatch(/This invitation expired on \d{4}-\d\d-\d\d/);

  const bogus = await t.gql(ACCEPT, { input: { token: 'not-a-real-token-at-all-xxxxxxxx', password: 'whatever password' } });
  expect(bogus.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

  // Revocation.
  const email3 = uniqueEmail('revoked');
  const { inviteMember } = await t.ok(INVITE, { email: email3 }, owner.jwtToken);
  const token3 = tokenIn((await smtp.waitFor((m) => m.to.includes(email3))).parsed.text ?? '', '/accept-invitation');
  await t.ok(`mutation($id: UUID!) { revokeInvitation(input: { invitationId: $id }) { result { revokedAt } } }`, { id: inviteMember.result.rowId }, owner.jwtToken);
  expect((await t.gql(ACCEPT, { input: { token: token3, password: 'whatever password' } })).errors?.[0]?.extensions?.code).toBe('TOKEN_EXPIRED');
});

test('an existing account accepts by proving its password; members and viewers cannot invite admins', async () => {
  const owner = await registerUser(t, 'org');
  await putTenantOnPlan(t.owner, owner.tenantId, 'pro'); // Free allows one member
  const existing = await registerUser(t, 'existing');
  await t.ok(INVITE, { email: existing.email, roles: ['admin'] }, owner.jwtToken);
  const token = tokenIn((await smtp.waitFor((m) => m.to.includes(existing.email) && (m.parsed.text ?? '').includes('/accept-invitation'))).parsed.text ?? '', '/accept-invitation');
  const wrong = await t.gql(ACCEPT, { input: { token, password: 'not my password' } });
  expect(wrong.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
  const { acceptInvitation } = await t.ok(ACCEPT, { input: { token, password: existing.password } });
  expect(acceptInvitation.userId).toBe(existing.userId);

  // The new admin can invite members but not admins; only an owner can.
  const asAdmin = acceptInvitation.jwtToken;
  expect((await t.gql(INVITE, { email: uniqueEmail('x'), roles: ['admin'] }, asAdmin)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  await t.ok(INVITE, { email: uniqueEmail('y'), roles: ['viewer'] }, asAdmin);
  // Inviting a current member is refused.
  expect((await t.gql(INVITE, { email: existing.email }, owner.jwtToken)).errors?.[0]?.extensions?.code).toBe('ALREADY_EXISTS');
});

test('password reset by email, under the strictest policy of your organisations; changing a password checks the old one', async () => {
  const user = await registerUser(t, 'forgetful');
  await t.owner.query(sql`update app_public.tenant_policies set password_min_length = 12, password_require_numbers = true where tenant_id = ${user.tenantId}`);
  const unknown = await t.ok(`mutation($email: String!) { requestPasswordReset(input: { email: $email }) { result } }`, { email: uniqueEmail('nobody') });
  expect(unknown.requestPasswordReset.result).toBe(true);
  await t.ok(`mutation($email: String!) { requestPasswordReset(input: { email: $email }) { result } }`, { email: user.email });
  const mail = await smtp.waitFor((m) => m.to.includes(user.email) && /Reset your PenguinMails password/.test(m.parsed.subject ?? ''));
  const token = tokenIn(mail.parsed.text ?? '', '/reset-password');
  const RESET = `mutation($token: String!, $password: String!) { resetPassword(input: { token: $token, newPassword: $password }) { result } }`;
  const weak = await t.gql(RESET, { token, password: 'longbutnodigits' });
  expect(weak.errors?.[0]).toMatchObject({ message: 'The password must contain a number.', extensions: { code: 'WEAK_PASSWORD' } });
  expect((await t.ok(RESET, { token, password: 'longer-with-digits-42' })).resetPassword.result).toBe(true);
  expect((await t.gql(RESET, { token, password: 'another-one-with-43' })).errors?.[0]?.extensions?.code).toBe('TOKEN_EXPIRED');

  const login = await t.ok(`mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { jwtToken } }`, { e: user.email, p: 'longer-with-digits-42' });
  const CHANGE = `mutation($o: String!, $n: String!) { changePassword(input: { oldPassword: $o, newPassword: $n }) { result } }`;
  expect((await t.gql(CHANGE, { o: 'wrong-old-password-1', n: 'next-password-is-55' }, login.login.jwtToken)).errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
  expect((await t.ok(CHANGE, { o: 'longer-with-digits-42', n: 'next-password-is-55' }, login.login.jwtToken)).changePassword.result).toBe(true);
});

test('names users type appear in platform emails only quoted and attributed, and cannot carry links, line breaks or control characters', async () => {
  const owner = await registerUser(t, 'spoofer');
  await putTenantOnPlan(t.owner, owner.tenantId, 'pro');
  const UPDATE_ME = `mutation($id: UUID!, $name: String) { updateUser(input: { rowId: $id, patch: { name: $name } }) { user { name } } }`;
  const RENAME = `mutation($id: UUID!, $name: String!) { updateTenant(input: { rowId: $id, patch: { name: $name } }) { tenant { name } } }`;
  const refused: Array<[string, string, RegExp]> = [
    [UPDATE_ME, 'Security Team: verify at https://evil.example/login', /^Your name cannot contain web or email addresses/],
    [UPDATE_ME, 'Security Team: verify at evil.example', /^Your name cannot contain web or email addresses/],
    [UPDATE_ME, 'Support <support@penguinmails.example>', /^Your name cannot contain web or email addresses/],
    [UPDATE_ME, 'Ann\nYour account is suspended', /^Your name cannot contain line breaks, tabs, control or text-direction characters\.$/],
    [UPDATE_ME, 'Ann\u202egnp.exe', /^Your name cannot contain line breaks/],
    [UPDATE_ME, 'x'.repeat(101), /^Your name must be at most 100 characters long\.$/],
    [RENAME, 'Acme\r\nBcc: victim@example.com', /^The organisation name cannot contain line breaks/],
    [RENAME, 'Visit www.evil.example', /^The organisation name cannot contain web or email addresses/],
  ];
  for (const [mutation, name, message] of refused) {
    const result = await t.gql(mutation, { id: mutation === RENAME ? owner.tenantId : owner.userId, name }, owner.jwtToken);

    expect([name, result.errors?.[0]?.extensions?.code]).toEqual([name, 'INVALID_INPUT']);
    expect(result.errors?.[0]?.message).toMatch(message);
  }
  const register = await t.gql(`mutation($input: RegisterInput!) { register(input: $input) { message } }`, {
    input: { email: uniqueEmail('spoof-register'), password: 'correct horse battery', name: 'Admin (https://evil.example)', tenantName: 'Fine' },
  });
  expect(register.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
  const [[me], [org]] = [
    await t.owner.query(sql`select name from app_public.users where id = ${owner.userId}`),
    await t.owner.query(sql`select name from app_public.tenants where id = ${owner.tenantId}`),
  ];
  expect([me.name, org.name]).toEqual(['User spoofer', 'Org spoofer']);

  // A name that passes the rules still reads as someone's words in the invitation.
  await t.ok(UPDATE_ME, { id: owner.userId, name: 'Security Team: your account is suspended' }, owner.jwtToken);
  const email = uniqueEmail('spoof-target');
  await t.ok(INVITE, { email, roles: ['member'] }, owner.jwtToken);
  const mail = await smtp.waitFor((m) => m.to.includes(email));
  expect(mail.parsed.subject).toBe('You are invited to an organisation on PenguinMails');
  expect(mail.parsed.text).toContain(`Invited by: “Security Team: your account is suspended” <${owner.email}>`);
  expect(mail.parsed.text).not.toMatch(/^Security Team/m);
  expect(mail.parsed.html).toContain('Invited by: “Security Team: your account is suspended” &#60;');
});
