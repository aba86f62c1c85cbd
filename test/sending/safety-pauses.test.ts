/**
 * Automatic safety pauses (issue 16, item 2) against a real SMTP server:
 *
 * - a campaign whose bounce rate over the safety window passes the tenant's
 *   limit pauses itself with the reason, a campaign.paused webhook event and
 *   an email to the admins; so does one with a spam complaint over the
 *   complaint limit; under the minimum sample it keeps sending;
 * - the tenant sets its limits within the platform's bounds (outside them:
 *   INVALID_INPUT, nothing changed);
 * - an inbox whose SMTP login is refused (535) three times in a row stops
 *   sending with a clear reason, no further login is tried, and
 *   resumeEmailAccount (after fixing the password) lets the message go out.
 */
import { eventually } from '../helpers/eventually.ts';
import { advanceClock, campaignOf, createCampaign, createSender, createTenant, enrollmentsOf, lifecycle, messagesOf, startWorld, type TestTenant, type World, campaignCompletes } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

const GOOD_PASSWORD = 'right-password-1234';
const logins: Array<{ username: string; ok: boolean }> = [];
let w: World;

beforeAll(async () => {
  w = await startWorld({
    systemMailViaSmtp: true,
    smtp: {
      authOptional: true,
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        const ok = auth.password === GOOD_PASSWORD;
        logins.push({ username: auth.username ?? '', ok });
        if (!ok) return callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
        callback(null, { user: auth.username });
      },
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith('reject')) {
          return callback(Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 }));
        }
        callback();
      },
    },
  });
}, 60_000);
afterAll(() => w.close());

const CONFIG = `{ tenantConfig { safetyBounceRate safetyComplaintRate safetyMinSample safetyWindowDays } }`;
const UPDATE_CONFIG = `mutation($patch: TenantConfigPatch!) {
  updateTenantConfig(input: { patch: $patch }) { tenantConfig { safetyBounceRate safetyComplaintRate safetyMinSample safetyWindowDays } }
}`;

async function setLimits(tenant: TestTenant, patch: Record<string, unknown>) {
  return w.t.gql(UPDATE_CONFIG, { patch }, tenant.token);
}

async function ownerEmail(tenant: TestTenant): Promise<string> {
  const [row] = await w.t.owner.query(sql`select email::text from app_public.tenant_users where tenant_id = ${tenant.tenantId} and user_id = ${tenant.userId}`);
  return row.email;
}

test('the tenant sets its safety limits within the platform bounds; outside them it is refused and nothing changes', async () => {
  const tenant = await createTenant(w, 'limits');
  expect((await w.t.ok(CONFIG, {}, tenant.token)).tenantConfig).toEqual({
    safetyBounceRate: '0.05000', safetyComplaintRate: '0.00300', safetyMinSample: 100, safetyWindowDays: 7,
  });

  const stricter = await setLimits(tenant, { safetyBounceRate: '0.02', safetyComplaintRate: '0.001', safetyMinSample: 50, safetyWindowDays: 14 });
  expect(stricter.errors).toBeUndefined();
  expect(stricter.data.updateTenantConfig.tenantConfig).toEqual({
    safetyBounceRate: '0.02000', safetyComplaintRate: '0.00100', safetyMinSample: 50, safetyWindowDays: 14,
  });

  for (const [patch, words] of [
    [{ safetyBounceRate: '0.5' }, /bounce rate .* between 0\.01 and 0\.10/],
    [{ safetyBounceRate: '0.001' }, /bounce rate .* between 0\.01 and 0\.10/],
    [{ safetyComplaintRate: '0.01' }, /complaint rate .* between 0\.0005 and 0\.003/],
    [{ safetyMinSample: 3 }, /minimum sample .* between 20 and 10000/],
    [{ safetyWindowDays: 90 }, /window must be between 1 and 30 days/],
  ] as const) {
    const refused = await setLimits(tenant, patch);
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_INPUT' } });
    expect(refused.errors?.[0]?.message).toMatch(words);
  }
  expect((await w.t.ok(CONFIG, {}, tenant.token)).tenantConfig).toEqual({
    safetyBounceRate: '0.02000', safetyComplaintRate: '0.00100', safetyMinSample: 50, safetyWindowDays: 14,
  });
});

test('a campaign whose bounce rate passes the limit pauses itself with the reason, a webhook event and an email to the admins', async () => {
  const tenant = await createTenant(w, 'bouncy');
  expect((await setLimits(tenant, { safetyMinSample: 20 })).errors).toBeUndefined();
  await w.t.owner.query(sql`
    insert into app_public.webhook_subscriptions (tenant_id, url, event_types) values (${tenant.tenantId}, 'http://127.0.0.1:9/hook', '{campaign.paused}')`);
  // Three inboxes share the sends (rotation keeps them even), so none reaches the minimum sample of 20 on its own:
  // the campaign's rate pauses the campaign, and no inbox pauses itself (that is inbox-safety-pauses.test.ts).
  const sender = await createSender(w, tenant.tenantId, [{ dailyLimit: 1000 }, { dailyLimit: 1000 }, { dailyLimit: 1000 }]);
  const leads = Array.from({ length: 30 }, (_, i) => ({ email: i % 6 === 5 ? `reject-${i}-${Date.now()}@recipient.example` : undefined }));
  const { campaignId } = await createCampaign(w, tenant.tenantId, { inboxIds: sender.inboxes.map((i) => i.id), steps: [{ type: 'email' }], leads });

  expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
  const paused = await eventually(async () => {
    const c = await campaignOf(w, campaignId);
    return c.status === 'paused' && c;
  }, 30_000);
  expect(paused.paused_by).toBe('system');
  expect(paused.pause_reason).toMatch(/^Paused automatically: \d+ of the last \d+ messages bounced \([\d.]+%\), above your limit of 5% \(safety window: 7 days\)/);
  const [{ safety_pause }] = await w.t.owner.query(sql`select safety_pause from app_public.campaigns where id = ${campaignId}`);
  expect(safety_pause).toBe('bounce_rate');

  // The figures in the reason are those of the rollup when it paused: at least the minimum sample, over 5%.
  const [, bounced, attempts] = paused.pause_reason.match(/(\d+) of the last (\d+)/)!.map(Number);
  expect(attempts).toBeGreaterThanOrEqual(20);
  expect(bounced / attempts).toBeGreaterThan(0.05);

  // Through the API, the tenant sees why.
  const seen = await w.t.ok(`query($id: UUID!) { campaign(rowId: $id) { status pausedBy pauseReason safetyPause } }`, { id: campaignId }, tenant.token);
  expect(seen.campaign).toEqual({ status: 'PAUSED', pausedBy: 'SYSTEM', pauseReason: paused.pause_reason, safetyPause: 'BOUNCE_RATE' });

  // The webhook event carries the reason.
  const events = await w.t.owner.query(sql`
    select data from app_public.webhook_events where tenant_id = ${tenant.tenantId} and event_type = 'campaign.paused'`);
  expect(events).toEqual([{ data: expect.objectContaining({ campaign_id: campaignId, paused_by: 'system', pause_reason: paused.pause_reason }) }]);

  // The owner is told, through the system mailer.
  const to = await ownerEmail(tenant);
  const notice = await w.smtp.waitFor((m) => m.to.includes(to) && m.parsed.subject === 'A campaign of your organisation was paused automatically', 20_000);
  expect(notice.parsed.text).toContain(paused.pause_reason);

  // Nothing more is sent while paused.
  const sentAtPause = (await messagesOf(w, campaignId)).filter((m) => m.status === 'sent').length;
  await new Promise((r) => setTimeout(r, 1_000));
  expect((await messagesOf(w, campaignId)).filter((m) => m.status === 'sent').length).toBe(sentAtPause);

  expect(await w.t.owner.query(sql`select distinct status from app_public.email_accounts where domain_id = ${sender.domainId}`)).toEqual([{ status: 'active' }]);

  // Billing's resume of system pauses leaves it alone; the tenant's resume does not pause it again for the same bounces.
  await w.t.owner.query(sql`select app_private.resume_tenant_campaigns(${tenant.tenantId})`);
  expect((await campaignOf(w, campaignId)).status).toBe('paused');
  const resumed = await lifecycle(w, tenant.token, 'resume', campaignId);
  expect(resumed.error).toBeNull();
  expect(resumed.campaign).toMatchObject({ status: 'SENDING', pauseReason: null });
  await campaignCompletes(w, campaignId);
}, 90_000);

test('a spam complaint over the complaint limit pauses a campaign still in its sequence', async () => {
  const tenant = await createTenant(w, 'complained');
  expect((await setLimits(tenant, { safetyMinSample: 20 })).errors).toBeUndefined();
  const sender = await createSender(w, tenant.tenantId, [{ dailyLimit: 1000 }]);
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email' }, { type: 'wait', hours: 48 }, { type: 'email' }],
    leads: Array.from({ length: 20 }, () => ({})),
  });
  expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
  const sent = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows.length === 20 && rows.every((m) => m.status === 'sent') && rows;
  }, 30_000);
  expect((await campaignOf(w, campaignId)).status).toBe('sending');

  // A feedback loop reports one of them: 1 of 20 sent (5%) is over the 0.3% limit.
  await w.t.owner.query(sql`select app_private.record_email_event(${tenant.tenantId}, ${sent[0].id}, 'complaint')`);
  const paused = await campaignOf(w, campaignId);
  expect(paused.status).toBe('paused');
  expect(paused.pause_reason).toBe('Paused automatically: 1 of the last 20 messages sent were reported as spam (5.00%), above your limit of 0.3% '
    + '(safety window: 7 days). Review who you are emailing and what you send, then resume the campaign.');
  const [{ safety_pause }] = await w.t.owner.query(sql`select safety_pause from app_public.campaigns where id = ${campaignId}`);
  expect(safety_pause).toBe('complaint_rate');
}, 90_000);

test('under the minimum sample a bounce does not pause the campaign', async () => {
  const tenant = await createTenant(w, 'few');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email' }],
    leads: [{}, { email: `reject-few-${Date.now()}@recipient.example` }, {}],
  });
  expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
  await campaignCompletes(w, campaignId);
  const statuses = (await messagesOf(w, campaignId)).map((m) => m.status).sort();
  expect(statuses).toEqual(['bounced', 'sent', 'sent']);
  const [row] = await w.t.owner.query(sql`select safety_pause, paused_at from app_public.campaigns where id = ${campaignId}`);
  expect(row).toEqual({ safety_pause: null, paused_at: null });
}, 90_000);

test('an inbox whose SMTP login is refused three times in a row stops sending with a clear error until it is resumed', async () => {
  const tenant = await createTenant(w, 'authfail');
  const username = `bad-${Date.now()}`;
  const sender = await createSender(w, tenant.tenantId, [{ username, password: 'wrong-password' }]);
  const inbox = sender.inboxes[0]!;
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, { inboxIds: [inbox.id], steps: [{ type: 'email' }] });
  const attempts = () => logins.filter((l) => l.username === username).length;

  expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
  await eventually(async () => attempts() === 1, 20_000);
  // Each refusal is retried with backoff (5, then 10 minutes of engine time).
  await eventually(async () => (await messagesOf(w, campaignId))[0]?.send_attempts === 1 && (await messagesOf(w, campaignId))[0]?.status === 'queued');
  await advanceClock(w, '6 minutes');
  await eventually(async () => attempts() === 2, 20_000);
  await eventually(async () => (await messagesOf(w, campaignId))[0]?.send_attempts === 2 && (await messagesOf(w, campaignId))[0]?.status === 'queued');
  await advanceClock(w, '11 minutes');
  await eventually(async () => attempts() === 3, 20_000);

  const INBOX = `query($id: UUID!) { emailAccount(rowId: $id) { status pauseReason pausedAt smtpAuthFailures lastError } }`;
  const stopped = await eventually(async () => {
    const account = (await w.t.ok(INBOX, { id: inbox.id }, tenant.token)).emailAccount;
    return account.status === 'ERROR' && account;
  });
  expect(stopped.smtpAuthFailures).toBe(3);
  expect(stopped.pausedAt).not.toBeNull();
  expect(stopped.pauseReason).toMatch(/^Sending stopped: the SMTP server 127\.0\.0\.1 refused the login 3 times in a row \(last answer: .*535.*\)\. Correct the SMTP username or password \(setEmailAccountCredentials\), then resume the inbox \(resumeEmailAccount\)\.$/);

  // The owner is told.
  const to = await ownerEmail(tenant);
  const notice = await w.smtp.waitFor((m) => m.to.includes(to) && m.parsed.subject === 'An inbox of your organisation stopped sending', 20_000);
  expect(notice.parsed.text).toContain(stopped.pauseReason);

  // No further login is tried: the retry finds the inbox stopped and waits.
  await advanceClock(w, '21 minutes'); // the retry is due (its slot is not stale)
  const [enrollment] = await eventually(async () => {
    const rows = await enrollmentsOf(w, campaignId);
    const [{ now }] = await w.t.owner.query(sql`select app_private.engine_now() as now`);
    return rows[0]?.next_run_at && rows[0].next_run_at.getTime() > now.getTime() + 30 * 60_000 && rows;
  }, 20_000);
  expect(enrollment.status).toBe('active');
  await advanceClock(w, '2 hours');
  await new Promise((r) => setTimeout(r, 1_500));
  expect(attempts()).toBe(3);
  const [message] = await messagesOf(w, campaignId);
  expect(message).toMatchObject({ status: 'queued', send_attempts: 3 });
  const idle = await w.t.ok(`query($id: UUID!) { campaign(rowId: $id) { status idleReason } }`, { id: campaignId }, tenant.token);
  expect(idle.campaign.status).toBe('SENDING');

  // A viewer cannot resume it; an unknown inbox is NOT_FOUND; the owner fixes the password and resumes it.
  const RESUME = `mutation($id: UUID!) { resumeEmailAccount(input: { emailAccountId: $id }) { result { status pauseReason pausedAt smtpAuthFailures } } }`;
  const missing = await w.t.gql(RESUME, { id: '00000000-0000-4000-8000-000000000000' }, tenant.token);
  expect(missing.errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  await w.t.ok(`mutation($input: SetEmailAccountCredentialsInput!) { setEmailAccountCredentials(input: $input) { smtpAuthConfigured } }`,
    { input: { emailAccountId: inbox.id, smtpPassword: GOOD_PASSWORD } }, tenant.token);
  const resumed = await w.t.ok(RESUME, { id: inbox.id }, tenant.token);
  expect(resumed.resumeEmailAccount.result).toEqual({ status: 'ACTIVE', pauseReason: null, pausedAt: null, smtpAuthFailures: 0 });
  const again = await w.t.gql(RESUME, { id: inbox.id }, tenant.token);
  expect(again.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT' } });

  const mail = await w.smtp.waitFor((m) => m.to.includes(leads[0]!.email), 20_000);
  expect(mail.from).toBe(inbox.email);
  expect(logins.filter((l) => l.username === username)).toEqual([
    { username, ok: false }, { username, ok: false }, { username, ok: false }, { username, ok: true },
  ]);
  await eventually(async () => (await messagesOf(w, campaignId))[0]?.status === 'sent');
}, 90_000);
