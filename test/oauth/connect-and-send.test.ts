/**
 * Google inboxes over OAuth 2.0, end to end against a stand-in authorization
 * server (test/helpers/oauth-provider.ts) and a real SMTP server that accepts
 * XOAUTH2 only for tokens that server's introspection says are active: an
 * admin starts the connection through the API, the browser's round trip
 * through the provider lands on GET /oauth/callback, the inbox sends with its
 * access token, renews it when it expired, stops (once) when consent is
 * withdrawn, and stops at once when disconnected. No token ever shows in an
 * API response or a log line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { captureLogs } from '../../src/log/logger.ts';
import { makeSecretBox } from '../../src/crypto/secrets.ts';
import { secretsKeyOf } from '../../src/config.ts';
import { createSmtpPool } from '../../src/sending/smtp-pool.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';
import { startTestApi, testEnv, type TestApi, IN_PROCESS_SETUP_TIMEOUT_MS } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { startOAuthProvider, type StandInProvider } from '../helpers/oauth-provider.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { dovecotMissingReason, startDovecot, type DovecotServer } from '../helpers/dovecot.ts';
import { newMessageId, reply } from '../imap/mail-samples.ts';
import { pollInbox } from '../../src/imap/poller.ts';
import { makeOutboundGuard } from '../../src/net/outbound-guard.ts';
import { oauthConfigOf } from '../../src/oauth/providers.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { oauthCallbackRoutes } from '../../src/oauth/callback-route.ts';
import { addMember, createCampaign, createSender, createTenant, lifecycle, nextMonday, setClock, type Sender, type TestTenant, type World } from '../sending/support/world.ts';
import { sql } from '../../src/db/pg.ts';

const CLIENT_ID = 'pm-test-google-client';
const CLIENT_SECRET = 'pm-test-google-secret-0123456789';
/** The callback registered with the provider; the test carries the provider's redirect to the API server itself. */
const REDIRECT = 'https://app.example.test/oauth/callback';

let provider: StandInProvider;
/** Microsoft's stand-in: ID token only (no userinfo), no revocation endpoint. */
let microsoft: StandInProvider;
let smtp: TestSmtpServer;
let t: TestApi;
let worker: TestWorker;
let w: World;
let logs: ReturnType<typeof captureLogs>;
/** dovecot with its oauth2 passdb against the same provider (IMAP tests skip without dovecot). */
let dovecot: DovecotServer | null = null;
/** The XOAUTH2 logins the SMTP server accepted and refused. */
const logins: Array<{ user: string; ok: boolean }> = [];

beforeAll(async () => {
  logs = captureLogs('debug');
  provider = await startOAuthProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  microsoft = await startOAuthProvider({ clientId: 'pm-test-microsoft-client', clientSecret: 'pm-test-microsoft-secret' });
  if (!dovecotMissingReason()) dovecot = await startDovecot({ oauth2IntrospectionUrl: `${provider.url}/introspect` });
  smtp = await startSmtpServer({
    authOptional: false,
    allowInsecureAuth: true,
    authMethods: ['XOAUTH2'],
    onAuth(auth, _session, callback) {
      if (auth.method !== 'XOAUTH2') return callback(new Error('XOAUTH2 only'));
      // Asks the authorization server, over HTTP, whether the token is active and whose it is.
      fetch(`${provider.url}/introspect`, { method: 'POST', body: new URLSearchParams({ token: auth.accessToken ?? '' }) })
        .then((r) => r.json() as Promise<{ active: boolean; username?: string }>)
        .then((found) => {
          const ok = found.active && found.username === auth.username;
          logins.push({ user: auth.username ?? '', ok });
          if (ok) callback(null, { user: auth.username });
          else callback(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
        }, (error: Error) => callback(error));
    },
  });
  const overrides = {
    GOOGLE_OAUTH_CLIENT_ID: CLIENT_ID,
    GOOGLE_OAUTH_CLIENT_SECRET: CLIENT_SECRET,
    GOOGLE_OAUTH_AUTHORIZE_URL: `${provider.url}/authorize`,
    GOOGLE_OAUTH_TOKEN_URL: `${provider.url}/token`,
    GOOGLE_OAUTH_USERINFO_URL: `${provider.url}/userinfo`,
    GOOGLE_OAUTH_REVOKE_URL: `${provider.url}/revoke`,
    GOOGLE_SMTP_HOST: '127.0.0.1',
    GOOGLE_SMTP_PORT: String(smtp.port),
    GOOGLE_IMAP_HOST: '127.0.0.1',
    GOOGLE_IMAP_PORT: String(dovecot?.plainPort ?? 1),
    OAUTH_REDIRECT_URL: REDIRECT,
    MICROSOFT_OAUTH_CLIENT_ID: 'pm-test-microsoft-client',
    MICROSOFT_OAUTH_CLIENT_SECRET: 'pm-test-microsoft-secret',
    MICROSOFT_OAUTH_AUTHORIZE_URL: `${microsoft.url}/authorize`,
    MICROSOFT_OAUTH_TOKEN_URL: `${microsoft.url}/token`,
    MICROSOFT_SMTP_HOST: '127.0.0.1',
    MICROSOFT_SMTP_PORT: String(smtp.port),
  };
  // In this process: the API's log lines (the token exchange happens there) are captured with the worker's.
  t = await startTestApi(overrides, undefined, undefined, { inProcess: true });
  const env = testEnv(overrides);
  // One message per connection: every message logs in (a pooled connection stays logged in with the token it started with).
  const smtpPool = createSmtpPool({ maxMessagesPerConnection: 1 });
  worker = await startTestWorker(t.urls.owner, env, { deps: { sending: { publicUrl: t.url, smtp: { timeoutMs: 5_000 }, smtpPool } }, pollInterval: 100, concurrency: 2 });
  w = {
    t, smtp, worker, env, box: makeSecretBox(secretsKeyOf(env)), publicUrl: t.url,
    startWorker: async () => worker, stopWorker: async () => undefined,
    close: async () => {
      await worker.stop();
      smtpPool.close();
    },
  };
  await setClock(w, await nextMonday(w, 9));
}, IN_PROCESS_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await w?.close();
  await t?.close();
  await smtp?.close();
  await provider?.close();
  await microsoft?.close();
  await dovecot?.stop();
  logs?.stop();
});

const START = `mutation($p: InboxOAuthProvider!) { startInboxOAuth(input: { provider: $p }) { authorizationUrl expiresAt } }`;
const INBOXES = `{ emailAccounts { nodes { rowId email provider status oauthStatus lastError smtpSettings imapSettings dailyLimit warmupEnabled smtpAuthConfigured } } }`;

async function start(token: string): Promise<string> {
  const data = await t.ok(START, { p: 'GOOGLE' }, token);
  return data.startInboxOAuth.authorizationUrl as string;
}

/** The browser's round trip: the provider (the mailbox owner says yes as `user`), then its redirect to our callback. */
async function authorize(authorizationUrl: string, user: string): Promise<string> {
  const response = await fetch(`${authorizationUrl}&user=${encodeURIComponent(user)}`, { redirect: 'manual' });
  expect(response.status).toBe(302);
  const back = new URL(response.headers.get('location')!);
  expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
  return back.search;
}

async function callback(search: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${t.url}/oauth/callback${search}`);
  return { status: response.status, text: await response.text() };
}

async function inboxesOf(tenant: TestTenant) {
  const result = await t.gql(INBOXES, {}, tenant.token);
  expect(result.errors).toBeUndefined();
  return { nodes: result.data.emailAccounts.nodes as any[], text: result.text };
}

let tenant: TestTenant;
let sender: Sender;
let inboxId: string;
let address: string;

test('an admin connects a Google inbox: PKCE authorization URL, callback, inbox with the provider\'s settings and no token readable', async () => {
  tenant = await createTenant(w, 'oauth-connect');
  sender = await createSender(w, tenant.tenantId, []);
  address = `sales@${sender.domain}`;

  const url = new URL(await start(tenant.token));
  expect(`${url.origin}${url.pathname}`).toBe(`${provider.url}/authorize`);
  expect(url.searchParams.get('client_id')).toBe(CLIENT_ID);
  expect(url.searchParams.get('redirect_uri')).toBe(REDIRECT);
  expect(url.searchParams.get('scope')).toBe('https://mail.google.com/ openid email');
  expect(url.searchParams.get('code_challenge_method')).toBe('S256');
  expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(url.searchParams.get('access_type')).toBe('offline');
  // Only the state's hash is stored.
  const state = url.searchParams.get('state')!;
  const [stored] = await t.owner.query(sql`select count(*)::int as n from app_private.oauth_states where state_hash = app_private.hash_token(${state}) and tenant_id = ${tenant.tenantId} and user_id = ${tenant.userId}`);
  expect(stored.n).toBe(1);

  const result = await callback(await authorize(url.toString(), address));
  expect(result).toEqual({ status: 200, text: expect.stringContaining(`${address} is connected`) });

  const { nodes, text } = await inboxesOf(tenant);
  expect(nodes).toEqual([expect.objectContaining({
    email: address, provider: 'GOOGLE', status: 'ACTIVE', oauthStatus: 'CONNECTED', lastError: null,
    smtpSettings: { host: '127.0.0.1', port: smtp.port, secure: false, require_tls: false },
    dailyLimit: 100, warmupEnabled: true,
  })]);
  inboxId = nodes[0].rowId;
  for (const secret of provider.issued()) expect(text).not.toContain(secret);
  // Sealed at rest.
  const [row] = await t.owner.query(sql`select oauth_refresh_token_encrypted as r, oauth_access_token_encrypted as a from app_private.email_account_credentials where email_account_id = ${inboxId}`);
  for (const secret of provider.issued()) {
    expect(row.r.toString('latin1')).not.toContain(secret);
    expect(row.a.toString('latin1')).not.toContain(secret);
  }
});

test('the state works once, only within its expiry, and only for an admin of the tenant that started it', async () => {
  const other = await createTenant(w, 'oauth-other');
  const search = await authorize(await start(tenant.token), address);
  expect((await callback(search)).status).toBe(200);
  // Replayed: refused, nothing changes.
  expect(await callback(search)).toEqual({ status: 400, text: expect.stringContaining('already used') });
  // A made-up state.
  expect((await callback('?state=made-up&code=x')).status).toBe(400);

  // Expired.
  const late = new URL(await start(tenant.token));
  await t.owner.query(sql`update app_private.oauth_states set expires_at = now() - interval '1 second' where state_hash = app_private.hash_token(${late.searchParams.get('state')!})`);
  expect(await callback(await authorize(late.toString(), address))).toEqual({ status: 400, text: expect.stringContaining('expired') });

  // Started by an admin who is no longer one when the browser comes back.
  const admin = await addMember(w, tenant.tenantId, 'oauth-admin', ['admin']);
  const demoted = await start(admin.token);
  await t.owner.query(sql`update app_public.tenant_users set roles = '{member}' where tenant_id = ${tenant.tenantId} and user_id = ${admin.userId}`);
  expect((await callback(await authorize(demoted, `demoted@${sender.domain}`))).status).toBe(403);
  // Or who was removed from the organisation meanwhile (the membership row stays, with its roles, marked deleted).
  const leaver = await addMember(w, tenant.tenantId, 'oauth-leaver', ['admin']);
  const removed = await start(leaver.token);
  await t.owner.query(sql`update app_public.tenant_users set deleted_at = now() where tenant_id = ${tenant.tenantId} and user_id = ${leaver.userId}`);
  expect((await callback(await authorize(removed, `removed@${sender.domain}`))).status).toBe(403);

  // A member cannot start one; a state lands in the tenant that started it, never another.
  const member = await addMember(w, tenant.tenantId, 'oauth-member', ['member']);
  const refused = await t.gql(START, { p: 'GOOGLE' }, member.token);
  expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  // Nor an API key without the inboxes' write scope.
  const key = await t.ok(`mutation { createApiKey(input: { name: "oauth", scopes: ["leads:read"] }) { result { secret } } }`, {}, tenant.token);
  const byKey = await t.gql(START, { p: 'GOOGLE' }, key.createApiKey.result.secret);
  expect(byKey.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  const otherSender = await createSender(w, other.tenantId, []);
  // Tenant A's state with a mailbox of tenant B's domain: refused (not A's domain), nothing created in B.
  expect((await callback(await authorize(await start(tenant.token), `x@${otherSender.domain}`))).status).toBe(409);
  expect((await inboxesOf(other)).nodes).toEqual([]);
  expect((await inboxesOf(tenant)).nodes.map((n) => n.email)).toEqual([address]);
}, 30_000);

async function sendOne(label: string) {
  const campaign = await createCampaign(w, tenant.tenantId, { name: label, inboxIds: [inboxId], steps: [{ type: 'email', subject: label }] });
  const started = await lifecycle(w, tenant.token, 'start', campaign.campaignId);
  expect(started.error).toBeNull();
  return campaign;
}

test('the inbox sends over XOAUTH2; an expired access token is renewed and sending continues', async () => {
  const first = await sendOne('First over OAuth');
  const mail = await smtp.waitFor((m) => m.to.includes(first.leads[0]!.email), 20_000);
  expect(mail.from).toBe(address);
  expect(logins.at(-1)).toEqual({ user: address, ok: true });

  // The provider expires the token early (the stored expiry still says it is good): the server refuses it (535),
  // the worker renews it once and the message goes out.
  const refreshes = () => provider.tokenRequests.filter((r) => r.startsWith('refresh_token:200')).length;
  const before = refreshes();
  provider.expireAccessTokens(address);
  const second = await sendOne('Second after expiry');
  await smtp.waitFor((m) => m.to.includes(second.leads[0]!.email), 20_000);
  expect(refreshes()).toBe(before + 1);
  expect(logins.some((l) => l.user === address && !l.ok)).toBe(true);

  // A token about to expire (within five minutes) is renewed before the send, without a refused login.
  await t.owner.query(sql`update app_private.email_account_credentials set oauth_access_expires_at = now() + interval '1 minute' where email_account_id = ${inboxId}`);
  const refused = logins.filter((l) => !l.ok).length;
  const third = await sendOne('Third, renewed ahead');
  await smtp.waitFor((m) => m.to.includes(third.leads[0]!.email), 20_000);
  expect(refreshes()).toBe(before + 2);
  expect(logins.filter((l) => !l.ok).length).toBe(refused);
}, 60_000);

(dovecotMissingReason() ? test.skip : test)('a reply is read over IMAP with XOAUTH2 (dovecot\'s oauth2 passdb introspects the token)', async () => {
  const sent = await sendOne('Asking for a reply');
  const mail = await smtp.waitFor((m) => m.to.includes(sent.leads[0]!.email), 20_000);
  const lead = sent.leads[0]!.email;
  await dovecot!.addUser(address, 'append-only-password');
  await dovecot!.deliver(address, reply({
    from: lead, to: address, subject: 'Re: Asking for a reply', messageId: newMessageId(),
    inReplyTo: mail.parsed.messageId!.replace(/^<|>$/g, ''), body: 'Happy to talk.',
  }));
  const pool = new pg.Pool({ connectionString: t.urls.owner, max: 1 });
  const poll = () => pollInbox(async (fn) => {
    const client = await pool.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }, {
    secretBox: w.box, tls: { ca: dovecot!.ca }, timeoutMs: 5_000,
    outbound: makeOutboundGuard({ allowPrivate: ['127.0.0.1'] }), oauth: oauthConfigOf(w.env),
  }, { tenantId: tenant.tenantId, emailAccountId: inboxId });
  try {
    expect(await poll()).toMatchObject({ status: 'ok', outcomes: { reply: 1 } });
    const [message] = await t.owner.query(sql`select status from app_public.messages where campaign_id = ${sent.campaignId} and direction = 'outbound'`);
    expect(message.status).toBe('replied');

    // The provider ends the access token early (the stored expiry still says it is good): dovecot refuses the
    // login (AUTHENTICATIONFAILED), the poller renews the token once and reads the next reply.
    const refreshes = () => provider.tokenRequests.filter((r) => r.startsWith('refresh_token:200')).length;
    const before = refreshes();
    provider.expireAccessTokens(address);
    await dovecot!.deliver(address, reply({
      from: lead, to: address, subject: 'Re: Asking for a reply', messageId: newMessageId(),
      inReplyTo: mail.parsed.messageId!.replace(/^<|>$/g, ''), body: 'Tuesday works too.',
    }));
    expect(await poll()).toMatchObject({ status: 'ok', outcomes: { reply: 1 } });
    expect(refreshes()).toBe(before + 1);
  } finally {
    await pool.end();
  }
}, 60_000);

test('access tokens about to expire are renewed ahead by the scheduled job, once; fresh ones are left alone', async () => {
  const refreshes = () => provider.tokenRequests.filter((r) => r.startsWith('refresh_token:200')).length;
  const expiry = async () => (await t.owner.query(sql`
    select oauth_access_expires_at as at from app_private.email_account_credentials where email_account_id = ${inboxId}`))[0].at as Date;
  const renewals = async () => (await t.owner.query(sql`select email_account_id as id from app_private.queue_oauth_renewals()`)).map((r) => r.id);
  // A token renewed a moment ago is not queued.
  expect(await renewals()).not.toContain(inboxId);

  await t.owner.query(sql`update app_private.email_account_credentials set oauth_access_expires_at = now() + interval '10 minutes' where email_account_id = ${inboxId}`);
  const before = refreshes();
  expect(await renewals()).toContain(inboxId);
  // The worker renews it: about an hour of validity again, with one token request.
  const renewed = await eventually(async () => {
    const at = await expiry();
    return at.getTime() > Date.now() + 30 * 60_000 && at;
  }, 15_000);
  expect(refreshes()).toBe(before + 1);
  expect(await renewals()).not.toContain(inboxId);
  expect(await expiry()).toEqual(renewed);
  // A stopped inbox is not renewed.
  await t.owner.query(sql`update app_private.email_account_credentials set oauth_access_expires_at = now() where email_account_id = ${inboxId}`);
  await t.owner.query(sql`update app_public.email_accounts set status = 'paused' where id = ${inboxId}`);
  try {
    expect(await renewals()).not.toContain(inboxId);
  } finally {
    await t.owner.query(sql`update app_public.email_accounts set status = 'active' where id = ${inboxId}`);
  }
}, 30_000);

test('withdrawn consent stops the inbox once, with the reason, and no renewal storm', async () => {
  provider.revokeUser(address);
  provider.expireAccessTokens(address);
  const refusedRefreshes = () => provider.tokenRequests.filter((r) => r === 'refresh_token:400').length;
  const campaign = await sendOne('After revocation');
  const inbox = await eventually(async () => {
    const found = (await inboxesOf(tenant)).nodes.find((n) => n.rowId === inboxId);
    return found?.oauthStatus === 'RECONNECT_REQUIRED' && found;
  }, 20_000);
  expect(inbox.status).toBe('ERROR');
  expect(inbox.lastError).toMatch(/Google refused to renew .* \(invalid_grant\).*connect it again/);
  // A few seconds later: still one refused renewal, nothing sent, the message still waiting.
  await new Promise((r) => setTimeout(r, 3_000));
  expect(refusedRefreshes()).toBe(1);
  expect(smtp.messages.some((m) => m.to.includes(campaign.leads[0]!.email))).toBe(false);
  const [message] = await t.owner.query(sql`select status from app_public.messages where campaign_id = ${campaign.campaignId}`);
  expect(message.status).toBe('queued');
  const [audit] = await t.owner.query(sql`select count(*)::int as n from app_public.audit_log where tenant_id = ${tenant.tenantId} and action = 'email_account.oauth_reconnect_required'`);
  expect(audit.n).toBe(1);
  // The owners and admins are told by email, with what to do.
  const notice = await eventually(async () => readdirSync(worker.outboxDir)
    .map((f) => readFileSync(path.join(worker.outboxDir, f), 'utf8').replace(/=\r?\n/g, '')) // quoted-printable soft breaks
    .find((mail) => mail.includes(address) && mail.includes('Connect the inbox again')), 15_000);
  expect(notice).toMatch(/stopped sending/);

  // It cannot be switched back on by hand; connecting again does it.
  const manual = await t.gql(`mutation($id: UUID!) { updateEmailAccount(input: { rowId: $id, patch: { status: ACTIVE } }) { emailAccount { status } } }`, { id: inboxId }, tenant.token);
  expect(manual.errors?.[0]?.message).toMatch(/connect it again/);
  expect((await callback(await authorize(await start(tenant.token), address))).status).toBe(200);
  expect((await inboxesOf(tenant)).nodes.find((n) => n.rowId === inboxId)).toMatchObject({ status: 'ACTIVE', oauthStatus: 'CONNECTED', lastError: null });
}, 60_000);

test('a temporary failure of the token service is retried by the job, with backoff, until it works', async () => {
  await t.owner.query(sql`update app_private.email_account_credentials set oauth_access_expires_at = now() where email_account_id = ${inboxId}`);
  provider.failNextTokenRequests(1);
  const campaign = await sendOne('After an outage');
  await smtp.waitFor((m) => m.to.includes(campaign.leads[0]!.email), 30_000);
  expect(provider.tokenRequests).toContain('refresh_token:503');
  expect((await inboxesOf(tenant)).nodes.find((n) => n.rowId === inboxId)).toMatchObject({ status: 'ACTIVE', oauthStatus: 'CONNECTED' });
}, 60_000);

test('disconnecting stops the inbox at once and revokes the token at the provider', async () => {
  const revocationsBefore = provider.revocations;
  const data = await t.ok(`mutation($id: UUID!) { disconnectInboxOAuth(input: { emailAccountId: $id }) { revokedAtProvider emailAccount { status oauthStatus } } }`, { id: inboxId }, tenant.token);
  expect(data.disconnectInboxOAuth).toEqual({ revokedAtProvider: true, emailAccount: { status: 'DISABLED', oauthStatus: 'DISCONNECTED' } });
  expect(provider.revocations).toBe(revocationsBefore + 1);
  const [row] = await t.owner.query(sql`select oauth_refresh_token_encrypted as r, oauth_access_token_encrypted as a from app_private.email_account_credentials where email_account_id = ${inboxId}`);
  expect(row).toEqual({ r: null, a: null });
  const again = await t.gql(`mutation($id: UUID!) { disconnectInboxOAuth(input: { emailAccountId: $id }) { revokedAtProvider } }`, { id: inboxId }, tenant.token);
  expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
});

test('with a client app (APP_URL), the callback sends the browser back to it with the outcome', async () => {
  // The product's callback routes, served with an APP_URL, on the same database.
  const ownerPool = new pg.Pool({ connectionString: t.urls.owner, max: 2 });
  const routes = oauthCallbackRoutes({ ownerPool, config: oauthConfigOf(w.env), secretBox: w.box, appUrl: 'https://app.example.test/console/' });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routes.find((r) => r.method === req.method && r.path === url.pathname);
    if (route) void route.handler(req, res, url);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const back = async (search: string) => {
    const response = await fetch(`${base}/oauth/callback${search}`, { redirect: 'manual' });
    expect(response.status).toBe(303);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe('https://app.example.test/console/inbox-connected');
    return Object.fromEntries(location.searchParams);
  };
  try {
    // The inbox disconnected above is connected again.
    const search = await authorize(await start(tenant.token), address);
    expect(await back(search)).toEqual({ status: 'connected', email: address, emailAccountId: inboxId });
    expect((await inboxesOf(tenant)).nodes.find((n) => n.rowId === inboxId)).toMatchObject({ status: 'ACTIVE', oauthStatus: 'CONNECTED' });
    // The same state again: refused, and the app is told why.
    expect(await back(search)).toMatchObject({ status: 'failed', code: 'INVALID_STATE', message: expect.stringMatching(/already/) });
    // The person said no at the provider.
    const state = new URL(await start(tenant.token)).searchParams.get('state')!;
    expect(await back(`?error=access_denied&state=${encodeURIComponent(state)}`)).toMatchObject({ status: 'failed', code: 'REFUSED' });
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await ownerPool.end();
  }
});

test("a Google inbox's daily cap stays within Google's per-mailbox limit; its domain's DNS check expects Google's SPF include", async () => {
  const UPDATE = `mutation($id: UUID!, $n: Int!) { updateEmailAccount(input: { rowId: $id, patch: { dailyLimit: $n } }) { emailAccount { dailyLimit } } }`;
  const over = await t.gql(UPDATE, { id: inboxId, n: 2001 }, tenant.token);
  expect(over.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
  expect(over.errors?.[0]?.message).toMatch(/at most 2,000 messages a day/);
  expect((await inboxesOf(tenant)).nodes.find((n) => n.rowId === inboxId).dailyLimit).not.toBe(2001);
  expect((await t.ok(UPDATE, { id: inboxId, n: 2000 }, tenant.token)).updateEmailAccount.emailAccount.dailyLimit).toBe(2000);
  await t.ok(UPDATE, { id: inboxId, n: 100 }, tenant.token);

  const [{ domain_id: domainId }] = await t.owner.query(sql`select domain_id from app_public.email_accounts where id = ${inboxId}`);
  const [plan] = await t.owner.query(sql`select app_private.domain_check_plan(${tenant.tenantId}, ${domainId}) as p`);
  expect(plan.p.inbox_providers).toEqual(['google']);
});

test('a Microsoft inbox connects with the SMTP and IMAP scopes and its address from the ID token; it has no revocation endpoint', async () => {
  const ms = await createTenant(w, 'oauth-microsoft');
  const msSender = await createSender(w, ms.tenantId, []);
  const data = await t.ok(START, { p: 'MICROSOFT' }, ms.token);
  const url = new URL(data.startInboxOAuth.authorizationUrl);
  expect(`${url.origin}${url.pathname}`).toBe(`${microsoft.url}/authorize`);
  expect(url.searchParams.get('scope')).toBe(
    'https://outlook.office.com/SMTP.Send https://outlook.office.com/IMAP.AccessAsUser.All offline_access openid email');
  const mailbox = `Owner@${msSender.domain}`;
  expect((await callback(await authorize(url.toString(), mailbox))).status).toBe(200);
  const [inbox] = (await inboxesOf(ms)).nodes;
  expect(inbox).toMatchObject({ email: mailbox.toLowerCase(), provider: 'MICROSOFT', status: 'ACTIVE', oauthStatus: 'CONNECTED' });
  const gone = await t.ok(`mutation($id: UUID!) { disconnectInboxOAuth(input: { emailAccountId: $id }) { revokedAtProvider emailAccount { status } } }`, { id: inbox.rowId }, ms.token);
  expect(gone.disconnectInboxOAuth).toEqual({ revokedAtProvider: false, emailAccount: { status: 'DISABLED' } });
  expect(microsoft.revocations).toBe(0);
});

test('no token issued by the providers appears in any log line', () => {
  const lines = logs.lines().join('\n');
  expect(lines.length).toBeGreaterThan(0);
  for (const secret of [...provider.issued(), ...microsoft.issued()]) expect(lines).not.toContain(secret);
});
