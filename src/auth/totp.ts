/**
 * TOTP (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1, 30-second steps, six
 * digits, the secret as 20 random bytes shown in base 32. The secret is
 * sealed with the application key before it reaches the database, so codes
 * are computed here; the database decides what a matched step means (each
 * accepted once, lockouts: functions/053-two-factor.sql).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const STEP_SECONDS = 30;
export const DIGITS = 6;
/** Steps either side of now a code may come from (clock drift, typing time). */
export const DRIFT_STEPS = 1;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Encode(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s=]/g, '');
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error('Not a base32 string.');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A new secret: 160 random bits (RFC 4226's recommended length), base 32. */
export function newTotpSecret(): string {
  return base32Encode(randomBytes(20));
}

/** The HOTP code of a counter (RFC 4226, dynamic truncation). */
export function hotp(secret: Buffer, counter: bigint): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(counter);
  const mac = createHmac('sha1', secret).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** DIGITS;
  return String(binary).padStart(DIGITS, '0');
}

export function stepAt(timeMs: number): bigint {
  return BigInt(Math.floor(timeMs / 1000 / STEP_SECONDS));
}

/**
 * The 30-second step (within DRIFT_STEPS of now) whose code this is; null
 * when it is none or is not six digits. Whether that step may still be used
 * is the database's decision.
 */
export function matchTotpStep(base32Secret: string, code: string, nowMs = Date.now()): bigint | null {
  const digits = code.replace(/\s/g, '');
  if (!/^\d{6}$/.test(digits)) return null;
  const secret = base32Decode(base32Secret);
  const now = stepAt(nowMs);
  // The latest matching step wins: it is the one a replay check must record.
  for (let delta = DRIFT_STEPS; delta >= -DRIFT_STEPS; delta--) {
    const step = now + BigInt(delta);
    if (timingSafeEqual(Buffer.from(hotp(secret, step)), Buffer.from(digits))) return step;
  }
  return null;
}

/** The otpauth:// URI authenticator apps read (usually from a QR code). */
export function otpauthUri(issuer: string, account: string, base32Secret: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const params = new URLSearchParams({ secret: base32Secret, issuer, algorithm: 'SHA1', digits: String(DIGITS), period: String(STEP_SECONDS) });
  return `otpauth://totp/${label}?${params.toString()}`;
}
