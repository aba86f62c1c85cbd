/**
 * Notifications end to end: events recorded in SQL queue their notification
 * in the same transaction, the product's worker (startTestWorker) emails it
 * through the system mailer to a real SMTP server on 127.0.0.1, to the right
 * members only (preferences read when the job runs), each email with its
 * RFC 8058 one-click unsubscribe link, which works over HTTP on the API
 * server and stops later emails of that kind. The weekly report sums the
 * campaign_stats_daily rollups of the previous ISO week, and goes out once a
 * week even when its job runs twice.
 */
import { randomBytes } from 'node:crypto';
import { sql } from '../../src/db/pg.ts';
import { makeNotificationLinks, notificationKeyFrom, notificationUnsubscribeRoutes } from '../../src/mail/notification-links.ts';
import { secretsKeyOf } from '../../src/config.ts';
import { testEnv } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import type { ReceivedMail } from '../helpers/smtp.ts';
import { createOwnedTenant } from '../helpers/tenants.ts';
import { uniqueEmail } from '../helpers/unique.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';
import { leadAnswers, sentMessage } from '../inbox/support.ts';
import { campaignCompletes, createCampaign, createSender, header, lifecycle, messagesOf, startWorld, type World } from '../sending/support/world.ts';

let w: World;
let worker: TestWorker;
/** Addresses the SMTP server refuses once, for now (451), and those it refused. */
const refuseOnce = new Set<string>();
const refused: string[] = [];

beforeAll(async () => {
  w = await startWorld({
    smtp: {
      onRcptTo(address, _session, callback) {
        if (!refuseOnce.delete(address.address)) return callback();
        refused.push(address.address);
        callback(Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 }));
      },
    },
    worker: false,
    routes: (api) => [
      ...notificationUnsubscribeRoutes({ pool: api.ownerPool, links: makeNotificationLinks(notificationKeyFrom(secretsKeyOf(testEnv()))) }),
    ],
  });
  worker = await startTestWorker(w.t.urls.owner, w.env, {
    smtpUrl: w.smtp.url,
    pollInterval: 100,
    deps: { sending: { publicUrl: w.t.url, smtp: { timeoutMs: 5_000 } } },
  });
}, 60_000);
afterAll(async () => {
  await worker?.stop();
  await w?.close();
});

interface Person {
  userId: string;
  email: string;
  token?: string;
}

interface Org {
  tenantId: string;
  owner: Person;
  admin: Person;
  /** An admin who turned email_notifications off. */
  quietAdmin: Person;
  /** A plain member (no role that gets organisation-wide notices). */
  member: Person;
}

async function member(tenantId: string, label: string, roles: string[]): Promise<Person> {
  const email = uniqueEmail(label);
  const [user] = await w.t.owner.query(sql`select id from app_private.create_user(${email}, 'irrelevant password 1', ${label}, true)`);
  await w.t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${tenantId}, ${user.id}, ${roles}, ${email})`);
  return { userId: user.id, email };
}

async function org(label: string): Promise<Org> {
  const { tenantId, userId, email } = await createOwnedTenant(w.t.owner, label);
  const token = await w.t.session({ role: 'member', user_id: userId, tenant_id: tenantId, expires_at: new Date(Date.now() + 3_600_000) });
  const admin = await member(tenantId, `${label}-admin`, ['admin']);
  const quietAdmin = await member(tenantId, `${label}-quiet`, ['admin']);
  await w.t.owner.query(sql`update app_public.user_preferences set email_notifications = false where user_id = ${quietAdmin.userId}`);
  const plain = await member(tenantId, `${label}-member`, ['member']);
  return { tenantId, owner: { userId, email, token }, admin, quietAdmin, member: plain };
}

const mailsTo = (email: string, subject: RegExp) => w.smtp.messages.filter((m) => m.to.includes(email) && subject.test(m.parsed.subject ?? ''));

/**
 * Waits until no job of these tasks is left (done or given up), so "nothing
 * arrived" means nothing was sent. On Citus a trigger's job waits in
 * app_private.job_outbox until the worker moves it to the queue: none may be
 * left there either.
 */
async function jobsSettle(tasks: string[]) {
  await eventually(async () => {
    const rows = await w.t.owner.query(sql`
      select 1 from graphile_worker.jobs where task_identifier = any (${tasks}) and attempts < max_attempts
      union all
      select 1 from app_private.job_outbox where identifier = any (${tasks})`);
    return rows.length === 0;
  }, 30_000);
}

const unsubscribeUrlOf = (mail: ReceivedMail) => /^<(.+)>$/.exec(header(mail, 'list-unsubscribe') ?? '')?.[1];

const oneClick = (url: string, body = 'List-Unsubscribe=One-Click') =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

test('a completed campaign and a reply to it are emailed to the campaign creator only', async () => {
  const a = await org('notify-campaign');
  const b = await org('notify-other');
  const sender = await createSender(w, a.tenantId);
  const { campaignId } = await createCampaign(w, a.tenantId, { name: 'Spring outreach', inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }] });
  await w.t.owner.query(sql`update app_public.campaigns set created_by = ${a.member.userId} where tenant_id = ${a.tenantId} and id = ${campaignId}`);

  const started = await lifecycle(w, a.owner.token!, 'start', campaignId);
  expect(started.error).toBeNull();
  await campaignCompletes(w, campaignId);

  const done = await w.smtp.waitFor((m) => m.to.includes(a.member.email) && /completed/.test(m.parsed.subject ?? ''), 30_000);
  expect(done.parsed.subject).toBe('Campaign “Spring outreach” completed');
  expect(done.parsed.text).toContain('The campaign “Spring outreach” of the organisation “Org notify-campaign” has completed');
  // RFC 8058: a one-click unsubscribe link for this user and this kind, also in the footer.
  const unsubscribe = unsubscribeUrlOf(done);
  expect(unsubscribe).toMatch(new RegExp(`^${w.t.url}/notifications/unsubscribe/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
  expect(header(done, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
  expect(done.parsed.text).toContain(`To stop emails about campaigns completed: ${unsubscribe}`);

  const [outbound] = await messagesOf(w, campaignId);
  await leadAnswers(w, a.tenantId, outbound.id, 'Yes, call me.');
  const reply = await w.smtp.waitFor((m) => m.to.includes(a.member.email) && /reply/i.test(m.parsed.subject ?? ''), 30_000);
  expect(reply.parsed.subject).toBe('New reply to “Spring outreach”');
  expect(reply.parsed.text).toContain(`replied to the campaign “Spring outreach” in the organisation “Org notify-campaign” (inbox ${sender.inboxes[0]!.email})`);
  expect(unsubscribeUrlOf(reply)).not.toBe(unsubscribe); // another kind, another link

  await jobsSettle(['send_notification']);
  for (const other of [a.owner, a.admin, a.quietAdmin, b.owner, b.admin]) {
    expect(mailsTo(other.email, /completed|reply/i)).toEqual([]);
  }
  expect(mailsTo(a.member.email, /completed|reply/i)).toHaveLength(2);
});

test('a failed domain verification reaches the owners and admins who want it; a failed payment only when the organisation asks for billing notices', async () => {
  const a = await org('notify-admins');
  const b = await org('notify-bystander');
  const sender = await createSender(w, a.tenantId);
  await w.t.owner.query(sql`
    update app_public.domains set verification_status = 'failed', dns_verification_error = 'The SPF record is missing.'
    where tenant_id = ${a.tenantId} and id = ${sender.domainId}`);
  for (const to of [a.owner, a.admin]) {
    const mail = await w.smtp.waitFor((m) => m.to.includes(to.email) && /failed verification/.test(m.parsed.subject ?? ''), 30_000);
    expect(mail.parsed.subject).toBe(`Domain ${sender.domain} failed verification`);
    expect(mail.parsed.text).toContain('The SPF record is missing.');
  }

  // notify_on_billing_changes is off by default: a failed payment mails nobody.
  const [sub] = await w.t.owner.query(sql`select id from app_public.subscriptions where tenant_id = ${a.tenantId} and status <> 'canceled'`);
  const failedPayment = async () => {
    await w.t.owner.query(sql`
      insert into app_public.payments (tenant_id, subscription_id, amount, currency, status, description, stripe_invoice_id)
      values (${a.tenantId}, ${sub.id}, 49, 'USD', 'failed', 'Stripe invoice PM-1', ${`in_${randomBytes(6).toString('hex')}`})`);
  };
  await failedPayment();
  await jobsSettle(['send_notification']);
  for (const to of [a.owner, a.admin]) expect(mailsTo(to.email, /payment/)).toEqual([]);

  const config = await w.t.ok(`mutation { updateTenantConfig(input: { patch: { notifyOnBillingChanges: true } }) { tenantConfig { notifyOnBillingChanges } } }`,
    {}, a.owner.token);
  expect(config.updateTenantConfig.tenantConfig).toEqual({ notifyOnBillingChanges: true });
  await failedPayment();
  for (const to of [a.owner, a.admin]) {
    const mail = await w.smtp.waitFor((m) => m.to.includes(to.email) && /payment/.test(m.parsed.subject ?? ''), 30_000);
    expect(mail.parsed.text).toContain('A payment of 49.00 USD for the organisation “Org notify-admins” failed (Stripe invoice PM-1).');
  }

  await jobsSettle(['send_notification']);
  // The admin who turned notifications off, the plain member and the other organisation got nothing.
  for (const other of [a.quietAdmin, a.member, b.owner, b.admin, b.quietAdmin, b.member]) {
    expect(mailsTo(other.email, /verification|payment/)).toEqual([]);
  }
  for (const to of [a.owner, a.admin]) {
    expect(mailsTo(to.email, /failed verification/)).toHaveLength(1);
    expect(mailsTo(to.email, /payment/)).toHaveLength(1);
  }
});

test('the one-click unsubscribe link turns that kind off for that user only, and later notices of that kind skip them', async () => {
  const a = await org('notify-unsub');
  const sender = await createSender(w, a.tenantId);
  const fail = async () => {
    await w.t.owner.query(sql`update app_public.domains set verification_status = 'verified' where tenant_id = ${a.tenantId} and id = ${sender.domainId}`);
    await w.t.owner.query(sql`update app_public.domains set verification_status = 'failed' where tenant_id = ${a.tenantId} and id = ${sender.domainId}`);
  };
  await fail();
  const first = await w.smtp.waitFor((m) => m.to.includes(a.admin.email) && /failed verification/.test(m.parsed.subject ?? ''), 30_000);
  const url = unsubscribeUrlOf(first)!;

  // Opening the link in a browser only asks; a POST without the RFC 8058 field is refused; a forged token is not a link.
  const page = await fetch(url);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('domain verification failures');
  const missing = await oneClick(url, '');
  expect(missing.status).toBe(400);
  expect(missing.headers.get('x-error-code')).toBe('MISSING_ONE_CLICK');
  const [body, sig] = url.split('/').pop()!.split('.');
  const forged = await oneClick(url.replace(`${body}.${sig}`, `${body}.${sig!.slice(1)}A`));
  expect(forged.status).toBe(404);
  expect(forged.headers.get('x-error-code')).toBe('INVALID_LINK');
  const prefs = async (userId: string) =>
    (await w.t.owner.query(sql`select muted_notifications, email_notifications, weekly_reports from app_public.user_preferences where user_id = ${userId}`))[0];
  expect(await prefs(a.admin.userId)).toEqual({ muted_notifications: [], email_notifications: true, weekly_reports: false });

  const done = await oneClick(url);
  expect(done.status).toBe(200);
  expect(await done.text()).toContain('You are unsubscribed');
  expect(await prefs(a.admin.userId)).toEqual({ muted_notifications: ['domain_verification_failed'], email_notifications: true, weekly_reports: false });
  // Twice is harmless.
  expect((await oneClick(url)).status).toBe(200);
  expect((await prefs(a.admin.userId)).muted_notifications).toEqual(['domain_verification_failed']);

  await jobsSettle(['send_notification']);
  const before = w.smtp.messages.length;
  await fail();
  await w.smtp.waitFor((m) => w.smtp.messages.indexOf(m) >= before && m.to.includes(a.owner.email) && /failed verification/.test(m.parsed.subject ?? ''), 30_000);
  await jobsSettle(['send_notification']);
  expect(mailsTo(a.admin.email, /failed verification/)).toHaveLength(1);
  expect(mailsTo(a.owner.email, /failed verification/)).toHaveLength(2);
});

test('a notification refused for now for one member is retried for that member only; the others get it once', async () => {
  const a = await org('notice-retry');
  const sender = await createSender(w, a.tenantId);
  const recipients = (await w.t.owner.query(sql`
    select email from app_private.notification_recipients(${a.tenantId}, 'domain_verification_failed', null)`)).map((r) => r.email as string);
  expect([...recipients].sort()).toEqual([a.owner.email, a.admin.email].sort());
  // The last one in the job's order: the first has been sent when the job fails.
  const last = recipients.at(-1)!;
  refuseOnce.add(last);
  await w.t.owner.query(sql`update app_public.domains set verification_status = 'verified' where tenant_id = ${a.tenantId} and id = ${sender.domainId}`);
  await w.t.owner.query(sql`update app_public.domains set verification_status = 'failed' where tenant_id = ${a.tenantId} and id = ${sender.domainId}`);
  await w.smtp.waitFor((m) => m.to.includes(last) && /failed verification/.test(m.parsed.subject ?? ''), 30_000);
  await jobsSettle(['send_notification']);
  expect(refused).toContain(last);
  for (const to of [a.owner, a.admin]) expect(mailsTo(to.email, /failed verification/)).toHaveLength(1);
  const delivered = await w.t.owner.query(sql`
    select d.user_id from app_private.notification_deliveries d where d.tenant_id = ${a.tenantId} order by d.user_id`);
  expect(delivered.map((d) => d.user_id)).toEqual([a.owner.userId, a.admin.userId].sort());
});

test('the weekly report sums the previous week of the rollups for each member who asked for it, once a week however often its job runs', async () => {
  const a = await org('weekly-a');
  const b = await org('weekly-b');
  const sender = await createSender(w, a.tenantId);
  const alpha = await createCampaign(w, a.tenantId, { name: 'Alpha', inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }] });
  const beta = await createCampaign(w, a.tenantId, { name: 'Beta', inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }] });
  const idle = await createCampaign(w, a.tenantId, { name: 'Idle', inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }] });
  const [{ week_start: weekStart }] = await w.t.owner.query(sql`select to_char(date_trunc('week', now() at time zone 'UTC'), 'YYYY-MM-DD') as week_start`);
  // Rows in the previous week (two shards of one day, several days) and outside it (this week, and the week before).
  const stats = [
    [alpha.campaignId, -7, 0, 10, 6, 2, 1, 1],
    [alpha.campaignId, -7, 3, 5, 2, 1, 0, 0],
    [alpha.campaignId, -1, 0, 20, 9, 4, 2, 3],
    [beta.campaignId, -4, 0, 7, 3, 0, 1, 0],
    [beta.campaignId, 0, 0, 100, 50, 20, 10, 5],
    [idle.campaignId, -8, 0, 40, 1, 1, 1, 1],
  ] as const;
  for (const [campaignId, day, shard, sent, opened, clicked, replied, bounced] of stats) {
    await w.t.owner.query(sql`
      insert into app_public.campaign_stats_daily (tenant_id, campaign_id, day, shard, sent, opened, clicked, replied, bounced)
      values (${a.tenantId}, ${campaignId}, ${weekStart}::date + ${day}::int, ${shard}, ${sent}, ${opened}, ${clicked}, ${replied}, ${bounced})`);
  }
  for (const p of [a.owner, a.member, a.quietAdmin, b.owner]) {
    await w.t.owner.query(sql`
      update app_public.user_preferences set weekly_reports = true where user_id = ${p.userId} returning 1`);
  }
  // The rollups, read independently of the report's function.
  const expected = await w.t.owner.query(sql`
    select c.name, sum(s.sent)::int as sent, sum(s.opened)::int as opened, sum(s.clicked)::int as clicked,
           sum(s.replied)::int as replied, sum(s.bounced)::int as bounced
    from app_public.campaign_stats_daily s join app_public.campaigns c on c.tenant_id = s.tenant_id and c.id = s.campaign_id
    where s.tenant_id = ${a.tenantId} and s.day >= ${weekStart}::date - 7 and s.day < ${weekStart}::date
    group by c.name order by c.name`);
  expect(expected).toEqual([
    { name: 'Alpha', sent: 35, opened: 17, clicked: 7, replied: 3, bounced: 4 },
    { name: 'Beta', sent: 7, opened: 3, clicked: 0, replied: 1, bounced: 0 },
  ]);

  // The cron's job queues one job per organisation; run it twice, then the organisation's job again by hand.
  const [queued] = await w.t.owner.query(sql`select app_private.queue_weekly_reports(now()) as n`);
  expect(queued.n).toBeGreaterThanOrEqual(2);
  await w.t.owner.query(sql`select app_private.queue_weekly_reports(now())`);
  const report = await w.smtp.waitFor((m) => m.to.includes(a.owner.email) && /Your PenguinMails week/.test(m.parsed.subject ?? ''), 30_000);
  await jobsSettle(['weekly_report']);
  await w.t.owner.query(sql`select app_private.add_job(${a.tenantId}::uuid, 'weekly_report', json_build_object('tenant_id', ${a.tenantId}::uuid, 'week_start', ${weekStart}::text))`);
  await jobsSettle(['weekly_report']);

  const text = report.parsed.text ?? '';
  for (const r of expected) {
    expect(text).toContain(`“${r.name}”: ${r.sent} sent, ${r.opened} opened, ${r.clicked} clicked, ${r.replied} replied, ${r.bounced} bounced`);
  }
  expect(text).not.toContain('Idle');
  expect(text).toContain('In all: 42 sent, 20 opened, 7 clicked, 4 replied, 4 bounced.');
  expect(text).toContain('The week of the organisation “Org weekly-a”');

  const reports = (email: string) => mailsTo(email, /Your PenguinMails week/);
  expect(reports(a.owner.email)).toHaveLength(1);
  expect(reports(a.member.email)).toHaveLength(1);
  expect(reports(a.quietAdmin.email)).toHaveLength(1); // weekly_reports is its own switch
  expect(reports(a.admin.email)).toEqual([]); // never asked for it
  expect(reports(b.owner.email)).toHaveLength(1);
  expect(reports(b.owner.email)[0]!.parsed.text).toContain('No campaign sent anything or had any activity this week.');
  expect(reports(b.owner.email)[0]!.parsed.text).not.toContain('Alpha');
  const delivered = await w.t.owner.query(sql`
    select user_id from app_private.weekly_report_deliveries where tenant_id = ${a.tenantId} and week_start = ${weekStart}::date order by user_id`);
  expect(delivered.map((r) => r.user_id).sort()).toEqual([a.owner.userId, a.member.userId, a.quietAdmin.userId].sort());

  // Its unsubscribe link turns the weekly report off, and nothing else.
  const url = unsubscribeUrlOf(reports(a.member.email)[0]!)!;
  expect((await oneClick(url)).status).toBe(200);
  const [prefs] = await w.t.owner.query(sql`select weekly_reports, email_notifications, muted_notifications from app_public.user_preferences where user_id = ${a.member.userId}`);
  expect(prefs).toEqual({ weekly_reports: false, email_notifications: true, muted_notifications: [] });
  const recipients = await w.t.owner.query(sql`select email from app_private.notification_recipients(${a.tenantId}, 'weekly_report') order by email`);
  expect(recipients.map((r) => r.email).sort()).toEqual([a.owner.email, a.quietAdmin.email].sort());
});

test('the automatic pause notice is the safety_pause notification: preferences and its own unsubscribe link apply', async () => {
  const a = await org('notify-safety');
  const sender = await createSender(w, a.tenantId);
  const inbox = sender.inboxes[0]!;
  // Muting another kind does not mute this one.
  await w.t.owner.query(sql`update app_public.user_preferences set muted_notifications = '{domain_verification_failed}' where user_id = ${a.admin.userId}`);
  const stop = async () => {
    await w.t.owner.query(sql`
      update app_public.email_accounts set status = 'error', pause_reason = 'Sending stopped: the SMTP server refused the login 3 times in a row.'
      where tenant_id = ${a.tenantId} and id = ${inbox.id}`);
    await w.t.owner.query(sql`select app_private.queue_safety_pause_notice(${a.tenantId}::uuid, null, ${inbox.id}::uuid)`);
    await jobsSettle(['safety_pause_notice']);
  };
  const notices = (email: string) => mailsTo(email, /stopped sending/);

  await stop();
  expect(notices(a.owner.email)).toHaveLength(1);
  expect(notices(a.admin.email)).toHaveLength(1);
  expect(notices(a.quietAdmin.email)).toEqual([]);
  expect(notices(a.member.email)).toEqual([]);
  const notice = notices(a.admin.email)[0]!;
  expect(notice.parsed.text).toContain(`The inbox ${inbox.email} of the organisation “Org notify-safety” was paused by PenguinMails.`);
  expect(notice.parsed.text).toContain('To stop emails about campaigns or inboxes paused automatically:');

  expect((await oneClick(unsubscribeUrlOf(notice)!)).status).toBe(200);
  const [prefs] = await w.t.owner.query(sql`select muted_notifications from app_public.user_preferences where user_id = ${a.admin.userId}`);
  expect(prefs.muted_notifications).toEqual(['domain_verification_failed', 'safety_pause']);

  await stop();
  expect(notices(a.owner.email)).toHaveLength(2);
  expect(notices(a.admin.email)).toHaveLength(1);
});

test('a reply to a message of no campaign goes to the owners and admins who want it', async () => {
  const a = await org('notify-inbox');
  const sender = await createSender(w, a.tenantId);
  const inbox = sender.inboxes[0]!;
  const leadEmail = `lead-${randomBytes(4).toString('hex')}@recipient.example`;
  const [lead] = await w.t.owner.query(sql`insert into app_public.leads (tenant_id, email) values (${a.tenantId}, ${leadEmail}) returning id`);
  const messageId = await sentMessage(w, a.tenantId, { inboxId: inbox.id, inboxEmail: inbox.email, leadId: lead.id, leadEmail, subject: 'Our call' });
  await leadAnswers(w, a.tenantId, messageId, 'Thursday works.');
  await jobsSettle(['send_notification']);
  const replies = (email: string) => mailsTo(email, /New reply/);
  for (const to of [a.owner, a.admin]) {
    expect(replies(to.email)).toHaveLength(1);
    expect(replies(to.email)[0]!.parsed.subject).toBe('New reply in your inbox');
    expect(replies(to.email)[0]!.parsed.text).toContain(`“${leadEmail}” replied in the organisation “Org notify-inbox” (inbox ${inbox.email}).`);
    expect(replies(to.email)[0]!.parsed.text).toContain('Subject: “Re: Our call”');
  }
  expect(replies(a.quietAdmin.email)).toEqual([]);
  expect(replies(a.member.email)).toEqual([]);
});
