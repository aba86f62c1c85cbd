/**
 * The campaign lifecycle through the API: starting names every problem at
 * once and changes nothing when it refuses; illegal transitions are refused
 * with CONFLICT; only members and above act, only in their organisation; the
 * audience excludes unsubscribed, bounced and suppressed leads and enrolls
 * each lead once; plan limits on campaign starts and on emails per month
 * pause instead of dropping anything; pause, resume and cancel behave.
 */
import { eventually } from '../helpers/eventually.ts';
import { addMember, advanceClock, campaignOf, createCampaign, createSender, createTenant, enrollmentsOf, lifecycle, messagesOf, nextMonday, setClock, startWorld, type World } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
beforeAll(async () => {
  w = await startWorld();
  await setClock(w, await nextMonday(w, 10));
});
afterAll(() => w.close());

const usage = async (tenantId: string, metric: string) =>
  Number((await w.t.owner.query(sql`select app_private.metered_usage(${tenantId}, ${metric}) as n`))[0].n);

test('starting an empty campaign names everything that is missing, and changes nothing', async () => {
  const tenant = await createTenant(w, 'empty');
  const [campaign] = await w.t.owner.query(sql`insert into app_public.campaigns (tenant_id, name) values (${tenant.tenantId}, 'Empty one') returning id`);
  const { error } = await lifecycle(w, tenant.token, 'start', campaign.id);
  expect(error).toMatchObject({
    message: 'Campaign "Empty one" cannot start: Add at least one inbox to send from. Add at least one step to the sequence. '
      + 'Add an audience: at least one contact list or lead as a campaign target.',
    extensions: { code: 'INVALID_INPUT' },
  });
  expect((await campaignOf(w, campaign.id)).status).toBe('draft');
  expect(await usage(tenant.tenantId, 'campaigns_started')).toBe(0);
});

test('starting lists every configuration problem of inboxes, steps, time zone and audience', async () => {
  const tenant = await createTenant(w, 'problems');
  const sender = await createSender(w, tenant.tenantId, [{ local: 'paused' }, { local: 'nokey' }, { local: 'nopass', username: 'who' }]);
  const [paused, , nopass] = sender.inboxes as Array<{ id: string; email: string }>;
  await w.t.owner.query(sql`update app_public.email_accounts set status = 'paused' where id = ${paused!.id}`);
  const unverified = await createSender(w, tenant.tenantId, [{ local: 'unverified' }]);
  await w.t.owner.query(sql`update app_public.domains set verification_status = 'pending', verified_at = null where id = ${unverified.domainId}`);
  const keyless = await createSender(w, tenant.tenantId, [{ local: 'keyless' }]);
  await w.t.owner.query(sql`delete from app_private.domain_dkim_keys where domain_id = ${keyless.domainId}`);

  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    name: 'Broken',
    inboxIds: [paused!.id, nopass!.id, unverified.inboxes[0]!.id, keyless.inboxes[0]!.id],
    settings: { timezone: 'Moon/Crater' },
    steps: [
      { type: 'email', subject: null },
      { type: 'condition', condition: 'opened', value: '1' },
      { type: 'condition', condition: 'clicked', value: '9' },
    ],
    leads: [
      { status: 'unsubscribed' },
      { email: `listed-${Date.now()}@recipient.example` },
      { email: `someone-${Date.now()}@mail.blocked-${process.pid}.example` },
    ],
  });
  await w.t.owner.query(sql`
    insert into app_public.suppressions (tenant_id, email, domain, reason)
    select ${tenant.tenantId}::uuid, l.email, null::app_public.hostname, 'manual' from app_public.leads l where l.tenant_id = ${tenant.tenantId} and l.email like 'listed-%'
    union all select ${tenant.tenantId}::uuid, null, ${`blocked-${process.pid}.example`}::app_public.hostname, 'manual'
  `);
  const { error } = await lifecycle(w, tenant.token, 'start', campaignId);
  expect(error?.extensions?.code).toBe('INVALID_INPUT');
  expect(error?.message).toBe([
    'Campaign "Broken" cannot start:',
    'The campaign time zone "Moon/Crater" is unknown; use a name such as Europe/Paris.',
    `No inbox can send: inbox ${paused!.email} is paused; inbox ${nopass!.email} has an SMTP username but no password (set it with setEmailAccountCredentials); `
      + `the domain ${unverified.domain} of inbox ${unverified.inboxes[0]!.email} is not verified (pending); the domain ${keyless.domain} has no DKIM key for selector "pm".`,
    `Step 1: template "T ${campaignId.slice(0, 8)} 1" has no subject; give the template a subject or set a subject override on the step.`,
    'Step 2 jumps back to step 1; jumps must go forward.',
    'Step 3 jumps to step 9, which does not exist.',
    'The audience is empty: all 3 targeted leads are unsubscribed, bounced, complained, do-not-contact or suppressed.',
  ].join(' '));
  expect(await enrollmentsOf(w, campaignId)).toEqual([]);
  expect((await campaignOf(w, campaignId)).status).toBe('draft');
});

test('illegal transitions are refused with CONFLICT; only members and above, only in their organisation', async () => {
  const tenant = await createTenant(w, 'transitions');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    name: 'Moves', inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }, { type: 'wait', hours: 5 }, { type: 'email' }], leads: [{}],
  });
  const viewer = await addMember(w, tenant.tenantId, 'viewer', ['viewer']);
  expect((await lifecycle(w, viewer.token, 'start', campaignId)).error).toMatchObject({
    message: 'Only members, admins and owners of this organisation can start, pause, resume or cancel campaigns.', extensions: { code: 'FORBIDDEN' },
  });
  const stranger = await createTenant(w, 'stranger');
  expect((await lifecycle(w, stranger.token, 'start', campaignId)).error).toMatchObject({
    message: `There is no campaign ${campaignId} in this organisation.`, extensions: { code: 'NOT_FOUND' },
  });
  const conflict = async (verb: 'start' | 'pause' | 'resume' | 'cancel', message: string) =>
    expect((await lifecycle(w, tenant.token, verb, campaignId)).error).toMatchObject({ message, extensions: { code: 'CONFLICT' } });

  await conflict('pause', 'Campaign "Moves" has not been started, so it cannot be paused.');
  await conflict('resume', 'Campaign "Moves" is draft, not paused; only a paused campaign can be resumed.');
  const member = await addMember(w, tenant.tenantId, 'member', ['member']);
  expect(await lifecycle(w, member.token, 'start', campaignId)).toMatchObject({ error: null, campaign: { status: 'SENDING', pausedBy: null } });
  await conflict('start', 'Campaign "Moves" is sending; only a draft campaign can be started.');
  await conflict('resume', 'Campaign "Moves" is sending, not paused; only a paused campaign can be resumed.');
  expect(await lifecycle(w, tenant.token, 'pause', campaignId)).toMatchObject({ error: null, campaign: { status: 'PAUSED', pausedBy: 'USER' } });
  await conflict('pause', 'Campaign "Moves" is already paused.');
  await conflict('start', 'Campaign "Moves" is paused; resume it instead of starting it again.');
  expect(await lifecycle(w, tenant.token, 'resume', campaignId)).toMatchObject({ error: null, campaign: { status: 'SENDING', pausedBy: null } });
  expect(await lifecycle(w, tenant.token, 'cancel', campaignId)).toMatchObject({ error: null, campaign: { status: 'CANCELLED' } });
  await conflict('cancel', 'Campaign "Moves" is already cancelled.');
  await conflict('resume', 'Campaign "Moves" is cancelled, not paused; only a paused campaign can be resumed.');
  expect(await enrollmentsOf(w, campaignId)).toMatchObject([{ status: 'cancelled', stop_reason: 'The campaign was cancelled.' }]);

  // The status column is not writable through the API, and even the owner cannot skip the state machine.
  const patchType = await w.t.ok(`{ __type(name: "CampaignPatch") { inputFields { name } } }`, {}, tenant.token);
  const patchable = patchType.__type.inputFields.map((f: { name: string }) => f.name);
  expect(patchable).toContain('name');
  expect(patchable).not.toContain('status');
  expect(patchable).not.toContain('pausedBy');
  await expect(w.t.owner.query(sql`update app_public.campaigns set status = 'sending' where id = ${campaignId}`))
    .rejects.toMatchObject({ code: 'STATE', message: 'Campaign "Moves" cannot go from cancelled to sending.' });
});

test('the audience: lists and leads enrolled once each, never the unsubscribed, bounced or suppressed; new list members join', async () => {
  const tenant = await createTenant(w, 'audience');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email' }, { type: 'wait', hours: 100 }, { type: 'email' }],
    leads: [{ custom: { tier: 'gold' } }, { status: 'bounced', custom: { tier: 'gold' } }],
  });
  const db = w.t.owner;
  const [list] = await db.query(sql`insert into app_public.contact_lists (tenant_id, name) values (${tenant.tenantId}, 'Static') returning id`);
  const [dynamic] = await db.query(sql`
    insert into app_public.contact_lists (tenant_id, name, is_dynamic, filter_criteria)
    values (${tenant.tenantId}, 'Gold', true, '{"all": [{"field": "custom.tier", "op": "eq", "value": "gold"}]}') returning id
  `);
  const extra = await db.query(sql`
    insert into app_public.leads (tenant_id, email, first_name, company, status, custom_fields)
    values (${tenant.tenantId}, ${`static-${Date.now()}@recipient.example`}, 'Sta', 'Tic', 'active', '{}'),
           (${tenant.tenantId}, ${`gold-${Date.now()}@recipient.example`}, 'Go', 'Ld', 'active', '{"tier": "gold"}'),
           (${tenant.tenantId}, ${`unsub-${Date.now()}@recipient.example`}, 'Un', 'Sub', 'unsubscribed', '{"tier": "gold"}')
    returning id, email
  `);
  await db.query(sql`
    insert into app_public.contact_list_members (tenant_id, list_id, lead_id)
    values (${tenant.tenantId}, ${list.id}, ${extra[0].id}), (${tenant.tenantId}, ${list.id}, ${leads[0]!.id})
  `);
  await db.query(sql`
    insert into app_public.campaign_targets (tenant_id, campaign_id, contact_list_id)
    values (${tenant.tenantId}, ${campaignId}, ${list.id}), (${tenant.tenantId}, ${campaignId}, ${dynamic.id})
  `);
  await lifecycle(w, tenant.token, 'start', campaignId);
  const enrolled = (await enrollmentsOf(w, campaignId)).map((e) => e.lead_id).sort();
  expect(enrolled).toEqual([leads[0]!.id, extra[0].id, extra[1].id].sort());

  // Joining while the campaign sends: a new static member and a lead that starts matching the dynamic list.
  const [late] = await db.query(sql`
    insert into app_public.leads (tenant_id, email, first_name, company) values (${tenant.tenantId}, ${`late-${Date.now()}@recipient.example`}, 'La', 'Te')
    returning id, email
  `);
  await db.query(sql`insert into app_public.contact_list_members (tenant_id, list_id, lead_id) values (${tenant.tenantId}, ${list.id}, ${late.id})`);
  await db.query(sql`select graphile_worker.add_job('campaign_housekeeping')`);
  await eventually(async () => (await enrollmentsOf(w, campaignId)).length === 4);
  await w.smtp.waitFor((m) => m.to.includes(late.email));

  const [convert] = await db.query(sql`
    insert into app_public.leads (tenant_id, email, first_name, company) values (${tenant.tenantId}, ${`convert-${Date.now()}@recipient.example`}, 'Con', 'Vert')
    returning id, email
  `);
  await lifecycle(w, tenant.token, 'pause', campaignId);
  await db.query(sql`update app_public.leads set custom_fields = '{"tier": "gold"}' where id = ${convert.id}`);
  await lifecycle(w, tenant.token, 'resume', campaignId);
  expect((await enrollmentsOf(w, campaignId)).map((e) => e.lead_id)).toContain(convert.id);
  await w.smtp.waitFor((m) => m.to.includes(convert.email));
  const [{ n }] = await db.query(sql`select count(*)::int as n from app_public.campaign_enrollments where campaign_id = ${campaignId} and lead_id = ${leads[0]!.id}`);
  expect(n).toBe(1);
});

test('the plan limit on campaign starts refuses the next start with the plan, the limit and the usage', async () => {
  const tenant = await createTenant(w, 'free', 'free');
  const sender = await createSender(w, tenant.tenantId);
  const campaigns = [];
  for (let i = 0; i < 3; i++) {
    campaigns.push(await createCampaign(w, tenant.tenantId, { name: `Free ${i}`, inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{}] }));
  }
  expect((await lifecycle(w, tenant.token, 'start', campaigns[0]!.campaignId)).error).toBeNull();
  expect((await lifecycle(w, tenant.token, 'start', campaigns[1]!.campaignId)).error).toBeNull();
  expect((await lifecycle(w, tenant.token, 'start', campaigns[2]!.campaignId)).error).toMatchObject({
    message: 'Your Free plan allows 2 campaign starts per month; 2 already used. Upgrade the plan or buy an add-on to go further.',
    extensions: { code: 'PLAN_LIMIT_REACHED' },
  });
  expect((await campaignOf(w, campaigns[2]!.campaignId)).status).toBe('draft');
  expect(await enrollmentsOf(w, campaigns[2]!.campaignId)).toEqual([]);

  // With other problems, the limit is listed with them.
  await w.t.owner.query(sql`delete from app_public.campaign_targets where campaign_id = ${campaigns[2]!.campaignId}`);
  expect((await lifecycle(w, tenant.token, 'start', campaigns[2]!.campaignId)).error?.message).toBe(
    'Campaign "Free 2" cannot start: Add an audience: at least one contact list or lead as a campaign target. '
    + 'Your Free plan allows 2 campaign starts per month; 2 already used. Upgrade the plan or buy an add-on to go further.',
  );
});

test('when the plan refuses an email, it stays queued, the campaigns pause with the reason, and billing resumes them', async () => {
  const tenant = await createTenant(w, 'emails');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, { inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{}, {}] });
  const [{ tomorrow }] = await w.t.owner.query(sql`select app_private.engine_now() + interval '1 day' as tomorrow`);
  const userPaused = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{}], settings: { scheduled_for: tomorrow },
  });
  expect((await lifecycle(w, tenant.token, 'start', userPaused.campaignId)).campaign).toMatchObject({ status: 'SCHEDULED' });
  expect((await lifecycle(w, tenant.token, 'pause', userPaused.campaignId)).campaign).toMatchObject({ status: 'PAUSED', pausedBy: 'USER' });
  await w.t.owner.query(sql`select app_private.consume_usage(${tenant.tenantId}, 'emails_sent', 100000)`);

  await lifecycle(w, tenant.token, 'start', campaignId);
  const refusal = 'Your Pro plan allows 100,000 emails per month; 100,000 already used. Upgrade the plan or buy an add-on to go further.';
  const paused = await eventually(async () => {
    const c = await campaignOf(w, campaignId);
    return c.status === 'paused' && c;
  });
  expect(paused).toMatchObject({ paused_by: 'system', pause_reason: refusal });
  // The message that met the refusal says why; any other found the campaign already paused.
  const waiting = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows.some((m) => m.error_message) && rows;
  });
  expect(waiting.map((m) => [m.status, m.send_attempts])).toEqual(waiting.map(() => ['queued', 0]));
  expect(waiting.map((m) => m.error_message)).toContain(`Waiting: ${refusal}`);
  expect(leads.map((l) => w.smtp.messages.some((m) => m.to.includes(l.email)))).toEqual([false, false]);
  // The tenant sees why.
  const seen = await w.t.ok(`query($id: UUID!) { campaign(rowId: $id) { status pausedBy pauseReason } }`, { id: campaignId }, tenant.token);
  expect(seen.campaign).toEqual({ status: 'PAUSED', pausedBy: 'SYSTEM', pauseReason: refusal });

  // Billing adds room and resumes what the system paused.
  await w.t.owner.query(sql`
    insert into app_public.subscription_addons (tenant_id, subscription_id, addon_type, quantity)
    select tenant_id, id, 'max_emails_per_month', 10 from app_public.subscriptions where tenant_id = ${tenant.tenantId}
  `);
  const [{ resumed }] = await w.t.owner.query(sql`select app_private.resume_tenant_campaigns(${tenant.tenantId}) as resumed`);
  expect(resumed).toBe(1);
  for (const lead of leads) await w.smtp.waitFor((m) => m.to.includes(lead.email));
  await eventually(async () => (await messagesOf(w, campaignId)).every((m) => m.status === 'sent' && m.error_message === null));
  // What the tenant paused stays paused: that is not the system's to lift.
  expect(await campaignOf(w, userPaused.campaignId)).toMatchObject({ status: 'paused', paused_by: 'user' });
  expect(await usage(tenant.tenantId, 'emails_sent')).toBe(100002);
});

test('pausing holds booked messages; resuming books them again with the gap; cancelling cancels what is queued', async () => {
  const tenant = await createTenant(w, 'hold');
  const sender = await createSender(w, tenant.tenantId);
  const spaced = { min_gap_seconds: 120, max_gap_seconds: 120 };
  const held = await createCampaign(w, tenant.tenantId, { inboxIds: [sender.inboxes[0]!.id], settings: spaced, steps: [{ type: 'email' }], leads: [{}, {}, {}] });
  await lifecycle(w, tenant.token, 'start', held.campaignId);
  // The first booking goes now, the other two wait their gaps: pause once the first is out.
  await eventually(async () => {
    const booked = await messagesOf(w, held.campaignId);
    return booked.length === 3 && booked.some((m) => m.status === 'sent');
  });
  await lifecycle(w, tenant.token, 'pause', held.campaignId);
  await advanceClock(w, '1 hour');
  await new Promise((r) => setTimeout(r, 500));
  expect((await messagesOf(w, held.campaignId)).map((m) => m.status).sort()).toEqual(['queued', 'queued', 'sent']);

  await lifecycle(w, tenant.token, 'resume', held.campaignId);
  // The stale bookings get fresh slots, two minutes apart again: one goes now.
  const rebooked = await eventually(async () => {
    const rows = await messagesOf(w, held.campaignId);
    return rows.filter((m) => m.status === 'sent').length === 2 && rows;
  });
  const queued = rebooked.filter((m) => m.status === 'queued');
  expect(queued).toHaveLength(1);
  const [{ ahead }] = await w.t.owner.query(sql`select extract(epoch from ${queued[0].scheduled_for}::timestamptz - app_private.engine_now())::int as ahead`);
  expect(ahead).toBeGreaterThan(100);
  expect(ahead).toBeLessThanOrEqual(120);

  await lifecycle(w, tenant.token, 'cancel', held.campaignId);
  await advanceClock(w, '10 minutes');
  await new Promise((r) => setTimeout(r, 500));
  const final = await messagesOf(w, held.campaignId);
  expect(final.map((m) => m.status).sort()).toEqual(['cancelled', 'sent', 'sent']);
  expect(final.find((m) => m.status === 'cancelled')?.error_message).toBe('The campaign was cancelled.');
  expect((await enrollmentsOf(w, held.campaignId)).map((e) => e.status).sort()).toEqual(['cancelled', 'completed', 'completed']);
});
