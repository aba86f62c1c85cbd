/**
 * The tracking endpoints over real HTTP on 127.0.0.1: the open pixel, the
 * click redirect (never an open redirect), and RFC 8058 one-click
 * unsubscribe, each recording through record_email_event() what the signed
 * token names, and nothing for a forged one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { PREVIEW_MESSAGE_ID } from '../../src/sending/render.ts';
import { trackingRoutes } from '../../src/tracking/routes.ts';
import { makeTrackingTokens, trackingKeyFrom, type TrackingLinks } from '../../src/tracking/tokens.ts';
import { startTestApi, type TestApi, IN_PROCESS_SETUP_TIMEOUT_MS } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { createSendingTenant, eventsOf, insertSentMessage, messageState, type SendingTenant, type SentMessage } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

const tokens = makeTrackingTokens(trackingKeyFrom(randomBytes(32).toString('hex')));
/** Someone else's key: tokens that look right but were not signed by us. */
const forger = makeTrackingTokens(trackingKeyFrom(randomBytes(32).toString('hex')));
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

let t: TestApi;
let tenant: SendingTenant;

beforeAll(async () => {
  t = await startTestApi({}, (api) => trackingRoutes({ pool: api.ownerPool, tokens }));
  tenant = await createSendingTenant(t.owner, 'tracking', { leads: 16 });
}, IN_PROCESS_SETUP_TIMEOUT_MS);
afterAll(async () => {
  await t.close();
});

let nextLead = 0;
/** A fresh sent message (to its own lead) and its links on the test server. */
async function sentMessage(): Promise<{ message: SentMessage; links: TrackingLinks; lead: SendingTenant['leads'][number] }> {
  const lead = tenant.leads[nextLead++]!;
  const message = await insertSentMessage(t.owner, tenant, lead);
  return { message, lead, links: tokens.links(t.url, { tenantId: tenant.tenantId, messageId: message.id }) };
}

const get = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { redirect: 'manual', headers: { 'user-agent': BROWSER, ...headers } });

/** Reads a GIF's logical screen size and whether its graphic control extension marks a transparent colour. */
function gifInfo(bytes: Buffer) {
  const gce = bytes.indexOf(Buffer.from([0x21, 0xf9, 0x04]));
  return {
    signature: bytes.subarray(0, 6).toString('latin1'),
    width: bytes.readUInt16LE(6),
    height: bytes.readUInt16LE(8),
    transparent: gce >= 0 && (bytes[gce + 3]! & 0x01) === 1,
    trailer: bytes[bytes.length - 1],
  };
}

describe('open pixel', () => {
  test('answers a 1×1 transparent GIF that nothing may cache, and records the open with IP and user agent', async () => {
    const { message, links } = await sentMessage();
    expect(links.openPixel).toMatch(/\/t\/o\/[\w-]+\.[\w-]+\.gif$/);
    // X-Forwarded-For is ignored unless the server is told it runs behind a proxy.
    const response = await get(links.openPixel, { 'x-forwarded-for': '203.0.113.9' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/gif');
    expect(response.headers.get('cache-control')).toMatch(/no-store/);
    expect(response.headers.get('pragma')).toBe('no-cache');
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(response.headers.get('content-length')).toBe(String(bytes.length));
    expect(gifInfo(bytes)).toEqual({ signature: 'GIF89a', width: 1, height: 1, transparent: true, trailer: 0x3b });

    const events = await eventually(async () => {
      const rows = await eventsOf(t.owner, tenant.tenantId, message.id);
      return rows.length ? rows : null;
    });
    expect(events).toEqual([{ event_type: 'open', ip: '127.0.0.1', user_agent: BROWSER, link_url: null, metadata: {} }]);
    const [row] = await t.owner.query(sql`select status, opened_at is not null as opened from app_public.messages where tenant_id = ${tenant.tenantId} and id = ${message.id}`);
    expect(row).toEqual({ status: 'opened', opened: true });
  });

  test('a forged, damaged or unknown token gets the same GIF and records nothing', async () => {
    const { message, links } = await sentMessage();
    const ref = { tenantId: tenant.tenantId, messageId: message.id };
    const forged = forger.links(t.url, ref).openPixel;
    const [body, mac] = links.openPixel.split('/t/o/')[1]!.replace(/\.gif$/, '').split('.') as [string, string];
    const damaged = `${t.url}/t/o/${body}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}.gif`;
    const unknown = tokens.links(t.url, { tenantId: tenant.tenantId, messageId: randomUUID() }).openPixel;
    const otherTenant = tokens.links(t.url, { tenantId: randomUUID(), messageId: message.id }).openPixel;
    for (const url of [forged, damaged, unknown, otherTenant, `${t.url}/t/o/not-a-token.gif`]) {
      const response = await get(url);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).subarray(0, 6).toString()).toBe('GIF89a');
    }
    // A genuine open of the same message afterwards is recorded, and is the only event.
    await get(links.openPixel);
    const events = await eventually(async () => {
      const rows = await eventsOf(t.owner, tenant.tenantId, message.id);
      return rows.length ? rows : null;
    });
    expect(events.map((e) => e.event_type)).toEqual(['open']);
  });

  test('a self-declared link scanner is recorded as automated and does not mark the message opened', async () => {
    const { message, links } = await sentMessage();
    await get(links.openPixel, { 'user-agent': 'Mozilla/5.0 (compatible; Barracuda Sentinel link protection)' });
    const events = await eventually(async () => {
      const rows = await eventsOf(t.owner, tenant.tenantId, message.id);
      return rows.length ? rows : null;
    });
    expect(events[0]).toMatchObject({ event_type: 'open', metadata: { automated: true, agent: 'barracuda' } });
    expect((await messageState(t.owner, tenant.tenantId, message.id)).status).toBe('sent');
  });
});

describe('click redirect', () => {
  const target = 'https://example.com/pricing?plan=pro&utm_source=mail&note=a%20b#faq';

  test('a signed link records the click with its URL and redirects to exactly that target', async () => {
    const { message, links } = await sentMessage();
    const response = await get(links.click(target));
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(target);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const events = await eventsOf(t.owner, tenant.tenantId, message.id);
    expect(events).toEqual([{ event_type: 'click', ip: '127.0.0.1', user_agent: BROWSER, link_url: target, metadata: {} }]);
    const [row] = await t.owner.query(sql`select status, opened_at is not null as opened, clicked_at is not null as clicked from app_public.messages where tenant_id = ${tenant.tenantId} and id = ${message.id}`);
    expect(row).toEqual({ status: 'clicked', opened: true, clicked: true });
  });

  test('a changed target, a missing or forged signature, or a forged token gets a 400 page and no redirect', async () => {
    const { message, links } = await sentMessage();
    const good = new URL(links.click(target));
    const swapped = new URL(good);
    swapped.searchParams.set('u', 'https://evil.example/phish');
    const unsigned = new URL(good);
    unsigned.searchParams.delete('s');
    const badSignature = new URL(good);
    badSignature.searchParams.set('s', forger.signTarget(good.pathname.split('/').pop()!, target));
    const forgedToken = forger.links(t.url, { tenantId: tenant.tenantId, messageId: message.id }).click(target);
    for (const url of [swapped.href, unsigned.href, badSignature.href, forgedToken, `${t.url}/t/c/garbage?u=${encodeURIComponent(target)}&s=x`]) {
      const response = await get(url);
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.get('x-error-code')).toBe('INVALID_LINK');
      expect(await response.text()).toMatch(/This link is not valid/);
    }
    expect(await eventsOf(t.owner, tenant.tenantId, message.id)).toEqual([]);
  });

  test('a link carrying the preview placeholder message id (what previews used to contain) is refused: no redirect, nothing recorded', async () => {
    const preview = tokens.links(t.url, { tenantId: tenant.tenantId, messageId: PREVIEW_MESSAGE_ID });
    const click = await get(preview.click('https://evil.example/phish'));
    expect(click.status).toBe(400);
    expect(click.headers.get('location')).toBeNull();
    expect(click.headers.get('x-error-code')).toBe('INVALID_LINK');
    expect((await get(preview.unsubscribe)).status).toBe(404);
    const unsubscribe = await fetch(preview.unsubscribe, { method: 'POST', body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }) });
    expect(unsubscribe.status).toBe(404);
    expect((await get(preview.openPixel)).status).toBe(200); // the image, as for any token
    expect(await t.owner.query(sql`select 1 from app_public.email_events where tenant_id = ${tenant.tenantId} and message_id = ${PREVIEW_MESSAGE_ID}`)).toEqual([]);
  });

  test('a signed link to something other than a web page is refused', async () => {
    const { message, links } = await sentMessage();
    const response = await get(links.click('javascript:alert(document.cookie)'));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('x-error-code')).toBe('INVALID_TARGET');
    expect(await eventsOf(t.owner, tenant.tenantId, message.id)).toEqual([]);
  });

  test('a HEAD request from a link checker is answered but not counted; a link of a deleted message still works', async () => {
    const { message, links } = await sentMessage();
    const head = await fetch(links.click(target), { method: 'HEAD', redirect: 'manual' });
    expect([head.status, head.headers.get('location')]).toEqual([302, target]);
    expect(await eventsOf(t.owner, tenant.tenantId, message.id)).toEqual([]);

    const gone = tokens.links(t.url, { tenantId: tenant.tenantId, messageId: randomUUID() }).click(target);
    const response = await get(gone);
    expect([response.status, response.headers.get('location')]).toEqual([302, target]);
  });
});

describe('unsubscribe', () => {
  const ONE_CLICK = 'List-Unsubscribe=One-Click';
  const post = (url: string, body: string | FormData | null, contentType?: string) =>
    fetch(url, { method: 'POST', body, headers: { 'user-agent': BROWSER, ...(contentType ? { 'content-type': contentType } : {}) } });

  test('GET shows a confirmation page with a form that POSTs, and unsubscribes nobody', async () => {
    const { message, links, lead } = await sentMessage();
    const response = await get(links.unsubscribe);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toMatch(/no-store/);
    const html = await response.text();
    expect(html).toMatch(/<form method="post">/);
    expect(html).toContain('<input type="hidden" name="List-Unsubscribe" value="One-Click">');
    expect(html).toContain('Sam from Acme');
    expect(html).toContain(`l•••@customer-`);
    expect(html).not.toContain(lead.email);
    expect(await messageState(t.owner, tenant.tenantId, message.id)).toEqual({
      status: 'sent', enrollment: 'active', stop_reason: null, lead: 'active', suppressed: false,
    });
    expect(await eventsOf(t.owner, tenant.tenantId, message.id)).toEqual([]);
  });

  test('a one-click POST unsubscribes at once: lead unsubscribed and suppressed, sequence stopped; repeating it is harmless', async () => {
    const { message, links } = await sentMessage();
    const response = await post(links.unsubscribe, ONE_CLICK, 'application/x-www-form-urlencoded');
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/You are unsubscribed/);
    expect(await messageState(t.owner, tenant.tenantId, message.id)).toEqual({
      status: 'sent', enrollment: 'unsubscribed', stop_reason: 'unsubscribed', lead: 'unsubscribed', suppressed: true,
    });
    const again = await post(links.unsubscribe, ONE_CLICK, 'application/x-www-form-urlencoded');
    expect(again.status).toBe(200);
    const events = await eventsOf(t.owner, tenant.tenantId, message.id);
    expect(events).toEqual([{ event_type: 'unsubscribe', ip: '127.0.0.1', user_agent: BROWSER, link_url: null, metadata: { method: 'one_click' } }]);
    // The page now says so instead of asking again.
    expect(await (await get(links.unsubscribe)).text()).toMatch(/already unsubscribed/);
  });

  test('multipart/form-data (what RFC 8058 recommends) works too, and two simultaneous POSTs count once', async () => {
    const { message, links } = await sentMessage();
    const form = () => {
      const f = new FormData();
      f.set('List-Unsubscribe', 'One-Click');
      return f;
    };
    const responses = await Promise.all([post(links.unsubscribe, form()), post(links.unsubscribe, form())]);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    const events = await eventsOf(t.owner, tenant.tenantId, message.id);
    expect(events.map((e) => e.event_type)).toEqual(['unsubscribe']);
    expect((await messageState(t.owner, tenant.tenantId, message.id)).lead).toBe('unsubscribed');
  });

  test('submitting the confirmation page unsubscribes', async () => {
    const { message, links } = await sentMessage();
    const html = await (await get(links.unsubscribe)).text();
    const fields = new URLSearchParams([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]+)">/g)].map((m): [string, string] => [m[1]!, m[2]!]));
    // The form has no action: it posts back to the page's own URL.
    const response = await post(links.unsubscribe, fields.toString(), 'application/x-www-form-urlencoded');
    expect(response.status).toBe(200);
    expect(await eventsOf(t.owner, tenant.tenantId, message.id)).toMatchObject([{ event_type: 'unsubscribe', metadata: { method: 'confirmation_page' } }]);
    expect(await messageState(t.owner, tenant.tenantId, message.id)).toMatchObject({ lead: 'unsubscribed', suppressed: true });
  });

  test('a POST without the one-click field, or with another body type, is refused and changes nothing', async () => {
    const { message, links } = await sentMessage();
    const empty = await post(links.unsubscribe, null);
    expect(empty.status).toBe(400);
    expect(empty.headers.get('x-error-code')).toBe('MISSING_ONE_CLICK');
    expect(await empty.text()).toContain('List-Unsubscribe=One-Click (RFC 8058)');
    const json = await post(links.unsubscribe, JSON.stringify({ 'List-Unsubscribe': 'One-Click' }), 'application/json');
    expect([json.status, json.headers.get('x-error-code')]).toEqual([415, 'UNSUPPORTED_BODY']);
    const huge = await post(links.unsubscribe, `${ONE_CLICK}&pad=${'x'.repeat(20_000)}`, 'application/x-www-form-urlencoded');
    expect([huge.status, huge.headers.get('x-error-code')]).toEqual([413, 'BODY_TOO_LARGE']);
    expect(await eventsOf(t.owner, tenant.tenantId, message.id)).toEqual([]);
    expect((await messageState(t.owner, tenant.tenantId, message.id)).lead).toBe('active');
  });

  test('a forged or unknown token gets the same neutral 404 and unsubscribes nobody', async () => {
    const { message, lead } = await sentMessage();
    const ref = { tenantId: tenant.tenantId, messageId: message.id };
    const forged = forger.links(t.url, ref).unsubscribe;
    const unknown = tokens.links(t.url, { tenantId: tenant.tenantId, messageId: randomUUID() }).unsubscribe;
    for (const url of [forged, unknown]) {
      const page = await get(url);
      expect([page.status, page.headers.get('x-error-code')]).toEqual([404, 'INVALID_LINK']);
      const response = await post(url, ONE_CLICK, 'application/x-www-form-urlencoded');
      expect([response.status, response.headers.get('x-error-code')]).toEqual([404, 'INVALID_LINK']);
    }
    expect(await eventsOf(t.owner, tenant.tenantId, message.id)).toEqual([]);
    const [{ suppressed }] = await t.owner.query(sql`
      select count(*)::int as suppressed from app_public.suppressions where tenant_id = ${tenant.tenantId} and email = ${lead.email}
    `);
    expect(suppressed).toBe(0);
  });

  test('a message without a lead still suppresses its recipient address', async () => {
    const { message, links, lead } = await sentMessage();
    await t.owner.query(sql`update app_public.messages set lead_id = null, enrollment_id = null where tenant_id = ${tenant.tenantId} and id = ${message.id}`);
    const response = await post(links.unsubscribe, ONE_CLICK, 'application/x-www-form-urlencoded');
    expect(response.status).toBe(200);
    const [row] = await t.owner.query(sql`
      select reason from app_public.suppressions where tenant_id = ${tenant.tenantId} and email = ${lead.email}
    `);
    expect(row).toEqual({ reason: 'unsubscribed' });
  });
});
