/**
 * Application-level encryption for secrets stored in app_private (SMTP/IMAP
 * passwords, DKIM private keys): AES-256-GCM with a key that lives only in the
 * environment (PM_SECRETS_KEY), so a database dump alone reveals nothing.
 * Layout: version byte (1) | 12-byte IV | 16-byte tag | ciphertext.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 1;

export interface SecretBox {
  encrypt(plaintext: string): Buffer;
  decrypt(sealed: Buffer): string;
}

export function makeSecretBox(hexKey: string): SecretBox {
  const key = Buffer.from(hexKey, 'hex');
  if (key.length !== 32) throw new Error('The secrets key must be 32 bytes (64 hex characters).');
  return {
    encrypt(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
    },
    decrypt(sealed) {
      if (sealed.length < 29 || sealed[0] !== VERSION) throw new Error('Not a sealed secret (unknown format).');
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13));
      decipher.setAuthTag(sealed.subarray(13, 29));
      return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]).toString('utf8');
    },
  };
}
