/** The configuration every test server and worker reads (src/config.ts), with a file's overrides. */
import { readEnv, type Env } from '../../src/config.ts';

export const TEST_JWT_SECRET = 'test-secret-for-penguinmails-0123456789abcdef';

export function testEnv(overrides: Record<string, string> = {}): Env {
  return readEnv({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    JWT_SECRET: TEST_JWT_SECRET,
    PM_DATA_DIR: process.env.PM_DATA_DIR ?? '.data',
    // The peers tests talk to (SMTP, IMAP) listen on loopback; everything else private stays refused.
    OUTBOUND_ALLOW_PRIVATE: '127.0.0.1/32,::1/128',
    ...overrides,
  });
}
