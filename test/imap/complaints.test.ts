/**
 * Spam complaints from feedback loops (issue 16, item 3): RFC 5965 reports as
 * Yahoo (the original attached as message/rfc822) and Microsoft (only its
 * header, text/rfc822-headers) send them, delivered into a real IMAP mailbox
 * (dovecot on 127.0.0.1) and read by the real poller.
 *
 * - The campaign's own mail, as the test SMTP server received it, is what the
 *   reports carry. A report matched by Message-ID, and one whose Message-ID
 *   was rewritten but which keeps our signed List-Unsubscribe link, each
 *   record one complaint (the same report twice, and a re-poll of the whole
 *   mailbox, record nothing more), suppress the lead, count in the rollup,
 *   emit email.complained, and are not stored as inbound mail; under the
 *   tenant's minimum sample the campaign keeps sending, at it the complaint
 *   rate pauses it; a later campaign does not mail the complained leads.
 * - Reports that match no message of the inbox's tenant (another tenant's
 *   Message-ID and tracking link, an unknown Message-ID) and malformed ones
 *   (no Feedback-Type, no feedback part) change nothing, and the poller moves
 *   past them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { secretsKeyOf } from '../../src/config.ts';
import { sql, type Queryable } from '../../src/db/pg.ts';
import { trackedMessageId } from '../../src/imap/feedback-report.ts';
import { parseInbound } from '../../src/imap/parse.ts';
import { pollInbox, type ImapPollerDeps, type PollSummary } from '../../src/imap/poller.ts';
import { makeOutboundGuard } from '../../src/net/outbound-guard.ts';
import { makeTrackingTokens, trackingKeyFrom, type TrackingTokens } from '../../src/tracking/tokens.ts';
import { dovecotMissingReason, startDovecot, type DovecotServer } from '../helpers/dovecot.ts';
import { eventually } from '../helpers/eventually.ts';
import { campaignCompletes, campaignOf, createCampaign, createSender, createTenant, lifecycle, messagesOf, startWorld, type TestTenant, type World } from '../sending/support/world.ts';
import { createSendingTenant, eventsOf, insertSentMessage, messageState } from '../tracking/fixtures.ts';
import { feedbackReport, newMessageId } from './mail-samples.ts';

const US = 'sales@acme.example';
const LEAD = 'ada@customer.example';
const tokens = makeTrackingTokens(randomBytes(32));
const TENANT = '0b6f3c1e-8d1a-4a57-9a36-0d5f2b7c9e11';
const MESSAGE = '5f1e0a9c-3b7d-4e2a-8c61-7a9d2e4b1f03';

describe('parsing feedback reports', () => {
  test('Yahoo style: the whole original attached (message/rfc822), its tracking links read even across quoted-printable line breaks', async () => {
    const token = tokens.messageToken({ tenantId: TENANT, messageId: MESSAGE });
    const original = [
      `From: Sam <${US}>`, `To: ${LEAD}`, 'Subject: Quick question', `Message-ID: <${MESSAGE}@acme.example>`,
      'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '',
      `<p>Hi Ada</p><img src=3D"https://t.acme.example/t/o/${token.slice(0, 30)}=`, `${token.slice(30)}.gif" alt=3D"">`,
    ].join('\r\n');
    const mail = await parseInbound(Buffer.from(feedbackReport({ to: US, originalFrom: US, originalRecipient: LEAD, original })));
    expect(mail.from).toBe('feedback@arf.mail.yahoo.example');
    expect(mail.classification).toEqual({
      kind: 'complaint',
      report: {
        feedback_type: 'abuse', user_agent: 'Yahoo!-Mail-Feedback/2.0', original_mail_from: US, original_rcpt_to: LEAD,
        arrival_date: expect.stringMatching(/\+0000$/), source_ip: '203.0.113.10', reported_domain: 'acme.example',
        original_message_id: `${MESSAGE}@acme.example`, tracking_tokens: [token], tracked_message_id: null,
      },
    });
  });

  test('Microsoft style: only the original header (text/rfc822-headers); the List-Unsubscribe token names the message when verified', async () => {
    const token = tokens.messageToken({ tenantId: TENANT, messageId: MESSAGE });
    const original = [
      `From: Sam <${US}>`, `To: ${LEAD}`, 'Subject: Quick question', 'Message-ID: <rewritten-4711@hotmail.example>',
      `List-Unsubscribe: <https://t.acme.example/u/${token}>`, 'List-Unsubscribe-Post: List-Unsubscribe=One-Click', '',
      'This body is not attached.',
    ].join('\r\n');
    const mail = await parseInbound(Buffer.from(feedbackReport({
      to: US, originalFrom: US, originalRecipient: LEAD, original, attach: 'headers', provider: 'microsoft',
    })));
    expect(mail.from).toBe('staff@hotmail.example');
    expect(mail.classification).toMatchObject({
      kind: 'complaint',
      report: { feedback_type: 'abuse', user_agent: 'Hotmail FBL', original_message_id: 'rewritten-4711@hotmail.example', tracking_tokens: [token] },
    });
    if (mail.classification.kind !== 'complaint') throw new Error('not a complaint');
    const report = mail.classification.report;
    expect(trackedMessageId(report, tokens, TENANT)).toBe(MESSAGE);
    // Another tenant's inbox, no key, or a token signed with another key: no message.
    expect(trackedMessageId(report, tokens, '7c2d9e4a-1b3f-4c5d-8e6f-9a0b1c2d3e4f')).toBeNull();
    expect(trackedMessageId(report, undefined, TENANT)).toBeNull();
    expect(trackedMessageId(report, makeTrackingTokens(randomBytes(32)), TENANT)).toBeNull();
  });

  test('a report without Feedback-Type, or without its feedback part, is malformed', async () => {
    const base = { to: US, originalFrom: US, originalRecipient: LEAD, originalMessageId: newMessageId('acme.example') };
    expect((await parseInbound(Buffer.from(feedbackReport({ ...base, feedbackType: null })))).classification)
      .toEqual({ kind: 'malformed_report', reason: 'a feedback report without a Feedback-Type' });
    expect((await parseInbound(Buffer.from(feedbackReport({ ...base, withoutFeedbackPart: true })))).classification)
      .toEqual({ kind: 'malformed_report', reason: 'a feedback report without a message/feedback-report part' });
  });
});

const missing = dovecotMissingReason();
if (missing) console.warn(`Skipping the feedback-loop poller tests: ${missing}`);
const describeImap = missing ? describe.skip : describe;

describeImap('feedback-loop reports in a polled inbox', () => {
  let w: World;
  let dovecot: DovecotServer;
  let pool: pg.Pool;
  let deps: ImapPollerDeps;
  let tracking: TrackingTokens;
  let mailboxCounter = 0;

  beforeAll(async () => {
    w = await startWorld();
    dovecot = await startDovecot();
    pool = new pg.Pool({ connectionString: w.t.urls.owner, max: 2 });
    // The key the worker signs tracking links with (src/sending/deps.ts).
    tracking = makeTrackingTokens(trackingKeyFrom(secretsKeyOf(w.env)));
    deps = { secretBox: w.box, tls: { ca: dovecot.ca }, timeoutMs: 5_000, outbound: makeOutboundGuard({ allowPrivate: ['127.0.0.1'] }), tracking };
  }, 60_000);
  afterAll(async () => {
    await pool?.end();
    await dovecot?.stop();
    await w?.close();
  });

  /** Points an inbox at a fresh dovecot mailbox (password sealed like setEmailAccountCredentials does); returns the IMAP user. */
  async function connectMailbox(db: Queryable, tenantId: string, inboxId: string): Promise<string> {
    const user = `fbl${mailboxCounter++}-${process.pid}@acme.test`;
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    await dovecot.addUser(user, password);
    const settings = { host: dovecot.host, port: dovecot.tlsPort, secure: true, username: user };
    await db.query(sql`update app_public.email_accounts set imap_settings = ${JSON.stringify(settings)}::jsonb where tenant_id = ${tenantId} and id = ${inboxId}`);
    await db.query(sql`
      insert into app_private.email_account_credentials (tenant_id, email_account_id, imap_password_encrypted)
      values (${tenantId}, ${inboxId}, ${w.box.encrypt(password)})
      on conflict (tenant_id, email_account_id) do update set imap_password_encrypted = excluded.imap_password_encrypted`);
    return user;
  }
  const poll = (tenantId: string, emailAccountId: string): Promise<PollSummary> =>
    pollInbox(async (fn) => {
      const client = await pool.connect();
      try {
        return await fn(client);
      } finally {
        client.release();
      }
    }, deps, { tenantId, emailAccountId });
  const setMinSample = async (tenant: TestTenant, safetyMinSample: number) => {
    const result = await w.t.gql(`mutation($patch: TenantConfigPatch!) { updateTenantConfig(input: { patch: $patch }) { tenantConfig { safetyMinSample } } }`,
      { patch: { safetyMinSample } }, tenant.token);
    expect(result.errors).toBeUndefined();
  };
  /** Everything a report could change in a tenant. */
  const tenantData = async (tenantId: string) =>
    (await w.t.owner.query(sql`
      select (select count(*)::int from app_public.email_events where tenant_id = ${tenantId}) as events,
             (select count(*)::int from app_public.messages where tenant_id = ${tenantId}) as messages,
             (select count(*)::int from app_public.suppressions where tenant_id = ${tenantId}) as suppressions,
             (select json_agg(status order by id) from app_public.leads where tenant_id = ${tenantId}) as leads,
             (select json_agg(status order by id) from app_public.campaign_enrollments where tenant_id = ${tenantId}) as enrollments,
             (select coalesce(sum(complained), 0)::int from app_public.campaign_stats_daily where tenant_id = ${tenantId}) as complained,
             (select count(*)::int from app_public.webhook_events where tenant_id = ${tenantId}) as webhook_events`))[0];

  test('complaints are recorded once, suppress the lead, pause the campaign at the tenant\'s minimum sample, and no later campaign mails the lead', async () => {
    const tenant = await createTenant(w, 'fbl');
    await setMinSample(tenant, 25);
    await w.t.owner.query(sql`
      insert into app_public.webhook_subscriptions (tenant_id, url, event_types) values (${tenant.tenantId}, 'http://127.0.0.1:9/hook', '{email.complained}')`);
    const sender = await createSender(w, tenant.tenantId, [{ dailyLimit: 1000 }]);
    const inbox = sender.inboxes[0]!;
    const user = await connectMailbox(w.t.owner, tenant.tenantId, inbox.id);
    const { campaignId } = await createCampaign(w, tenant.tenantId, {
      inboxIds: [inbox.id],
      steps: [{ type: 'email' }, { type: 'wait', hours: 48 }, { type: 'email' }],
      leads: Array.from({ length: 20 }, () => ({})),
    });
    expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
    const sent = await eventually(async () => {
      const rows = await messagesOf(w, campaignId);
      return rows.length === 20 && rows.every((m) => m.status === 'sent') && rows;
    }, 30_000);
    const [a, b] = sent as [typeof sent[number], typeof sent[number]];
    const rawTo = async (to: string) => (await w.smtp.waitFor((m) => m.to.includes(to))).raw.toString('utf8');

    // Yahoo reports lead A with the whole message, and the same report comes twice.
    const yahoo = feedbackReport({ to: inbox.email, originalFrom: inbox.email, originalRecipient: a.to_email, original: await rawTo(a.to_email) });
    await dovecot.deliver(user, yahoo);
    await dovecot.deliver(user, yahoo);
    expect(await poll(tenant.tenantId, inbox.id)).toMatchObject({ status: 'ok', examined: 2, outcomes: { complaint: 1, duplicate: 1 } });
    expect(await messageState(w.t.owner, tenant.tenantId, a.id)).toEqual({
      status: 'sent', enrollment: 'cancelled', stop_reason: 'complained', lead: 'complained', suppressed: true,
    });
    expect((await eventsOf(w.t.owner, tenant.tenantId, a.id)).filter((e) => e.event_type === 'complaint')).toMatchObject([
      { event_type: 'complaint', metadata: { feedback_type: 'abuse', user_agent: 'Yahoo!-Mail-Feedback/2.0', matched_by: 'original_message_id', reported_by: 'feedback@arf.mail.yahoo.example' } },
    ]);
    // 1 of 20 is over 0.3%, but 20 sent is under the tenant's minimum sample of 25.
    expect((await campaignOf(w, campaignId)).status).toBe('sending');

    // Microsoft reports lead B with only the header, its Message-ID rewritten: our List-Unsubscribe link names the message.
    await setMinSample(tenant, 20);
    const headers = (await rawTo(b.to_email)).replace(/^Message-ID:.*$/im, `Message-ID: <${newMessageId('hotmail.example')}>`);
    expect(headers).toMatch(/^List-Unsubscribe: <http:\/\/[^>]+\/u\/[\w-]+\.[\w-]+>/m);
    await dovecot.deliver(user, feedbackReport({
      to: inbox.email, originalFrom: inbox.email, originalRecipient: b.to_email, original: headers, attach: 'headers', provider: 'microsoft',
    }));
    expect((await poll(tenant.tenantId, inbox.id)).outcomes).toEqual({ complaint: 1 });
    expect(await messageState(w.t.owner, tenant.tenantId, b.id)).toMatchObject({ lead: 'complained', suppressed: true });
    expect((await eventsOf(w.t.owner, tenant.tenantId, b.id)).filter((e) => e.event_type === 'complaint')).toMatchObject([
      { metadata: { feedback_type: 'abuse', user_agent: 'Hotmail FBL', matched_by: 'tracking_token', reported_by: 'staff@hotmail.example' } },
    ]);
    const paused = await campaignOf(w, campaignId);
    expect(paused).toMatchObject({ status: 'paused', paused_by: 'system' });
    expect(paused.pause_reason).toMatch(/^Paused automatically: 2 of the last 20 messages sent were reported as spam \(10\.00%\)/);

    // Counted in the rollup and as webhook events; the reports are no inbound mail (nothing in the conversations).
    const counted = await tenantData(tenant.tenantId);
    expect(counted).toMatchObject({ complained: 2, suppressions: 2 });
    const hooks = await w.t.owner.query(sql`
      select data from app_public.webhook_events where tenant_id = ${tenant.tenantId} and event_type = 'email.complained' order by created`);
    expect(hooks.map((h: { data: { message_id: string } }) => h.data.message_id)).toEqual([a.id, b.id]);
    const [{ inbound }] = await w.t.owner.query(sql`
      select count(*)::int as inbound from app_public.messages where tenant_id = ${tenant.tenantId} and direction = 'inbound'`);
    expect(inbound).toBe(0);

    // The whole mailbox read again (as after a lost position): nothing more is recorded.
    await w.t.owner.query(sql`update app_public.email_accounts set imap_last_uid = 0 where tenant_id = ${tenant.tenantId} and id = ${inbox.id}`);
    expect((await poll(tenant.tenantId, inbox.id)).outcomes).toEqual({ duplicate: 3 });
    expect(await tenantData(tenant.tenantId)).toEqual(counted);

    // The inbox paused itself too (its own complaint rate, every campaign counted), and is still read
    // (above). Resumed after review, a later campaign targeting both complained leads and a new one
    // mails only the new one.
    const [inboxState] = await w.t.owner.query(sql`
      select status, safety_pause from app_public.email_accounts where tenant_id = ${tenant.tenantId} and id = ${inbox.id}`);
    expect(inboxState).toEqual({ status: 'paused', safety_pause: 'complaint_rate' });
    const resumed = await w.t.gql(
      `mutation($id: UUID!) { resumeEmailAccount(input: { emailAccountId: $id }) { result { status safetyPause } } }`, { id: inbox.id }, tenant.token);
    expect(resumed.errors).toBeUndefined();
    expect(resumed.data.resumeEmailAccount.result).toEqual({ status: 'ACTIVE', safetyPause: null });
    const later = await createCampaign(w, tenant.tenantId, { inboxIds: [inbox.id], steps: [{ type: 'email' }], leads: [{}] });
    for (const leadId of [a.lead_id, b.lead_id]) {
      await w.t.owner.query(sql`insert into app_public.campaign_targets (tenant_id, campaign_id, lead_id) values (${tenant.tenantId}, ${later.campaignId}, ${leadId})`);
    }
    expect((await lifecycle(w, tenant.token, 'start', later.campaignId)).error).toBeNull();
    await campaignCompletes(w, later.campaignId);
    expect((await messagesOf(w, later.campaignId)).map((m) => [m.to_email, m.status])).toEqual([[later.leads[0]!.email, 'sent']]);
    expect(w.smtp.messages.filter((m) => m.to.includes(a.to_email) || m.to.includes(b.to_email))).toHaveLength(2);
  }, 120_000);

  test('reports matching no message of the tenant, and malformed ones, change nothing and do not stop the poller', async () => {
    const other = await createSendingTenant(w.t.owner, 'fbl-other', { leads: 1 });
    const otherSent = await insertSentMessage(w.t.owner, other, other.leads[0]!);
    const tenant = await createSendingTenant(w.t.owner, 'fbl-quiet', { leads: 1 });
    const user = await connectMailbox(w.t.owner, tenant.tenantId, tenant.inboxId);
    const lead = tenant.leads[0]!;
    const own = await insertSentMessage(w.t.owner, tenant, lead);
    const base = { to: tenant.inboxEmail, originalFrom: tenant.inboxEmail, originalRecipient: lead.email };
    // Another tenant's message, with its Message-ID and a valid tracking link of that tenant.
    const otherOriginal = [
      `From: ${other.inboxEmail}`, `To: ${otherSent.toEmail}`, 'Subject: Quick question', `Message-ID: <${otherSent.rfcMessageId}>`,
      `List-Unsubscribe: <${tracking.links('http://t.example', { tenantId: other.tenantId, messageId: otherSent.id }).unsubscribe}>`, '', 'Hi',
    ].join('\r\n');
    const reports = [
      feedbackReport({ ...base, original: otherOriginal }),
      feedbackReport({ ...base, originalMessageId: newMessageId(tenant.domain) }),
      feedbackReport({ ...base, originalMessageId: own.rfcMessageId, feedbackType: null }),
      feedbackReport({ ...base, originalMessageId: own.rfcMessageId, withoutFeedbackPart: true }),
    ];
    let lastUid = 0;
    for (const report of reports) lastUid = await dovecot.deliver(user, report);
    const before = { tenant: await tenantData(tenant.tenantId), other: await tenantData(other.tenantId) };

    const summary = await poll(tenant.tenantId, tenant.inboxId);
    expect(summary).toMatchObject({ status: 'ok', examined: 4, outcomes: { unmatched: 2, malformed_report: 2 } });
    expect(summary.ignoredReports?.map((r) => r.reason)).toEqual([
      `it matches no message of this tenant (reported Message-ID: <${otherSent.rfcMessageId}>)`,
      expect.stringMatching(/^it matches no message of this tenant \(reported Message-ID: <[^>]+>\)$/),
      'malformed: a feedback report without a Feedback-Type',
      'malformed: a feedback report without a message/feedback-report part',
    ]);
    expect({ tenant: await tenantData(tenant.tenantId), other: await tenantData(other.tenantId) }).toEqual(before);
    expect(await messageState(w.t.owner, tenant.tenantId, own.id)).toEqual({ status: 'sent', enrollment: 'active', stop_reason: null, lead: 'active', suppressed: false });
    expect(await messageState(w.t.owner, other.tenantId, otherSent.id)).toMatchObject({ lead: 'active', suppressed: false });
    const [state] = await w.t.owner.query(sql`
      select imap_last_uid::int as last_uid, last_error from app_public.email_accounts where tenant_id = ${tenant.tenantId} and id = ${tenant.inboxId}`);
    expect(state).toEqual({ last_uid: lastUid, last_error: null });
  }, 60_000);
});
