/**
 * Reply and bounce detection against a real IMAP server (dovecot on
 * 127.0.0.1, implicit TLS with a certificate made at start): replies threaded
 * by In-Reply-To or only by References, auto-replies, hard, soft and delayed
 * DSNs, plain-text bounces, feedback-loop complaints (RFC 5965), re-polls, a UIDVALIDITY change, login failures,
 * and the scheduled jobs through graphile-worker.
 */
import { makeOutboundGuard } from '../../src/net/outbound-guard.ts';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { makeSecretBox } from '../../src/crypto/secrets.ts';
import { createPool, sql, type ConnectionPool } from '../../src/db/pg.ts';
import { pollInbox, type ImapPollerDeps, type PollSummary } from '../../src/imap/poller.ts';
import type { WithClient } from '../../src/imap/store.ts';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { startWorker } from '../../src/worker/runner.ts';
import { isolatedDatabase, testEnv } from '../helpers/api.ts';
import { dovecotMissingReason, startDovecot, type DovecotServer } from '../helpers/dovecot.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/test-database.ts';
import { createSendingTenant, eventsOf, insertSentMessage, messageState, type SendingTenant } from '../tracking/fixtures.ts';
import { dsn, feedbackReport, newMessageId, qmailBounce, reply } from './mail-samples.ts';

const missing = dovecotMissingReason();
if (missing) console.warn(`Skipping the IMAP poller tests: ${missing}`);
const describeImap = missing ? describe.skip : describe;

describeImap('IMAP poller', () => {
  let dovecot: DovecotServer;
  let database: Awaited<ReturnType<typeof isolatedDatabase>>;
  let pool: pg.Pool;
  let owner: ConnectionPool;
  let deps: ImapPollerDeps;
  const secretBox = makeSecretBox(randomBytes(32).toString('hex'));
  let withClient: WithClient;

  beforeAll(async () => {
    dovecot = await startDovecot();
    database = await isolatedDatabase('imap');
    pool = new pg.Pool({ connectionString: database.urls.owner, max: 4 });
    owner = createPool({ connectionString: database.urls.owner, bigIntMode: 'string', poolSize: 2 });
    deps = { secretBox, tls: { ca: dovecot.ca }, timeoutMs: 5_000, outbound: makeOutboundGuard({ allowPrivate: ['127.0.0.1'] }) };
    withClient = async (fn) => {
      const client = await pool.connect();
      try {
        return await fn(client);
      } finally {
        client.release();
      }
    };
  });
  afterAll(async () => {
    await owner?.dispose();
    await pool?.end();
    await database?.drop();
    await dovecot?.stop();
  });

  let mailboxCounter = 0;
  /** A sending tenant whose inbox is a fresh dovecot mailbox with a sealed password. */
  async function connectedTenant(label: string, settings: Record<string, unknown> = {}, leads = 3) {
    const user = `inbox${mailboxCounter++}-${process.pid}@acme.test`;
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    await dovecot.addUser(user, password);
    const tenant = await createSendingTenant(owner, label, {
      leads,
      imapSettings: { host: dovecot.host, port: dovecot.tlsPort, secure: true, username: user, ...settings },
    });
    await setPassword(tenant, password);
    return { tenant, user, password };
  }
  const setPassword = (tenant: SendingTenant, password: string) =>
    owner.query(sql`
      insert into app_private.email_account_credentials (tenant_id, email_account_id, imap_password_encrypted)
      values (${tenant.tenantId}, ${tenant.inboxId}, ${secretBox.encrypt(password)})
      on conflict (tenant_id, email_account_id) do update set imap_password_encrypted = excluded.imap_password_encrypted, updated = excluded.updated
    `);
  const poll = (tenant: SendingTenant): Promise<PollSummary> =>
    pollInbox(withClient, deps, { tenantId: tenant.tenantId, emailAccountId: tenant.inboxId });
  const inbox = async (tenant: SendingTenant) =>
    (await owner.query(sql`
      select imap_uid_validity, imap_last_uid, last_polled_at, last_error from app_public.email_accounts
      where tenant_id = ${tenant.tenantId} and id = ${tenant.inboxId}
    `))[0] as { imap_uid_validity: string | null; imap_last_uid: string | null; last_polled_at: Date | null; last_error: string | null };
  const inboundOf = (tenant: SendingTenant) =>
    owner.query(sql`
      select message_type, status, parent_message_id, lead_id, campaign_id, enrollment_id, email_account_id,
             from_email::text, to_email::text, subject, rfc_message_id, in_reply_to, references_header, body_text
      from app_public.messages where tenant_id = ${tenant.tenantId} and direction = 'inbound' order by id
    `);

  test('a reply threaded by In-Reply-To is stored under its message, records a reply and stops the sequence', async () => {
    const { tenant, user } = await connectedTenant('reply');
    const lead = tenant.leads[0]!;
    const sent = await insertSentMessage(owner, tenant, lead);
    const replyId = newMessageId();
    const uid = await dovecot.deliver(user, reply({
      from: `Lead Zero <${lead.email}>`, to: tenant.inboxEmail, subject: 'Re: Quick question', messageId: replyId,
      inReplyTo: sent.rfcMessageId, references: [sent.rfcMessageId], body: 'Yes, let us talk on Tuesday.\n\n> Hi Lead0',
    }));

    expect(await poll(tenant)).toEqual({ status: 'ok', uidValidity: String(await dovecot.uidValidity(user)), examined: 1, outcomes: { reply: 1 }, more: false });
    expect(await inboundOf(tenant)).toEqual([{
      message_type: 'email', status: 'received', parent_message_id: sent.id, lead_id: lead.id, campaign_id: tenant.campaignId,
      enrollment_id: lead.enrollmentId, email_account_id: tenant.inboxId, from_email: lead.email, to_email: tenant.inboxEmail,
      subject: 'Re: Quick question', rfc_message_id: replyId, in_reply_to: sent.rfcMessageId, references_header: `<${sent.rfcMessageId}>`,
      body_text: 'Yes, let us talk on Tuesday.\n\n> Hi Lead0',
    }]);
    expect(await messageState(owner, tenant.tenantId, sent.id)).toEqual({
      status: 'replied', enrollment: 'replied', stop_reason: 'replied', lead: 'replied', suppressed: false,
    });
    const [event] = await eventsOf(owner, tenant.tenantId, sent.id);
    expect(event).toMatchObject({ event_type: 'reply', metadata: { matched_by: 'in_reply_to', from: lead.email } });
    const state = await inbox(tenant);
    expect(state).toMatchObject({ imap_uid_validity: String(await dovecot.uidValidity(user)), imap_last_uid: String(uid), last_error: null });
    expect(state.last_polled_at).toBeInstanceOf(Date);
  });

  test('a reply from a client that keeps only References is matched by its nearest known ancestor', async () => {
    const { tenant, user } = await connectedTenant('references');
    const lead = tenant.leads[0]!;
    const first = await insertSentMessage(owner, tenant, lead);
    const followUp = await insertSentMessage(owner, tenant, lead, { subject: 'Re: Quick question' });
    await dovecot.deliver(user, reply({
      from: lead.email, to: tenant.inboxEmail, subject: 'RE: Quick question',
      references: [first.rfcMessageId, followUp.rfcMessageId, newMessageId('customer-internal.example')],
    }));
    expect((await poll(tenant)).outcomes).toEqual({ reply: 1 });
    const [inbound] = await inboundOf(tenant);
    expect(inbound).toMatchObject({ parent_message_id: followUp.id, in_reply_to: null });
    expect(await eventsOf(owner, tenant.tenantId, followUp.id)).toMatchObject([{ event_type: 'reply', metadata: { matched_by: 'references' } }]);
    expect((await messageState(owner, tenant.tenantId, followUp.id)).enrollment).toBe('replied');
  });

  test('an out-of-office auto-reply is kept in the thread but is no reply: nothing recorded, the sequence goes on', async () => {
    const { tenant, user } = await connectedTenant('ooo');
    const lead = tenant.leads[0]!;
    const sent = await insertSentMessage(owner, tenant, lead);
    await dovecot.deliver(user, reply({
      from: lead.email, to: tenant.inboxEmail, subject: 'Automatic reply: Quick question', inReplyTo: sent.rfcMessageId,
      headers: { 'Auto-Submitted': 'auto-replied', 'X-Auto-Response-Suppress': 'All' }, body: 'I am out of the office until Monday.',
    }));
    expect((await poll(tenant)).outcomes).toEqual({ auto_reply: 1 });
    expect(await inboundOf(tenant)).toMatchObject([{ message_type: 'auto_reply', status: 'received', parent_message_id: sent.id }]);
    expect(await eventsOf(owner, tenant.tenantId, sent.id)).toEqual([]);
    expect(await messageState(owner, tenant.tenantId, sent.id)).toEqual({
      status: 'sent', enrollment: 'active', stop_reason: null, lead: 'active', suppressed: false,
    });
  });

  test('DSNs: a hard bounce suppresses the lead, a soft one (matched by its recipient) does not, a delay is only deferred', async () => {
    const { tenant, user } = await connectedTenant('dsn', {}, 4);
    const [hardLead, softLead, delayedLead, qmailLead] = tenant.leads as [typeof tenant.leads[number], typeof tenant.leads[number], typeof tenant.leads[number], typeof tenant.leads[number]];
    const hard = await insertSentMessage(owner, tenant, hardLead);
    const soft = await insertSentMessage(owner, tenant, softLead);
    const delayed = await insertSentMessage(owner, tenant, delayedLead);
    const plain = await insertSentMessage(owner, tenant, qmailLead);
    await dovecot.deliver(user, dsn({
      to: tenant.inboxEmail, recipient: hardLead.email, originalMessageId: hard.rfcMessageId, status: '5.1.1',
      diagnostic: `550 5.1.1 <${hardLead.email}>: Recipient address rejected: User unknown in virtual mailbox table`,
    }));
    await dovecot.deliver(user, dsn({
      to: tenant.inboxEmail, recipient: softLead.email, status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full', attach: 'none',
    }));
    await dovecot.deliver(user, dsn({
      to: tenant.inboxEmail, recipient: delayedLead.email, originalMessageId: delayed.rfcMessageId, action: 'delayed', status: '4.4.1',
      diagnostic: '421 4.4.1 Connection timed out', attach: 'headers',
    }));
    await dovecot.deliver(user, qmailBounce({
      to: tenant.inboxEmail, recipient: qmailLead.email, originalMessageId: plain.rfcMessageId, answer: '550 sorry, no mailbox here by that name',
    }));

    expect((await poll(tenant)).outcomes).toEqual({ bounce: 3, deferred: 1 });
    expect(await messageState(owner, tenant.tenantId, hard.id)).toEqual({
      status: 'bounced', enrollment: 'bounced', stop_reason: 'bounced', lead: 'bounced', suppressed: true,
    });
    expect(await eventsOf(owner, tenant.tenantId, hard.id)).toMatchObject([{
      event_type: 'bounce',
      metadata: {
        bounce_type: 'hard', status: '5.1.1', action: 'failed', final_recipient: hardLead.email, remote_mta: 'mx.customer.example',
        diagnostic_code: expect.stringContaining('User unknown'), matched_by: 'original_message_id', detected_by: 'dsn',
      },
    }]);
    expect(await messageState(owner, tenant.tenantId, soft.id)).toEqual({
      status: 'bounced', enrollment: 'active', stop_reason: null, lead: 'active', suppressed: false,
    });
    expect(await eventsOf(owner, tenant.tenantId, soft.id)).toMatchObject([{
      event_type: 'bounce', metadata: { bounce_type: 'soft', status: '4.2.2', matched_by: 'final_recipient' },
    }]);
    expect(await messageState(owner, tenant.tenantId, delayed.id)).toMatchObject({ status: 'sent', enrollment: 'active' });
    expect(await eventsOf(owner, tenant.tenantId, delayed.id)).toMatchObject([{ event_type: 'deferred', metadata: { status: '4.4.1', action: 'delayed' } }]);
    expect(await messageState(owner, tenant.tenantId, plain.id)).toMatchObject({ status: 'bounced', lead: 'bounced', suppressed: true });
    expect(await eventsOf(owner, tenant.tenantId, plain.id)).toMatchObject([{
      event_type: 'bounce', metadata: { bounce_type: 'hard', status: '5.0.0', detected_by: 'text', matched_by: 'original_message_id' },
    }]);
    const inbound = await inboundOf(tenant);
    expect(inbound.map((m: { message_type: string }) => m.message_type)).toEqual(['bounce', 'bounce', 'bounce', 'bounce']);
  });

  test('feedback-loop reports: a complaint suppresses the lead once, whichever report comes first; not-spam records nothing', async () => {
    const { tenant, user } = await connectedTenant('arf', {}, 3);
    const [complained, byHeaders, notSpam] = tenant.leads as [typeof tenant.leads[number], typeof tenant.leads[number], typeof tenant.leads[number]];
    const first = await insertSentMessage(owner, tenant, complained);
    const second = await insertSentMessage(owner, tenant, byHeaders);
    const third = await insertSentMessage(owner, tenant, notSpam);
    const report = (lead: typeof complained, rfcMessageId: string, extra: Partial<Parameters<typeof feedbackReport>[0]> = {}) =>
      feedbackReport({ to: tenant.inboxEmail, originalFrom: tenant.inboxEmail, originalRecipient: lead.email, originalMessageId: rfcMessageId, ...extra });
    await dovecot.deliver(user, report(complained, first.rfcMessageId));
    // The provider reports the same message again (a second click on "spam").
    await dovecot.deliver(user, report(complained, first.rfcMessageId));
    await dovecot.deliver(user, report(byHeaders, second.rfcMessageId, { attach: 'headers', feedbackType: 'fraud' }));
    await dovecot.deliver(user, report(notSpam, third.rfcMessageId, { feedbackType: 'not-spam' }));

    expect((await poll(tenant)).outcomes).toEqual({ complaint: 2, duplicate: 1, feedback: 1 });
    expect(await messageState(owner, tenant.tenantId, first.id)).toEqual({
      status: 'sent', enrollment: 'cancelled', stop_reason: 'complained', lead: 'complained', suppressed: true,
    });
    expect(await eventsOf(owner, tenant.tenantId, first.id)).toMatchObject([{
      event_type: 'complaint',
      metadata: {
        feedback_type: 'abuse', user_agent: 'Yahoo!-Mail-Feedback/2.0', source_ip: '203.0.113.10',
        reported_by: 'feedback@arf.mail.yahoo.example', matched_by: 'original_message_id',
      },
    }]);
    expect(await messageState(owner, tenant.tenantId, second.id)).toMatchObject({ lead: 'complained', suppressed: true });
    expect(await eventsOf(owner, tenant.tenantId, second.id)).toMatchObject([{ event_type: 'complaint', metadata: { feedback_type: 'fraud' } }]);
    expect(await messageState(owner, tenant.tenantId, third.id)).toMatchObject({ status: 'sent', enrollment: 'active', lead: 'active', suppressed: false });
    expect(await eventsOf(owner, tenant.tenantId, third.id)).toEqual([]);
    // Reports are not part of any conversation.
    expect(await inboundOf(tenant)).toEqual([]);
    const [stats] = await owner.query(sql`
      select coalesce(sum(complained), 0)::int as complained from app_public.campaign_stats_daily where tenant_id = ${tenant.tenantId}`);
    expect(stats.complained).toBe(2);
  });

  test('mail that answers nothing of ours, and copies of what we sent, are left alone', async () => {
    const { tenant, user } = await connectedTenant('unrelated');
    const sent = await insertSentMessage(owner, tenant, tenant.leads[0]!);
    await dovecot.deliver(user, reply({ from: 'friend@elsewhere.example', to: tenant.inboxEmail, subject: 'Lunch?', body: 'Private mail.' }));
    await dovecot.deliver(user, reply({ from: 'friend@elsewhere.example', to: tenant.inboxEmail, subject: 'Re: Lunch', inReplyTo: newMessageId() }));
    await dovecot.deliver(user, reply({ from: tenant.inboxEmail, to: tenant.leads[0]!.email, subject: 'Quick question', messageId: sent.rfcMessageId }));
    expect((await poll(tenant)).outcomes).toEqual({ unmatched: 2, own: 1 });
    expect(await inboundOf(tenant)).toEqual([]);
    expect(await eventsOf(owner, tenant.tenantId, sent.id)).toEqual([]);
  });

  test('polling again reads nothing twice: no new mail, a redelivered message, or progress lost in a crash', async () => {
    const { tenant, user } = await connectedTenant('repoll');
    const lead = tenant.leads[0]!;
    const sent = await insertSentMessage(owner, tenant, lead);
    const raw = reply({ from: lead.email, to: tenant.inboxEmail, subject: 'Re: Quick question', inReplyTo: sent.rfcMessageId });
    await dovecot.deliver(user, raw);
    expect((await poll(tenant)).outcomes).toEqual({ reply: 1 });
    expect(await poll(tenant)).toMatchObject({ status: 'ok', examined: 0, outcomes: {} });

    await dovecot.deliver(user, raw); // the same message delivered twice
    expect((await poll(tenant)).outcomes).toEqual({ duplicate: 1 });

    // The worker died after recording but before its progress was known: everything is read again.
    await owner.query(sql`update app_public.email_accounts set imap_last_uid = 0 where tenant_id = ${tenant.tenantId} and id = ${tenant.inboxId}`);
    expect(await poll(tenant)).toMatchObject({ examined: 2, outcomes: { duplicate: 2 } });
    expect(await inboundOf(tenant)).toHaveLength(1);
    expect((await eventsOf(owner, tenant.tenantId, sent.id)).map((e) => e.event_type)).toEqual(['reply']);
    expect((await inbox(tenant)).imap_last_uid).toBe('2');
  });

  test('a backlog is read in batches: each poll takes its share and queues the next one at once', async () => {
    const { tenant, user } = await connectedTenant('backlog');
    const sent = await Promise.all(tenant.leads.map((lead) => insertSentMessage(owner, tenant, lead)));
    for (const [i, message] of sent.entries()) {
      await dovecot.deliver(user, reply({ from: tenant.leads[i]!.email, to: tenant.inboxEmail, subject: 'Re: Quick question', inReplyTo: message.rfcMessageId }));
    }
    const small = (t: SendingTenant) => pollInbox(withClient, { ...deps, batchSize: 2 }, { tenantId: t.tenantId, emailAccountId: t.inboxId });
    expect(await small(tenant)).toMatchObject({ examined: 2, outcomes: { reply: 2 }, more: true });
    const [{ n }] = await owner.query(sql`select count(*)::int as n from graphile_worker.jobs where key = ${'imap_poll_inbox:' + tenant.inboxId}`);
    expect(n).toBe(1);
    await owner.query(sql`select graphile_worker.remove_job(${'imap_poll_inbox:' + tenant.inboxId})`);
    expect(await small(tenant)).toMatchObject({ examined: 1, outcomes: { reply: 1 }, more: false });
    expect((await inbox(tenant)).imap_last_uid).toBe('3');
  });

  test('a UIDVALIDITY change re-reads the mailbox, finds new mail below the old UIDs and keeps old mail counted once', async () => {
    const { tenant, user } = await connectedTenant('uidvalidity');
    const [early, late] = [tenant.leads[0]!, tenant.leads[1]!];
    const first = await insertSentMessage(owner, tenant, early);
    const second = await insertSentMessage(owner, tenant, late);
    const keptId = newMessageId();
    await dovecot.deliver(user, reply({ from: early.email, to: tenant.inboxEmail, subject: 'Re: Quick question', messageId: keptId, inReplyTo: first.rfcMessageId }));
    for (let i = 0; i < 3; i++) await dovecot.deliver(user, reply({ from: `news${i}@elsewhere.example`, to: tenant.inboxEmail, subject: `News ${i}` }));
    expect((await poll(tenant)).outcomes).toEqual({ reply: 1, unmatched: 3 });
    const before = await inbox(tenant);
    expect(before.imap_last_uid).toBe('4');

    // The mail store is rebuilt: new UIDVALIDITY, the kept reply is now UID 1, the new one UID 2.
    await dovecot.rebuildMailbox(user, (message) => message.includes(keptId));
    const newValidity = await dovecot.uidValidity(user);
    expect(String(newValidity)).not.toBe(before.imap_uid_validity);
    const newUid = await dovecot.deliver(user, reply({ from: late.email, to: tenant.inboxEmail, subject: 'Re: Quick question', inReplyTo: second.rfcMessageId }));
    expect(newUid).toBe(2);

    expect(await poll(tenant)).toMatchObject({ uidValidity: String(newValidity), examined: 2, outcomes: { duplicate: 1, reply: 1 } });
    expect(await inbox(tenant)).toMatchObject({ imap_uid_validity: String(newValidity), imap_last_uid: '2' });
    expect((await messageState(owner, tenant.tenantId, second.id)).status).toBe('replied');
    expect(await inboundOf(tenant)).toHaveLength(2);
  });

  test('STARTTLS on the plain port, required by the settings, works like implicit TLS; a sending error is left alone', async () => {
    const { tenant, user } = await connectedTenant('starttls', { port: dovecot.plainPort, secure: false, require_tls: true });
    const sent = await insertSentMessage(owner, tenant, tenant.leads[0]!);
    const smtpError = 'SMTP 535 5.7.8 authentication failed at smtp.acme.example:587';
    await owner.query(sql`update app_public.email_accounts set last_error = ${smtpError} where tenant_id = ${tenant.tenantId} and id = ${tenant.inboxId}`);
    await dovecot.deliver(user, reply({ from: tenant.leads[0]!.email, to: tenant.inboxEmail, subject: 'Re: hi', inReplyTo: sent.rfcMessageId }));
    expect((await poll(tenant)).outcomes).toEqual({ reply: 1 });
    expect((await inbox(tenant)).last_error).toBe(smtpError); // not IMAP's to clear
  });

  test('a wrong password: a clear last_error without the password, polls wait for new credentials, then it recovers', async () => {
    const { tenant, user, password } = await connectedTenant('badpass');
    const wrong = `${password}-typo`;
    await setPassword(tenant, wrong);
    const summary = await poll(tenant);
    expect(summary.status).toBe('failed');
    const state = await inbox(tenant);
    expect(state.last_error).toBe(
      `IMAP login failed for ${user} at 127.0.0.1:${dovecot.tlsPort}: the server rejected the username or password (server said: Authentication failed.). Check the inbox's IMAP username and password.`,
    );
    expect(state.last_error).not.toContain(wrong);
    expect(state.last_polled_at).toBeInstanceOf(Date);
    expect(state.imap_uid_validity).toBeNull();

    const pendingPolls = async () =>
      (await owner.query(sql`select count(*)::int as n from graphile_worker.jobs where key = ${'imap_poll_inbox:' + tenant.inboxId}`))[0].n;
    await owner.query(sql`select app_private.queue_imap_polls()`);
    expect(await pendingPolls()).toBe(0); // no retry every minute against a provider that may lock the account
    await setPassword(tenant, password);
    await owner.query(sql`select app_private.queue_imap_polls()`);
    await owner.query(sql`select app_private.queue_imap_polls()`);
    expect(await pendingPolls()).toBe(1); // one pending poll per inbox, however often it is queued
    const [job] = await owner.query(sql`select task_identifier, queue_name from graphile_worker.jobs where key = ${'imap_poll_inbox:' + tenant.inboxId}`);
    expect(job).toEqual({ task_identifier: 'imap_poll_inbox', queue_name: `imap:${tenant.inboxId}` }); // polls of one inbox never overlap
    await owner.query(sql`select graphile_worker.remove_job(${'imap_poll_inbox:' + tenant.inboxId})`);

    expect((await poll(tenant)).status).toBe('ok');
    expect((await inbox(tenant)).last_error).toBeNull();
  });

  test('other failures say what to fix: no password, bad settings, nothing listening', async () => {
    const { tenant } = await connectedTenant('failures');
    await owner.query(sql`delete from app_private.email_account_credentials where tenant_id = ${tenant.tenantId}`);
    expect((await poll(tenant)).reason).toBe('IMAP password is not set for this inbox; set it with setEmailAccountCredentials.');
    await setPassword(tenant, 'whatever-password');

    await owner.query(sql`update app_public.email_accounts set imap_settings = '{"host": "127.0.0.1", "port": "imap"}' where tenant_id = ${tenant.tenantId} and id = ${tenant.inboxId}`);
    expect((await poll(tenant)).reason).toMatch(/^IMAP settings are not valid: port .*Expected \{"host", "port", "secure", "username"\}\.$/);

    const closed = await freePort();
    await owner.query(sql`update app_public.email_accounts set imap_settings = ${JSON.stringify({ host: '127.0.0.1', port: closed, secure: true })}::jsonb where tenant_id = ${tenant.tenantId} and id = ${tenant.inboxId}`);
    expect((await poll(tenant)).reason).toMatch(new RegExp(`^IMAP connection to 127\\.0\\.0\\.1:${closed} failed: ECONNREFUSED`));
    expect((await inbox(tenant)).last_error).toMatch(/^IMAP connection to/);

    // Paused still polls (it stops sending, not reading); disabled does not.
    await owner.query(sql`update app_public.email_accounts set status = 'paused' where tenant_id = ${tenant.tenantId} and id = ${tenant.inboxId}`);
    expect((await poll(tenant)).reason).toMatch(new RegExp(`^IMAP connection to 127\\.0\\.0\\.1:${closed} failed: ECONNREFUSED`));
    await owner.query(sql`update app_public.email_accounts set status = 'disabled' where tenant_id = ${tenant.tenantId} and id = ${tenant.inboxId}`);
    expect(await poll(tenant)).toMatchObject({ status: 'skipped', reason: 'the inbox is disabled' });
  });

  test('through graphile-worker: the scheduled task queues a poll per inbox and the worker records the reply', async () => {
    const { tenant, user } = await connectedTenant('worker');
    const lead = tenant.leads[0]!;
    const sent = await insertSentMessage(owner, tenant, lead);
    await dovecot.deliver(user, reply({ from: lead.email, to: tenant.inboxEmail, subject: 'Re: Quick question', inReplyTo: sent.rfcMessageId }));
    const env = testEnv({ LOG_LEVEL: 'error' });
    const systemMailer = makeSystemMailer({ from: env.MAIL_FROM, outboxDir: path.join(os.tmpdir(), 'pm-outbox') });
    const worker = await startWorker(database.urls.owner, { env, systemMailer, imap: deps }, { crontab: '', pollInterval: 100 });
    try {
      await worker.runner.addJob('imap_poll_all', {});
      await eventually(async () => (await messageState(owner, tenant.tenantId, sent.id)).status === 'replied', 20_000);
      expect(await inboundOf(tenant)).toHaveLength(1);
      expect((await inbox(tenant)).last_polled_at).toBeInstanceOf(Date);
    } finally {
      await worker.stop();
    }
  });
});
