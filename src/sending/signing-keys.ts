/**
 * DKIM private keys, decrypted and parsed once per worker: opening the sealed
 * PEM and parsing a 2048-bit RSA key cost about 0.4 ms of worker CPU per
 * message (benchmark figure 6). Entries are keyed by the sealed bytes, so a
 * rotated or re-sealed key is a new entry, and held per secret box (the key
 * that opened them). The cache keeps at most MAX_KEYS keys, dropping the
 * oldest first.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { SecretBox } from '../crypto/secrets.ts';

const MAX_KEYS = 512;

const caches = new WeakMap<SecretBox, Map<string, KeyObject>>();

/** Thrown when the sealed key opens but is not a private key nodemailer can sign with. */
export class UnreadableSigningKey extends Error {}

/** The parsed key; throws what `secretBox.decrypt` throws, or UnreadableSigningKey. */
export function signingKey(secretBox: SecretBox, sealed: Buffer, domain: string): KeyObject {
  let cache = caches.get(secretBox);
  if (!cache) caches.set(secretBox, (cache = new Map()));
  const id = sealed.toString('base64');
  const known = cache.get(id);
  if (known) return known;
  const pem = secretBox.decrypt(sealed);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new UnreadableSigningKey(`The DKIM private key of ${domain} cannot be read.`);
  }
  if (cache.size >= MAX_KEYS) cache.delete(cache.keys().next().value!);
  cache.set(id, key);
  return key;
}
