/**
 * Signed tracking links. A message token names (tenant, message) and is
 * signed with HMAC-SHA256, so the open pixel, click redirect and unsubscribe
 * endpoints can trust it without a lookup and nobody can forge one for
 * another message. Click links also sign their target URL: the redirect only
 * goes where the sender's template pointed (no open redirect).
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export interface MessageRef {
  tenantId: string;
  messageId: string;
}

export interface TrackingLinks {
  openPixel: string;
  click(target: string): string;
  unsubscribe: string;
}

export interface TrackingTokens {
  messageToken(ref: MessageRef): string;
  parseMessageToken(token: string): MessageRef | null;
  signTarget(token: string, target: string): string;
  verifyTarget(token: string, target: string, signature: string): boolean;
  links(publicUrl: string, ref: MessageRef): TrackingLinks;
}

/** Derives the tracking key from the application secrets key (HKDF), so there is one secret to manage. */
export function trackingKeyFrom(secretsKeyHex: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secretsKeyHex, 'hex'), Buffer.alloc(0), 'penguinmails tracking v1', 32));
}

const uuidToBytes = (uuid: string) => Buffer.from(uuid.replace(/-/g, ''), 'hex');
const bytesToUuid = (b: Buffer) => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export function makeTrackingTokens(key: Buffer): TrackingTokens {
  const mac = (data: string) => createHmac('sha256', key).update(data).digest().subarray(0, 16);
  // Compares the signature as text: base64url decoding ignores trailing bits,
  // so comparing decoded bytes would accept several spellings of one signature.
  const sameSignature = (given: string, expected: Buffer) => {
    const a = Buffer.from(given);
    const b = Buffer.from(expected.toString('base64url'));
    return a.length === b.length && timingSafeEqual(a, b);
  };

  const messageToken = ({ tenantId, messageId }: MessageRef) => {
    const body = Buffer.concat([uuidToBytes(tenantId), uuidToBytes(messageId)]).toString('base64url');
    return `${body}.${mac(`m:${body}`).toString('base64url')}`;
  };

  const parseMessageToken = (token: string): MessageRef | null => {
    const [body, sig, extra] = token.split('.');
    if (!body || !sig || extra !== undefined) return null;
    if (!sameSignature(sig, mac(`m:${body}`))) return null;
    const raw = Buffer.from(body, 'base64url');
    if (raw.length !== 32) return null; // two 16-byte UUIDs
    return { tenantId: bytesToUuid(raw.subarray(0, 16)), messageId: bytesToUuid(raw.subarray(16)) };
  };

  const signTarget = (token: string, target: string) => mac(`c:${token}:${target}`).toString('base64url');
  const verifyTarget = (token: string, target: string, signature: string) =>
    sameSignature(signature, mac(`c:${token}:${target}`));

  return {
    messageToken,
    parseMessageToken,
    signTarget,
    verifyTarget,
    links(publicUrl, ref) {
      const base = publicUrl.replace(/\/$/, '');
      const token = messageToken(ref);
      return {
        openPixel: `${base}/t/o/${token}.gif`,
        click: (target) => `${base}/t/c/${token}?u=${encodeURIComponent(target)}&s=${signTarget(token, target)}`,
        unsubscribe: `${base}/u/${token}`,
      };
    },
  };
}
