/**
 * Sequences over time, with the engine clock moved instead of waiting: waits,
 * conditions (opened / replied, with stop, skip and jump), stop on reply,
 * a campaign scheduled for later. Each enrollment's next action is a job at
 * its run_at; moving the clock moves those jobs.
 */
import { eventually, waitBudget } from '../helpers/eventually.ts';
import { advanceClock, campaignOf, createCampaign, createSender, createTenant, enrollmentsOf, lifecycle, messagesOf, nextMonday, setClock, startWorld, type World, campaignCompletes } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => w.close());

const subjectsTo = (email: string) => w.smtp.messages.filter((m) => m.to.includes(email)).map((m) => m.parsed.subject);

async function settled(campaignId: string, predicate: (rows: Awaited<ReturnType<typeof enrollmentsOf>>) => boolean) {
  return eventually(async () => {
    const rows = await enrollmentsOf(w, campaignId);
    return predicate(rows) && rows;
  });
}

test('wait steps run on the engine clock, and a condition on opens branches each lead', async () => {
  const start = await setClock(w, await nextMonday(w, 10));
  const tenant = await createTenant(w, 'branch');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [
      { type: 'email', subject: 'Intro' },
      { type: 'wait', hours: 24 },
      { type: 'condition', condition: 'opened', value: '5' }, // not opened: jump to step 5
      { type: 'email', subject: 'Since you looked' },
      { type: 'email', subject: 'Last note' },
    ],
    leads: [{ email: `opener-${Date.now()}@recipient.example` }, { email: `ignorer-${Date.now()}@recipient.example` }],
  });
  const [opener, ignorer] = leads as [{ id: string; email: string }, { id: string; email: string }];
  await lifecycle(w, tenant.token, 'start', campaignId);

  const waiting = await settled(campaignId, (rows) => rows.every((e) => e.current_step_order === 3));
  for (const e of waiting) {
    expect(e.status).toBe('active');
    // 24 hours after the step ran (the engine clock keeps ticking in real time from where it was set).
    const after = new Date(e.next_run_at).getTime() - start.getTime() - 24 * 3600_000;
    expect(after).toBeGreaterThanOrEqual(0);
    expect(after).toBeLessThan(waitBudget(10_000));
  }
  expect(subjectsTo(opener.email)).toEqual(['Intro']);
  const [intro] = (await messagesOf(w, campaignId)).filter((m) => m.lead_id === opener.id);
  await w.t.owner.query(sql`select app_private.record_email_event(${tenant.tenantId}, ${intro.id}, 'open')`);

  // 23 hours later nothing has moved.
  await advanceClock(w, '23 hours');
  await new Promise((r) => setTimeout(r, 500));
  expect((await messagesOf(w, campaignId))).toHaveLength(2);

  await advanceClock(w, '1 hour');
  await settled(campaignId, (rows) => rows.every((e) => e.status === 'completed'));
  expect(subjectsTo(opener.email)).toEqual(['Intro', 'Since you looked', 'Last note']);
  expect(subjectsTo(ignorer.email)).toEqual(['Intro', 'Last note']);
  await campaignCompletes(w, campaignId, 10_000);
});

test('a reply stops the sequence; a not-replied condition with stop ends it for those who replied when stop-on-reply is off', async () => {
  await setClock(w, await nextMonday(w, 10));
  const tenant = await createTenant(w, 'reply');
  const sender = await createSender(w, tenant.tenantId);
  const stopping = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email', subject: 'Hello' }, { type: 'wait', hours: 48 }, { type: 'email', subject: 'Bump' }],
    leads: [{}, {}],
  });
  await lifecycle(w, tenant.token, 'start', stopping.campaignId);
  await settled(stopping.campaignId, (rows) => rows.every((e) => e.current_step_order === 3));
  const replier = stopping.leads[0]!;
  const [hello] = (await messagesOf(w, stopping.campaignId)).filter((m) => m.lead_id === replier.id);
  await w.t.owner.query(sql`select app_private.record_email_event(${tenant.tenantId}, ${hello.id}, 'reply')`);
  const [stopped] = (await enrollmentsOf(w, stopping.campaignId)).filter((e) => e.lead_id === replier.id);
  expect(stopped).toMatchObject({ status: 'replied', stop_reason: 'replied', next_run_at: null });

  await advanceClock(w, '48 hours');
  await settled(stopping.campaignId, (rows) => rows.every((e) => e.status !== 'active'));
  expect(subjectsTo(replier.email)).toEqual(['Hello']);
  expect(subjectsTo(stopping.leads[1]!.email)).toEqual(['Hello', 'Bump']);

  // Without stop-on-reply the engine keeps going, and a condition decides.
  const conditional = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    settings: { stop_on_reply: false },
    steps: [
      { type: 'email', subject: 'Question' },
      { type: 'wait', hours: 24 },
      { type: 'condition', condition: 'not_replied' }, // replied: stop here
      { type: 'email', subject: 'Follow-up' },
    ],
    leads: [{}, {}],
  });
  await lifecycle(w, tenant.token, 'start', conditional.campaignId);
  await settled(conditional.campaignId, (rows) => rows.every((e) => e.current_step_order === 3));
  const [question] = (await messagesOf(w, conditional.campaignId)).filter((m) => m.lead_id === conditional.leads[0]!.id);
  await w.t.owner.query(sql`select app_private.record_email_event(${tenant.tenantId}, ${question.id}, 'reply')`);
  expect((await enrollmentsOf(w, conditional.campaignId)).map((e) => e.status)).toEqual(['active', 'active']);
  await advanceClock(w, '24 hours');
  const done = await settled(conditional.campaignId, (rows) => rows.every((e) => e.status === 'completed'));
  const byLead = new Map(done.map((e) => [e.lead_id, e]));
  expect(byLead.get(conditional.leads[0]!.id)?.stop_reason).toBe('Step 3: the condition "not replied" was not met, so the sequence stopped there.');
  expect(byLead.get(conditional.leads[1]!.id)?.stop_reason).toBeNull();
  expect(subjectsTo(conditional.leads[0]!.email)).toEqual(['Question']);
  expect(subjectsTo(conditional.leads[1]!.email)).toEqual(['Question', 'Follow-up']);
});

test('skip jumps over the next step, and a wait until a date waits for that date', async () => {
  const start = await setClock(w, await nextMonday(w, 10));
  const tenant = await createTenant(w, 'skip');
  const sender = await createSender(w, tenant.tenantId);
  const until = new Date(start.getTime() + 3 * 86400_000);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [
      { type: 'email', subject: 'One' },
      { type: 'condition', condition: 'clicked', value: 'skip' },
      { type: 'email', subject: 'Only for clickers' },
      { type: 'wait', until: until.toISOString() },
      { type: 'email', subject: 'Everyone, later' },
    ],
    leads: [{}],
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  const [waiting] = await settled(campaignId, (rows) => rows[0]?.current_step_order === 5);
  expect(new Date(waiting.next_run_at).toISOString()).toBe(until.toISOString());
  await advanceClock(w, '3 days');
  await settled(campaignId, (rows) => rows[0]?.status === 'completed');
  expect(subjectsTo(leads[0]!.email)).toEqual(['One', 'Everyone, later']);
});

test('a campaign scheduled for later starts at its time, and moving that time moves the start', async () => {
  const start = await setClock(w, await nextMonday(w, 10));
  const tenant = await createTenant(w, 'scheduled');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email', subject: 'On time' }],
    settings: { scheduled_for: new Date(start.getTime() + 26 * 3600_000).toISOString() },
    leads: [{}],
  });
  const started = await lifecycle(w, tenant.token, 'start', campaignId);
  expect(started.campaign).toMatchObject({ status: 'SCHEDULED', startedAt: null });
  expect(await enrollmentsOf(w, campaignId)).toEqual([]);

  // The member moves the start four hours later.
  const at = new Date(start.getTime() + 30 * 3600_000);
  await w.t.ok(`mutation($id: UUID!, $at: Datetime!) { updateCampaign(input: { rowId: $id, patch: { scheduledFor: $at } }) { campaign { scheduledFor } } }`,
    { id: campaignId, at: at.toISOString() }, tenant.token);

  await advanceClock(w, '29 hours');
  await new Promise((r) => setTimeout(r, 400));
  expect((await campaignOf(w, campaignId)).status).toBe('scheduled');
  expect(w.smtp.messages.some((m) => m.to.includes(leads[0]!.email))).toBe(false);

  await advanceClock(w, '1 hour');
  await w.smtp.waitFor((m) => m.to.includes(leads[0]!.email));
  const campaign = await eventually(async () => {
    const c = await campaignOf(w, campaignId);
    return c.status === 'completed' && c;
  });
  const late = new Date(campaign.started_at).getTime() - at.getTime();
  expect(late).toBeGreaterThanOrEqual(0);
  expect(late).toBeLessThan(waitBudget(10_000));
});
