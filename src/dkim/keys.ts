/**
 * DKIM key pairs: RSA (2048 bits by default, DKIM_KEY_BITS) made with Node's
 * crypto. The public key is published as the p= value of the DKIM record
 * (base64 DER SubjectPublicKeyInfo); the private key is kept as PKCS#8 PEM,
 * sealed with the application SecretBox before it reaches the database, and
 * opened only by the sending worker (nodemailer's dkim.privateKey takes it as is).
 */
import { createPrivateKey, createPublicKey, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { SecretBox } from '../crypto/secrets.ts';

const generate = promisify(generateKeyPair);

export interface DkimKeyPair {
  /** Base64 DER SubjectPublicKeyInfo: the p= value. */
  publicKey: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  bits: number;
}

export interface SealedDkimKey {
  publicKey: string;
  privateKeyEncrypted: Buffer;
  bits: number;
}

export async function generateDkimKeyPair(bits = 2048): Promise<DkimKeyPair> {
  const { publicKey, privateKey } = await generate('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKey: publicKey.toString('base64'), privateKeyPem: privateKey, bits };
}

/** The p= value that belongs to a private key. */
export function publicKeyOf(privateKeyPem: string): string {
  return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'der' }).toString('base64');
}

/** A new key pair, its private half sealed: what the database stores. */
export async function generateSealedDkimKey(secretBox: SecretBox, bits = 2048): Promise<SealedDkimKey> {
  const pair = await generateDkimKeyPair(bits);
  return { publicKey: pair.publicKey, privateKeyEncrypted: secretBox.encrypt(pair.privateKeyPem), bits: pair.bits };
}

/** Opens a stored private key (for signing) and checks it belongs to the published public key. */
export function openDkimPrivateKey(secretBox: SecretBox, sealed: Buffer, publicKey: string): string {
  const pem = secretBox.decrypt(sealed);
  if (publicKeyOf(pem) !== publicKey) throw new Error('The stored DKIM private key does not match its public key.');
  return pem;
}
