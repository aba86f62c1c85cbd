/**
 * The HTTP server around GraphQL: health and readiness probes, Ruru,
 * production mode (no Ruru, no introspection unless asked for), the CORS
 * allow-list, graceful shutdown, and the whole platform as `npm start`
 * runs it (API, upload route and worker on one database).
 */
import { request } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readEnv } from '../../src/config.ts';
import { startPlatform, type Platform } from '../../src/platform.ts';
import { startApiServer } from '../../src/server/http.ts';
import { eventually } from '../helpers/eventually.ts';
import { isolatedDatabase, platformEnv, registerUser, startTestApi, TEST_JWT_SECRET, testEnv, type TestApi, IN_PROCESS_SETUP_TIMEOUT_MS } from '../helpers/api.ts';
import { startTcpProxy, via } from './tcp-proxy.ts';
import { sql } from '../../src/db/pg.ts';

// Tests that start a server or the whole platform in this process.
const LONG = IN_PROCESS_SETUP_TIMEOUT_MS;
const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://unused@127.0.0.1/unused',
  PM_SECRETS_KEY: 'ab'.repeat(32),
  AUTHENTICATOR_PASSWORD: 'not-used-in-this-test',
};

describe('probes and Ruru', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(() => t?.close());

  test('/healthz says the process is up; /readyz that the database is reachable and current', async () => {
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', ready: true, migration: expect.stringMatching(/^\d{6}/) });
  });

  test('/readyz answers 503 with the reason when functions/ and policies/ differ from what the database has', async () => {
    const [{ hash }] = await t.owner.query(sql`select hash from app_private.declarative_state`);
    await t.owner.query(sql`update app_private.declarative_state set hash = 'stale'`);
    try {
      const stale = await fetch(`${t.url}/readyz`);
      expect(stale.status).toBe(503);
      expect(await stale.json()).toEqual({ status: 'not ready', ready: false, reason: 'functions/ and policies/ differ from what is applied', migration: expect.any(String) });
      expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    } finally {
      await t.owner.query(sql`update app_private.declarative_state set hash = ${hash}`);
    }
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  });

  test('Ruru is served at /graphiql, / redirects to it, unknown paths are a JSON 404', async () => {
    const ruru = await fetch(`${t.url}/graphiql`);
    expect(ruru.status).toBe(200);
    expect(ruru.headers.get('content-type')).toMatch(/text\/html/);
    expect(await ruru.text()).toMatch(/ruru/i);
    const root = await fetch(`${t.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/graphiql');
    const missing = await fetch(`${t.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ errors: [{ message: 'Nothing at GET /nope. GraphQL is served at POST /graphql.', extensions: { code: 'NOT_FOUND' } }] });
  });
});

test('/readyz answers 503 when the database cannot be reached, while /healthz stays 200', async () => {
  const database = await isolatedDatabase('readyz');
  const target = new URL(database.urls.owner);
  const proxy = await startTcpProxy(target.hostname, Number(target.port));
  const api = await startApiServer({
    env: testEnv(),
    urls: { ...database.urls, owner: via(database.urls.owner, proxy.port), authenticator: via(database.urls.authenticator, proxy.port) },
    jwtSecret: TEST_JWT_SECRET,
  });
  try {
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
    await proxy.cut();
    const down = await fetch(`${api.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'not ready', ready: false, reason: expect.stringMatching(/^database unreachable: /) });
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
  } finally {
    await api.close();
    await database.drop();
  }
}, LONG);

describe('production mode', () => {
  test('no Ruru and no introspection; queries work', async () => {
    const t = await startTestApi(PRODUCTION);
    try {
      expect((await fetch(`${t.url}/graphiql`)).status).toBe(404);
      expect(await (await fetch(`${t.url}/`)).json()).toEqual({ service: 'penguinmails', graphql: '/graphql' });
      const introspection = await t.gql(`{ __schema { types { name } } }`);
      expect(introspection.status).toBe(400);
      expect(introspection.errors?.[0]).toEqual(expect.objectContaining({ extensions: { code: 'INTROSPECTION_DISABLED' }, message: expect.stringMatching(/introspection has been disabled/) }));
      expect((await t.gql(`{ __type(name: "Lead") { name } }`)).errors?.[0]?.extensions?.code).toBe('INTROSPECTION_DISABLED');
      const user = await registerUser(t, 'prod');
      expect((await t.ok(`{ __typename currentUser { email } }`, {}, user.jwtToken)).currentUser.email).toBe(user.email);
    } finally {
      await t.close();
    }
  }, LONG);

  test('without introspection, errors do not suggest names from the schema ("Did you mean …")', async () => {
    const t = await startTestApi(PRODUCTION);
    try {
      const user = await registerUser(t, 'prod-hints');
      const probes: Array<[string, Record<string, unknown>?]> = [
        [`{ currentUse { email } }`],
        [`{ currentUser { emai } }`],
        [`{ leads(frist: 1) { totalCount } }`],
        [`{ leads(orderBy: CREATED_DES) { totalCount } }`],
        [`query($x: LeadFilte) { leads(filter: $x) { totalCount } }`],
        [`query($x: LeadFilter) { leads(filter: $x) { totalCount } }`, { x: { emial: { equalTo: 'a@b.example' } } }],
        [`mutation($i: LoginInput!) { login(input: $i) { jwtToken } }`, { i: { emial: 'a@b.example', password: 'x' } }],
      ];
      for (const [query, variables] of probes) {
        const result = await t.gql(query, variables, user.jwtToken);
        expect(result.errors?.length).toBeGreaterThan(0);
        expect(result.text).not.toMatch(/Did you mean/i);
        // Documents fail validation; variables fail coercion (INVALID_INPUT): either way the message names what is wrong.
        expect(['GRAPHQL_VALIDATION_FAILED', 'INVALID_INPUT']).toContain(result.errors![0]!.extensions?.code);
        expect(result.errors!.map((e) => e.message).join(' ')).toMatch(/"(currentUse|emai|frist|CREATED_DES|LeadFilte|emial)"/);
      }
    } finally {
      await t.close();
    }
  }, LONG);

  test('INTROSPECTION=true turns introspection back on', async () => {
    const t = await startTestApi({ ...PRODUCTION, INTROSPECTION: 'true' });
    try {
      expect((await t.ok(`{ __type(name: "Lead") { name } }`)).__type.name).toBe('Lead');
    } finally {
      await t.close();
    }
  }, LONG);

  test('production start-up refuses to run without its secrets, naming each missing variable', () => {
    expect(() => readEnv({ NODE_ENV: 'production' })).toThrow(/DATABASE_URL: is required in production[\s\S]*JWT_SECRET: is required in production/);
  });
});

test('CORS: allowed origins get the headers and a 204 preflight; others get neither', async () => {
  const t = await startTestApi({ CORS_ORIGINS: 'https://app.penguinmails.test, https://admin.penguinmails.test' });
  try {
    const preflight = await fetch(`${t.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.penguinmails.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.penguinmails.test');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const refused = await fetch(`${t.url}/graphql`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();

    const post = (origin: string) =>
      fetch(`${t.url}/graphql`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    expect((await post('https://admin.penguinmails.test')).headers.get('access-control-allow-origin')).toBe('https://admin.penguinmails.test');
    expect((await post('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  } finally {
    await t.close();
  }
}, LONG);

test('graceful shutdown: a request in flight completes while close() runs; new connections are refused', async () => {
  const t = await startTestApi();
  const body = JSON.stringify({ query: '{ __typename }' });
  const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length) } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.write(body.slice(0, 10)); // the server has the request; half the body is still to come
    setTimeout(async () => {
      closing = t.api.close();
      await new Promise((r) => setTimeout(r, 100));
      refused = await fetch(`${t.url}/healthz`).then(() => 'accepted', (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message);
      req.end(body.slice(10));
    }, 200);
  });
  let closing: Promise<void> | undefined;
  let refused: string | undefined;
  const finished = await inFlight;
  expect(finished).toEqual({ status: 200, text: '{"data":{"__typename":"Query"}}' });
  expect(refused).toBe('ECONNREFUSED');
  await closing;
  await t.close();
}, LONG);

test('the platform as `npm start` runs it: GraphQL, the CSV upload route and the worker on one database; stop() is clean', async () => {
  const database = await isolatedDatabase('platform');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pm-platform-'));
  let platform: Platform | undefined;
  try {
    platform = await startPlatform(platformEnv(database.urls, dataDir, { NODE_ENV: 'test' }));
    const url = platform.api.url;
    const graphql = async (query: string, variables: Record<string, unknown> = {}) => {
      const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
      return (await response.json()) as { data: Record<string, Record<string, string>> };
    };
    await graphql(`mutation { register(input: { email: "starter@probe.example", password: "correct horse battery", tenantName: "Started" }) { message } }`);
    // The worker emails the confirmation link; without SYSTEM_SMTP_URL it is a file in PM_DATA_DIR/outbox, linking to this server.
    let link = '';
    await eventually(async () => {
      const files = existsSync(path.join(dataDir, 'outbox')) ? readdirSync(path.join(dataDir, 'outbox')) : [];
      const mail = files.map((f) => readFileSync(path.join(dataDir, 'outbox', f), 'utf8')).find((m) => m.includes('confirm-registration?token='));
      link = /(http:\/\/\S+\/confirm-registration\?token=[A-Za-z0-9_%-]+)/.exec((mail ?? '').replace(/=\r?\n/g, '').replace(/=3D/g, '='))?.[1] ?? '';
      return link !== '';
    }, 20_000, 100);
    expect(link.startsWith(`${url}/confirm-registration?token=`)).toBe(true);
    const confirmed = await graphql(`mutation($t: String!) { confirmRegistration(input: { token: $t }) { jwtToken } }`, {
      t: decodeURIComponent(new URL(link).searchParams.get('token')!),
    });
    const token = confirmed.data.confirmRegistration!.jwtToken!;
    const upload = await fetch(`${url}/imports/leads?fileName=first.csv`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
      body: 'email,first name\nada@probe.example,Ada\ngrace@probe.example,Grace\n',
    });
    expect([upload.status, upload.status === 202 ? null : await upload.text()]).toEqual([202, null]);
    const { leadImport } = (await upload.json()) as { leadImport: { rowId: string } };
    const status = async () => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: `{ leadImport(rowId: "${leadImport.rowId}") { status importedRows } leads { totalCount } }` }),
      });
      return ((await response.json()) as { data: { leadImport: { status: string; importedRows: number }; leads: { totalCount: number } } }).data;
    };
    await eventually(async () => (await status()).leadImport.status === 'COMPLETED', 15_000);
    // Read again: a request's root fields are separate statements that may run
    // in any order, so the one that saw the import complete may have counted
    // the leads just before (a window Citus makes wider).
    expect(await status()).toEqual({ leadImport: { status: 'COMPLETED', importedRows: 2 }, leads: { totalCount: 2 } });
  } finally {
    await platform?.stop();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}, LONG);
