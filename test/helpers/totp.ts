/**
 * TOTP codes for tests, written apart from src/auth/totp.ts so that a test
 * checks the server against a second implementation (RFC 6238: HMAC-SHA-1,
 * 30-second steps, six digits), plus the two-factor GraphQL operations and an
 * enrolment through the API.
 */
import { createHmac } from 'node:crypto';
import type { TestApi } from './api.ts';

function fromBase32(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bits = [...text.replace(/=+$/, '')].map((c) => alphabet.indexOf(c).toString(2).padStart(5, '0')).join('');
  const bytes = bits.match(/.{8}/g) ?? [];
  return Buffer.from(bytes.map((b) => parseInt(b, 2)));
}

/** The code of a 30-second step (default: now) for a base32 secret. */
export function totpCode(base32Secret: string, step = Math.floor(Date.now() / 30_000)): string {
  const counter = Buffer.alloc(8);
  counter.writeUInt32BE(Math.floor(step / 2 ** 32), 0);
  counter.writeUInt32BE(step % 2 ** 32, 4);
  const mac = createHmac('sha1', fromBase32(base32Secret)).update(counter).digest();
  const at = mac[19]! & 15;
  const value = ((mac[at]! & 0x7f) << 24) | (mac[at + 1]! << 16) | (mac[at + 2]! << 8) | mac[at + 3]!;
  return String(value % 1_000_000).padStart(6, '0');
}

export const currentStep = () => Math.floor(Date.now() / 30_000);

export const START_2FA = `mutation { startTwoFactorEnrollment { secret otpauthUri } }`;
export const CONFIRM_2FA = `mutation($code: String!) { confirmTwoFactor(input: { code: $code }) { recoveryCodes } }`;
export const DISABLE_2FA = `mutation($code: String!) { disableTwoFactor(input: { code: $code }) { disabled } }`;
export const VERIFY_2FA = `mutation($challenge: String!, $code: String!) {
  verifyTwoFactorLogin(input: { challenge: $challenge, code: $code }) { jwtToken userId tenantId }
}`;
export const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { jwtToken } }`;

/** Turns two-factor authentication on for the token's user through the API; the secret, the step used and the recovery codes. */
export async function enrolTwoFactor(t: TestApi, token: string): Promise<{ secret: string; step: number; recoveryCodes: string[] }> {
  const { startTwoFactorEnrollment: { secret } } = await t.ok(START_2FA, {}, token);
  const step = currentStep();
  const { confirmTwoFactor: { recoveryCodes } } = await t.ok(CONFIRM_2FA, { code: totpCode(secret, step) }, token);
  return { secret, step, recoveryCodes };
}

/** login's challenge for an account with two-factor authentication (fails the test otherwise). */
export async function loginChallenge(t: TestApi, email: string, password: string, tenantId?: string): Promise<string> {
  const result = await t.gql(LOGIN, { input: { email, password, tenantId } });
  const error = result.errors?.[0] as { extensions?: { code?: string; challenge?: string } } | undefined;
  if (error?.extensions?.code !== 'TWO_FACTOR_REQUIRED' || !error.extensions.challenge) {
    throw new Error(`expected TWO_FACTOR_REQUIRED, got ${result.text}`);
  }
  expect(result.data?.login ?? null).toBeNull();
  return error.extensions.challenge;
}
