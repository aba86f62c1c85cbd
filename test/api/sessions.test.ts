/**
 * Sessions end when they should, over real HTTP: logout ends the token it
 * is sent with, logoutEverywhere every token of the user, a password change
 * every other session, a password reset all of them; a token the platform
 * signed without a session is refused; and the CSV import endpoint, which
 * does not go through GraphQL, obeys the same check.
 */
import { SignJWT } from 'jose';
import { registerUser, startTestApi, TEST_JWT_SECRET, testEnv, type TestApi } from '../helpers/api.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({ PM_DATA_DIR: '/tmp/pm-sessions-test-imports', IMPORT_MAX_BYTES: '1000000', STATEMENT_TIMEOUT_MS: '5000' }, 'platform');
});
afterAll(() => t.close());

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { jwtToken } }`;
const ME = `{ currentUser { rowId } }`;

async function login(email: string, password: string): Promise<string> {
  return (await t.ok(LOGIN, { input: { email, password } })).login.jwtToken;
}

/** What a request with this token gets: 'ok', or the error code. */
async function probe(token: string): Promise<string> {
  const result = await t.gql(ME, {}, token);
  if (result.status === 401) return `401 ${result.errors?.[0]?.extensions?.code}`;
  const error = result.errors?.[0];
  if (error) return `${error.extensions?.code}: ${error.message}`;
  return result.data.currentUser ? 'ok' : 'no user';
}

const ENDED = 'UNAUTHENTICATED: This session has ended (signed out, or the password was changed or reset); sign in again.';

test('logout ends the session it is sent with, and only that one', async () => {
  const user = await registerUser(t, 'logout');
  const laptop = await login(user.email, user.password);
  const phone = await login(user.email, user.password);
  expect(await t.ok(`mutation { logout(input: {}) { result } }`, {}, laptop)).toEqual({ logout: { result: true } });
  expect(await probe(laptop)).toBe(ENDED);
  expect(await probe(phone)).toBe('ok');
  expect(await probe(user.jwtToken)).toBe('ok');
  const [row] = await t.owner.query(sql`select count(*) filter (where revoked_reason = 'logout')::int as ended, count(*)::int as total from app_private.user_sessions where user_id = ${user.userId}`);
  expect(row).toEqual({ ended: 1, total: 3 });
});

test('logoutEverywhere ends every session of the user, the current one too, and no other user\'s', async () => {
  const user = await registerUser(t, 'everywhere');
  const other = await registerUser(t, 'bystander');
  const second = await login(user.email, user.password);
  expect(await t.ok(`mutation { logoutEverywhere(input: {}) { result } }`, {}, second)).toEqual({ logoutEverywhere: { result: 2 } });
  expect(await probe(second)).toBe(ENDED);
  expect(await probe(user.jwtToken)).toBe(ENDED);
  expect(await probe(other.jwtToken)).toBe('ok');
  // Signing in again works.
  expect(await probe(await login(user.email, user.password))).toBe('ok');
});

test('a password change ends every other session; a reset ends all of them', async () => {
  const user = await registerUser(t, 'pwchange');
  const stolen = await login(user.email, user.password);
  await t.ok(`mutation($o: String!, $n: String!) { changePassword(input: { oldPassword: $o, newPassword: $n }) { result } }`,
    { o: user.password, n: 'a new and better passphrase' }, user.jwtToken);
  expect(await probe(stolen)).toBe(ENDED);
  expect(await probe(user.jwtToken)).toBe('ok');

  const fresh = await login(user.email, 'a new and better passphrase');
  const token = 'reset-token-for-sessions-test';
  await t.owner.query(sql`insert into app_private.password_reset_tokens (user_id, token_hash, expires_at)
    values (${user.userId}, app_private.hash_token(${token}), now() + interval '1 hour')`);
  await t.ok(`mutation($t: String!) { resetPassword(input: { token: $t, newPassword: "the reset passphrase" }) { result } }`, { t: token });
  expect(await probe(fresh)).toBe(ENDED);
  expect(await probe(user.jwtToken)).toBe(ENDED);
  expect(await probe(await login(user.email, 'the reset passphrase'))).toBe('ok');
});

test('a token signed with the platform key but naming no session, or an unknown one, is refused', async () => {
  const user = await registerUser(t, 'nosid');
  const key = new TextEncoder().encode(TEST_JWT_SECRET);
  const { JWT_ISSUER, JWT_AUDIENCE } = testEnv();
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT({ role: 'member', user_id: user.userId, tenant_id: user.tenantId, ...claims })
      .setProtectedHeader({ alg: 'HS256' }).setIssuer(JWT_ISSUER).setAudience(JWT_AUDIENCE).setExpirationTime('1h').sign(key);
  const noSession = await t.gql(ME, {}, await sign({}));
  expect(noSession.status).toBe(401);
  expect(noSession.errors?.[0]?.message).toMatch(/names no session/);
  expect(await probe(await sign({ sid: '00000000-0000-4000-8000-000000000000' }))).toBe(ENDED);
  // Another user's session id does not lend its session either.
  const other = await registerUser(t, 'nosid-other');
  const [{ id }] = await t.owner.query(sql`select id from app_private.user_sessions where user_id = ${other.userId}`);
  expect(await probe(await sign({ sid: id }))).toBe(ENDED);
});

test('the import endpoint refuses an ended session', async () => {
  const user = await registerUser(t, 'import');
  await t.ok(`mutation { logout(input: {}) { result } }`, {}, user.jwtToken);
  const response = await fetch(`${t.url}/imports/leads?fileName=leads.csv`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.jwtToken}`, 'content-type': 'text/csv' },
    body: 'email\na@example.com\n',
  });
  expect(response.status).toBe(401);
  const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
  expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(await t.owner.query(sql`select 1 from app_public.lead_imports where tenant_id = ${user.tenantId}`)).toEqual([]);
});
