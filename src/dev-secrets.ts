/**
 * Secrets for local development and tests, generated once and kept in the
 * git-ignored data folder so tokens and encrypted values survive restarts.
 * Production sets every one of these through the environment instead.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface DevSecrets {
  superuserPassword: string;
  ownerPassword: string;
  authenticatorPassword: string;
  jwtSecret: string;
  secretsKey: string;
}

export function loadDevSecrets(dataDir: string): DevSecrets {
  const file = path.join(dataDir, 'dev-secrets.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  } catch {
    const secrets: DevSecrets = {
      superuserPassword: randomBytes(18).toString('base64url'),
      ownerPassword: randomBytes(18).toString('base64url'),
      authenticatorPassword: randomBytes(18).toString('base64url'),
      jwtSecret: randomBytes(48).toString('base64url'),
      secretsKey: randomBytes(32).toString('hex'),
    };
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
    return secrets;
  }
}
