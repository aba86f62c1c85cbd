/**
 * Authentication over real HTTP: register, login (with lockout and the
 * tenant's password policy), switching tenants, and a membership removed
 * while its token is still valid.
 */
import { knownRegistrationToken, registerUser, startTestApi, type TestApi } from '../helpers/api.ts';
import { putTenantOnPlan } from '../helpers/billing.ts';
import { sql } from '../../src/db/pg.ts';
import { uniqueEmail } from '../helpers/unique.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(() => t.close());

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { jwtToken tenantId userId role expiresAt } }`;
const ME = `{ currentUser { rowId email } currentTenant { rowId name } currentTenantRoles }`;
const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { message } }`;

test('register creates a user, an organisation they own and a working session', async () => {
  const session = await registerUser(t, 'reg');
  expect(session.jwtToken.split('.')).toHaveLength(3);
  const me = await t.ok(ME, {}, session.jwtToken);
  expect(me.currentUser).toEqual({ rowId: session.userId, email: session.email });
  expect(me.currentTenant.rowId).toBe(session.tenantId);
  expect(me.currentTenantRoles).toEqual(['owner']);
  // Default session lifetime: the tenant's 8 hours.
  const hours = (new Date(session.expiresAt).getTime() - Date.now()) / 3_600_000;
  expect(hours).toBeGreaterThan(7.9);
  expect(hours).toBeLessThanOrEqual(8);
  const [subscription] = await t.owner.query(sql`
    select p.slug, s.status from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id where s.tenant_id = ${session.tenantId}
  `);
  expect(subscription).toEqual({ slug: 'free', status: 'active' });
});

test('register refuses a weak password and a bad email, and writes nothing', async () => {
  const email = uniqueEmail('weak');
  const weak = await t.gql(REGISTER, { input: { email, password: 'short', tenantName: 'X' } });
  expect(weak.errors?.[0]?.extensions?.code).toBe('WEAK_PASSWORD');
  expect(weak.errors?.[0]?.message).toBe('The password must be at least 8 characters long.');
  expect(await t.owner.query(sql`select 1 from app_private.pending_registrations where email = ${email}`)).toEqual([]);

  const bad = await t.gql(REGISTER, { input: { email: 'not an email', password: 'a long enough password', tenantName: 'Bad' } });
  expect(bad.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
});

test('register answers the same for a new email and one with an account; only the mailbox learns which', async () => {
  const existing = await registerUser(t, 'taken');
  const fresh = uniqueEmail('fresh');
  const answers = [];
  for (const email of [existing.email.toUpperCase(), fresh]) {
    answers.push(await t.gql(REGISTER, { input: { email, password: 'another long password', tenantName: 'Dup' } }));
  }
  expect(answers[0]).toEqual(answers[1]);
  expect(answers[0]!.data).toEqual({ register: { message: expect.stringMatching(/^Check your inbox/) } });
  // No account yet for the new email (it is created from the link), none added for the taken one.
  expect(await t.owner.query(sql`select count(*)::int as n from app_public.users where email in (${existing.email}, ${fresh})`)).toEqual([{ n: 1 }]);
  const jobs = await t.owner.query(sql`
    select j.payload->>'kind' as kind, j.payload->>'email' as email, (j.payload::jsonb) ? 'token' as has_token
    from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
    where k.identifier = 'send_registration_email' and j.payload->>'email' in (${existing.email.toLowerCase()}, ${fresh.toLowerCase()})
    order by j.id`);
  expect(jobs).toEqual([
    { kind: 'confirm', email: existing.email.toLowerCase(), has_token: true }, // registerUser's own sign-up
    { kind: 'existing_account', email: existing.email.toLowerCase(), has_token: false },
    { kind: 'confirm', email: fresh.toLowerCase(), has_token: true },
  ]);
  // Signing in before confirming fails exactly like a wrong password.
  const early = await t.gql(LOGIN, { input: { email: fresh, password: 'another long password' } });
  expect(early.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');

  // The link creates the account once; a second use, or a sign-up link for an email that has an account since, is refused.
  const token = await knownRegistrationToken(t, fresh);
  const confirm = `mutation($token: String!) { confirmRegistration(input: { token: $token }) { jwtToken userId } }`;
  const session = (await t.ok(confirm, { token })).confirmRegistration;
  expect((await t.ok(ME, {}, session.jwtToken)).currentUser.email).toBe(fresh);
  expect((await t.gql(confirm, { token })).errors?.[0]?.extensions?.code).toBe('TOKEN_EXPIRED');
  await t.gql(REGISTER, { input: { email: existing.email, password: 'yet another password', tenantName: 'Again' } });
  expect(await t.owner.query(sql`select count(*)::int as n from app_private.pending_registrations where email = ${existing.email} and confirmed_at is null`)).toEqual([{ n: 0 }]);
  expect((await t.gql(confirm, { token: 'not-a-real-token-at-all-000000' })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
});

test('an expired confirmation link is refused, and the maintenance job forgets the sign-up a day later', async () => {
  const email = uniqueEmail('late');
  await t.ok(REGISTER, { input: { email, password: 'a long enough password', tenantName: 'Late' } });
  const token = await knownRegistrationToken(t, email);
  await t.owner.query(sql`update app_private.pending_registrations set expires_at = now() - interval '2 days' where email = ${email}`);
  const late = await t.gql(`mutation($token: String!) { confirmRegistration(input: { token: $token }) { jwtToken } }`, { token });
  expect(late.errors?.[0]?.extensions?.code).toBe('TOKEN_EXPIRED');
  await t.owner.query(sql`select app_private.cleanup_expired_tokens()`);
  expect(await t.owner.query(sql`select 1 from app_private.pending_registrations where email = ${email}`)).toEqual([]);
  expect(await t.owner.query(sql`select 1 from app_public.users where email = ${email}`)).toEqual([]);
});

test('login returns a session; a wrong password says so without revealing whether the account exists', async () => {
  const user = await registerUser(t, 'login');
  const data = await t.ok(LOGIN, { input: { email: user.email, password: user.password } });
  expect(data.login).toMatchObject({ userId: user.userId, tenantId: user.tenantId, role: 'member' });

  const wrong = await t.gql(LOGIN, { input: { email: user.email, password: 'nope nope nope' } });
  const unknown = await t.gql(LOGIN, { input: { email: uniqueEmail('ghost'), password: 'nope nope nope' } });
  expect(wrong.data?.login).toBeNull();
  expect(wrong.errors?.[0]).toMatchObject({ message: 'Incorrect email or password.', extensions: { code: 'INVALID_CREDENTIALS' } });
  expect(unknown.errors?.[0]).toMatchObject({ message: 'Incorrect email or password.', extensions: { code: 'INVALID_CREDENTIALS' } });
});

test("repeated failures lock the account for the tenant's lockout period, even for the right password", async () => {
  const user = await registerUser(t, 'lock');
  await t.ok(
    `mutation { updateTenantPolicy(input: { patch: { maxLoginAttempts: 3, lockoutMinutes: 30 } }) { tenantPolicy { maxLoginAttempts } } }`,
    {},
    user.jwtToken,
  );
  for (let i = 1; i <= 2; i++) {
    const r = await t.gql(LOGIN, { input: { email: user.email, password: 'wrong password' } });
    expect(r.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
  }
  const third = await t.gql(LOGIN, { input: { email: user.email, password: 'wrong password' } });
  expect(third.errors?.[0]?.extensions?.code).toBe('ACCOUNT_LOCKED');
  expect(third.errors?.[0]?.message).toMatch(/Too many failed sign-in attempts\. Try again after \d{4}-\d\d-\d\d \d\d:\d\d UTC\./);
  const right = await t.gql(LOGIN, { input: { email: user.email, password: user.password } });
  expect(right.errors?.[0]?.extensions?.code).toBe('ACCOUNT_LOCKED');
  const [failures] = await t.owner.query(sql`
    select tenant_id, client, failed_attempts, locked_until > now() + interval '29 minutes' as long_enough
    from app_private.login_failures where user_id = ${user.userId}
  `);
  expect(failures).toEqual({ tenant_id: user.tenantId, client: '127.0.0.1', failed_attempts: 3, long_enough: true });

  // The lock expires.
  await t.owner.query(sql`update app_private.login_failures set locked_until = now() - interval '1 second' where user_id = ${user.userId}`);
  expect((await t.ok(LOGIN, { input: { email: user.email, password: user.password } })).login.userId).toBe(user.userId);
});

test('session lifetime follows the tenant policy', async () => {
  const user = await registerUser(t, 'ttl');
  await t.owner.query(sql`update app_public.tenant_policies set session_timeout_hours = 2 where tenant_id = ${user.tenantId}`);
  const { login } = await t.ok(LOGIN, { input: { email: user.email, password: user.password } });
  const hours = (new Date(login.expiresAt).getTime() - Date.now()) / 3_600_000;
  expect(hours).toBeGreaterThan(1.9);
  expect(hours).toBeLessThanOrEqual(2);
  const claims = JSON.parse(Buffer.from(login.jwtToken.split('.')[1], 'base64url').toString());
  expect(claims.exp).toBe(Math.floor(new Date(login.expiresAt).getTime() / 1000));
});

test('switching tenants works only into organisations you belong to', async () => {
  const alice = await registerUser(t, 'alice');
  const bob = await registerUser(t, 'bob');
  await putTenantOnPlan(t.owner, bob.tenantId, 'pro'); // Free allows one member
  await t.owner.query(sql`
    insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${bob.tenantId}, ${alice.userId}, '{viewer}', ${alice.email})
  `);
  const SWITCH = `mutation($id: UUID!) { switchTenant(input: { tenantId: $id }) { jwtToken tenantId } }`;
  const switched = await t.ok(SWITCH, { id: bob.tenantId }, alice.jwtToken);
  expect(switched.switchTenant.tenantId).toBe(bob.tenantId);
  const me = await t.ok(ME, {}, switched.switchTenant.jwtToken);
  expect(me.currentTenantRoles).toEqual(['viewer']);
  const memberships = await t.ok(`{ myMemberships { nodes { tenantId roles } } }`, {}, alice.jwtToken);
  expect(memberships.myMemberships.nodes).toHaveLength(2);

  const stranger = await registerUser(t, 'stranger');
  const refused = await t.gql(SWITCH, { id: bob.tenantId }, stranger.jwtToken);
  expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

  // Login straight into the other organisation.
  const direct = await t.ok(LOGIN, { input: { email: alice.email, password: alice.password, tenantId: bob.tenantId } });
  expect(direct.login.tenantId).toBe(bob.tenantId);
});

test('a member removed from a tenant loses access on the next request, with the same token', async () => {
  const owner = await registerUser(t, 'boss');
  const worker = await registerUser(t, 'worker');
  await putTenantOnPlan(t.owner, owner.tenantId, 'pro'); // Free allows one member
  await t.owner.query(sql`
    insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${owner.tenantId}, ${worker.userId}, '{member}', ${worker.email})
  `);
  const { switchTenant } = await t.ok(`mutation($id: UUID!) { switchTenant(input: { tenantId: $id }) { jwtToken } }`, { id: owner.tenantId }, worker.jwtToken);
  await t.ok(`mutation { createLead(input: { lead: { email: "kept@lead.example" } }) { lead { rowId } } }`, {}, switchTenant.jwtToken);
  expect((await t.ok(`{ leads { totalCount } }`, {}, switchTenant.jwtToken)).leads.totalCount).toBe(1);

  await t.ok(`mutation($id: UUID!) { removeMember(input: { userId: $id }) { result { deletedAt } } }`, { id: worker.userId }, owner.jwtToken);

  const after = await t.ok(`{ leads { totalCount } currentTenant { rowId } currentTenantRoles }`, {}, switchTenant.jwtToken);
  expect(after).toEqual({ leads: { totalCount: 0 }, currentTenant: null, currentTenantRoles: [] });
  const write = await t.gql(`mutation { createLead(input: { lead: { email: "late@lead.example" } }) { lead { rowId } } }`, {}, switchTenant.jwtToken);
  expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect(await t.owner.query(sql`select 1 from app_public.leads where email = 'late@lead.example'`)).toEqual([]);
});
