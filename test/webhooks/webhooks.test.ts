/**
 * Signed outbound webhooks end to end: subscriptions created through the API,
 * events written by the triggers of the tables where things happen, posted by
 * a real worker to a real HTTP receiver on 127.0.0.1 that verifies every
 * signature with its own Standard Webhooks implementation (receiver.ts), and
 * fails, hangs and comes back on purpose.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';
import { startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { memberWithRoles, ownedTenant, type Member } from '../api/fixtures.ts';
import { eventually } from '../helpers/eventually.ts';
import { uniqueEmail } from '../helpers/unique.ts';
import { startReceiver, verifies, type Receiver } from './receiver.ts';
import { sql } from '../../src/db/pg.ts';

let t: TestApi;
let worker: TestWorker;
let receiver: Receiver;
let dataDir: string;
let admin: Member;

// Retries fast enough for a test: 150 ms doubling to 600 ms, 4 attempts, 800 ms per attempt.
const RETRY = { baseMs: 150, capMs: 600, maxAttempts: 4, timeoutMs: 800 };

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'pm-webhooks-'));
  t = await startTestApi({ PM_DATA_DIR: dataDir });
  const env = testEnv({ PM_DATA_DIR: dataDir, LOG_LEVEL: 'error' });
  worker = await startTestWorker(t.urls.owner, env, { deps: { webhooks: RETRY }, outboxDir: path.join(dataDir, 'outbox') });
  receiver = await startReceiver();
  admin = await ownedTenant(t, 'webhooks-admin');
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await receiver?.close();
  await t?.close();
  await rm(dataDir, { recursive: true, force: true });
});

interface Subscription {
  rowId: string;
  secret: string;
}

async function subscribe(receiverPath: string, input: Record<string, unknown> = {}, token = admin.token): Promise<Subscription> {
  const data = await t.ok(
    `mutation($input: AddWebhookSubscriptionInput!) { addWebhookSubscription(input: $input) { secret webhookSubscription { rowId enabled } } }`,
    { input: { url: receiver.url(receiverPath), ...input } },
    token,
  );
  expect(data.addWebhookSubscription.webhookSubscription.enabled).toBe(input.enabled ?? true);
  return { rowId: data.addWebhookSubscription.webhookSubscription.rowId, secret: data.addWebhookSubscription.secret };
}

async function newLead(tenantId = admin.tenantId): Promise<{ id: string; email: string }> {
  const email = uniqueEmail('lead');
  const [lead] = await t.owner.query(sql`insert into app_public.leads (tenant_id, email) values (${tenantId}, ${email}) returning id`);
  return { id: lead.id, email };
}

async function setLeadStatus(leadId: string, status: string, tenantId = admin.tenantId): Promise<void> {
  await t.owner.query(sql`update app_public.leads set status = ${status} where tenant_id = ${tenantId} and id = ${leadId}`);
}

/** An outbound message to a lead, being sent (as the engine leaves it before SMTP). */
async function newMessage(lead: { id: string; email: string }, tenantId = admin.tenantId): Promise<string> {
  const [message] = await t.owner.query(sql`
    insert into app_public.messages (tenant_id, direction, status, lead_id, from_email, to_email, subject, rfc_message_id)
    values (${tenantId}, 'outbound', 'sending', ${lead.id}, 'sam@sender.example', ${lead.email}, 'An idea', ${uniqueEmail('msg').replace('@', '.') + '@sender.example'})
    returning id`);
  return message.id;
}

async function recordEvent(messageId: string, type: string, options: { link?: string; metadata?: object; tenantId?: string } = {}): Promise<void> {
  await t.owner.query(sql`select app_private.record_email_event(${options.tenantId ?? admin.tenantId}, ${messageId}, ${type}, null, 'Mozilla/5.0', ${options.link ?? null}, ${JSON.stringify(options.metadata ?? {})}::jsonb)`);
}

const deliveriesQuery = `query($id: UUID!) { webhookSubscription(rowId: $id) { enabled disabledReason consecutiveFailures
  webhookDeliveries(orderBy: [EVENT_CREATED_ASC]) { nodes { rowId eventId status attempts responseCode responseBody durationMs error event { eventType } } } } }`;

async function deliveriesOf(subscriptionId: string) {
  const data = await t.ok(deliveriesQuery, { id: subscriptionId }, admin.token);
  return data.webhookSubscription as {
    enabled: boolean; disabledReason: string | null; consecutiveFailures: number;
    webhookDeliveries: { nodes: Array<{ rowId: string; eventId: string; status: string; attempts: number; responseCode: number | null; responseBody: string | null; durationMs: number | null; error: string | null; event: { eventType: string } }> };
  };
}

/** What the receiver accepted (answered 200) on a path, in arrival order. */
const accepted = (p: string) => receiver.on(p).filter((r) => r.answered === 200);

test('events arrive once each, signed, in the order they happened; a rolled-back change emits nothing', async () => {
  const sub = await subscribe('/all');
  const lead = await newLead();

  // Rolled back: no event, no delivery, no job.
  await expect(t.owner.tx(async (db) => {
    await db.query(sql`update app_public.leads set status = 'interested' where tenant_id = ${admin.tenantId} and id = ${lead.id}`);
    throw new Error('roll back on purpose');
  })).rejects.toThrow('roll back on purpose');

  const message = await newMessage(lead);
  await recordEvent(message, 'sent');
  await recordEvent(message, 'open');
  await recordEvent(message, 'open'); // a second open is not an event
  await recordEvent(message, 'open', { metadata: { automated: true } }); // nor an automated one
  await recordEvent(message, 'click', { link: 'https://example.com/pricing' });
  const [reply] = await t.owner.query(sql`
    insert into app_public.messages (tenant_id, direction, status, lead_id, parent_message_id, from_email, to_email, subject, rfc_message_id, in_reply_to, body_text)
    values (${admin.tenantId}, 'inbound', 'received', ${lead.id}, ${message}, ${lead.email}, 'sam@sender.example', 'Re: An idea',
            ${'reply-' + message + '@lead.example'}, 'x', 'Sounds good, call me Tuesday.') returning id`);
  await recordEvent(message, 'reply', { metadata: { inbound_message_id: reply.id } });
  await setLeadStatus(lead.id, 'interested');

  // The reply also moves the lead from active to replied (record_email_event): an event of its own.
  const expected = ['email.sent', 'email.opened', 'email.clicked', 'email.replied', 'lead.status_changed', 'lead.status_changed'];
  await eventually(async () => accepted('/all').length >= expected.length, 30_000);
  await new Promise((r) => setTimeout(r, 500)); // nothing more comes
  const got = accepted('/all');
  expect(got.map((r) => r.json.type)).toEqual(expected);
  expect(new Set(got.map((r) => r.id)).size).toBe(expected.length);
  for (const r of got) {
    expect(verifies(sub.secret, r)).toBe(true);
    expect(Math.abs(r.timestamp - Date.now() / 1000)).toBeLessThan(60);
  }
  expect(verifies('whsec_' + Buffer.from('not the secret').toString('base64'), got[0]!)).toBe(false);
  const replied = got[3]!.json.data;
  expect(replied.reply.text).toBe('Sounds good, call me Tuesday.');
  expect(replied.thread.message_id).toBe(message);
  expect(got[2]!.json.data.url).toBe('https://example.com/pricing');
  expect(got[4]!.json.data).toMatchObject({ lead_id: lead.id, previous: { status: 'active' }, current: { status: 'replied' } });
  expect(got[5]!.json.data).toMatchObject({ lead_id: lead.id, previous: { status: 'replied' }, current: { status: 'interested' } });

  // The delivery log through the API.
  const log = await deliveriesOf(sub.rowId);
  expect(log.webhookDeliveries.nodes.map((d) => [d.event.eventType, d.status, d.attempts, d.responseCode, d.responseBody]))
    .toEqual(expected.map((type) => [type, 'SUCCEEDED', 1, 200, 'thanks']));
}, 60_000);

test('a backlog is posted one delivery at a time, in order, with two workers competing; a lease whose holder died is taken over by the sweep', async () => {
  const sub = await subscribe('/backlog', { eventTypes: ['lead.status_changed'] });
  const env = testEnv({ PM_DATA_DIR: dataDir, LOG_LEVEL: 'error' });
  // A second worker with many slots: every event's job may run on either worker, at once.
  const second = await startTestWorker(t.urls.owner, env, { deps: { webhooks: RETRY }, concurrency: 8 });
  try {
    const leads = await Promise.all(Array.from({ length: 30 }, () => newLead()));
    for (const lead of leads) await setLeadStatus(lead.id, 'interested');
    await eventually(async () => accepted('/backlog').length >= leads.length, 30_000);
    await new Promise((r) => setTimeout(r, 300)); // nothing more comes
    const got = accepted('/backlog');
    expect(got.map((r) => r.json.data.lead_id)).toEqual(leads.map((l) => l.id));
    expect(new Set(got.map((r) => r.id)).size).toBe(leads.length);

    // A holder that died with the lease: its event's job ends at once; the sweep queues a job once the
    // delivery has been due for a minute with no live lease (called with a clock 70 s ahead instead of waiting).
    await t.owner.query(sql`
      insert into app_private.webhook_delivery_leases (tenant_id, subscription_id, holder, expires_at)
      values (${admin.tenantId}, ${sub.rowId}, 'a worker that died', clock_timestamp() + interval '10 minutes')`);
    const late = await newLead();
    await setLeadStatus(late.id, 'interested');
    await new Promise((r) => setTimeout(r, 500));
    expect(accepted('/backlog')).toHaveLength(leads.length);
    // The sweep looks at every tenant's subscriptions; count what it queued for this one only.
    const sweep = async (ahead: string) =>
      (await t.owner.query(sql`select count(*)::int as n from app_private.queue_stalled_webhook_deliveries(now() + ${ahead}::interval) q
                               where q.subscription_id = ${sub.rowId}`))[0].n;
    expect(await sweep('70 seconds')).toBe(0); // due for over a minute, but the lease lives
    await t.owner.query(sql`update app_private.webhook_delivery_leases set expires_at = now() - interval '1 second'
                            where tenant_id = ${admin.tenantId} and subscription_id = ${sub.rowId}`);
    expect(await sweep('0 seconds')).toBe(0); // the lease has ended, but the delivery is due for less than a minute
    expect(accepted('/backlog')).toHaveLength(leads.length);
    expect(await sweep('70 seconds')).toBe(1);
    await eventually(async () => accepted('/backlog').length > leads.length, 15_000);
    expect(accepted('/backlog').at(-1)!.json.data.lead_id).toBe(late.id);
  } finally {
    await second.stop();
  }
}, 60_000);

test('a job whose subscription was deleted meanwhile ends without a lease (no foreign-key error, no retries)', async () => {
  const sub = await subscribe('/deleted-meanwhile', { eventTypes: ['lead.status_changed'] });
  await t.owner.query(sql`delete from app_public.webhook_subscriptions where tenant_id = ${admin.tenantId} and id = ${sub.rowId}`);
  const [lease] = await t.owner.query(sql`
    select claimed, held_until from app_private.claim_webhook_lease(${admin.tenantId}, ${sub.rowId}, 'a worker', interval '30 seconds')`);
  expect(lease).toEqual({ claimed: false, held_until: null });
  const [{ n }] = await t.owner.query(sql`select count(*)::int as n from app_private.webhook_delivery_leases where subscription_id = ${sub.rowId}`);
  expect(n).toBe(0);
});

test('a tenant without a matching enabled subscription writes no event row', async () => {
  const other = await ownedTenant(t, 'webhooks-none');
  const lead = await newLead(other.tenantId);
  const message = await newMessage(lead, other.tenantId);
  await recordEvent(message, 'sent', { tenantId: other.tenantId });
  await setLeadStatus(lead.id, 'interested', other.tenantId);
  // A subscription to other types only, and a disabled one: still nothing.
  await subscribe('/none-a', { eventTypes: ['domain.verified'] }, other.token);
  await subscribe('/none-b', { enabled: false }, other.token);
  await recordEvent(message, 'open', { tenantId: other.tenantId });
  await setLeadStatus(lead.id, 'not_interested', other.tenantId);
  const [{ n }] = await t.owner.query(sql`select count(*)::int as n from app_public.webhook_events where tenant_id = ${other.tenantId}`);
  expect(n).toBe(0);
});

test('failures (500s, a timeout) are retried with backoff until the receiver comes back; order and once-only hold', async () => {
  receiver.behave('/flaky', 'fail', 'hang', 'fail', 'ok');
  const sub = await subscribe('/flaky', { eventTypes: ['lead.status_changed'] });
  const lead = await newLead();
  for (const status of ['interested', 'not_interested', 'do_not_contact']) await setLeadStatus(lead.id, status);

  await eventually(async () => accepted('/flaky').length >= 3, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  const all = receiver.on('/flaky');
  // The first event was tried 4 times (500, timeout, 500, 200) before the second was tried at all.
  expect(all.map((r) => [r.json.data.current.status, r.answered])).toEqual([
    ['interested', 500], ['interested', 'hang'], ['interested', 500], ['interested', 200],
    ['not_interested', 200], ['do_not_contact', 200],
  ]);
  // Same webhook-id on every attempt of one event; every attempt signed.
  expect(new Set(all.slice(0, 4).map((r) => r.id)).size).toBe(1);
  for (const r of all) expect(verifies(sub.secret, r)).toBe(true);
  // Backoff: the gaps between attempts grow (150 ms doubling, ±20 %, plus the 800 ms timeout once).
  const gaps = all.slice(0, 4).map((r, i, a) => (i ? r.at - a[i - 1]!.at : 0)).slice(1);
  expect(gaps[0]).toBeGreaterThanOrEqual(100);
  expect(gaps[1]).toBeGreaterThanOrEqual(800);
  const log = await deliveriesOf(sub.rowId);
  expect(log.webhookDeliveries.nodes.map((d) => [d.status, d.attempts])).toEqual([['SUCCEEDED', 4], ['SUCCEEDED', 1], ['SUCCEEDED', 1]]);
  expect(log.consecutiveFailures).toBe(0);
}, 60_000);

test('sustained failure disables the subscription and emails its admins; enabling it resumes in order; replays keep the webhook-id', async () => {
  // A second admin who turned this kind of notification off: the notice obeys preferences like every notification.
  const muted = await memberWithRoles(t, admin.tenantId, ['admin'], 'muted-admin');
  await t.owner.query(sql`insert into app_public.user_preferences (user_id, muted_notifications) values (${muted.userId}, '{webhook_disabled}')
    on conflict (user_id) do update set muted_notifications = excluded.muted_notifications`);
  receiver.behave('/down', 'fail');
  const sub = await subscribe('/down', { eventTypes: ['lead.status_changed'] });
  const lead = await newLead();
  await setLeadStatus(lead.id, 'interested');
  await setLeadStatus(lead.id, 'not_interested');

  const disabled = await eventually(async () => {
    const s = await deliveriesOf(sub.rowId);
    return !s.enabled && s;
  }, 30_000);
  expect(disabled.disabledReason).toMatch(/Disabled automatically/);
  expect(disabled.webhookDeliveries.nodes.map((d) => [d.status, d.attempts, d.responseCode, d.responseBody]))
    .toEqual([['FAILED', 4, 500, 'receiver failed on purpose'], ['PENDING', 0, null, null]]);
  expect(receiver.on('/down')).toHaveLength(4);
  const notice = await eventually(async () => {
    const files = readdirSync(path.join(dataDir, 'outbox')).map((f) => readFileSync(path.join(dataDir, 'outbox', f), 'utf8'));
    return files.find((f) => f.includes('A webhook of your organisation was disabled') && f.includes(admin.email));
  }, 10_000);
  expect(notice).toContain('/down');
  // With the admin's own unsubscribe link for this kind (RFC 8058), in the headers and the footer.
  expect(notice).toMatch(/^List-Unsubscribe:\s+<[^>]*\/notifications\/unsubscribe\/[^>]+>/m);
  expect(notice!.replace(/=\r?\n/g, '')).toContain('To stop emails about webhooks disabled after failed deliveries: ');
  // The notice job is done, and the admin who muted the kind got nothing.
  await eventually(async () => {
    const [{ n }] = (await t.owner.query(sql`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'webhook_disabled_notice'`)) as Array<{ n: number }>;
    return n === 0;
  }, 10_000);
  const outbox = readdirSync(path.join(dataDir, 'outbox')).map((f) => readFileSync(path.join(dataDir, 'outbox', f), 'utf8'));
  expect(outbox.filter((f) => f.includes('A webhook of your organisation was disabled') && f.includes(muted.email))).toEqual([]);

  // While disabled, no new event is recorded for it.
  await setLeadStatus(lead.id, 'do_not_contact');
  expect(receiver.on('/down')).toHaveLength(4);

  // The endpoint is back; enabling resumes the pending delivery.
  receiver.behave('/down', 'ok');
  await t.ok(`mutation($id: UUID!) { updateWebhookSubscription(input: { rowId: $id, patch: { enabled: true } }) { webhookSubscription { rowId } } }`, { id: sub.rowId }, admin.token);
  await eventually(async () => accepted('/down').length === 1, 20_000);
  expect(accepted('/down')[0]!.json.data.current.status).toBe('not_interested');

  // Replay of the failed delivery: the same webhook-id as its first attempts.
  const failed = disabled.webhookDeliveries.nodes[0]!;
  const replayed = await t.ok(`mutation($id: UUID!) { replayWebhookDelivery(input: { deliveryId: $id }) { result { status attempts } } }`, { id: failed.rowId }, admin.token);
  expect(replayed.replayWebhookDelivery.result).toEqual({ status: 'PENDING', attempts: 0 });
  await eventually(async () => accepted('/down').length === 2, 20_000);
  expect(accepted('/down')[1]!.id).toBe(receiver.on('/down')[0]!.id);
  expect(accepted('/down')[1]!.id).toBe(failed.eventId);

  // Replay of a time range: both deliveries again, in event order, same ids.
  const from = new Date(Date.now() - 3600_000).toISOString();
  const to = new Date(Date.now() + 60_000).toISOString();
  const range = await t.ok(`mutation($id: UUID!, $from: Datetime!, $to: Datetime!) { replayWebhookDeliveries(input: { subscriptionId: $id, fromTime: $from, toTime: $to }) { result } }`,
    { id: sub.rowId, from, to }, admin.token);
  expect(range.replayWebhookDeliveries.result).toBe(2);
  await eventually(async () => accepted('/down').length === 4, 20_000);
  expect(accepted('/down').slice(2).map((r) => r.id)).toEqual(disabled.webhookDeliveries.nodes.map((d) => d.eventId));
  for (const r of accepted('/down')) expect(verifies(sub.secret, r)).toBe(true);
}, 90_000);

test('a test event reaches the endpoint, signed', async () => {
  const sub = await subscribe('/test-event', { eventTypes: ['domain.verified'] });
  const data = await t.ok(`mutation($id: UUID!) { sendWebhookTestEvent(input: { subscriptionId: $id }) { result { rowId eventId } } }`, { id: sub.rowId }, admin.token);
  await eventually(async () => accepted('/test-event').length === 1, 20_000);
  const [got] = accepted('/test-event');
  expect(got!.json.type).toBe('webhook.test');
  expect(got!.id).toBe(data.sendWebhookTestEvent.result.eventId);
  expect(verifies(sub.secret, got!)).toBe(true);
});

test('secret rotation: during the overlap deliveries verify with either secret; after it, only with the new one', async () => {
  const sub = await subscribe('/rotate', { eventTypes: ['lead.status_changed'] });
  const rotate = async (overlapMinutes: number) =>
    (await t.ok(`mutation($id: UUID!, $m: Int) { rotateWebhookSecret(input: { subscriptionId: $id, overlapMinutes: $m }) { secret previousSecretValidUntil webhookSubscription { previousSecretExpiresAt } } }`,
      { id: sub.rowId, m: overlapMinutes }, admin.token)).rotateWebhookSecret;
  const second = await rotate(60);
  expect(second.secret).toMatch(/^whsec_/);
  expect(second.secret).not.toBe(sub.secret);
  expect(new Date(second.previousSecretValidUntil).getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
  const lead = await newLead();
  await setLeadStatus(lead.id, 'interested');
  await eventually(async () => accepted('/rotate').length === 1, 20_000);
  const during = accepted('/rotate')[0]!;
  expect(during.signatures).toHaveLength(2);
  expect(verifies(sub.secret, during)).toBe(true);
  expect(verifies(second.secret, during)).toBe(true);

  const third = await rotate(0);
  await setLeadStatus(lead.id, 'not_interested');
  await eventually(async () => accepted('/rotate').length === 2, 20_000);
  const after = accepted('/rotate')[1]!;
  expect(after.signatures).toHaveLength(1);
  expect(verifies(third.secret, after)).toBe(true);
  expect(verifies(second.secret, after)).toBe(false);
  expect(verifies(sub.secret, after)).toBe(false);
}, 60_000);

test('SSRF: private addresses outside the allow-list are refused at creation and at delivery, and the delivery log says why', async () => {
  const refused = await t.gql(`mutation { addWebhookSubscription(input: { url: "http://10.0.0.7/hook" }) { secret } }`, {}, admin.token);
  expect(refused.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
  expect(refused.errors?.[0]?.message).toMatch(/not allowed/);
  const local = await t.gql(`mutation { addWebhookSubscription(input: { url: "http://127.0.0.2:9/hook" }) { secret } }`, {}, admin.token);
  expect(local.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');

  // A subscription whose address the plugin never saw (written directly): the worker's guard refuses it.
  const [row] = await t.owner.query(sql`
    insert into app_public.webhook_subscriptions (tenant_id, url, event_types) values (${admin.tenantId}, 'http://169.254.169.254/latest', '{lead.status_changed}')
    returning id`);
  await t.owner.query(sql`insert into app_private.webhook_secrets (tenant_id, subscription_id, secret_encrypted)
    select ${admin.tenantId}, ${row.id}, w.secret_encrypted from app_private.webhook_secrets w where w.tenant_id = ${admin.tenantId} limit 1`);
  const lead = await newLead();
  await setLeadStatus(lead.id, 'interested');
  const log = await eventually(async () => {
    const s = await deliveriesOf(row.id);
    const first = s.webhookDeliveries.nodes[0];
    return first && first.attempts > 0 ? first : null;
  }, 20_000);
  expect(log.error).toBe('the server address is not allowed (private or reserved network)');
  expect(log.responseCode).toBeNull();
  await t.owner.query(sql`delete from app_public.webhook_subscriptions where tenant_id = ${admin.tenantId} and id = ${row.id}`);
}, 60_000);

test('members read webhooks and their log; only owners and admins manage them', async () => {
  const sub = await subscribe('/roles', { eventTypes: ['import.completed'] });
  const { token } = await memberWithRoles(t, admin.tenantId, ['member'], 'webhooks-member');
  const read = await t.ok(`query($id: UUID!) { webhookSubscription(rowId: $id) { url webhookDeliveries { totalCount } } }`, { id: sub.rowId }, token);
  expect(read.webhookSubscription.url).toBe(receiver.url('/roles'));
  const create = await t.gql(`mutation($u: String!) { addWebhookSubscription(input: { url: $u }) { secret } }`, { u: receiver.url('/x') }, token);
  expect(create.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  const test = await t.gql(`mutation($id: UUID!) { sendWebhookTestEvent(input: { subscriptionId: $id }) { clientMutationId } }`, { id: sub.rowId }, token);
  expect(test.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  const secretLeak = await t.gql(`query($id: UUID!) { webhookSubscription(rowId: $id) { secret } }`, { id: sub.rowId }, admin.token);
  expect(secretLeak.errors?.length).toBeGreaterThan(0);
});
