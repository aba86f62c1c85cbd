/**
 * Bearer tokens over real HTTP: every way a token can be wrong gets a 401
 * with a JSON error naming the problem, before any database access (proven
 * by a server whose database connection has been cut); a token for a tenant
 * the user has left sees nothing and may change nothing; and tokens from an
 * external identity provider (RS256 and ES256) are verified against its JWKS
 * served by a real HTTP server on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';
import pg from 'pg';
import { OPEN_SESSION_SQL } from '../../src/auth/sessions.ts';
import { startApiServer, type ApiServer } from '../../src/server/http.ts';
import { isolatedDatabase, startTestApi, TEST_JWT_SECRET, testEnv, type TestApi, IN_PROCESS_SETUP_TIMEOUT_MS } from '../helpers/api.ts';
import { memberWithRoles, ownedTenant, putTenantOnPlan, type Member } from './fixtures.ts';
import { startTcpProxy, via } from './tcp-proxy.ts';
import { sql } from '../../src/db/pg.ts';

const secret = new TextEncoder().encode(TEST_JWT_SECRET);
const ISSUER = 'penguinmails';
const AUDIENCE = 'penguinmails-api';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

interface Claims {
  role?: unknown;
  user_id?: unknown;
  tenant_id?: unknown;
  [claim: string]: unknown;
}

/** An HS256 token; `tweak` changes what a correct token would be. */
async function hsToken(claims: Claims, tweak: { secret?: Uint8Array; alg?: string; iss?: string; aud?: string; exp?: number | null; nbf?: number } = {}) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: tweak.alg ?? 'HS256', typ: 'JWT' }).setIssuedAt().setIssuer(tweak.iss ?? ISSUER).setAudience(tweak.aud ?? AUDIENCE);
  if (tweak.exp !== null) jwt = jwt.setExpirationTime(tweak.exp ?? now() + 3600);
  if (tweak.nbf !== undefined) jwt = jwt.setNotBefore(tweak.nbf);
  return jwt.sign(tweak.secret ?? secret);
}

/** The claims with the id of a new session of their user (the platform's tokens name one). */
async function withSession<C extends { user_id: string }>(claims: C, pool: { query(text: string, values: unknown[]): Promise<{ rows: { id: string }[] }> } = t.api.ownerPool) {
  const { rows: [session] } = await pool.query(OPEN_SESSION_SQL, [claims.user_id, new Date(Date.now() + 3_600_000)]);
  return { ...claims, sid: session!.id };
}

async function post(url: string, authorization: string | undefined, query = '{ currentUser { rowId } }') {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query }),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), wwwAuthenticate: response.headers.get('www-authenticate') };
}

let t: TestApi;
let owner: Member;
beforeAll(async () => {
  t = await startTestApi();
  owner = await ownedTenant(t, 'jwt');
});
afterAll(() => t?.close());

describe('every bad token is a 401 with a clear JSON error, decided without the database', () => {
  let cutOff: ApiServer;
  let drop: () => Promise<void>;
  let good: string;

  beforeAll(async () => {
    const database = await isolatedDatabase('jwt-nodb');
    drop = database.drop;
    const target = new URL(database.urls.owner);
    const proxy = await startTcpProxy(target.hostname, Number(target.port));
    cutOff = await startApiServer({
      env: testEnv(),
      urls: { ...database.urls, owner: via(database.urls.owner, proxy.port), authenticator: via(database.urls.authenticator, proxy.port) },
      jwtSecret: TEST_JWT_SECRET,
    });
    // A user and a session in that database, for a token the server accepts.
    const nodb = new pg.Client({ connectionString: database.urls.owner });
    await nodb.connect();
    try {
      const { rows: [user] } = await nodb.query(`select id from app_private.create_user('jwt-nodb@example.com', 'irrelevant password 1', 'No DB', true)`);
      good = await hsToken(await withSession({ role: 'member', user_id: user.id, tenant_id: null }, nodb));
    } finally {
      await nodb.end();
    }
    expect((await post(cutOff.url, `Bearer ${good}`)).status).toBe(200); // reachable before the cut
    await proxy.cut();
    // The database is gone for this server: a valid token now fails.
    const failing = await post(cutOff.url, `Bearer ${good}`);
    expect(failing.body.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    expect(failing.body.data?.currentUser ?? null).toBeNull();
  }, IN_PROCESS_SETUP_TIMEOUT_MS); // a server of its own in this process
  afterAll(async () => {
    await cutOff?.close();
    await drop?.();
  });

  const claims = () => ({ role: 'member', user_id: owner.userId, tenant_id: owner.tenantId });
  const cases: Array<[string, () => Promise<string>, string, RegExp]> = [
    ['a bad signature', () => hsToken(claims(), { secret: new TextEncoder().encode('another-secret-that-is-long-enough-0123') }).then((x) => `Bearer ${x}`), 'INVALID_TOKEN', /signature is invalid/],
    ['an expired token', () => hsToken(claims(), { exp: now() - 60 }).then((x) => `Bearer ${x}`), 'TOKEN_EXPIRED', /has expired/],
    ['a token not valid yet (nbf)', () => hsToken(claims(), { nbf: now() + 3600 }).then((x) => `Bearer ${x}`), 'INVALID_TOKEN', /not valid yet/],
    ['the wrong audience', () => hsToken(claims(), { aud: 'somebody-else' }).then((x) => `Bearer ${x}`), 'INVALID_TOKEN', /another audience/],
    ['the wrong issuer', () => hsToken(claims(), { iss: 'https://evil.example' }).then((x) => `Bearer ${x}`), 'INVALID_TOKEN', /unknown issuer/],
    ['alg "none"', async () => `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims(), iss: ISSUER, aud: AUDIENCE, exp: now() + 600 })}.`, 'INVALID_TOKEN', /alg "none"/],
    ['an algorithm we do not accept (HS512)', () => hsToken(claims(), { alg: 'HS512' }).then((x) => `Bearer ${x}`), 'INVALID_TOKEN', /HS512 are not accepted/],
    ['RS256 without a configured identity provider', async () => `Bearer ${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims())}.c2ln`, 'INVALID_TOKEN', /RS256 are not accepted/],
    ['no expiry', () => hsToken(claims(), { exp: null }).then((x) => `Bearer ${x}`), 'INVALID_TOKEN', /has no "exp" claim/],
    ['a missing user_id', () => hsToken({ role: 'member', tenant_id: owner.tenantId }).then((x) => `Bearer ${x}`), 'INVALID_TOKEN', /claims are missing or invalid: user_id/],
    ['an unknown role', () => hsToken({ ...claims(), role: 'penguinmails_owner' }).then((x) => `Bearer ${x}`), 'INVALID_TOKEN', /claims are missing or invalid: role/],
    ['a tenant_id that is not a UUID', () => hsToken({ ...claims(), tenant_id: "x' or 1=1" }).then((x) => `Bearer ${x}`), 'INVALID_TOKEN', /claims are missing or invalid: tenant_id/],
    ['a header that is not JSON', async () => 'Bearer bm90IGpzb24.e30.c2ln', 'INVALID_TOKEN', /not a well-formed JWT/],
    ['a token that is not a JWT at all', async () => 'Bearer abc', 'INVALID_TOKEN', /not a (well-formed|valid) JWT/],
    ['another authorization scheme', async () => `Basic ${Buffer.from('alice:secret').toString('base64')}`, 'INVALID_TOKEN', /must be "Bearer <token>"/],
  ];

  test.each(cases)('%s', async (_label, make, code, message) => {
    const response = await post(cutOff.url, await make());
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ errors: [{ message: expect.stringMatching(message), extensions: { code } }] });
    expect(response.wwwAuthenticate).toMatch(/^Bearer error="invalid_token", error_description=".+"$/);
  });
});

test('a valid token works, and mapping claims to settings is an allow-list', async () => {
  const token = await hsToken(await withSession({ role: 'member', user_id: owner.userId, tenant_id: owner.tenantId }));
  expect((await t.ok(`{ currentUser { rowId } currentTenant { rowId } }`, {}, token))).toEqual({
    currentUser: { rowId: owner.userId },
    currentTenant: { rowId: owner.tenantId },
  });
  // A forged tenant claim (a tenant the user never belonged to) names nothing.
  const other = await ownedTenant(t, 'jwt-other');
  const forged = await hsToken(await withSession({ role: 'member', user_id: owner.userId, tenant_id: other.tenantId }));
  expect(await t.ok(`{ currentTenant { rowId } leads { totalCount } }`, {}, forged)).toEqual({ currentTenant: null, leads: { totalCount: 0 } });
});

test('a token for a tenant the user has left: the data is invisible and mutations are FORBIDDEN', async () => {
  await putTenantOnPlan(t.owner, owner.tenantId, 'pro');
  const leaver = await memberWithRoles(t, owner.tenantId, ['admin'], 'leaver');
  await t.ok(`mutation { createLead(input: { lead: { email: "before-leaving@probe.example" } }) { lead { rowId } } }`, {}, leaver.token);
  expect((await t.ok(`{ leads { totalCount } }`, {}, leaver.token)).leads.totalCount).toBe(1);

  await t.ok(`mutation($id: UUID!) { removeMember(input: { userId: $id }) { result { deletedAt } } }`, { id: leaver.userId }, owner.token);

  // Same (unexpired, correctly signed) token, next request.
  expect(await t.ok(`{ leads { totalCount nodes { rowId } } currentTenant { rowId } domains { totalCount } }`, {}, leaver.token)).toEqual({
    leads: { totalCount: 0, nodes: [] },
    currentTenant: null,
    domains: { totalCount: 0 },
  });
  const [lead] = await t.owner.query(sql`select id from app_public.leads where tenant_id = ${owner.tenantId}`);
  const attempts = [
    ['createLead', `mutation { r: createLead(input: { lead: { email: "after-leaving@probe.example" } }) { lead { rowId } } }`],
    ['updateLead', `mutation { r: updateLead(input: { rowId: "${lead.id}", patch: { name: "changed" } }) { lead { rowId } } }`],
    ['deleteLead', `mutation { r: deleteLead(input: { rowId: "${lead.id}" }) { lead { rowId } } }`],
    ['inviteMember', `mutation { r: inviteMember(input: { email: "friend@probe.example" }) { result { rowId } } }`],
  ] as const;
  for (const [name, query] of attempts) {
    const result = await t.gql(query, {}, leaver.token);
    expect([name, result.data?.r ?? null, result.errors?.[0]?.extensions?.code]).toEqual([name, null, name === 'createLead' || name === 'inviteMember' ? 'FORBIDDEN' : 'NOT_FOUND']);
  }
  expect(await t.owner.query(sql`select email::text, name from app_public.leads where tenant_id = ${owner.tenantId}`)).toEqual([
    { email: 'before-leaving@probe.example', name: null },
  ]);
});

describe('an external identity provider (JWKS over HTTP)', () => {
  let jwks: Server;
  let idp: TestApi;
  let member: Member;
  const keys: Record<'rs' | 'es', { privateKey: CryptoKey; jwk: JWK }> = {} as never;

  beforeAll(async () => {
    for (const [name, alg] of [['rs', 'RS256'], ['es', 'ES256']] as const) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      keys[name] = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `${name}-key-1`, alg, use: 'sig' } };
    }
    jwks = createServer((req, res) => {
      if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [keys.rs.jwk, keys.es.jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    idp = await startTestApi({
      JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`,
      JWT_JWKS_ISSUER: 'https://idp.example',
      JWT_JWKS_AUDIENCE: 'penguinmails',
    });
    member = await ownedTenant(idp, 'idp');
  });
  afterAll(async () => {
    await idp?.close();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  const idpToken = (key: 'rs' | 'es', { kid, iss = 'https://idp.example', alg }: { kid?: string; iss?: string; alg?: string } = {}) =>
    new SignJWT({ role: 'member', user_id: member.userId, tenant_id: member.tenantId })
      .setProtectedHeader({ alg: alg ?? keys[key].jwk.alg!, kid: kid ?? keys[key].jwk.kid })
      .setIssuer(iss)
      .setAudience('penguinmails')
      .setExpirationTime('10m')
      .sign(keys[key].privateKey);

  test.each([['RS256', 'rs'], ['ES256', 'es']] as const)('%s tokens signed by the provider are accepted', async (_alg, key) => {
    const data = await idp.ok(`{ currentUser { rowId } currentTenant { rowId } }`, {}, await idpToken(key));
    expect(data).toEqual({ currentUser: { rowId: member.userId }, currentTenant: { rowId: member.tenantId } });
  });

  test('an unknown key id, a key of the wrong type for its kid, and the wrong issuer are refused', async () => {
    const unknownKid = await post(idp.url, `Bearer ${await idpToken('rs', { kid: 'rotated-away' })}`);
    expect(unknownKid.status).toBe(401);
    expect(unknownKid.body.errors[0]).toEqual({ message: expect.stringMatching(/No key of the identity provider matches this token/), extensions: { code: 'INVALID_TOKEN' } });
    // Signed with the EC key but claiming the RSA key's id.
    const swapped = await post(idp.url, `Bearer ${await idpToken('es', { kid: 'rs-key-1' })}`);
    expect(swapped.status).toBe(401);
    const wrongIssuer = await post(idp.url, `Bearer ${await idpToken('rs', { iss: 'https://other-idp.example' })}`);
    expect(wrongIssuer.status).toBe(401);
    expect(wrongIssuer.body.errors[0].message).toMatch(/unknown issuer/);
    // Our own HS256 sessions keep working next to the provider's.
    const own = await idp.session({ role: 'member', user_id: member.userId, tenant_id: member.tenantId, expires_at: new Date(Date.now() + 60_000) });
    const ownResult = await post(idp.url, `Bearer ${own}`);
    expect(ownResult.status).toBe(200);
    expect(ownResult.body.data.currentUser).toEqual({ rowId: member.userId });
  });
});
