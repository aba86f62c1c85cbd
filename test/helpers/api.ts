/**
 * A real API server on 127.0.0.1 (random port) over the test database, and a
 * small GraphQL client that speaks HTTP to it. Data written through it is
 * committed, so each test creates its own tenants (unique emails).
 */
import { randomUUID } from 'node:crypto';
import type { SessionClaims } from '../../src/auth/jwt.ts';
import { signNewSession } from '../../src/auth/sessions.ts';
import { readEnv, type Env } from '../../src/config.ts';
import type { DatabaseUrls } from '../../src/db/database.ts';
import { baseTestUrls } from './db.ts';
import { uniqueEmail } from './unique.ts';
import { cloneTemplate, dropDatabase } from './test-database.ts';
import { createPool, sql, type ConnectionPool } from '../../src/db/pg.ts';
import { startApiServer, type ApiServer, type Route, type RouteContext } from '../../src/server/http.ts';

export const TEST_JWT_SECRET = 'test-secret-for-penguinmails-0123456789abcdef';

/**
 * A private database for one test file, cloned from the migrated template:
 * what a file commits (or a worker it runs picks up) never meets another
 * file's data.
 */
export async function isolatedDatabase(label: string): Promise<{ urls: DatabaseUrls; drop(): Promise<void> }> {
  const base = baseTestUrls();
  const name = `pm_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 30)}_${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
  const urls = await cloneTemplate(base, name);
  return { urls, drop: () => dropDatabase(base, name) };
}

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

/** The configuration `npm start` reads to run the whole platform on a private database, with its data folder (NODE_ENV is the caller's). */
export function platformEnv(urls: DatabaseUrls, dataDir: string, overrides: Record<string, string> = {}): Env {
  return readEnv({
    PORT: '0',
    DATABASE_URL: urls.owner,
    AUTH_DATABASE_URL: urls.authenticator,
    ROOT_DATABASE_URL: urls.root,
    JWT_SECRET: TEST_JWT_SECRET,
    PM_DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
    ...overrides,
  });
}

export interface GqlResult<T = any> {
  status: number;
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string }; path?: string[] }>;
  text: string;
}

export interface TestApi {
  api: ApiServer;
  urls: DatabaseUrls;
  url: string;
  owner: ConnectionPool;
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResult<T>>;
  /** Like gql, but fails the test on any GraphQL error. */
  ok<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<T>;
  /** A token for a new session of this user, without signing in (src/auth/sessions.ts). */
  session(claims: Omit<SessionClaims, 'session_id'>): Promise<string>;
  close(): Promise<void>;
}

export async function startTestApi(
  overrides: Record<string, string> = {},
  routes?: (api: RouteContext) => Route[],
  /** Runs on the new database before the server opens its first connection (e.g. per-database settings). */
  prepare?: (urls: DatabaseUrls) => Promise<void>,
): Promise<TestApi> {
  const database = await isolatedDatabase(expect.getState().testPath?.split('/').pop()?.replace(/\.test\.ts$/, '') ?? 'api');
  const { urls } = database;
  await prepare?.(urls);
  const api = await startApiServer({ env: testEnv(overrides), urls, jwtSecret: TEST_JWT_SECRET, routes });
  const owner = createPool({ connectionString: urls.owner, bigIntMode: 'string', poolSize: 3 });
  const gql = async (query: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResult> => {
    const post = () =>
      fetch(`${api.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
    // A kept-alive connection the server closes (keepAliveTimeout) just as the
    // next request goes out is reset before the server reads that request: on
    // a loaded machine the two timers cross. Sent again once on a new connection.
    const response = await post().catch((error: Error & { cause?: { code?: string } }) => {
      if (error.cause?.code !== 'ECONNRESET') throw error;
      return post();
    });
    const text = await response.text();
    let body: any = {};
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON (e.g. a plain-text HTTP error)
    }
    return { status: response.status, data: body.data, errors: body.errors, text };
  };
  return {
    api,
    urls,
    url: api.url,
    owner,
    gql,
    async ok(query, variables, token) {
      const result = await gql(query, variables, token);
      if (result.errors?.length || result.status !== 200) {
        throw new Error(`GraphQL request failed (${result.status}): ${result.text}`);
      }
      return result.data;
    },
    session: (claims) => signNewSession(api.ownerPool, api.tokens, claims),
    async close() {
      await owner.dispose();
      await api.close();
      await database.drop();
    },
  };
}


/**
 * Signs a user up through the API (register, then confirmRegistration) with
 * their own tenant; returns the session. The emailed token is not read from
 * the mail: the pending sign-up's token is replaced by one the helper knows
 * (a worker may already have sent the email).
 */
export async function registerUser(t: Pick<TestApi, 'ok' | 'owner'>, label: string, password = 'correct horse battery') {
  const email = uniqueEmail(label);
  await t.ok(`mutation($input: RegisterInput!) { register(input: $input) { message } }`, {
    input: { email, password, name: `User ${label}`, tenantName: `Org ${label}` },
  });
  const token = await knownRegistrationToken(t, email);
  const data = await t.ok(`mutation($token: String!) { confirmRegistration(input: { token: $token }) { jwtToken userId tenantId expiresAt } }`, { token });
  return { email, password, ...(data.confirmRegistration as { jwtToken: string; userId: string; tenantId: string; expiresAt: string }) };
}

/** Gives the newest open sign-up of an email a token the caller knows, and returns it. */
export async function knownRegistrationToken(t: Pick<TestApi, 'owner'>, email: string): Promise<string> {
  const token = `test-registration-${randomUUID()}`;
  const rows = await t.owner.query(sql`
    update app_private.pending_registrations set token_hash = app_private.hash_token(${token})
    where id = (select id from app_private.pending_registrations where email = ${email} and confirmed_at is null order by created desc limit 1)
    returning id`);
  if (rows.length !== 1) throw new Error(`no open sign-up for ${email}`);
  return token;
}


