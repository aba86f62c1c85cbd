/**
 * Closing an organisation and deleting one's account (issue 17, item 3),
 * through the API:
 *
 * - only an owner closes, confirming with the exact name; then its campaigns
 *   are paused, a queued reply is cancelled, the paid subscription ended (and
 *   Stripe's sync queued), and no member token or API key acts in it any more;
 *   its inbox polls stop; members cannot sign in to it; its owner signs in to
 *   a session without an organisation and sees it in myClosedTenants;
 * - the owner reopens it within the grace period (campaigns stay paused);
 * - after the grace period the purge job (the worker's task, run to the end)
 *   deletes every row of the tenant in every table but its subscriptions and
 *   payments, and leaves another tenant's rows as they were;
 * - a user deletes their own account: refused while the only owner of an
 *   open organisation, with a wrong password, then their memberships end,
 *   their sessions stop, their name and address are gone and the address can
 *   sign up again.
 */
import { populatePlatform, populateTenant } from '../../src/db/demo-data.ts';
import { sql } from '../../src/db/pg.ts';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { resolveWorkerDeps } from '../../src/worker/context.ts';
import { makeTaskList } from '../../src/worker/runner.ts';
import { registerUser, startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { putTenantOnPlan } from '../helpers/billing.ts';
import { createOwnedTenant, TEST_PASSWORD } from '../helpers/tenants.ts';
import { uniqueEmail } from '../helpers/unique.ts';
import { drainJobs } from '../helpers/worker.ts';
import os from 'node:os';
import path from 'node:path';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(() => t.close());

const LOGIN = `mutation($email: String!, $password: String!) { login(input: { email: $email, password: $password }) { jwtToken tenantId } }`;
const CLOSE = `mutation($name: String) { closeTenant(input: { confirmName: $name }) { result { tenantId tenantName closedAt purgeAfter } } }`;
const REOPEN = `mutation($id: UUID!) { reopenTenant(input: { tenantId: $id }) { result } }`;
const CLOSED = `{ myClosedTenants { nodes { tenantId tenantName closedAt purgeAfter } } }`;
const ME = `{ currentTenant { rowId name } }`;
const DELETE_ME = `mutation($password: String!) { deleteMyAccount(input: { password: $password }) { result } }`;

async function member(tenantId: string, label: string, roles = ['member']) {
  const email = uniqueEmail(label);
  const [user] = await t.owner.query(sql`select id from app_private.create_user(${email}, ${TEST_PASSWORD}, ${`Member ${label}`}, true)`);
  await t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, email, roles) values (${tenantId}, ${user.id}, ${email}, ${roles})`);
  const login = await t.ok(LOGIN, { email, password: TEST_PASSWORD });
  return { userId: user.id as string, email, token: login.login.jwtToken as string };
}

/** The payloads of a task's queued jobs about a tenant. */
async function jobsOf(task: string, tenantId: string) {
  const rows = await t.owner.query(sql`
    select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
    where k.identifier = ${task} and j.payload->>'tenant_id' = ${tenantId}`);
  return rows.map((r) => r.payload);
}

async function tenantRow(tenantId: string) {
  const [row] = await t.owner.query(sql`select deleted_at, closed_by, purge_after, purged_at from app_public.tenants where id = ${tenantId}`);
  return row;
}

test('an owner closes the organisation: everything stops, members and keys lose access, the owner can still reopen it', async () => {
  const owner = await registerUser(t, 'closing');
  await putTenantOnPlan(t.owner, owner.tenantId, 'pro');
  const colleague = await member(owner.tenantId, 'colleague');
  const [{ id: subscriptionId }] = await t.owner.query(sql`
    update app_public.subscriptions set stripe_subscription_id = 'sub_closing' where tenant_id = ${owner.tenantId} and status <> 'canceled' returning id`);
  const { ipId } = await populatePlatform(t.owner, 'closing');
  const data = await populateTenant(t.owner, { tenantId: owner.tenantId, ownerId: owner.userId, domain: `closing-${process.pid}.example`, ipId });
  await t.owner.query(sql`update app_public.email_accounts set imap_settings = '{"host": "imap.closing.example", "port": 993}'::jsonb where tenant_id = ${owner.tenantId}`);
  const [reply] = await t.owner.query(sql`
    insert into app_public.messages (tenant_id, direction, status, lead_id, email_account_id, from_email, to_email, subject, body_text)
    select ${owner.tenantId}, 'outbound', 'queued', l.id, ea.id, ea.email, l.email, 'Re: hello', 'Thanks!'
    from app_public.leads l, app_public.email_accounts ea where l.tenant_id = ${owner.tenantId} and ea.tenant_id = ${owner.tenantId}
    limit 1 returning id`);
  const campaignsBefore = await t.owner.query(sql`select id, status from app_public.campaigns where tenant_id = ${owner.tenantId} and status in ('sending', 'scheduled')`);
  expect(campaignsBefore.length).toBeGreaterThan(0);
  const pollsBefore = await t.owner.query(sql`select app_private.queue_imap_polls() as n`);
  expect(pollsBefore[0].n).toBeGreaterThan(0);
  await t.owner.query(sql`delete from graphile_worker._private_jobs where task_id in (select id from graphile_worker._private_tasks where identifier = 'imap_poll_inbox')`);

  // A member cannot; a wrong or missing name changes nothing.
  const refused = await t.gql(CLOSE, { name: `Org closing` }, colleague.token);
  expect(refused.errors?.[0]).toMatchObject({ message: 'Only an owner can close the organisation.', extensions: { code: 'FORBIDDEN' } });
  const [{ name }] = await t.owner.query(sql`select name from app_public.tenants where id = ${owner.tenantId}`);
  for (const wrong of ['org closing', null]) {
    const mistyped = await t.gql(CLOSE, { name: wrong }, owner.jwtToken);
    expect(mistyped.errors?.[0]).toMatchObject({ message: `To close the organisation, confirm with its exact name ("${name}").`, extensions: { code: 'INVALID_INPUT' } });
  }
  expect(await tenantRow(owner.tenantId)).toEqual({ deleted_at: null, closed_by: null, purge_after: null, purged_at: null });

  const [closed] = (await t.ok(CLOSE, { name }, owner.jwtToken)).closeTenant.result;
  expect(closed).toMatchObject({ tenantId: owner.tenantId, tenantName: name });
  const graceDays = (new Date(closed.purgeAfter).getTime() - new Date(closed.closedAt).getTime()) / 86_400_000;
  expect(graceDays).toBeCloseTo(30, 3);

  // Campaigns paused by the owner's act (billing's resume leaves them), the reply cancelled.
  const campaigns = await t.owner.query(sql`select status, paused_by, pause_reason from app_public.campaigns where id = any (${campaignsBefore.map((c) => c.id)})`);
  for (const c of campaigns) {
    expect(c).toEqual({ status: 'paused', paused_by: 'user', pause_reason: expect.stringMatching(/^The organisation was closed on \d{4}-\d\d-\d\d \d\d:\d\d UTC; reopen it/) });
  }
  expect(await t.owner.query(sql`select app_private.resume_tenant_campaigns(${owner.tenantId}) as n`)).toEqual([{ n: 0 }]);
  expect(await t.owner.query(sql`select status, error_message from app_public.messages where id = ${reply.id}`))
    .toEqual([{ status: 'cancelled', error_message: 'Not sent: the organisation was closed.' }]);
  // The paid subscription ended now, the Free plan follows, Stripe is told.
  expect(await t.owner.query(sql`select status from app_public.subscriptions where id = ${subscriptionId}`)).toEqual([{ status: 'canceled' }]);
  const [free] = await t.owner.query(sql`
    select p.slug from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id where s.tenant_id = ${owner.tenantId} and s.status <> 'canceled'`);
  expect(free).toEqual({ slug: 'free' });
  expect(await jobsOf('billing_stripe_sync', owner.tenantId)).toEqual([expect.objectContaining({ subscription_id: subscriptionId, tenant_id: owner.tenantId })]);
  // The worker leaves it alone.
  await t.owner.query(sql`select app_private.queue_imap_polls()`);
  expect(await jobsOf('imap_poll_inbox', owner.tenantId)).toEqual([]);
  await t.owner.query(sql`update app_public.domains set dns_next_check_at = now() - interval '1 minute' where tenant_id = ${owner.tenantId}`);
  await t.owner.query(sql`select app_private.queue_due_domain_checks()`);
  expect(await jobsOf('verify_domain', owner.tenantId)).toEqual([]);

  // Nobody acts in it any more: tokens issued before, a new sign-in of a member.
  for (const token of [owner.jwtToken, colleague.token]) {
    const me = await t.gql(ME, {}, token);
    expect(me.data?.currentTenant ?? null).toBeNull();
    const leads = await t.gql(`{ leads(first: 1) { totalCount } }`, {}, token);
    expect(leads.data?.leads?.totalCount ?? 0).toBe(0);
  }
  const memberLogin = await t.gql(LOGIN, { email: colleague.email, password: TEST_PASSWORD });
  expect(memberLogin.errors?.[0]).toMatchObject({ message: 'This account does not belong to any organisation any more.', extensions: { code: 'FORBIDDEN' } });
  // The owner signs in without an organisation and finds it; the member does not see it.
  const ownerLogin = (await t.ok(LOGIN, { email: owner.email, password: owner.password })).login;
  expect(ownerLogin.tenantId).toBeNull();
  expect((await t.ok(CLOSED, {}, ownerLogin.jwtToken)).myClosedTenants.nodes).toEqual([closed]);
  const notYours = await t.gql(REOPEN, { id: owner.tenantId }, colleague.token);
  expect(notYours.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  expect((await tenantRow(owner.tenantId)).deleted_at).not.toBeNull();

  // Reopened: members are back, campaigns stay paused until resumed.
  expect((await t.ok(REOPEN, { id: owner.tenantId }, ownerLogin.jwtToken)).reopenTenant.result).toBe(true);
  expect(await tenantRow(owner.tenantId)).toEqual({ deleted_at: null, closed_by: null, purge_after: null, purged_at: null });
  expect((await t.ok(ME, {}, colleague.token)).currentTenant).toEqual({ rowId: owner.tenantId, name });
  expect(await t.owner.query(sql`select distinct status from app_public.campaigns where id = any (${campaignsBefore.map((c) => c.id)})`)).toEqual([{ status: 'paused' }]);
  expect((await t.ok(CLOSED, {}, ownerLogin.jwtToken)).myClosedTenants.nodes).toEqual([]);
  const actions = await t.owner.query(sql`select action, actor_user_id from app_public.platform_audit_log where target_tenant_id = ${owner.tenantId} order by id`);
  expect(actions).toEqual([{ action: 'tenant.closed', actor_user_id: owner.userId }, { action: 'tenant.reopened', actor_user_id: owner.userId }]);
  expect(data.tenantId).toBe(owner.tenantId);
});

test('after the grace period the purge deletes every row of the tenant but its subscriptions and payments; another tenant keeps all of its rows', async () => {
  const { ipId } = await populatePlatform(t.owner, 'purge');
  const gone = await createOwnedTenant(t.owner, 'purged');
  const kept = await createOwnedTenant(t.owner, 'kept');
  await populateTenant(t.owner, { tenantId: gone.tenantId, ownerId: gone.userId, domain: `purged-${process.pid}.example`, ipId });
  await populateTenant(t.owner, { tenantId: kept.tenantId, ownerId: kept.userId, domain: `kept-${process.pid}.example`, ipId });
  const tables: Array<{ schema_name: string; table_name: string }> = await t.owner.query(sql`select * from app_private.tenant_purge_tables()`);
  const counts = async (tenantId: string) => {
    const result: Record<string, number> = {};
    for (const { schema_name: s, table_name: n } of tables) {
      const [row] = await t.owner.query(sql`select count(*)::int as n from ${sql.ident(s, n)} where tenant_id = ${tenantId}`);
      if (row.n > 0) result[`${s}.${n}`] = row.n;
    }
    return result;
  };
  const billing = async (tenantId: string) =>
    t.owner.query(sql`select (select count(*)::int from app_public.subscriptions where tenant_id = ${tenantId}) as subscriptions,
                             (select count(*)::int from app_public.payments where tenant_id = ${tenantId}) as payments`);
  const before = await counts(gone.tenantId);
  expect(Object.keys(before).length).toBeGreaterThan(30); // the demo data fills most tables
  expect(before['app_public.messages']).toBeGreaterThan(0);
  const keptBefore = await counts(kept.tenantId);
  const billingBefore = await billing(gone.tenantId);
  expect(billingBefore[0].payments).toBeGreaterThan(0);

  const session = await t.session({ role: 'member', user_id: gone.userId, tenant_id: gone.tenantId, expires_at: new Date(Date.now() + 600_000) });
  await t.ok(CLOSE, { name: 'Org purged' }, session);
  const all = makeTaskList(resolveWorkerDeps({ env: testEnv(), systemMailer: makeSystemMailer({ from: 'pm@test.example', outboxDir: path.join(os.tmpdir(), 'pm-purge-outbox') }) }));
  const tasks = { tenant_purge_sweep: all.tenant_purge_sweep!, tenant_purge: all.tenant_purge! };
  const closed = await counts(gone.tenantId); // closing wrote its own rows (audit, the Free plan's period)
  const billingClosed = await billing(gone.tenantId); // and ended the paid subscription: the Free one follows

  // In the grace period the sweep queues nothing and a purge does nothing.
  await t.owner.query(sql`select graphile_worker.add_job('tenant_purge_sweep', '{}'::json)`);
  await drainJobs(t.urls.owner, tasks);
  expect(await t.owner.query(sql`select app_private.purge_tenant(${gone.tenantId}) as n`)).toEqual([{ n: '0' }]);
  expect(await counts(gone.tenantId)).toEqual(closed);

  await t.owner.query(sql`update app_public.tenants set purge_after = now() - interval '1 second' where id = ${gone.tenantId}`);
  await t.owner.query(sql`select graphile_worker.add_job('tenant_purge_sweep', '{}'::json)`);
  await drainJobs(t.urls.owner, tasks);
  expect(await t.owner.query(sql`select task_identifier, last_error from graphile_worker.jobs where task_identifier like 'tenant_purge%' and last_error is not null`)).toEqual([]);

  expect(await counts(gone.tenantId)).toEqual({});
  expect(await billing(gone.tenantId)).toEqual(billingClosed);
  expect((await tenantRow(gone.tenantId)).purged_at).not.toBeNull();
  expect(await counts(kept.tenantId)).toEqual(keptBefore);
  const [audit] = await t.owner.query(sql`select changes from app_public.platform_audit_log where target_tenant_id = ${gone.tenantId} and action = 'tenant.purged'`);
  expect(Number(audit.changes.rows_deleted)).toBeGreaterThanOrEqual(Object.values(before).reduce((a, b) => a + b, 0));
  // Nothing left to reopen.
  const login = (await t.ok(LOGIN, { email: gone.email, password: TEST_PASSWORD }).catch(() => null));
  expect(login).toBeNull();
  const late = await t.gql(REOPEN, { id: gone.tenantId }, session);
  expect(late.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
});

test('a user deletes their own account: not while the only owner, not with a wrong password; then access ends and their name and address are gone', async () => {
  const owner = await registerUser(t, 'leaving');
  await putTenantOnPlan(t.owner, owner.tenantId, 'pro');
  const sole = await t.gql(DELETE_ME, { password: owner.password }, owner.jwtToken);
  expect(sole.errors?.[0]).toMatchObject({
    message: expect.stringMatching(/^You are the only owner of "Org leaving": make another member an owner \(changeMemberRoles\) or close the organisation \(closeTenant\) first\.$/),
    extensions: { code: 'CONFLICT' },
  });
  const heir = await member(owner.tenantId, 'heir', ['owner']);
  const wrong = await t.gql(DELETE_ME, { password: 'not my password' }, owner.jwtToken);
  expect(wrong.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
  expect(await t.owner.query(sql`select deleted_at from app_public.users where id = ${owner.userId}`)).toEqual([{ deleted_at: null }]);

  expect((await t.ok(DELETE_ME, { password: owner.password }, owner.jwtToken)).deleteMyAccount.result).toBe(true);
  const [user] = await t.owner.query(sql`select email::text, name, deleted_at from app_public.users where id = ${owner.userId}`);
  expect(user).toEqual({ email: `deleted-${owner.userId}@deleted.invalid`, name: null, deleted_at: expect.any(Date) });
  expect(await t.owner.query(sql`select 1 from app_public.tenant_users where user_id = ${owner.userId} and deleted_at is null`)).toEqual([]);
  expect((await t.gql(ME, {}, owner.jwtToken)).data?.currentTenant ?? null).toBeNull();
  const again = await t.gql(LOGIN, { email: owner.email, password: owner.password });
  expect(again.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
  // The organisation goes on with its other owner; the address is free for a new account.
  expect((await t.ok(ME, {}, heir.token)).currentTenant.rowId).toBe(owner.tenantId);
  const [fresh] = await t.owner.query(sql`select id from app_private.create_user(${owner.email}, ${TEST_PASSWORD}, 'Back again', true)`);
  expect(fresh.id).not.toBe(owner.userId);
  const [entry] = await t.owner.query(sql`select action, changes from app_public.platform_audit_log where record_id = ${owner.userId} and action = 'user.deleted'`);
  expect(entry).toEqual({ action: 'user.deleted', changes: { memberships_ended: 1 } });
});
