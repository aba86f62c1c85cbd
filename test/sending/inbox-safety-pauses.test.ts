/**
 * Inbox safety pauses (issue 16, item 2) against a real SMTP server: an inbox
 * whose bounce or complaint rate, over its messages of every campaign, passes
 * the tenant's limit pauses itself (status paused, safetyPause, pauseReason),
 * with the inbox.error webhook event and an email to the admins, even when no
 * campaign of it reaches the minimum sample on its own. The engine books
 * nothing more on it while the campaign's other inbox keeps sending;
 * resumeEmailAccount resumes it and the rates then count only messages since.
 */
import { eventually } from '../helpers/eventually.ts';
import { addMember, campaignCompletes, campaignOf, createCampaign, createSender, createTenant, lifecycle, messagesOf, startWorld, type TestTenant, type World } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;

beforeAll(async () => {
  w = await startWorld({
    systemMailViaSmtp: true,
    smtp: {
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

const INBOX = `query($id: UUID!) { emailAccount(rowId: $id) { status safetyPause pauseReason pausedAt } }`;
const RESUME = `mutation($id: UUID!) { resumeEmailAccount(input: { emailAccountId: $id }) { result { status safetyPause pauseReason pausedAt } } }`;

async function minimumSample(tenant: TestTenant, n: number) {
  const set = await w.t.gql(`mutation($n: Int!) { updateTenantConfig(input: { patch: { safetyMinSample: $n } }) { tenantConfig { safetyMinSample } } }`,
    { n }, tenant.token);
  expect(set.errors).toBeUndefined();
}

async function ownerEmail(tenant: TestTenant): Promise<string> {
  const [row] = await w.t.owner.query(sql`select email::text from app_public.tenant_users where tenant_id = ${tenant.tenantId} and user_id = ${tenant.userId}`);
  return row.email;
}

async function inboxRow(id: string) {
  const [row] = await w.t.owner.query(sql`select status, safety_pause, pause_reason, safety_baseline from app_public.email_accounts where id = ${id}`);
  const [{ messages }] = await w.t.owner.query(sql`select count(*)::int as messages from app_public.messages where email_account_id = ${id}`);
  return { ...row, messages };
}

const rejected = (n: number, label: string) => Array.from({ length: n }, (_, i) => ({ email: `reject-${label}-${i}-${Date.now()}@recipient.example` }));
const clean = (n: number) => Array.from({ length: n }, () => ({}));

test('an inbox whose bounce rate over all its campaigns passes the limit pauses itself; the other inbox keeps sending; resuming counts only what follows', async () => {
  const tenant = await createTenant(w, 'inbox-bouncy');
  await minimumSample(tenant, 20);
  await w.t.owner.query(sql`
    insert into app_public.webhook_subscriptions (tenant_id, url, event_types) values (${tenant.tenantId}, 'http://127.0.0.1:9/hook', '{inbox.error}')`);
  const sender = await createSender(w, tenant.tenantId, [{ dailyLimit: 1000 }, { dailyLimit: 1000 }]);
  const [a, b] = sender.inboxes as [{ id: string; email: string }, { id: string; email: string }];

  // 10 messages sent from inbox A by one campaign: under the minimum sample, nothing is judged.
  const first = await createCampaign(w, tenant.tenantId, { inboxIds: [a.id], steps: [{ type: 'email' }], leads: clean(10) });
  expect((await lifecycle(w, tenant.token, 'start', first.campaignId)).error).toBeNull();
  await campaignCompletes(w, first.campaignId);
  expect((await inboxRow(a.id)).status).toBe('active');

  // Another campaign of 12 addresses that do not exist: its 10th bounce is A's 20th message.
  const second = await createCampaign(w, tenant.tenantId, { inboxIds: [a.id], steps: [{ type: 'email' }], leads: rejected(12, 'second') });
  expect((await lifecycle(w, tenant.token, 'start', second.campaignId)).error).toBeNull();
  const paused = await eventually(async () => {
    const account = (await w.t.ok(INBOX, { id: a.id }, tenant.token)).emailAccount;
    return account.status === 'PAUSED' && account;
  }, 30_000);
  const reason = 'Paused automatically: 10 of the last 20 messages bounced (50.00%), above your limit of 5% (safety window: 7 days), '
    + 'counting this inbox\'s messages of every campaign. Remove invalid addresses from the audiences it sends to, then resume the inbox (resumeEmailAccount).';
  expect(paused).toEqual({ status: 'PAUSED', safetyPause: 'BOUNCE_RATE', pauseReason: reason, pausedAt: expect.any(String) });
  // Neither campaign reached the minimum sample on its own: neither paused for its rates.
  const own = await w.t.owner.query(sql`select safety_pause from app_public.campaigns where id in (${first.campaignId}, ${second.campaignId})`);
  expect(own).toEqual([{ safety_pause: null }, { safety_pause: null }]);

  // The inbox.error webhook event carries the reason.
  const events = await w.t.owner.query(sql`
    select data from app_public.webhook_events where tenant_id = ${tenant.tenantId} and event_type = 'inbox.error'`);
  expect(events).toEqual([{ data: {
    email_account_id: a.id, email: a.email, status: 'paused', previous_status: 'active', safety_pause: 'bounce_rate', error: reason, pause_reason: reason,
  } }]);

  // The owner is told, through the system mailer.
  const to = await ownerEmail(tenant);
  const notice = await w.smtp.waitFor((m) => m.to.includes(to) && m.parsed.subject === 'An inbox of your organisation stopped sending', 20_000);
  expect(notice.parsed.text).toContain(`The inbox ${a.email} of the organisation`);
  expect(notice.parsed.text).toContain(reason);

  // A campaign with both inboxes sends from B only; nothing more is booked on A.
  const onA = (await inboxRow(a.id)).messages;
  const both = await createCampaign(w, tenant.tenantId, { inboxIds: [a.id, b.id], steps: [{ type: 'email' }], leads: clean(6) });
  expect((await lifecycle(w, tenant.token, 'start', both.campaignId)).error).toBeNull();
  await campaignCompletes(w, both.campaignId);
  const sentBoth = await messagesOf(w, both.campaignId);
  expect(sentBoth.map((m) => [m.status, m.from_email])).toEqual(Array.from({ length: 6 }, () => ['sent', b.email]));
  for (const lead of both.leads) expect((await w.smtp.waitFor((m) => m.to.includes(lead.email), 10_000)).from).toBe(b.email);
  expect((await inboxRow(a.id)).messages).toBe(onA);
  expect((await inboxRow(a.id)).status).toBe('paused');

  // The owner resumes A; its totals become the baseline, so the bounces that paused it do not count again:
  // a further message from A leaves it active (without the baseline, 11 of 21 bounced would pause it at once).
  const resumed = await w.t.ok(RESUME, { id: a.id }, tenant.token);
  expect(resumed.resumeEmailAccount.result).toEqual({ status: 'ACTIVE', safetyPause: null, pauseReason: null, pausedAt: null });
  const baseline = (await inboxRow(a.id)).safety_baseline;
  expect(baseline).toMatchObject({ sent: 10, day: expect.any(String) });
  expect(baseline.bounced).toBeGreaterThanOrEqual(10);
  const after = await createCampaign(w, tenant.tenantId, { inboxIds: [a.id], steps: [{ type: 'email' }], leads: clean(1) });
  expect((await lifecycle(w, tenant.token, 'start', after.campaignId)).error).toBeNull();
  await campaignCompletes(w, after.campaignId);
  expect((await w.smtp.waitFor((m) => m.to.includes(after.leads[0]!.email), 10_000)).from).toBe(a.email);
  expect((await inboxRow(a.id)).status).toBe('active');
  expect((await w.t.ok(INBOX, { id: a.id }, tenant.token)).emailAccount.status).toBe('ACTIVE');
  // The second campaign's messages waiting on A may go out now; it still never paused for its own rates.
  expect((await campaignOf(w, second.campaignId)).pause_reason ?? '').not.toMatch(/^Paused automatically/);
}, 120_000);

test('a spam complaint pauses the inbox once its messages of two campaigns reach the minimum sample', async () => {
  const tenant = await createTenant(w, 'inbox-complained');
  await minimumSample(tenant, 20);
  const sender = await createSender(w, tenant.tenantId, [{ dailyLimit: 1000 }]);
  const inbox = sender.inboxes[0]!;

  const first = await createCampaign(w, tenant.tenantId, { inboxIds: [inbox.id], steps: [{ type: 'email' }], leads: clean(10) });
  expect((await lifecycle(w, tenant.token, 'start', first.campaignId)).error).toBeNull();
  await campaignCompletes(w, first.campaignId);
  const [complainedAbout] = await messagesOf(w, first.campaignId);

  // A feedback loop reports one message: 1 of 10 is over 0.3%, but under the minimum sample of 20.
  await w.t.owner.query(sql`select app_private.record_email_event(${tenant.tenantId}, ${complainedAbout.id}, 'complaint')`);
  expect((await inboxRow(inbox.id)).status).toBe('active');

  // The send that completes the sample (the 20th, in another campaign) pauses the inbox.
  const second = await createCampaign(w, tenant.tenantId, { inboxIds: [inbox.id], steps: [{ type: 'email' }], leads: clean(10) });
  expect((await lifecycle(w, tenant.token, 'start', second.campaignId)).error).toBeNull();
  const paused = await eventually(async () => {
    const row = await inboxRow(inbox.id);
    return row.status === 'paused' && row;
  }, 30_000);
  expect(paused).toMatchObject({
    safety_pause: 'complaint_rate',
    pause_reason: 'Paused automatically: 1 of the last 20 messages sent were reported as spam (5.00%), above your limit of 0.3% (safety window: 7 days), '
      + 'counting this inbox\'s messages of every campaign. Review who you are emailing from it and what you send, then resume the inbox (resumeEmailAccount).',
  });
  await campaignCompletes(w, second.campaignId);
  const to = await ownerEmail(tenant);
  await w.smtp.waitFor((m) => m.to.includes(to) && m.parsed.subject === 'An inbox of your organisation stopped sending', 20_000);

  // Only owners and admins resume it.
  const viewer = await w.t.gql(RESUME, { id: inbox.id }, (await addMember(w, tenant.tenantId, 'inbox-viewer', ['viewer'])).token);
  expect(viewer.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  expect((await inboxRow(inbox.id)).status).toBe('paused');
  expect((await w.t.ok(RESUME, { id: inbox.id }, tenant.token)).resumeEmailAccount.result.status).toBe('ACTIVE');
}, 120_000);
