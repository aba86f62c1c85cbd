/**
 * Retention (docs/privacy.md): the monthly partitions of messages and email
 * events older than retention.messages_days are detached and dropped whole,
 * after what references their messages from later months is removed or
 * unlinked; campaign statistics keep their counts; the number of partitions
 * stays bounded. Finished webhook history older than retention.webhook_days
 * goes; a pending delivery keeps its event. Audit entries and processed
 * Stripe events past their retention go, and soft-deleted deals, CRM accounts
 * and memberships past their 30-day grace period.
 */
import pg from 'pg';
import { applyRetention } from '../../src/privacy/retention.ts';
import { CRONTAB, makeTaskList } from '../../src/worker/runner.ts';
import { resolveWorkerDeps } from '../../src/worker/context.ts';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import os from 'node:os';
import path from 'node:path';
import { createCampaign, createSender, createTenant, startWorld, type World } from '../sending/support/world.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
let pool: pg.Pool;
beforeAll(async () => {
  w = await startWorld({ worker: false });
  pool = new pg.Pool({ connectionString: w.t.urls.owner, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await w.close();
});

const setDays = (days: number) => w.t.owner.query(sql`
  insert into app_public.system_config (key, value) values ('retention.messages_days', ${JSON.stringify(days)}::jsonb)
  on conflict (key) do update set value = excluded.value`);

const run = async (text: string, values?: unknown[]) => (await pool.query(text, values)).rows;

const partitionsOf = async (parent: string) => (await w.t.owner.query(sql`
  select c.relname::text as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
  where i.inhparent = ${parent}::regclass order by c.relname`)).map((r) => r.name as string);

const monthName = async (parent: string, monthsAgo: number) => {
  const [row] = await w.t.owner.query(sql`select ${parent} || to_char(now() - make_interval(months => ${monthsAgo}), '"_y"YYYY"m"MM') as name`);
  return row.name as string;
};

test('old partitions are detached and dropped whole; rows of later months that pointed into them are unlinked; counts stay', async () => {
  const db = w.t.owner;
  const tenant = await createTenant(w, 'retention');
  const sender = await createSender(w, tenant.tenantId);
  const inbox = sender.inboxes[0]!;
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, { inboxIds: [inbox.id], steps: [{ type: 'email' }], leads: [{}] });
  const lead = leads[0]!;
  const [enrollment] = await db.query(sql`
    insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, email_account_id)
    values (${tenant.tenantId}, ${campaignId}, ${lead.id}, 'active', ${inbox.id}) returning id`);
  const message = async (monthsAgo: number, extra: { direction?: string; parent?: string } = {}) => {
    const inbound = extra.direction === 'inbound';
    const [m] = await db.query(sql`
      insert into app_public.messages (tenant_id, id, direction, status, campaign_id, enrollment_id, lead_id, email_account_id,
        from_email, to_email, subject, body_text, parent_message_id, sent_at)
      values (${tenant.tenantId}, app_public.uuid_v7(now() - make_interval(months => ${monthsAgo})), ${inbound ? 'inbound' : 'outbound'},
        ${inbound ? 'received' : 'sent'}, ${inbound ? null : campaignId}, ${inbound ? null : enrollment.id}, ${lead.id}, ${inbox.id},
        ${inbound ? lead.email : inbox.email}, ${inbound ? inbox.email : lead.email}, 'Hello', 'Body', ${extra.parent ?? null}, ${inbound ? null : new Date()})
      returning id`);
    return m.id as string;
  };
  const event = (messageId: string, monthsAgo: number, type: string) => db.query(sql`
    insert into app_public.email_events (tenant_id, id, message_id, campaign_id, lead_id, event_type)
    values (${tenant.tenantId}, app_public.uuid_v7(now() - make_interval(months => ${monthsAgo})), ${messageId}, ${campaignId}, ${lead.id}, ${type})`);

  // Six months ago: a message and its open; opened again and answered a month ago (later partitions).
  const old = await message(6);
  await event(old, 6, 'open');
  await event(old, 1, 'open');
  const reply = await message(1, { direction: 'inbound', parent: old });
  const recent = await message(0);
  await event(recent, 0, 'open');
  await db.query(sql`update app_public.campaign_enrollments set thread_message_id = ${old}, current_message_id = ${old} where id = ${enrollment.id}`);
  const [conversations] = await db.query(sql`select count(*)::int as n from app_public.conversations where tenant_id = ${tenant.tenantId} and root_message_id = ${old}`);
  expect(conversations.n).toBe(1);

  const stats = () => db.query(sql`
    select day, sent, opened, opens_total, replied from app_public.campaign_stats_daily where campaign_id = ${campaignId} order by day, shard`);
  const statsBefore = await stats();
  expect(statsBefore.length).toBeGreaterThan(0);

  // Old webhook history goes unless a delivery is still pending.
  const [sub] = await db.query(sql`
    insert into app_public.webhook_subscriptions (tenant_id, url, enabled, disabled_at, disabled_reason)
    values (${tenant.tenantId}, 'https://hooks.example/in', false, now(), 'test') returning id`);
  const webhookEvent = async (daysAgo: number, status: string) => {
    const [e] = await db.query(sql`
      insert into app_public.webhook_events (tenant_id, event_type, data, created)
      values (${tenant.tenantId}, 'email.opened', '{}', now() - make_interval(days => ${daysAgo})) returning id, created`);
    await db.query(sql`
      insert into app_public.webhook_deliveries (tenant_id, webhook_subscription_id, event_id, event_created, status, completed_at)
      values (${tenant.tenantId}, ${sub.id}, ${e.id}, ${e.created}, ${status}, ${status === 'pending' ? null : new Date()})`);
    return e.id as string;
  };
  const oldDelivered = await webhookEvent(40, 'succeeded');
  const oldFailed = await webhookEvent(45, 'failed');
  const oldPending = await webhookEvent(40, 'pending');
  const recentDelivered = await webhookEvent(2, 'succeeded');

  await setDays(100);
  const messagesBefore = await partitionsOf('app_public.messages');
  const sixMonthsAgo = await monthName('messages', 6);
  expect(messagesBefore).toContain(sixMonthsAgo);

  const outcome = await applyRetention(run);

  const messagesAfter = await partitionsOf('app_public.messages');
  const eventsAfter = await partitionsOf('app_public.email_events');
  expect(messagesAfter).not.toContain(sixMonthsAgo);
  expect(eventsAfter).not.toContain(await monthName('email_events', 6));
  expect(messagesAfter).toContain(await monthName('messages', 1));
  expect(outcome.droppedPartitions).toContain(`app_public.${sixMonthsAgo}`);
  expect(outcome.droppedPartitions.length).toBe(2 * (messagesBefore.length - messagesAfter.length));
  // Bounded: about retention/30 months back, the current one and three ahead.
  expect(messagesAfter.length).toBeLessThanOrEqual(Math.ceil(100 / 28) + 5);
  expect(eventsAfter).toEqual(messagesAfter.map((name) => name.replace('messages', 'email_events')));
  expect(await run('select * from app_private.expired_partitions()')).toEqual([]);

  // The old message and everything that pointed at it are gone or unlinked; the rest is intact.
  const [after] = await db.query(sql`
    select (select count(*)::int from app_public.messages where tenant_id = ${tenant.tenantId}) as messages,
           (select count(*)::int from app_public.email_events where tenant_id = ${tenant.tenantId}) as events,
           (select count(*)::int from app_public.conversations where tenant_id = ${tenant.tenantId}) as conversations,
           (select parent_message_id from app_public.messages where tenant_id = ${tenant.tenantId} and id = ${reply}) as reply_parent,
           (select row(thread_message_id, current_message_id)::text from app_public.campaign_enrollments where id = ${enrollment.id}) as enrollment`);
  expect(after).toEqual({ messages: 2, events: 1, conversations: 0, reply_parent: null, enrollment: '(,)' });
  expect(outcome.releasedRows).toBeGreaterThanOrEqual(5);
  expect(await stats()).toEqual(statsBefore);

  const kept = (await db.query(sql`select id from app_public.webhook_events where tenant_id = ${tenant.tenantId}`)).map((r) => r.id);
  expect(kept.sort()).toEqual([oldPending, recentDelivered].sort());
  expect(kept).not.toContain(oldDelivered);
  expect(kept).not.toContain(oldFailed);
  expect(outcome.webhookEvents).toBe(2);
  const [deliveries] = await db.query(sql`select count(*)::int as n from app_public.webhook_deliveries where tenant_id = ${tenant.tenantId}`);
  expect(deliveries.n).toBe(2);

  // A second run finds nothing to do; new mail still goes into the partitions left.
  expect(await applyRetention(run)).toMatchObject({ droppedPartitions: [], releasedRows: 0, webhookEvents: 0 });
  await message(0);
});

test('the job runs daily next to ensure_partitions, and retention is never under a month', async () => {
  expect(CRONTAB).toMatch(/^\d+ \d+ \* \* \* retention\b/m);
  const systemMailer = makeSystemMailer({ from: w.env.MAIL_FROM, outboxDir: path.join(os.tmpdir(), 'pm-retention-outbox') });
  expect(Object.keys(makeTaskList(resolveWorkerDeps({ env: w.env, systemMailer })))).toContain('retention');
  await setDays(3);
  const [row] = await w.t.owner.query(sql`select app_private.retention_days('retention.messages_days', 400) as days`);
  expect(row.days).toBe(31);
  expect(await run(`select partition::text from app_private.expired_partitions() where month >= date_trunc('month', now())`)).toEqual([]);
});

test('soft-deleted deals, accounts and memberships leave after 30 days; audit entries and processed Stripe events after their retention, records of notification emails after 30 days', async () => {
  const db = w.t.owner;
  const tenant = await createTenant(w, 'soft-delete');
  const closed = await createTenant(w, 'soft-delete-closed');
  const ago = (days: number) => new Date(Date.now() - days * 86_400_000);
  const account = async (tenantId: string, deletedDaysAgo: number | null) => (await db.query(sql`
    insert into app_public.crm_accounts (tenant_id, name, deleted_at)
    values (${tenantId}, 'Acme', ${deletedDaysAgo === null ? null : ago(deletedDaysAgo)}) returning id`))[0].id as string;
  const deal = async (tenantId: string, deletedDaysAgo: number | null, accountId: string | null = null) => (await db.query(sql`
    insert into app_public.deals (tenant_id, title, crm_account_id, deleted_at)
    values (${tenantId}, 'A deal', ${accountId}, ${deletedDaysAgo === null ? null : ago(deletedDaysAgo)}) returning id`))[0].id as string;
  const member = async (tenantId: string, removedDaysAgo: number | null) => {
    const email = `m-${Math.random().toString(36).slice(2)}@soft-delete.test`;
    const [user] = await db.query(sql`insert into app_public.users (email) values (${email}) returning id`);
    await db.query(sql`insert into app_public.tenant_users (tenant_id, user_id, email, roles, deleted_at)
      values (${tenantId}, ${user.id}, ${email}, '{member}', ${removedDaysAgo === null ? null : ago(removedDaysAgo)})`);
    return user.id as string;
  };
  const goneAccount = await account(tenant.tenantId, 40);
  const keptAccount = await account(tenant.tenantId, 29);
  const liveDeal = await deal(tenant.tenantId, null, goneAccount);
  const goneDeal = await deal(tenant.tenantId, 31);
  await db.query(sql`insert into app_public.activities (tenant_id, deal_id, kind, body) values (${tenant.tenantId}, ${goneDeal}, 'note', 'on the deal')`);
  const keptDeal = await deal(tenant.tenantId, 29);
  const goneMember = await member(tenant.tenantId, 31);
  const keptMember = await member(tenant.tenantId, 1);
  // A closed organisation is left to its own purge.
  const closedDeal = await deal(closed.tenantId, 60);
  await db.query(sql`update app_public.tenants set deleted_at = now(), purge_after = now() + interval '30 days' where id = ${closed.tenantId}`);

  // The removed member is hidden from the organisation's reads already.
  const members = await w.t.ok(`{ tenantUsers { nodes { userId } } }`, {}, tenant.token);
  const listed = members.tenantUsers.nodes.map((n: { userId: string }) => n.userId);
  expect(listed).not.toContain(keptMember);
  expect(listed).not.toContain(goneMember);

  const audit = async (daysAgo: number) => (await db.query(sql`
    insert into app_public.audit_log (tenant_id, occurred_at, action) values (${tenant.tenantId}, ${ago(daysAgo)}, 'test.retention') returning id`))[0].id as string;
  const platformAudit = async (daysAgo: number) => (await db.query(sql`
    insert into app_public.platform_audit_log (occurred_at, action) values (${ago(daysAgo)}, 'test.retention') returning id`))[0].id as string;
  const stripeEvent = async (daysAgo: number, processed: boolean) => {
    const id = `evt_retention${Math.random().toString(36).slice(2)}`;
    await db.query(sql`insert into app_private.stripe_events (id, type, created_at, received_at, processed_at, payload, outcome)
      values (${id}, 'invoice.paid', ${ago(daysAgo)}, ${ago(daysAgo)}, ${processed ? ago(daysAgo) : null}, '{}', ${processed ? 'applied' : null})`);
    return id;
  };
  const notice = async (daysAgo: number) => {
    const noticeId = `job:retention-${Math.random().toString(36).slice(2)}`;
    await db.query(sql`insert into app_private.notification_deliveries (tenant_id, notice, user_id, sent_at)
      values (${tenant.tenantId}, ${noticeId}, ${keptMember}, ${ago(daysAgo)})`);
    return noticeId;
  };
  const oldNotice = await notice(31);
  const recentNotice = await notice(29);
  const oldAudit = await audit(800);
  const recentAudit = await audit(10);
  const oldPlatform = await platformAudit(800);
  const recentPlatform = await platformAudit(10);
  const oldStripe = await stripeEvent(100, true);
  const unprocessedStripe = await stripeEvent(100, false);
  const recentStripe = await stripeEvent(10, true);

  const outcome = await applyRetention(run);
  expect(outcome.purged).toMatchObject({ deals: 1, crm_accounts: 1, tenant_users: 1, stripe_events: 1 });
  expect(outcome.purged.audit_log).toBeGreaterThanOrEqual(1);
  expect(outcome.purged.platform_audit_log).toBeGreaterThanOrEqual(1);
  expect(outcome.purged.notification_deliveries).toBeGreaterThanOrEqual(1);

  const ids = async (table: string, column = 'id') =>
    (await db.query(sql`select ${sql.__dangerous__rawValue(column)}::text as id from ${sql.__dangerous__rawValue(table)}`)).map((r) => r.id as string);
  const notices = await ids('app_private.notification_deliveries', 'notice');
  expect(notices).toContain(recentNotice);
  expect(notices).not.toContain(oldNotice);
  const deals = await ids('app_public.deals');
  expect(deals).toEqual(expect.arrayContaining([liveDeal, keptDeal, closedDeal]));
  expect(deals).not.toContain(goneDeal);
  const [activities] = await db.query(sql`select count(*)::int as n from app_public.activities where tenant_id = ${tenant.tenantId} and deal_id = ${goneDeal}`);
  expect(activities.n).toBe(0);
  const accounts = await ids('app_public.crm_accounts');
  expect(accounts).toContain(keptAccount);
  expect(accounts).not.toContain(goneAccount);
  const [live] = await db.query(sql`select crm_account_id from app_public.deals where tenant_id = ${tenant.tenantId} and id = ${liveDeal}`);
  expect(live.crm_account_id).toBeNull();
  const memberships = await ids('app_public.tenant_users', 'user_id');
  expect(memberships).toContain(keptMember);
  expect(memberships).not.toContain(goneMember);

  const audits = await ids('app_public.audit_log');
  expect(audits).toContain(recentAudit);
  expect(audits).not.toContain(oldAudit);
  const platform = await ids('app_public.platform_audit_log');
  expect(platform).toContain(recentPlatform);
  expect(platform).not.toContain(oldPlatform);
  const stripe = await ids('app_private.stripe_events');
  expect(stripe).toEqual(expect.arrayContaining([unprocessedStripe, recentStripe]));
  expect(stripe).not.toContain(oldStripe);
});
