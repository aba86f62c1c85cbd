/**
 * Custom tracking domains (plans with white_label) over real peers: the
 * GraphQL API and the tracking endpoints on 127.0.0.1, a real DNS server on
 * 127.0.0.1 that the worker's resolver asks (DNS_SERVERS), a real SMTP server
 * receiving the campaign mail. A tenant adds its host, publishes the CNAME,
 * and its mail's open, click and unsubscribe links (and List-Unsubscribe
 * header) use that host; a click sent to the platform with that Host header
 * is recorded; the host gives no authority (the signed token does); plans
 * without white label are refused and, after a downgrade, fall back to
 * PUBLIC_URL; two organisations never both hold a verified host; a verified
 * host that stops resolving fails; GET /tls/allowed answers a reverse proxy.
 */
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { secretsKeyOf } from '../../src/config.ts';
import { sql } from '../../src/db/pg.ts';
import { trackingRoutes } from '../../src/tracking/routes.ts';
import { tlsAllowedRoutes } from '../../src/tracking/tls-allowed.ts';
import { makeTrackingTokens, trackingKeyFrom } from '../../src/tracking/tokens.ts';
import { testEnv } from '../helpers/api.ts';
import { putTenantOnPlan } from '../helpers/billing.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { eventually } from '../helpers/eventually.ts';
import { uniqueDomain } from '../helpers/unique.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';
import {
  addMember,
  createCampaign,
  createSender,
  createTenant,
  header,
  lifecycle,
  nextMonday,
  setClock,
  startWorld,
  type TestTenant,
  type World,
} from '../sending/support/world.ts';
import { createSendingTenant, eventsOf, insertSentMessage } from './fixtures.ts';

/** The platform's tracking host every tracking domain must be a CNAME to (TRACKING_CNAME_TARGET). */
const TARGET = 'track.platform.test';
const tokens = makeTrackingTokens(trackingKeyFrom(secretsKeyOf(testEnv())));
const forger = makeTrackingTokens(trackingKeyFrom(randomBytes(32).toString('hex')));
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

let w: World;
let dns: TestDnsServer;
let worker: TestWorker;

beforeAll(async () => {
  dns = await startDnsServer();
  w = await startWorld({
    worker: false,
    routes: (api) => [...trackingRoutes({ pool: api.ownerPool, tokens }), ...tlsAllowedRoutes({ pool: api.ownerPool })],
  });
  worker = await startTestWorker(
    w.t.urls.owner,
    testEnv({ LOG_LEVEL: 'error', DNS_SERVERS: dns.address, DNS_TIMEOUT_MS: '3000', DNS_TRIES: '1', TRACKING_CNAME_TARGET: TARGET }),
    { deps: { sending: { publicUrl: w.t.url, smtp: { timeoutMs: 5_000 } } }, pollInterval: 100 },
  );
  await setClock(w, await nextMonday(w, 9));
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await w?.close();
  await dns?.close();
});

const FIELDS = 'rowId hostname status verifiedAt lastError expectedTarget lastCheckedAt nextCheckAt';
const ADD = `mutation($h: String!) { addTrackingDomain(input: { hostname: $h }) { result { ${FIELDS} } } }`;
const VERIFY = `mutation($id: UUID!) { verifyTrackingDomain(input: { trackingDomainId: $id }) { result { rowId } } }`;
const LIST = `query { trackingDomains { nodes { ${FIELDS} } } }`;
const DELETE = `mutation($id: UUID!) { deleteTrackingDomain(input: { rowId: $id }) { deletedTrackingDomainRowId } }`;

interface TrackingDomainView {
  rowId: string;
  hostname: string;
  status: string;
  verifiedAt: string | null;
  lastError: string | null;
  expectedTarget: string | null;
  lastCheckedAt: string | null;
  nextCheckAt: string | null;
}

async function trackingDomainOf(org: TestTenant): Promise<TrackingDomainView | null> {
  const data = await w.t.ok(LIST, {}, org.token);
  return data.trackingDomains.nodes[0] ?? null;
}

/** Waits until the organisation's tracking domain was checked after `after` and matches. */
async function checked(org: TestTenant, after: Date, match: (d: TrackingDomainView) => boolean, what: string): Promise<TrackingDomainView> {
  try {
    return await eventually(async () => {
      const d = await trackingDomainOf(org);
      return d && d.lastCheckedAt && new Date(d.lastCheckedAt) > after && match(d) ? d : null;
    }, 30_000);
  } catch (error) {
    throw new Error(`${what}: ${(error as Error).message}; now ${JSON.stringify(await trackingDomainOf(org))}`);
  }
}

/** The organisation's verified sending domain a tracking host must be under (the host without its first label). */
async function ownParentDomain(org: TestTenant, hostname: string): Promise<string> {
  const parent = hostname.toLowerCase().replace(/\.$/, '').split('.').slice(1).join('.');
  await w.t.owner.query(sql`
    insert into app_public.domains (tenant_id, domain, verification_status, verified_at)
    values (${org.tenantId}, ${parent}, 'verified', now())
    on conflict (tenant_id, domain) do update set verification_status = 'verified', verified_at = excluded.verified_at`);
  return parent;
}

async function add(org: TestTenant, hostname: string): Promise<TrackingDomainView> {
  await ownParentDomain(org, hostname);
  return (await w.t.ok(ADD, { h: hostname }, org.token)).addTrackingDomain.result;
}

async function verifyNow(org: TestTenant, id: string, match: (d: TrackingDomainView) => boolean, what: string): Promise<TrackingDomainView> {
  const [{ now }] = await w.t.owner.query(sql`select clock_timestamp() as now`);
  await w.t.ok(VERIFY, { id }, org.token);
  return checked(org, now, match, what);
}

const publishCname = (host: string) => dns.set(host, [{ type: 'CNAME', target: TARGET, ttl: 300 }]);

/** A GET to the platform's server (w.t.url) for a link on any host, sent with the link's Host header, as a proxy for that host would. */
function getOnPlatform(link: string): Promise<{ status: number; location: string | undefined }> {
  const url = new URL(link);
  const platform = new URL(w.t.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: platform.hostname, port: platform.port, method: 'GET', path: url.pathname + url.search, headers: { host: url.host, 'user-agent': BROWSER } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const tlsAllowed = async (domain: string | null) =>
  (await fetch(`${w.t.url}/tls/allowed${domain === null ? '' : `?domain=${encodeURIComponent(domain)}`}`)).status;

/** Sends a one-step campaign to one lead and returns the received mail and its message id. */
async function sendOne(org: TestTenant) {
  const sender = await createSender(w, org.tenantId);
  const campaign = await createCampaign(w, org.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email', subject: 'Offer', html: '<p>Hi {{ lead.first_name }}, see <a href="https://example.com/offer">the offer</a>.</p>' }],
  });
  const started = await lifecycle(w, org.token, 'start', campaign.campaignId);
  expect(started.error).toBeNull();
  const lead = campaign.leads[0]!;
  const mail = await w.smtp.waitFor((m) => m.to.includes(lead.email), 20_000);
  const [message] = await w.t.owner.query(sql`
    select id from app_public.messages where tenant_id = ${org.tenantId} and campaign_id = ${campaign.campaignId} and direction = 'outbound'`);
  const html = mail.parsed.html || '';
  return {
    mail,
    messageId: message.id as string,
    pixel: /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(html)?.[1] ?? '',
    click: (/<a href="([^"]+\/t\/c\/[^"]+)"/.exec(html)?.[1] ?? '').replace(/&amp;/g, '&'),
    unsubscribe: /<(.+)>/.exec(header(mail, 'list-unsubscribe') ?? '')?.[1] ?? '',
    text: mail.parsed.text ?? '',
  };
}

test('a plan without white label cannot add a tracking domain, and a member below admin cannot either', async () => {
  const pro = await createTenant(w, 'td-pro', 'pro');
  const refused = await w.t.gql(ADD, { h: `track.${uniqueDomain('pro')}` }, pro.token);
  expect(refused.errors?.[0]?.extensions?.code).toBe('PLAN_LIMIT_REACHED');
  expect(refused.errors?.[0]?.message).toMatch(/Your plan \(Pro\) does not include a custom tracking domain/);
  expect(await trackingDomainOf(pro)).toBeNull();

  const enterprise = await createTenant(w, 'td-roles', 'enterprise');
  const member = await addMember(w, enterprise.tenantId, 'td-member', ['member']);
  const forbidden = await w.t.gql(ADD, { h: `track.${uniqueDomain('roles')}` }, member.token);
  expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  const invalid = await w.t.gql(ADD, { h: 'not a host' }, enterprise.token);
  expect(invalid.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
  // A host the organisation has not shown it controls: not under one of its verified sending domains.
  const foreign = `track.${uniqueDomain('someone-else')}`;
  const notOurs = await w.t.gql(ADD, { h: foreign }, enterprise.token);
  expect(notOurs.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
  expect(notOurs.errors?.[0]?.message).toBe(`${foreign} is not under one of this organisation's verified sending domains; use a subdomain of one (such as track.<your domain>), or verify its domain first.`);
  await w.t.owner.query(sql`
    insert into app_public.domains (tenant_id, domain, verification_status) values (${enterprise.tenantId}, ${foreign.slice('track.'.length)}, 'pending')`);
  expect((await w.t.gql(ADD, { h: foreign }, enterprise.token)).errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
  expect(await trackingDomainOf(enterprise)).toBeNull();
});

test('a verified tracking domain carries the links of sent mail; a click on it is recorded; a downgrade falls back to PUBLIC_URL', async () => {
  const org = await createTenant(w, 'td-acme', 'enterprise');
  const host = `track.${uniqueDomain('acme')}`;
  const since = new Date(Date.now() - 1000);

  // Without the CNAME the first check (queued by the add) fails and says what to publish.
  const added = await add(org, host.toUpperCase() + '.');
  expect(added).toMatchObject({ hostname: host, status: 'PENDING' });
  const failed = await checked(org, since, (d) => d.status === 'FAILED', 'the first check');
  expect(failed.lastError).toBe(`No CNAME record at ${host}: publish CNAME ${TARGET}.`);
  expect(failed.expectedTarget).toBe(TARGET);
  expect(await tlsAllowed(host)).toBe(404);
  // One per organisation.
  const second = await w.t.gql(ADD, { h: `other.${host}` }, org.token);
  expect(second.errors?.[0]?.extensions?.code).toBe('CONFLICT');

  // A CNAME elsewhere is wrong, the platform's target verifies.
  dns.set(host, [{ type: 'CNAME', target: 'elsewhere.example', ttl: 300 }]);
  const wrong = await verifyNow(org, added.rowId, (d) => d.status === 'FAILED', 'a wrong CNAME');
  expect(wrong.lastError).toBe(`The CNAME record at ${host} points to elsewhere.example; expected ${TARGET}.`);
  publishCname(host);
  const verified = await verifyNow(org, added.rowId, (d) => d.status === 'VERIFIED', 'the published CNAME');
  expect(verified.lastError).toBeNull();
  expect(verified.verifiedAt).not.toBeNull();
  expect(new Date(verified.nextCheckAt!).getTime() - new Date(verified.lastCheckedAt!).getTime()).toBe(24 * 3600_000);

  // The reverse proxy may get a certificate for it (any case, a trailing dot), for nothing else.
  expect(await tlsAllowed(host)).toBe(200);
  expect(await tlsAllowed(host.toUpperCase() + '.')).toBe(200);
  expect(await tlsAllowed(`x.${host}`)).toBe(404);
  expect(await tlsAllowed('not a host')).toBe(404);
  expect(await tlsAllowed(null)).toBe(404);

  // Sent mail: every tracking link is on the custom host (PUBLIC_URL's scheme and port, as PUBLIC_URL is http here).
  const platform = new URL(w.t.url);
  const custom = `http://${host}:${platform.port}/`;
  const sent = await sendOne(org);
  expect(sent.pixel.startsWith(`${custom}t/o/`)).toBe(true);
  expect(sent.click.startsWith(`${custom}t/c/`)).toBe(true);
  expect(sent.unsubscribe.startsWith(`${custom}u/`)).toBe(true);
  expect(sent.text).toContain(`Unsubscribe: ${sent.unsubscribe}`);
  expect(sent.mail.raw.toString()).not.toContain(platform.host);

  // The recipient clicks: the request reaches the platform with the custom Host header and is recorded.
  expect(await getOnPlatform(sent.click)).toEqual({ status: 302, location: 'https://example.com/offer' });
  expect(await getOnPlatform(sent.pixel)).toMatchObject({ status: 200 });
  const events = await eventually(async () => {
    const rows = await eventsOf(w.t.owner, org.tenantId, sent.messageId);
    return rows.some((e) => e.event_type === 'click') && rows.some((e) => e.event_type === 'open') && rows;
  });
  expect(events.find((e) => e.event_type === 'click')).toMatchObject({ link_url: 'https://example.com/offer', user_agent: BROWSER });

  // The host gives no authority: another organisation's signed link works on it (for that organisation's
  // message, which the token names), a forged one does not.
  const other = await createSendingTenant(w.t.owner, 'td-other', { leads: 1 });
  const otherMessage = await insertSentMessage(w.t.owner, other, other.leads[0]!);
  const otherLinks = tokens.links(`http://${host}:${platform.port}`, { tenantId: other.tenantId, messageId: otherMessage.id });
  expect(await getOnPlatform(otherLinks.click('https://example.com/other'))).toEqual({ status: 302, location: 'https://example.com/other' });
  await eventually(async () => (await eventsOf(w.t.owner, other.tenantId, otherMessage.id)).some((e) => e.event_type === 'click'));
  expect((await eventsOf(w.t.owner, org.tenantId, sent.messageId)).filter((e) => e.event_type === 'click')).toHaveLength(1);
  const forged = forger.links(`http://${host}:${platform.port}`, { tenantId: org.tenantId, messageId: sent.messageId });
  expect((await getOnPlatform(forged.click('https://example.com/offer'))).status).toBe(400);

  // Downgrade: the plan loses white label; links fall back to PUBLIC_URL and no certificate is allowed.
  await putTenantOnPlan(w.t.owner, org.tenantId, 'pro');
  const after = await sendOne(org);
  expect(after.click.startsWith(`${w.t.url}/t/c/`)).toBe(true);
  expect(after.pixel.startsWith(`${w.t.url}/t/o/`)).toBe(true);
  expect(after.unsubscribe.startsWith(`${w.t.url}/u/`)).toBe(true);
  expect(after.mail.raw.toString()).not.toContain(host);
  expect(await tlsAllowed(host)).toBe(404);
  // Upgrading again restores the custom host.
  await putTenantOnPlan(w.t.owner, org.tenantId, 'enterprise');
  expect(await tlsAllowed(host)).toBe(200);
}, 120_000);

test('two organisations never both hold a verified host; removing it frees the host', async () => {
  const first = await createTenant(w, 'td-first', 'enterprise');
  const second = await createTenant(w, 'td-second', 'enterprise');
  const host = `links.${uniqueDomain('shared')}`;
  // Both add it before either verifies (nothing is claimed yet): the checks the adds queue fail; then the CNAME appears.
  const since = new Date(Date.now() - 1000);
  const a = await add(first, host);
  const b = await add(second, host);
  await checked(first, since, (d) => d.status === 'FAILED', 'the first add');
  await checked(second, since, (d) => d.status === 'FAILED', 'the second add');
  publishCname(host);
  await verifyNow(first, a.rowId, (d) => d.status === 'VERIFIED', 'the first organisation');
  const refused = await verifyNow(second, b.rowId, (d) => d.status === 'FAILED', 'the second organisation');
  expect(refused.lastError).toBe(`${host} is already the verified tracking domain of another organisation; a host can serve one organisation only.`);
  // A third cannot even add it while it is held.
  const third = await createTenant(w, 'td-third', 'enterprise');
  await ownParentDomain(third, host);
  const taken = await w.t.gql(ADD, { h: host }, third.token);
  expect(taken.errors?.[0]?.extensions?.code).toBe('ALREADY_EXISTS');
  const [claims] = await w.t.owner.query(sql`select count(*)::int as n, min(tenant_id::text) as tenant from app_private.tracking_domain_claims where hostname = ${host}`);
  expect(claims).toEqual({ n: 1, tenant: first.tenantId });

  // The first removes it (owners and admins): the second may now verify it.
  expect((await w.t.ok(DELETE, { id: a.rowId }, first.token)).deleteTrackingDomain.deletedTrackingDomainRowId).toBe(a.rowId);
  expect(await tlsAllowed(host)).toBe(404);
  await verifyNow(second, b.rowId, (d) => d.status === 'VERIFIED', 'the second organisation after the removal');
  expect(await tlsAllowed(host)).toBe(200);
  const [claim] = await w.t.owner.query(sql`select tenant_id::text as tenant from app_private.tracking_domain_claims where hostname = ${host}`);
  expect(claim.tenant).toBe(second.tenantId);
}, 90_000);

test('periodic re-checks: a temporary DNS failure keeps a verified host, a host that stops resolving fails and loses its certificate', async () => {
  const org = await createTenant(w, 'td-recheck', 'enterprise');
  const host = `t.${uniqueDomain('recheck')}`;
  publishCname(host);
  const since = new Date(Date.now() - 1000);
  const added = await add(org, host);
  await checked(org, since, (d) => d.status === 'VERIFIED', 'the first check');

  // What the every-minute sweep does once the next check is due.
  const recheck = async (match: (d: TrackingDomainView) => boolean, what: string) => {
    const [{ now }] = await w.t.owner.query(sql`select clock_timestamp() as now`);
    await w.t.owner.query(sql`update app_public.tracking_domains set next_check_at = now() - interval '1 second' where tenant_id = ${org.tenantId} and id = ${added.rowId}`);
    const [{ n }] = await w.t.owner.query(sql`select app_private.queue_due_tracking_domain_checks() as n`);
    expect(n).toBeGreaterThanOrEqual(1);
    return checked(org, now, match, what);
  };

  dns.fail(host, 'servfail');
  const kept = await recheck((d) => d.lastError !== null, 'a SERVFAIL');
  expect(kept.status).toBe('VERIFIED');
  expect(kept.lastError).toMatch(/^Still verified; a temporary DNS problem will be retried: Could not check the CNAME record of /);
  expect(await tlsAllowed(host)).toBe(200);

  dns.fail(host, null);
  dns.set(host, []);
  const gone = await recheck((d) => d.status === 'FAILED', 'the removed CNAME');
  expect(gone.lastError).toBe(`No CNAME record at ${host}: publish CNAME ${TARGET}.`);
  expect(gone.verifiedAt).toBeNull();
  expect(await tlsAllowed(host)).toBe(404);
  const [{ n }] = await w.t.owner.query(sql`select count(*)::int as n from app_private.tracking_domain_claims where hostname = ${host}`);
  expect(n).toBe(0);

  // Verified again, then the sending domain it belongs to stops verifying: the next check fails it.
  publishCname(host);
  await recheck((d) => d.status === 'VERIFIED', 'the CNAME back');
  await w.t.owner.query(sql`
    update app_public.domains set verification_status = 'failed' where tenant_id = ${org.tenantId} and domain = ${host.split('.').slice(1).join('.')}`);
  const orphaned = await recheck((d) => d.status === 'FAILED', 'the sending domain failed');
  expect(orphaned.lastError).toBe(`${host} is not under a verified sending domain of this organisation; verify that domain first.`);
  expect(await tlsAllowed(host)).toBe(404);
}, 90_000);
