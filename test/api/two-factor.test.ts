/**
 * Two-factor authentication (TOTP) through the real API: enrolment, login
 * with a challenge, replay refusal, recovery codes, lockout, disabling. Codes
 * are computed in the test by an implementation of its own
 * (test/helpers/totp.ts), checked against RFC 6238's test vectors as the
 * server's is.
 */
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { ownedTenant, PASSWORD } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';
import { hotp, matchTotpStep } from '../../src/auth/totp.ts';
import {
  CONFIRM_2FA, currentStep, DISABLE_2FA, enrolTwoFactor, LOGIN, loginChallenge, START_2FA, totpCode, VERIFY_2FA,
} from '../helpers/totp.ts';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(() => t.close());

const ME = `{ currentUser { rowId } currentTenant { rowId } }`;
const code = (result: { errors?: Array<{ extensions?: { code?: string } }> }) => result.errors?.[0]?.extensions?.code;
const sessionsOf = async (userId: string) =>
  (await t.owner.query(sql`select count(*)::int as n from app_private.user_sessions where user_id = ${userId}`))[0].n as number;

test('both TOTP implementations give RFC 6238 test vectors (SHA-1, last six digits)', () => {
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // "12345678901234567890"
  const vectors: Array<[number, string]> = [[59, '287082'], [1111111109, '081804'], [1234567890, '005924'], [2000000000, '279037']];
  for (const [seconds, expected] of vectors) {
    const step = Math.floor(seconds / 30);
    expect(hotp(Buffer.from('12345678901234567890'), BigInt(step))).toBe(expected);
    expect(totpCode(secret, step)).toBe(expected);
    expect(matchTotpStep(secret, expected, seconds * 1000)).toBe(BigInt(step));
  }
  // One step either side of now, not two.
  expect(matchTotpStep(secret, '287082', 59_000 + 30_000)).toBe(1n);
  expect(matchTotpStep(secret, '287082', 59_000 + 60_000)).toBeNull();
  expect(matchTotpStep(secret, 'abcdef', 59_000)).toBeNull();
});

test('enrolment: a sealed secret, confirmed only by a right code, then ten single-use recovery codes stored hashed', async () => {
  const owner = await ownedTenant(t, '2fa-enrol');
  const { startTwoFactorEnrollment: enrolment } = await t.ok(START_2FA, {}, owner.token);
  expect(enrolment.secret).toMatch(/^[A-Z2-7]{32}$/);
  expect(enrolment.otpauthUri).toBe(
    `otpauth://totp/PenguinMails:${encodeURIComponent(owner.email)}?secret=${enrolment.secret}&issuer=PenguinMails&algorithm=SHA1&digits=6&period=30`,
  );
  const [stored] = await t.owner.query(sql`select secret_sealed, confirmed_at from app_private.user_two_factor where user_id = ${owner.userId}`);
  expect(stored.confirmed_at).toBeNull();
  expect(stored.secret_sealed.toString('latin1')).not.toContain(enrolment.secret);

  // A wrong code changes nothing: still off, no recovery codes, login still gives a session.
  const wrongCode = totpCode(enrolment.secret) === '000000' ? '111111' : '000000';
  const wrong = await t.gql(CONFIRM_2FA, { code: wrongCode }, owner.token);
  expect(code(wrong)).toBe('INVALID_CREDENTIALS');
  expect(wrong.data?.confirmTwoFactor).toBeNull();
  expect(await t.owner.query(sql`select confirmed_at from app_private.user_two_factor where user_id = ${owner.userId}`)).toEqual([{ confirmed_at: null }]);
  expect(await t.owner.query(sql`select 1 from app_private.two_factor_recovery_codes where user_id = ${owner.userId}`)).toEqual([]);
  expect((await t.ok(LOGIN, { input: { email: owner.email, password: PASSWORD } })).login.jwtToken).toBeTruthy();

  const { confirmTwoFactor } = await t.ok(CONFIRM_2FA, { code: totpCode(enrolment.secret) }, owner.token);
  expect(confirmTwoFactor.recoveryCodes).toHaveLength(10);
  expect(new Set(confirmTwoFactor.recoveryCodes).size).toBe(10);
  for (const c of confirmTwoFactor.recoveryCodes) expect(c).toMatch(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/);
  const hashes = await t.owner.query(sql`select encode(code_hash, 'escape') as h from app_private.two_factor_recovery_codes where user_id = ${owner.userId}`);
  expect(hashes).toHaveLength(10);
  for (const { h } of hashes) for (const c of confirmTwoFactor.recoveryCodes) expect(h).not.toContain(c.replace(/-/g, ''));

  // On: a second enrolment is refused and the secret kept.
  expect(code(await t.gql(START_2FA, {}, owner.token))).toBe('CONFLICT');
  const [after] = await t.owner.query(sql`select secret_sealed from app_private.user_two_factor where user_id = ${owner.userId}`);
  expect(after.secret_sealed.equals(stored.secret_sealed)).toBe(true);
  // Signed out: no enrolment.
  expect(code(await t.gql(START_2FA))).toBe('UNAUTHENTICATED');
});

test('login gives no session but a challenge; the code completes it once; a used code and a used challenge are refused', async () => {
  const owner = await ownedTenant(t, '2fa-login');
  const { secret, step } = await enrolTwoFactor(t, owner.token);
  const sessionsBefore = await sessionsOf(owner.userId);

  const challenge = await loginChallenge(t, owner.email, PASSWORD, owner.tenantId);
  expect(await sessionsOf(owner.userId)).toBe(sessionsBefore);
  // A wrong password still says so, without a challenge.
  expect(code(await t.gql(LOGIN, { input: { email: owner.email, password: 'wrong password' } }))).toBe('INVALID_CREDENTIALS');

  // The code confirmEnrolment used: already spent in its window.
  const replay = await t.gql(VERIFY_2FA, { challenge, code: totpCode(secret, step) });
  expect(code(replay)).toBe('INVALID_CREDENTIALS');
  expect(replay.errors?.[0]?.message).toBe('This code was already used; wait for the next one.');
  expect(replay.data?.verifyTwoFactorLogin).toBeNull();
  expect(await sessionsOf(owner.userId)).toBe(sessionsBefore);
  const wrongCode = totpCode(secret, step + 1) === '123456' ? '654321' : '123456';
  expect(code(await t.gql(VERIFY_2FA, { challenge, code: wrongCode }))).toBe('INVALID_CREDENTIALS');
  expect(code(await t.gql(VERIFY_2FA, { challenge: 'not-a-challenge', code: totpCode(secret, step + 1) }))).toBe('NOT_FOUND');

  // The next step's code (within the one-step drift allowed) is new: accepted.
  const { verifyTwoFactorLogin: session } = await t.ok(VERIFY_2FA, { challenge, code: totpCode(secret, step + 1) });
  expect(session).toEqual({ jwtToken: expect.any(String), userId: owner.userId, tenantId: owner.tenantId });
  expect(await t.ok(ME, {}, session.jwtToken)).toEqual({ currentUser: { rowId: owner.userId }, currentTenant: { rowId: owner.tenantId } });
  expect(await sessionsOf(owner.userId)).toBe(sessionsBefore + 1);

  // The challenge is spent; the same code on a new challenge is a replay.
  expect(code(await t.gql(VERIFY_2FA, { challenge, code: totpCode(secret, step + 1) }))).toBe('TOKEN_EXPIRED');
  const second = await loginChallenge(t, owner.email, PASSWORD);
  expect(code(await t.gql(VERIFY_2FA, { challenge: second, code: totpCode(secret, step + 1) }))).toBe('INVALID_CREDENTIALS');
  // An expired challenge is refused, whatever the code.
  await t.owner.query(sql`update app_private.two_factor_challenges set expires_at = now() - interval '1 second' where user_id = ${owner.userId} and used_at is null`);
  expect(code(await t.gql(VERIFY_2FA, { challenge: second, code: totpCode(secret, currentStep() + 1) }))).toBe('TOKEN_EXPIRED');
});

test('a recovery code signs in once; typed in capitals without dashes it still counts', async () => {
  const owner = await ownedTenant(t, '2fa-recovery');
  const { recoveryCodes: [first, second] } = await enrolTwoFactor(t, owner.token);

  const { verifyTwoFactorLogin } = await t.ok(VERIFY_2FA, { challenge: await loginChallenge(t, owner.email, PASSWORD), code: first });
  expect(verifyTwoFactorLogin.userId).toBe(owner.userId);
  const again = await t.gql(VERIFY_2FA, { challenge: await loginChallenge(t, owner.email, PASSWORD), code: first });
  expect(code(again)).toBe('INVALID_CREDENTIALS');
  const loose = second!.replace(/-/g, '').toUpperCase();
  expect((await t.ok(VERIFY_2FA, { challenge: await loginChallenge(t, owner.email, PASSWORD), code: loose })).verifyTwoFactorLogin.userId).toBe(owner.userId);
  expect(await t.owner.query(sql`select count(*)::int as n from app_private.two_factor_recovery_codes where user_id = ${owner.userId} and used_at is not null`))
    .toEqual([{ n: 2 }]);
});

test('wrong codes lock the second factor like wrong passwords: then even a right code is refused', async () => {
  const owner = await ownedTenant(t, '2fa-lock');
  await t.ok(`mutation { updateTenantPolicy(input: { patch: { maxLoginAttempts: 3, lockoutMinutes: 30 } }) { tenantPolicy { maxLoginAttempts } } }`, {}, owner.token);
  const { secret, step, recoveryCodes } = await enrolTwoFactor(t, owner.token);
  const challenge = await loginChallenge(t, owner.email, PASSWORD, owner.tenantId);
  const wrongCode = [step - 1, step, step + 1, step + 2].some((s) => totpCode(secret, s) === '424242') ? '242424' : '424242';
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(code(await t.gql(VERIFY_2FA, { challenge, code: wrongCode })));
  expect(answers).toEqual(['INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'ACCOUNT_LOCKED']);
  const locked = await t.gql(VERIFY_2FA, { challenge, code: recoveryCodes[0] });
  expect(code(locked)).toBe('ACCOUNT_LOCKED');
  expect(locked.errors?.[0]?.message).toMatch(/^Too many wrong codes\. Try again after \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$/);
  // Nothing was spent while locked; a right password does not lift the lock.
  expect(await t.owner.query(sql`select 1 from app_private.two_factor_recovery_codes where user_id = ${owner.userId} and used_at is not null`)).toEqual([]);
  const [{ minutes }] = await t.owner.query(sql`
    select round(extract(epoch from locked_until - now()) / 60)::int as minutes from app_private.user_two_factor where user_id = ${owner.userId}`);
  expect(minutes).toBe(30);
  const fresh = await loginChallenge(t, owner.email, PASSWORD, owner.tenantId);
  expect(code(await t.gql(VERIFY_2FA, { challenge: fresh, code: recoveryCodes[1] }))).toBe('ACCOUNT_LOCKED');
});

test('disabling needs a valid code; a refused attempt leaves it on', async () => {
  const owner = await ownedTenant(t, '2fa-off');
  const { secret, step, recoveryCodes } = await enrolTwoFactor(t, owner.token);
  const wrongCode = totpCode(secret, step + 1) === '999999' ? '888888' : '999999';
  expect(code(await t.gql(DISABLE_2FA, { code: wrongCode }, owner.token))).toBe('INVALID_CREDENTIALS');
  expect(code(await t.gql(DISABLE_2FA, { code: totpCode(secret, step) }, owner.token))).toBe('INVALID_CREDENTIALS');
  expect(await t.owner.query(sql`select count(*)::int as n from app_private.two_factor_recovery_codes where user_id = ${owner.userId}`)).toEqual([{ n: 10 }]);
  await loginChallenge(t, owner.email, PASSWORD);

  expect(await t.ok(DISABLE_2FA, { code: recoveryCodes[3] }, owner.token)).toEqual({ disableTwoFactor: { disabled: true } });
  expect(await t.owner.query(sql`select 1 from app_private.user_two_factor where user_id = ${owner.userId}`)).toEqual([]);
  expect(await t.owner.query(sql`select 1 from app_private.two_factor_recovery_codes where user_id = ${owner.userId}`)).toEqual([]);
  expect((await t.ok(LOGIN, { input: { email: owner.email, password: PASSWORD } })).login.jwtToken).toBeTruthy();
  expect(code(await t.gql(DISABLE_2FA, { code: totpCode(secret) }, owner.token))).toBe('CONFLICT');
});
