/**
 * A real API server on 127.0.0.1 (random port) over the test database, and a
 * small GraphQL client that speaks HTTP to it. Data written through it is
 * committed, so each test creates its own tenants (unique emails).
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import pg from 'pg';
import type { SessionClaims } from '../../src/auth/jwt.ts';
import { signNewSession } from '../../src/auth/sessions.ts';
import { readEnv, type Env } from '../../src/config.ts';
import type { DatabaseUrls } from '../../src/db/database.ts';
import { baseTestUrls } from './db.ts';
import { uniqueEmail } from './unique.ts';
import { cloneTemplate, dropDatabase } from './test-database.ts';
import { createPool, sql, type ConnectionPool } from '../../src/db/pg.ts';
import { tokenServiceOf } from '../../src/auth/jwt.ts';
import type { ApiServer, Route, RouteContext } from '../../src/server/http.ts';
import type { ApiThreadAnswer, ApiThreadRequest } from './api-thread.ts';
import { TEST_JWT_SECRET, testEnv } from './test-env.ts';

export { TEST_JWT_SECRET, testEnv };

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

/**
 * The server a test file talks to: the whole ApiServer when it runs in the
 * file's own process (startTestApi's inProcess), else the parts a test uses
 * from outside (its URL, pools of the same roles on the same database, the
 * same token service), the server itself running in a worker thread.
 */
export type TestApiServer = Pick<ApiServer, 'url' | 'port' | 'pool' | 'ownerPool' | 'tokens' | 'close'> & Partial<Pick<ApiServer, 'pgl' | 'apiKeys'>>;

export interface TestApi {
  api: TestApiServer;
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
  /**
   * Routes beside GraphQL: 'platform' for those `npm start` serves
   * (src/server/platform-routes.ts, configured from the overrides), or a
   * function of the server's pools and services for others.
   */
  routes?: 'platform' | ((api: RouteContext) => Route[]),
  /** Runs on the new database before the server opens its first connection (e.g. per-database settings). */
  prepare?: (urls: DatabaseUrls) => Promise<void>,
  /**
   * inProcess: the server runs in this file's process (its schema, pools, logs
   * and metrics are the test's to inspect); implied by routes given as a
   * function, which cannot cross into a thread. Otherwise it runs in the API
   * thread (test/helpers/api-thread.ts).
   */
  { inProcess = typeof routes === 'function' }: { inProcess?: boolean } = {},
): Promise<TestApi> {
  const database = await isolatedDatabase(expect.getState().testPath?.split('/').pop()?.replace(/\.test\.ts$/, '') ?? 'api');
  const { urls } = database;
  await prepare?.(urls);
  const api: TestApiServer = inProcess
    ? await startInProcess(overrides, urls, routes)
    : await startApiThread(overrides, urls, routes === 'platform');
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
 * The timeout of a set-up hook that starts a server in its own process
 * (startTestApi's inProcess, startApiServer or startPlatform called directly): loading PostGraphile in the file's jest sandbox
 * and building the schema cost about 7.5 s of CPU, and at load 10 on two
 * cores a process gets about a fifth of a core. A server in the API thread
 * costs about 1.7 s and fits jest's default.
 */
export const IN_PROCESS_SETUP_TIMEOUT_MS = 120_000;

/**
 * The worker thread that runs this jest worker process's API servers
 * (test/helpers/api-thread.ts), started and warmed by the test environment
 * (test/setup/environment.js) before the process's first file.
 */
function apiThread(): Worker {
  const thread = (globalThis as { penguinmailsApiThread?: Worker }).penguinmailsApiThread;
  if (!thread) throw new Error('No API thread: the tests run in test/setup/environment.js (jest.config.js testEnvironment).');
  return thread;
}

let waiting = 0;

/** Sends a request to the API thread and waits for its answer. */
function askApiThread(request: ApiThreadRequest): Promise<ApiThreadAnswer> {
  const thread = apiThread();
  return new Promise((resolve, reject) => {
    const onMessage = (answer: ApiThreadAnswer) => {
      if (answer.id !== request.id) return;
      done();
      resolve(answer);
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`The API server thread exited (code ${code}).`));
    };
    const done = () => thread.off('message', onMessage).off('error', onError).off('exit', onExit);
    thread.on('message', onMessage).on('error', onError).on('exit', onExit);
    // Waiting for an answer keeps this file's process alive; the idle thread does not.
    if (waiting++ === 0) thread.ref();
    thread.postMessage(request);
  }).finally(() => {
    if (--waiting === 0) thread.unref();
  }) as Promise<ApiThreadAnswer>;
}

/** An API server in this process, the whole ApiServer. */
async function startInProcess(overrides: Record<string, string>, urls: DatabaseUrls, routes: Parameters<typeof startTestApi>[1]): Promise<ApiServer> {
  const [{ startApiServer }, { platformRoutes }] = await Promise.all([import('../../src/server/http.ts'), import('../../src/server/platform-routes.ts')]);
  const env = testEnv(overrides);
  return startApiServer({ env, urls, jwtSecret: TEST_JWT_SECRET, routes: routes === 'platform' ? (server) => platformRoutes(env, server) : routes });
}

/** An API server run by the API thread, with the parts a test uses from outside. */
async function startApiThread(overrides: Record<string, string>, urls: DatabaseUrls, platformRoutes: boolean): Promise<TestApiServer> {
  const id = randomUUID();
  const ready = await askApiThread({ type: 'start', id, overrides, urls, platformRoutes });
  if (ready.type !== 'ready') {
    throw Object.assign(new Error(`The API server did not start: ${ready.type === 'error' ? ready.message : ready.type}`), {
      stack: ready.type === 'error' ? ready.stack : undefined,
    });
  }
  const pool = new pg.Pool({ connectionString: urls.authenticator, max: 4 });
  const ownerPool = new pg.Pool({ connectionString: urls.owner, max: 2 });
  let closing: Promise<void> | undefined;
  return {
    url: ready.url,
    port: ready.port,
    pool,
    ownerPool,
    tokens: tokenServiceOf(testEnv(overrides), TEST_JWT_SECRET),
    close() {
      closing ??= (async () => {
        const closed = await askApiThread({ type: 'close', id });
        await Promise.all([pool.end(), ownerPool.end()]);
        if (closed.type === 'error') throw new Error(`The API server did not close cleanly: ${closed.message}`);
      })();
      return closing;
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


