/**
 * SMTP delivery end to end: a started campaign's message reaches a real SMTP
 * server on 127.0.0.1 DKIM-signed (verified with mailauth against the
 * domain's published key), with the inbox's decrypted password, a stable
 * Message-ID, RFC 8058 one-click unsubscribe headers, tracking, and exactly
 * the content previewMessage shows. Temporary refusals are retried with
 * backoff; permanent ones bounce and suppress the lead.
 */
import { eventually } from '../helpers/eventually.ts';
import { addMember, advanceClock, campaignOf, createCampaign, createSender, createTenant, enrollmentsOf, header, lifecycle, messagesOf, startWorld, verifyDkim, type World, campaignCompletes } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

const SMTP_PASSWORD = 'app-password-1234';
const logins: Array<{ username: string; password: string }> = [];
const rcptAttempts = new Map<string, number>();
let w: World;

beforeAll(async () => {
  w = await startWorld({
    smtp: {
      authOptional: true,
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        logins.push({ username: auth.username ?? '', password: auth.password ?? '' });
        if (auth.password !== SMTP_PASSWORD) return callback(new Error('Invalid username or password'));
        callback(null, { user: auth.username });
      },
      onRcptTo(address, _session, callback) {
        const n = (rcptAttempts.get(address.address) ?? 0) + 1;
        rcptAttempts.set(address.address, n);
        if (address.address.startsWith('defer-once') && n === 1) {
          return callback(Object.assign(new Error('4.2.2 Mailbox busy, try again later'), { responseCode: 451 }));
        }
        if (address.address.startsWith('reject')) {
          return callback(Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 }));
        }
        callback();
      },
    },
  });
});
afterAll(() => w.close());

const PREVIEW = `query($stepId: UUID!, $leadId: UUID!) { previewMessage(stepId: $stepId, leadId: $leadId) { subject html text variant fromName fromEmail toEmail messageId } }`;
const SET_CREDENTIALS = `mutation($input: SetEmailAccountCredentialsInput!) {
  setEmailAccountCredentials(input: $input) { smtpAuthConfigured imapAuthConfigured emailAccount { rowId email smtpAuthConfigured } }
}`;

test('a started campaign delivers a DKIM-signed message through the inbox SMTP server, exactly as previewed', async () => {
  const tenant = await createTenant(w, 'deliver');
  const sender = await createSender(w, tenant.tenantId, [{ username: 'sam', fromName: 'Sam Sender' }]);
  const inbox = sender.inboxes[0]!;

  // The password goes in through the API, encrypted; it never comes back.
  const stored = await w.t.ok(SET_CREDENTIALS, { input: { emailAccountId: inbox.id, smtpPassword: SMTP_PASSWORD } }, tenant.token);
  expect(stored.setEmailAccountCredentials).toEqual({
    smtpAuthConfigured: true, imapAuthConfigured: false, emailAccount: { rowId: inbox.id, email: inbox.email, smtpAuthConfigured: true },
  });
  const [secret] = await w.t.owner.query(sql`select smtp_password_encrypted from app_private.email_account_credentials where email_account_id = ${inbox.id}`);
  expect(Buffer.from(secret.smtp_password_encrypted).includes(Buffer.from(SMTP_PASSWORD))).toBe(false);
  expect(w.box.decrypt(secret.smtp_password_encrypted)).toBe(SMTP_PASSWORD);

  const { campaignId, stepIds, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [inbox.id],
    steps: [{
      type: 'email',
      subject: '{Quick question|A quick idea} for {{ lead.company }}',
      html: '<html><head><style>p { color: #336699 }</style></head><body><p>Hi {{ lead.first_name }},</p>'
        + '<p>{Have a look|Take a look} at <a href="https://example.com/pricing?plan=pro&amp;ref=mail">our pricing</a>.</p></body></html>',
      variables: [{ name: 'first_name', fallback: 'there' }],
    }],
    leads: [{ first_name: null, company: 'Globex' }],
  });
  const lead = leads[0]!;

  const before = await w.t.ok(PREVIEW, { stepId: stepIds[0], leadId: lead.id }, tenant.token);
  expect(before.previewMessage).toMatchObject({ fromName: 'Sam Sender', fromEmail: inbox.email, toEmail: lead.email, messageId: null });
  expect(before.previewMessage.subject).toMatch(/^(Quick question|A quick idea) for Globex$/);
  // No live tracking in a preview: links keep their targets, no pixel, an unsubscribe placeholder that leads nowhere.
  expect(before.previewMessage.html).toContain('href="https://example.com/pricing?plan=pro&amp;ref=mail"');
  expect(before.previewMessage.html).not.toMatch(/\/t\/[co]\//);
  expect(before.previewMessage.html).toContain(`${w.publicUrl}/u/preview-no-message-yet`);

  const started = await lifecycle(w, tenant.token, 'start', campaignId);
  expect(started.error).toBeNull();
  expect(started.campaign).toMatchObject({ status: 'SENDING', pausedBy: null });

  const mail = await w.smtp.waitFor((m) => m.to.includes(lead.email));
  expect(logins).toContainEqual({ username: 'sam', password: SMTP_PASSWORD });

  // DKIM: valid, by the sending domain, over the headers that matter (RFC 8058 needs both List-Unsubscribe headers signed).
  const dkim = await verifyDkim(mail, sender);
  expect(dkim).toMatchObject({ result: 'pass', signingDomain: sender.domain, selector: 'pm' });
  expect(dkim.signedHeaders).toEqual(expect.arrayContaining(['from', 'to', 'subject', 'date', 'message-id', 'list-unsubscribe', 'list-unsubscribe-post']));

  const [message] = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows[0]?.status === 'sent' && rows;
  });
  expect(message).toMatchObject({ status: 'sent', send_attempts: 1, rfc_message_id: `${message.id}@${sender.domain}`, in_reply_to: null });
  expect(message.smtp_response).toMatch(/^250/);
  expect(header(mail, 'message-id')).toBe(`<${message.id}@${sender.domain}>`);
  expect(mail.parsed.from).toMatchObject({ name: 'Sam Sender', address: inbox.email });
  expect(mail.from).toBe(inbox.email);
  expect(header(mail, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
  const unsubscribe = header(mail, 'list-unsubscribe')!;
  expect(unsubscribe).toMatch(new RegExp(`^<${w.publicUrl}/u/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+>$`));

  // Rendering: fallback, spintax, CSS inlined, click tracking, open pixel, unsubscribe link, generated text part.
  expect(mail.parsed.subject).toBe(message.subject);
  expect(mail.parsed.html).toContain('<p style="color: #336699;">Hi there,</p>');
  expect(mail.parsed.html).toContain(`${w.publicUrl}/t/c/`);
  expect(mail.parsed.html).not.toContain('href="https://example.com/pricing');
  expect(mail.parsed.html).toMatch(new RegExp(`<img src="${w.publicUrl}/t/o/[^"]+\\.gif"`));
  expect(mail.parsed.html).toContain(unsubscribe.slice(1, -1));
  expect(mail.parsed.text).toMatch(/^Hi there,\n\n(Have|Take) a look at our pricing \(https:\/\/example\.com\/pricing\?plan=pro&ref=mail\)\./);
  expect(mail.parsed.text).toContain(`Unsubscribe: ${unsubscribe.slice(1, -1)}`);

  // The preview now reproduces the sent message byte for byte, but for the tracking: the click redirect
  // back to its target and no open pixel (same unsubscribe link: the message's own).
  const untracked = mail.parsed.html!
    .replace(new RegExp(`${w.publicUrl}/t/c/[^"?]+\\?u=([^"&]+)&amp;s=[A-Za-z0-9_-]+`, 'g'), (_, u: string) => decodeURIComponent(u).replace(/&/g, '&amp;'))
    .replace(/<img src="[^"]+\/t\/o\/[^"]+\.gif"[^>]*>/, '');
  const after = await w.t.ok(PREVIEW, { stepId: stepIds[0], leadId: lead.id }, tenant.token);
  expect(after.previewMessage).toMatchObject({ subject: mail.parsed.subject, messageId: message.id });
  expect(after.previewMessage.html).toBe(untracked.trimEnd());
  expect(after.previewMessage.text).toBe(mail.parsed.text?.trimEnd());

  const [{ events }] = await w.t.owner.query(sql`select array_agg(event_type order by id) as events from app_public.email_events where message_id = ${message.id}`);
  expect(events).toEqual(['sent']);
  // Booking and sending move the inbox's pacing and daily count: bookkeeping, not a change anyone made, so not audited.
  const bookkeeping = await w.t.owner.query(sql`
    select changes from app_public.audit_log
    where tenant_id = ${tenant.tenantId} and action = 'email_accounts.update'
      and changes ?| array['next_send_at', 'daily_count', 'daily_count_date', 'last_sent_at']`);
  expect(bookkeeping).toEqual([]);
  expect(await enrollmentsOf(w, campaignId)).toMatchObject([{ status: 'completed', steps_completed: 1 }]);
  await campaignCompletes(w, campaignId, 10_000);
  expect(w.smtp.messages.filter((m) => m.to.includes(lead.email))).toHaveLength(1);
});

test('a follow-up is sent from the same inbox and threaded to the first message', async () => {
  const tenant = await createTenant(w, 'thread');
  const sender = await createSender(w, tenant.tenantId, [{}, {}]);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: sender.inboxes.map((i) => i.id),
    steps: [{ type: 'email' }, { type: 'wait', hours: 2 }, { type: 'email', subject: 'Re: following up' }],
    leads: [{}],
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  const first = await w.smtp.waitFor((m) => m.to.includes(leads[0]!.email));
  await eventually(async () => (await enrollmentsOf(w, campaignId))[0].current_step_order === 3 && (await enrollmentsOf(w, campaignId))[0]);
  await advanceClock(w, '2 hours');
  const second = await w.smtp.waitFor((m) => m.to.includes(leads[0]!.email) && m.parsed.subject === 'Re: following up');
  const firstId = header(first, 'message-id')!;
  expect(header(second, 'in-reply-to')).toBe(firstId);
  expect(header(second, 'references')).toBe(firstId);
  expect(second.from).toBe(first.from);
  const messages = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows.every((m) => m.status === 'sent') && rows;
  });
  expect(messages.map((m) => [m.step_order, m.status, m.email_account_id])).toEqual([
    [1, 'sent', messages[0].email_account_id],
    [3, 'sent', messages[0].email_account_id],
  ]);
});

test('a temporary SMTP refusal is retried with backoff and delivered once', async () => {
  const tenant = await createTenant(w, 'defer');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email' }],
    leads: [{ email: `defer-once-${Date.now()}@recipient.example` }],
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  const deferred = await eventually(async () => {
    const [m] = await messagesOf(w, campaignId);
    return m?.status === 'queued' && m.send_attempts === 1 && m;
  });
  expect(deferred.error_message).toMatch(/^Attempt 1 was deferred \(451 4\.2\.2 Mailbox busy, try again later\); the next attempt is at /);
  expect(w.smtp.messages.filter((m) => m.to.includes(leads[0]!.email))).toHaveLength(0);
  const [{ delay }] = await w.t.owner.query(sql`select extract(epoch from scheduled_for - app_private.engine_now())::int as delay from app_public.messages where id = ${deferred.id}`);
  expect(delay).toBeGreaterThan(280);
  expect(delay).toBeLessThanOrEqual(300);

  await advanceClock(w, '5 minutes');
  await w.smtp.waitFor((m) => m.to.includes(leads[0]!.email));
  const [sent] = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows[0]?.status === 'sent' && rows;
  });
  expect(sent).toMatchObject({ send_attempts: 2, error_message: null });
  const [{ events }] = await w.t.owner.query(sql`select array_agg(event_type order by id) as events from app_public.email_events where message_id = ${sent.id}`);
  expect(events).toEqual(['deferred', 'sent']);
  expect(w.smtp.messages.filter((m) => m.to.includes(leads[0]!.email))).toHaveLength(1);
  // One email counted against the plan, not one per attempt.
  const [{ used }] = await w.t.owner.query(sql`select app_private.metered_usage(${tenant.tenantId}, 'emails_sent') as used`);
  expect(Number(used)).toBe(1);
});

test('a permanent SMTP refusal bounces the message, suppresses the lead and stops its sequence', async () => {
  const tenant = await createTenant(w, 'bounce');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email' }, { type: 'wait', hours: 1 }, { type: 'email' }],
    leads: [{ email: `reject-${Date.now()}@recipient.example` }],
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  const [message] = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows[0]?.status === 'bounced' && rows;
  });
  expect(message.error_message).toBe("The recipient's server refused the message: 550 5.1.1 No such user here");
  const [lead] = await w.t.owner.query(sql`
    select l.status, l.bounced_at is not null as bounced, s.reason as suppressed
    from app_public.leads l left join app_public.suppressions s on s.tenant_id = l.tenant_id and s.email = l.email
    where l.id = ${leads[0]!.id}
  `);
  expect(lead).toEqual({ status: 'bounced', bounced: true, suppressed: 'bounced' });
  expect(await enrollmentsOf(w, campaignId)).toMatchObject([{ status: 'bounced', stop_reason: 'bounced' }]);
  const [event] = await w.t.owner.query(sql`select metadata from app_public.email_events where message_id = ${message.id} and event_type = 'bounce'`);
  expect(event.metadata).toMatchObject({ bounce_type: 'hard', smtp_code: 550, smtp_response: '550 5.1.1 No such user here' });
  await campaignCompletes(w, campaignId, 10_000);
});

test('a template that cannot render fails its message with the reason, and the preview says the same', async () => {
  const tenant = await createTenant(w, 'broken');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, stepIds, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email', html: '<p>Hi {{ lead.frist_name }}</p>' }],
    leads: [{}],
  });
  const preview = await w.t.gql(PREVIEW, { stepId: stepIds[0], leadId: leads[0]!.id }, tenant.token);
  const reason = 'Template "' + (await w.t.owner.query(sql`select name from app_public.templates where tenant_id = ${tenant.tenantId}`))[0].name
    + '" (HTML body) cannot be rendered: undefined variable: lead.frist_name, line:1, col:10.';
  expect(preview.errors?.[0]).toMatchObject({ message: reason, extensions: { code: 'INVALID_INPUT' } });

  await lifecycle(w, tenant.token, 'start', campaignId);
  const [message] = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows[0]?.status === 'failed' && rows;
  });
  expect(message.error_message).toBe(reason);
  expect(await enrollmentsOf(w, campaignId)).toMatchObject([{ status: 'failed', stop_reason: reason }]);
  // Nothing was sent, nothing counted against the plan.
  const [{ used }] = await w.t.owner.query(sql`select app_private.metered_usage(${tenant.tenantId}, 'emails_sent') as used`);
  expect(Number(used)).toBe(0);
});

test('a DKIM key that cannot be read, or sealed with another key, fails its message with the reason', async () => {
  const tenant = await createTenant(w, 'badkey');
  const sender = await createSender(w, tenant.tenantId);
  const unreadable = sender.inboxes[0]!;
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [unreadable.id],
    steps: [{ type: 'email', html: '<p>Hi</p>' }],
    leads: [{}],
  });
  // The worker keeps parsed keys by their sealed bytes: a key sealed anew is read anew.
  await w.t.owner.query(sql`update app_private.domain_dkim_keys set private_key_encrypted = ${w.box.encrypt('not a PEM key')} where tenant_id = ${tenant.tenantId}`);
  await lifecycle(w, tenant.token, 'start', campaignId);
  const [message] = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows[0]?.status === 'failed' && rows;
  });
  expect(message.error_message).toBe(`The DKIM private key of ${sender.domain} cannot be read.`);

  const other = await createTenant(w, 'foreignkey');
  const otherSender = await createSender(w, other.tenantId);
  const second = await createCampaign(w, other.tenantId, { inboxIds: [otherSender.inboxes[0]!.id], steps: [{ type: 'email', html: '<p>Hi</p>' }], leads: [{}] });
  await w.t.owner.query(sql`update app_private.domain_dkim_keys set private_key_encrypted = ${Buffer.from('sealed elsewhere, with another server key')} where tenant_id = ${other.tenantId}`);
  await lifecycle(w, other.token, 'start', second.campaignId);
  const [refused] = await eventually(async () => {
    const rows = await messagesOf(w, second.campaignId);
    return rows[0]?.status === 'failed' && rows;
  });
  expect(refused.error_message).toMatch(/cannot be decrypted with this server's key/);
  expect(w.smtp.messages.filter((m) => m.from === unreadable.email || m.from === otherSender.inboxes[0]!.email)).toHaveLength(0);
});

test('only owners and admins set inbox passwords, only in their organisation, and a password is never empty', async () => {
  const tenant = await createTenant(w, 'creds');
  const sender = await createSender(w, tenant.tenantId);
  const inboxId = sender.inboxes[0]!.id;
  const attempt = (token: string, input: Record<string, unknown>) => w.t.gql(SET_CREDENTIALS, { input: { emailAccountId: inboxId, ...input } }, token);

  const adminElsewhere = await createTenant(w, 'creds-admin', 'pro', ['admin']);
  expect((await attempt(adminElsewhere.token, { smtpPassword: 'x-secret-1' })).errors?.[0]).toMatchObject({
    message: `There is no inbox ${inboxId} in this organisation.`, extensions: { code: 'NOT_FOUND' },
  });
  const member = await addMember(w, tenant.tenantId, 'creds-member', ['member']);
  expect((await attempt(member.token, { smtpPassword: 'x-secret-1' })).errors?.[0]).toMatchObject({
    message: 'Only owners and admins can set inbox passwords.', extensions: { code: 'FORBIDDEN' },
  });
  expect((await attempt(tenant.token, { smtpPassword: '' })).errors?.[0]).toMatchObject({
    message: 'smtpPassword is empty; leave it out to keep the stored one.', extensions: { code: 'INVALID_INPUT' },
  });
  expect((await attempt(tenant.token, {})).errors?.[0]).toMatchObject({
    message: 'Give an SMTP password, an IMAP password, or both.', extensions: { code: 'INVALID_INPUT' },
  });
  const [{ n }] = await w.t.owner.query(sql`select count(*)::int as n from app_private.email_account_credentials where email_account_id = ${inboxId}`);
  expect(n).toBe(0);

  const admin = await addMember(w, tenant.tenantId, 'creds-admin2', ['admin']);
  const imapOnly = await w.t.ok(SET_CREDENTIALS, { input: { emailAccountId: inboxId, imapPassword: 'imap-secret-9' } }, admin.token);
  expect(imapOnly.setEmailAccountCredentials).toMatchObject({ smtpAuthConfigured: false, imapAuthConfigured: true });
  const both = await w.t.ok(SET_CREDENTIALS, { input: { emailAccountId: inboxId, smtpPassword: 'smtp-secret-8' } }, tenant.token);
  expect(both.setEmailAccountCredentials).toMatchObject({ smtpAuthConfigured: true, imapAuthConfigured: true });
  const [stored] = await w.t.owner.query(sql`select smtp_password_encrypted, imap_password_encrypted from app_private.email_account_credentials where email_account_id = ${inboxId}`);
  expect([w.box.decrypt(stored.smtp_password_encrypted), w.box.decrypt(stored.imap_password_encrypted)]).toEqual(['smtp-secret-8', 'imap-secret-9']);
  const audit = await w.t.owner.query(sql`select changes from app_public.audit_log where tenant_id = ${tenant.tenantId} and action = 'email_account.credentials_set' order by id`);
  expect(audit.map((a) => a.changes)).toEqual([{ smtp_password: false, imap_password: true }, { smtp_password: true, imap_password: false }]);
});
