/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): a secret is
 * `whsec_` + base64 of random bytes; the signature of a message is
 * `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)), the key
 * being the secret's base64 part decoded. Several signatures (during a
 * secret rotation) are separated by spaces in one `webhook-signature` header.
 */
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new signing secret (24 random bytes). */
export function newWebhookSecret(): string {
  return PREFIX + randomBytes(24).toString('base64');
}

function keyOf(secret: string): Buffer {
  if (!secret.startsWith(PREFIX)) throw new Error('A webhook secret starts with whsec_.');
  return Buffer.from(secret.slice(PREFIX.length), 'base64');
}

/** The `webhook-signature` header value: one `v1,<base64>` per secret, separated by spaces. */
export function webhookSignature(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  return secrets
    .map((secret) => `v1,${createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`)
    .join(' ');
}

/** The three headers of a signed delivery. `timestamp` is in seconds since the epoch. */
export function webhookHeaders(secrets: readonly string[], id: string, timestamp: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': webhookSignature(secrets, id, timestamp, body),
  };
}
