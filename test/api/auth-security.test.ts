/**
 * Authentication hardening (issue 11) over HTTP: passwords bcrypt would
 * truncate, sign-in timing that does not tell known from unknown emails,
 * password-reset throttling, lockouts that stay inside one organisation and
 * that a stranger cannot use against someone else's account.
 */
import { registerUser, sql, startTestApi, uniqueEmail, type GqlResult, type TestApi } from '../helpers/api.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(() => t?.close());

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { jwtToken userId } }`;
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
    await t.owner.query(sql`update app_private.user_secrets set password_hash = public.crypt('timing password 1', public.gen_salt('bf', 10)) where user_id = ${user.userId}`);
    const unknownEmail = uniqueEmail('nobody');
    const known: number[] = [];
    const unknown: number[] = [];
    await t.owner.tx(async (db) => {
      await db.query(sql`set local app.password_hash_cost = '10'`);
      const time = async (email: string) => {
        const started = process.hrtime.bigint();
        const [row] = await db.query(sql`select error_code from app_hidden.login(${email}, 'wrong password', null)`);
        expect(row.error_code).toBe('CREDS');
        return Number(process.hrtime.bigint() - started) / 1e6;
      };
      for (let i = 0; i < 4; i++) {
        known.push(await time(user.email));
        unknown.push(await time(unknownEmail));
      }
      await db.query(sql`update app_private.user_secrets set failed_login_attempts = 0, locked_until = null where user_id = ${user.userId}`);
    });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    expect(median(known)).toBeGreaterThan(20); // cost 10 really was used
    expect(median(unknown)).toBeGreaterThanOrEqual(median(known) * 0.5);
  });
});
