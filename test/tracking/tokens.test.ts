/**
 * Signed tracking tokens: what they name can be read back only with our key,
 * and no change to a token or a click target goes unnoticed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { makeTrackingTokens, trackingKeyFrom } from '../../src/tracking/tokens.ts';

const tokens = makeTrackingTokens(trackingKeyFrom(randomBytes(32).toString('hex')));
const ref = { tenantId: randomUUID(), messageId: randomUUID() };
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

test('a token names its tenant and message', () => {
  const token = tokens.messageToken(ref);
  expect(token).toMatch(/^[\w-]{43}\.[\w-]{22}$/);
  expect(tokens.parseMessageToken(token)).toEqual(ref);
});

test('another key, a changed body or signature, or another spelling of the signature is refused', () => {
  const token = tokens.messageToken(ref);
  const [body, sig] = token.split('.') as [string, string];
  const other = makeTrackingTokens(trackingKeyFrom(randomBytes(32).toString('hex')));
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  for (const bad of [
    other.messageToken(ref),
    `${flip(body, 5)}.${sig}`,
    `${body}.${flip(sig, 0)}`,
    // The last base64url character of a 16-byte signature carries 2 bits: the next character decodes to the same bytes.
    `${body}.${sig.slice(0, -1)}${B64URL[B64URL.indexOf(sig.at(-1)!) + 1]}`,
    `${body}.${sig}.extra`,
    body,
    '',
  ]) {
    expect(tokens.parseMessageToken(bad)).toBeNull();
  }
});

test('a click target is bound to its token', () => {
  const token = tokens.messageToken(ref);
  const target = 'https://example.com/a?b=c';
  const signature = tokens.signTarget(token, target);
  expect(tokens.verifyTarget(token, target, signature)).toBe(true);
  expect(tokens.verifyTarget(token, 'https://example.com/a?b=d', signature)).toBe(false);
  expect(tokens.verifyTarget(tokens.messageToken({ ...ref, messageId: randomUUID() }), target, signature)).toBe(false);
  const link = new URL(tokens.links('https://t.example/', ref).click(target));
  expect(link.pathname).toBe(`/t/c/${token}`);
  expect([link.searchParams.get('u'), link.searchParams.get('s')]).toEqual([target, signature]);
});
