/**
 * Authentication hardening (issue 11) over HTTP: passwords bcrypt would
 * truncate, sign-in timing that does not tell known from unknown emails,
 * password-reset throttling, lockouts that stay inside one organisation and
 * that a stranger cannot use against someone else's account.
 */
import { putTenantOnPlan } from '../helpers/billing.ts';
import { registerUser, startTestApi, type GqlResult, type TestApi } from '../helpers/api.ts';
import { sql } from '../../src/db/pg.ts';
import { uniqueEmail } from '../helpers/unique.ts';

let t: TestApi;
beforeAll(async () => {
  // Behind "our own proxy": X-Forwarded-For tells clients apart (all requests come from 127.0.0.1).
  t = await startTestApi({ TRUST_PROXY: 'true' });
});

/** A GraphQL request from the client at `ip`. */
async function from(ip: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<GqlResult> {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  const body = JSON.parse(text) as { data?: any; errors?: GqlResult['errors'] };
  return { status: response.status, data: body.data, errors: body.errors, text };
}
afterAll(() => t?.close());

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { message } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { jwtToken tenantId userId } }`;

function expectError(result: GqlResult, code: string, message: string | RegExp) {
  expect(result.errors).toHaveLength(1);
  expect(result.errors![0]!.extensions?.code).toBe(code);
  if (typeof message === 'string') expect(result.errors![0]!.message).toBe(message);
  else expect(result.errors![0]!.message).toMatch(message);
}

describe('passwords over 72 bytes (bcrypt would ignore the rest)', () => {
  const TOO_LONG = 'The password is too long: at most 72 bytes in UTF-8 (72 plain letters and digits, fewer with accents, other scripts or emoji).';
  const prefix = 'p'.repeat(72);

  test('register refuses them, counting UTF-8 bytes, and writes nothing', async () => {
    const email = uniqueEmail('long');
    expectError(await t.gql(REGISTER, { input: { email, password: `${prefix}-one`, tenantName: 'Long' } }), 'INVALID_INPUT', TOO_LONG);
    // 36 two-byte letters are 72 bytes: fine; 37 are 74: refused.
    expectError(await t.gql(REGISTER, { input: { email, password: 'é'.repeat(37), tenantName: 'Long' } }), 'INVALID_INPUT', TOO_LONG);
    expect(await t.owner.query(sql`select 1 from app_public.users where email = ${email}`)).toEqual([]);
    await t.ok(REGISTER, { input: { email, password: 'é'.repeat(36), tenantName: 'Long' } });
  });

  test('two passwords sharing their first 72 bytes can no longer both be set', async () => {
    const user = await registerUser(t, 'long72', prefix);
    // Before, "<72 bytes>-one" and "<72 bytes>-two" hashed alike: either signed in as the other.
    const change = await t.gql(`mutation { changePassword(input: { oldPassword: "${prefix}", newPassword: "${prefix}-two" }) { result } }`, {}, user.jwtToken);
    expectError(change, 'INVALID_INPUT', TOO_LONG);
    const login = await t.gql(LOGIN, { input: { email: user.email, password: `${prefix}-anything` } });
    expect(login.data?.login?.userId).toBe(user.userId); // an old over-long guess still matches the 72-byte password itself…
    const [{ hash_unchanged }] = await t.owner.query(sql`
      select password_hash = public.crypt(${prefix}, password_hash) as hash_unchanged from app_private.user_secrets where user_id = ${user.userId}
    `);
    expect(hash_unchanged).toBe(true); // …but no over-long password was ever stored
  });

  test('reset refuses them too', async () => {
    const user = await registerUser(t, 'long-reset');
    const token = 'reset-token-for-long-password-test';
    await t.owner.query(sql`
      insert into app_private.password_reset_tokens (user_id, token_hash, expires_at)
      values (${user.userId}, app_private.hash_token(${token}), now() + interval '1 hour')
    `);
    const reset = await t.gql(`mutation($t: String!, $p: String!) { resetPassword(input: { token: $t, newPassword: $p }) { result } }`, { t: token, p: `${prefix}x` });
    expectError(reset, 'INVALID_INPUT', TOO_LONG);
    expect((await t.ok(LOGIN, { input: { email: user.email, password: user.password } })).login.userId).toBe(user.userId);
  });
});

describe('sign-in timing', () => {
  test('an unknown email costs as much as a known one (the dummy hash uses the real cost)', async () => {
    const user = await registerUser(t, 'timing');
    // Tests hash at cost 4; measure at the production cost 10, for the stored hash and the dummy alike.
    // The hash is computed first (Citus updates a global table with values only).
    const [{ hash }] = await t.owner.query(sql`select public.crypt('timing password 1', public.gen_salt('bf', 10)) as hash`);
    await t.owner.query(sql`update app_private.user_secrets set password_hash = ${hash} where user_id = ${user.userId}`);
    const unknownEmail = uniqueEmail('nobody');
    const known: number[] = [];
    const unknown: number[] = [];
    await t.owner.tx(async (db) => {
      await db.query(sql`set local app.password_hash_cost = '10'`);
      const time = async (email: string) => {
        const started = process.hrtime.bigint();
        const [row] = await db.query(sql`select error_code from app_hidden.login(${email}, 'wrong password', null, 'timing-test')`);
        expect(row.error_code).toBe('CREDS');
        return Number(process.hrtime.bigint() - started) / 1e6;
      };
      for (let i = 0; i < 4; i++) {
        known.push(await time(user.email));
        unknown.push(await time(unknownEmail));
      }
      await db.query(sql`delete from app_private.login_failures where user_id = ${user.userId}`);
    });
    // The fastest of each: a loaded machine only ever adds time, so the minimum is the cost itself.
    expect(Math.min(...known)).toBeGreaterThan(20); // cost 10 really was used
    expect(Math.min(...unknown)).toBeGreaterThanOrEqual(Math.min(...known) * 0.5);
  });
});

describe('password reset requests are throttled silently', () => {
  const RESET = `mutation($email: String) { requestPasswordReset(input: { email: $email, clientMutationId: "m1" }) { result clientMutationId } }`;
  const emailsFor = async (userId: string) =>
    (await t.owner.query(sql`
      select count(*)::int as n from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
      where k.identifier = 'send_password_reset_email' and j.payload->>'user_id' = ${userId}
    `))[0].n as number;

  test('ten requests for one address send three emails; every answer is the same', async () => {
    const user = await registerUser(t, 'reset-flood');
    for (let i = 0; i < 10; i++) {
      const r = await from(`198.51.100.${i + 1}`, RESET, { email: user.email });
      expect(r.errors).toBeUndefined();
      expect(r.data).toEqual({ requestPasswordReset: { result: true, clientMutationId: 'm1' } });
    }
    expect(await emailsFor(user.userId)).toBe(3);
    // Once the hour is over, it sends again.
    await t.owner.query(sql`update app_private.auth_throttle set window_start = now() - interval '61 minutes' where scope = 'reset:user' and key = ${user.userId}`);
    await from('198.51.100.99', RESET, { email: user.email });
    expect(await emailsFor(user.userId)).toBe(4);
  });

  test('one client gets at most ten requests an hour answered with an email, whatever the addresses', async () => {
    const users = [];
    for (let i = 0; i < 12; i++) users.push(await registerUser(t, `reset-ip-${i}`));
    for (const user of users) {
      expect((await from('203.0.113.7', RESET, { email: user.email })).data.requestPasswordReset.result).toBe(true);
    }
    const sent = await Promise.all(users.map((u) => emailsFor(u.userId)));
    expect(sent.filter((n) => n === 1)).toHaveLength(10);
    expect(sent.slice(10)).toEqual([0, 0]);
    // Another client is not affected.
    await from('203.0.113.8', RESET, { email: users[11]!.email });
    expect(await emailsFor(users[11]!.userId)).toBe(1);
  });
});

describe('lockouts stay in one organisation and with the client that failed', () => {
  const WRONG = 'definitely not it';

  test("one organisation's strict policy does not lock its members out of their other organisations", async () => {
    const user = await registerUser(t, 'lock-home');
    const strict = await registerUser(t, 'lock-strict');
    await putTenantOnPlan(t.owner, strict.tenantId, 'pro'); // Free allows one member
    // The user also belongs to the strict organisation, whose policy is one attempt, a day long.
    await t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${strict.tenantId}, ${user.userId}, '{member}', ${user.email})`);
    await t.owner.query(sql`update app_public.tenant_policies set max_login_attempts = 1, lockout_minutes = 1440 where tenant_id = ${strict.tenantId}`);
    expectError(await from('192.0.2.10', LOGIN, { input: { email: user.email, password: WRONG, tenantId: strict.tenantId } }), 'ACCOUNT_LOCKED', /^Too many failed sign-in attempts/);
    expectError(await from('192.0.2.10', LOGIN, { input: { email: user.email, password: user.password, tenantId: strict.tenantId } }), 'ACCOUNT_LOCKED', /^Too many failed sign-in attempts/);
    // Their own organisation, same client: fine.
    const home = await from('192.0.2.10', LOGIN, { input: { email: user.email, password: user.password, tenantId: user.tenantId } });
    expect(home.data?.login).toMatchObject({ tenantId: user.tenantId, userId: user.userId });
  });

  test("a stranger's wrong passwords lock the stranger's client, not the owner's", async () => {
    const user = await registerUser(t, 'lock-stranger');
    for (let i = 0; i < 4; i++) {
      expectError(await from('192.0.2.66', LOGIN, { input: { email: user.email, password: WRONG } }), 'INVALID_CREDENTIALS', 'Incorrect email or password.');
    }
    expectError(await from('192.0.2.66', LOGIN, { input: { email: user.email, password: WRONG } }), 'ACCOUNT_LOCKED', /^Too many failed sign-in attempts/);
    // Even the right password from the stranger's client is refused now…
    expectError(await from('192.0.2.66', LOGIN, { input: { email: user.email, password: user.password } }), 'ACCOUNT_LOCKED', /^Too many failed sign-in attempts/);
    // …but the owner, signing in from a client that has not been failing, gets in.
    const owner = await from('192.0.2.20', LOGIN, { input: { email: user.email, password: user.password } });
    expect(owner.data?.login?.userId).toBe(user.userId);
    // A password reset lifts every lockout of the account.
    const token = 'reset-token-for-lockout-test';
    await t.owner.query(sql`insert into app_private.password_reset_tokens (user_id, token_hash, expires_at) values (${user.userId}, app_private.hash_token(${token}), now() + interval '1 hour')`);
    await t.ok(`mutation($t: String!) { resetPassword(input: { token: $t, newPassword: "a brand new password" }) { result } }`, { t: token });
    expect((await from('192.0.2.66', LOGIN, { input: { email: user.email, password: 'a brand new password' } })).data?.login?.userId).toBe(user.userId);
  });
});

describe('a signed-in session cannot guess the password without limit', () => {
  const CHANGE = `mutation($o: String!, $n: String!) { changePassword(input: { oldPassword: $o, newPassword: $n, clientMutationId: "c1" }) { result clientMutationId } }`;
  const DELETE_ME = `mutation($p: String!) { deleteMyAccount(input: { password: $p }) { result } }`;
  const LOCKED = /^Too many wrong passwords\. Try again after \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$/;
  const failures = async (userId: string) =>
    (await t.owner.query(sql`select failed_attempts, locked_until is not null as locked from app_private.login_failures where user_id = ${userId} and client = 'reauthentication'`))[0];

  test("wrong current passwords are counted across changePassword and deleteMyAccount and lock both for the organisation's lockout", async () => {
    const user = await registerUser(t, 'reauth');
    await t.owner.query(sql`update app_public.tenant_policies set max_login_attempts = 3, lockout_minutes = 30 where tenant_id = ${user.tenantId}`);
    expectError(await t.gql(CHANGE, { o: 'guess one', n: 'a new password 1' }, user.jwtToken), 'INVALID_CREDENTIALS', 'Your current password is not correct.');
    expectError(await t.gql(DELETE_ME, { p: 'guess two' }, user.jwtToken), 'INVALID_CREDENTIALS', 'Incorrect password.');
    // Each wrong guess was committed, though the request failed.
    expect(await failures(user.userId)).toEqual({ failed_attempts: 2, locked: false });
    expectError(await t.gql(CHANGE, { o: 'guess three', n: 'a new password 1' }, user.jwtToken), 'ACCOUNT_LOCKED', LOCKED);
    // Locked: even the right password is refused, by both, and nothing changes.
    expectError(await t.gql(CHANGE, { o: user.password, n: 'a new password 1' }, user.jwtToken), 'ACCOUNT_LOCKED', LOCKED);
    expectError(await t.gql(DELETE_ME, { p: user.password }, user.jwtToken), 'ACCOUNT_LOCKED', LOCKED);
    const [account] = await t.owner.query(sql`
      select u.deleted_at is null as alive, s.password_hash = public.crypt(${user.password}, s.password_hash) as same_password
      from app_public.users u join app_private.user_secrets s on s.user_id = u.id where u.id = ${user.userId}`);
    expect(account).toEqual({ alive: true, same_password: true });
    // Signing in is a different count: the owner of the account still gets in.
    expect((await t.ok(LOGIN, { input: { email: user.email, password: user.password } })).login.userId).toBe(user.userId);

    // Once the lock has run out, the right password works and clears the count.
    await t.owner.query(sql`update app_private.login_failures set locked_until = now() - interval '1 second' where user_id = ${user.userId} and client = 'reauthentication'`);
    const changed = await t.ok(CHANGE, { o: user.password, n: 'a new password 1' }, user.jwtToken);
    expect(changed.changePassword).toEqual({ result: true, clientMutationId: 'c1' });
    expect(await failures(user.userId)).toBeUndefined();
  });

  test('an invitation to an existing account counts wrong passwords too', async () => {
    const owner = await registerUser(t, 'reauth-org');
    await putTenantOnPlan(t.owner, owner.tenantId, 'pro'); // Free allows one member
    await t.owner.query(sql`update app_public.tenant_policies set max_login_attempts = 2, lockout_minutes = 30 where tenant_id = ${owner.tenantId}`);
    const existing = await registerUser(t, 'reauth-invited');
    const token = 'invitation-token-for-reauth-test';
    const [invitation] = await t.owner.query(sql`
      insert into app_public.invitations (tenant_id, email, roles, invited_by, expires_at)
      values (${owner.tenantId}, ${existing.email}, '{member}', ${owner.userId}, now() + interval '1 day') returning id`);
    await t.owner.query(sql`
      insert into app_private.invitation_tokens (tenant_id, invitation_id, token_hash)
      values (${owner.tenantId}, ${invitation.id}, app_private.hash_token(${token}))`);
    const ACCEPT = `mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { userId tenantId } }`;
    expectError(await t.gql(ACCEPT, { input: { token, password: 'not it' } }), 'INVALID_CREDENTIALS', `An account with ${existing.email} exists: enter its password to accept.`);
    expectError(await t.gql(ACCEPT, { input: { token, password: 'not it either' } }), 'ACCOUNT_LOCKED', LOCKED);
    expectError(await t.gql(ACCEPT, { input: { token, password: existing.password } }), 'ACCOUNT_LOCKED', LOCKED);
    expect(await t.owner.query(sql`select 1 from app_public.tenant_users where tenant_id = ${owner.tenantId} and user_id = ${existing.userId}`)).toEqual([]);
  });
});
