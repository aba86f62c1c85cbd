/**
 * A/B tests with a winner, end to end: a two-variant email step (A changes
 * the subject, B the body) sends through the real worker to a real SMTP
 * server, replies are recorded as the IMAP poller records them
 * (record_email_event), the worker's ab_winner_sweep task chooses the winner
 * by reply rate once each variant reached its sample, and the leads enrolled
 * afterwards all receive the winner's subject and body. Also: a tie keeps the
 * variants splitting until the deadline, which gives it to the earliest
 * label; automatic choice switched off; a member's manual pick (a viewer's is
 * refused); the per-variant figures of the API match what was sent.
 *
 * Which variant a lead gets is a hash of step and lead, so each test makes a
 * pool of leads, reads the variant each would get before anything is decided
 * (app_hidden.choose_variant) and targets exactly the ones it needs.
 */
import { randomBytes } from 'node:crypto';
import { sql } from '../../src/db/pg.ts';
import { eventually } from '../helpers/eventually.ts';
import {
  addMember, advanceClock, createCampaign, createSender, createTenant, lifecycle, messagesOf, nextMonday, setClock, startWorld,
  type TestTenant, type World,
} from './support/world.ts';

let w: World;
beforeAll(async () => {
  w = await startWorld();
  await setClock(w, await nextMonday(w, 10));
});
afterAll(() => w.close());

interface Lead { id: string; email: string; label: string }

/** Leads of the tenant (not yet targeted), grouped by the variant of the step each would get now. */
async function leadPool(tenantId: string, stepId: string, size = 80): Promise<Record<string, Lead[]>> {
  const tag = randomBytes(4).toString('hex');
  await w.t.owner.query(sql`
    insert into app_public.leads (tenant_id, email, first_name, company)
    select ${tenantId}, 'ab-' || ${tag} || '-' || g || '@recipient.example', 'Ada', 'Initech' from generate_series(1, ${size}) g
  `);
  const rows = await w.t.owner.query(sql`
    select l.id, l.email::text as email, v.label
    from app_public.leads l
    join app_public.campaign_step_variants v on v.tenant_id = l.tenant_id and v.id = app_hidden.choose_variant(l.tenant_id, ${stepId}, l.id)
    where l.tenant_id = ${tenantId} and l.email like ${`ab-${tag}-%`}
    order by l.email
  `);
  const pool: Record<string, Lead[]> = {};
  for (const row of rows) (pool[row.label] ??= []).push(row as Lead);
  return pool;
}

/** Takes n leads of a label out of the pool. */
function take(pool: Record<string, Lead[]>, label: string, n: number): Lead[] {
  const leads = (pool[label] ?? []).splice(0, n);
  if (leads.length < n) throw new Error(`the pool has only ${leads.length} leads for variant ${label}`);
  return leads;
}

async function target(tenantId: string, campaignId: string, leads: Lead[]) {
  for (const lead of leads) {
    await w.t.owner.query(sql`insert into app_public.campaign_targets (tenant_id, campaign_id, lead_id) values (${tenantId}, ${campaignId}, ${lead.id})`);
  }
}

/** Queues a task as its cron entry would and waits until the worker has run it. */
async function runTask(name: string) {
  const [job] = await w.t.owner.query(sql`select (graphile_worker.add_job(${name})).id as id`);
  await eventually(async () => {
    const [row] = await w.t.owner.query(sql`select attempts, last_error from graphile_worker.jobs where id = ${job.id}`);
    if (row?.last_error) throw new Error(`${name} failed: ${row.last_error}`);
    return !row;
  }, 15_000);
}

/** Enrolls the campaign's newly targeted leads (the periodic housekeeping task) and waits until each got its first email. */
async function enrollAndSend(campaignId: string, leads: Lead[]) {
  await runTask('campaign_housekeeping');
  await sentTo(campaignId, leads);
}

async function sentTo(campaignId: string, leads: Lead[]) {
  const ids = new Set(leads.map((l) => l.id));
  await eventually(async () => {
    const sent = (await messagesOf(w, campaignId)).filter((m) => ids.has(m.lead_id) && m.step_order === 1 && m.status === 'sent');
    return sent.length === leads.length && w.smtp.messages.filter((m) => leads.some((l) => m.to.includes(l.email))).length === leads.length;
  }, 30_000);
}

/** The message of step 1 each lead received (subject, HTML), as the SMTP server got it. */
function received(lead: Lead) {
  const mails = w.smtp.messages.filter((m) => m.to.includes(lead.email));
  expect(mails).toHaveLength(1);
  return { subject: mails[0]!.parsed.subject, html: String(mails[0]!.parsed.html) };
}

async function reply(tenantId: string, campaignId: string, lead: Lead) {
  const [m] = (await messagesOf(w, campaignId)).filter((x) => x.lead_id === lead.id && x.step_order === 1);
  await w.t.owner.query(sql`select app_private.record_email_event(${tenantId}, ${m.id}, 'reply')`);
}

async function event(tenantId: string, campaignId: string, lead: Lead, type: 'open' | 'click') {
  const [m] = (await messagesOf(w, campaignId)).filter((x) => x.lead_id === lead.id && x.step_order === 1);
  await w.t.owner.query(sql`select app_private.record_email_event(${tenantId}, ${m.id}, ${type}, link_url => 'https://example.com/')`);
}

async function decisionsOf(stepId: string) {
  return w.t.owner.query(sql`
    select d.decided_by, d.decided_by_user_id, d.reason, d.metric, d.figures, v.label as winner
    from app_public.campaign_step_ab_decisions d join app_public.campaign_step_variants v on v.tenant_id = d.tenant_id and v.id = d.winner_variant_id
    where d.step_id = ${stepId} order by d.decided_at, d.id
  `);
}

const STEP_QUERY = `query($id: UUID!) { campaignSequenceStep(rowId: $id) {
  abDecision { decidedBy reason metric figures winnerVariantId }
  campaignStepAbDecisionsByStepId { nodes { decidedBy reason winnerVariantId decidedByUserId } }
  campaignStepVariantsByStepId { nodes { rowId label stats { sent opened clicked replied openRate clickRate replyRate } } }
} }`;

/** A sending campaign whose first step is an A/B test: A changes the subject, B the body; a wait keeps every lead enrolled afterwards. */
async function abCampaign(tenant: TestTenant, ab: { auto?: boolean; minSends?: number; decideAfter?: string }) {
  const sender = await createSender(w, tenant.tenantId);
  const campaign = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    settings: { track_opens: false, track_clicks: false, include_unsubscribe_link: false },
    steps: [
      {
        type: 'email', subject: 'Hello {{ lead.company }}', html: '<p>Template body for {{ lead.first_name }}</p>',
        variants: [{ label: 'A', subject: 'Subject A for {{ lead.company }}' }, { label: 'B', html: '<p>Body B for {{ lead.first_name }}</p>' }],
        ab: { minSends: 10, ...ab },
      },
      { type: 'wait', hours: 48 },
      { type: 'email', subject: 'Follow-up' },
    ],
    leads: [],
  });
  const stepId = campaign.stepIds[0]!;
  const variants = Object.fromEntries((await w.t.owner.query(sql`
    select label, id from app_public.campaign_step_variants where step_id = ${stepId}
  `)).map((r) => [r.label, r.id as string]));
  return { ...campaign, stepId, variants, pool: await leadPool(tenant.tenantId, stepId) };
}

const A = { subject: 'Subject A for Initech', body: 'Template body for Ada' };
const B = { subject: 'Hello Initech', body: 'Body B for Ada' };
function expectVariant(lead: Lead, variant: typeof A) {
  const mail = received(lead);
  expect([lead.email, mail.subject]).toEqual([lead.email, variant.subject]);
  expect(mail.html).toContain(variant.body);
}

test('the variant with the best reply rate wins once both reached the sample; later leads all get its subject and body; a member can override it, a viewer cannot', async () => {
  const tenant = await createTenant(w, 'ab-win');
  const viewer = await addMember(w, tenant.tenantId, 'ab-viewer', ['viewer']);
  const member = await addMember(w, tenant.tenantId, 'ab-member', ['member']);
  const c = await abCampaign(tenant, {});
  const firstA = take(c.pool, 'A', 10);
  const firstB = take(c.pool, 'B', 10);
  await target(tenant.tenantId, c.campaignId, [...firstA, ...firstB]);
  expect((await lifecycle(w, tenant.token, 'start', c.campaignId)).error).toBeNull();
  await sentTo(c.campaignId, [...firstA, ...firstB]);

  // Each lead got its variant: A its own subject with the template's body, B the step's subject with its own body.
  for (const lead of firstA) expectVariant(lead, A);
  for (const lead of firstB) expectVariant(lead, B);

  // Replies: 1 of 10 for A, 3 of 10 for B; an open and a click besides.
  await reply(tenant.tenantId, c.campaignId, firstA[0]!);
  for (const lead of firstB.slice(0, 3)) await reply(tenant.tenantId, c.campaignId, lead);
  await event(tenant.tenantId, c.campaignId, firstA[1]!, 'open');
  await event(tenant.tenantId, c.campaignId, firstB[5]!, 'click');

  // The figures, as a viewer reads them.
  const before = (await w.t.ok(STEP_QUERY, { id: c.stepId }, viewer.token)).campaignSequenceStep;
  expect(before.abDecision).toBeNull();
  expect(before.campaignStepVariantsByStepId.nodes.map((v: { label: string; stats: unknown }) => [v.label, v.stats])).toEqual([
    ['A', { sent: 10, opened: 1, clicked: 0, replied: 1, openRate: '0.1000', clickRate: '0.0000', replyRate: '0.1000' }],
    ['B', { sent: 10, opened: 1, clicked: 1, replied: 3, openRate: '0.1000', clickRate: '0.1000', replyRate: '0.3000' }],
  ]);

  await runTask('ab_winner_sweep');
  const [auto] = await decisionsOf(c.stepId);
  expect(auto).toMatchObject({ decided_by: 'auto', decided_by_user_id: null, reason: 'sample', metric: 'reply', winner: 'B' });
  expect(auto.figures).toEqual([
    { variant_id: c.variants.A, label: 'A', sent: 10, opened: 1, clicked: 0, replied: 1, rate: 0.1 },
    { variant_id: c.variants.B, label: 'B', sent: 10, opened: 1, clicked: 1, replied: 3, rate: 0.3 },
  ]);
  const decided = (await w.t.ok(STEP_QUERY, { id: c.stepId }, viewer.token)).campaignSequenceStep;
  // (The API spells the constrained values as enums.)
  expect(decided.abDecision).toMatchObject({ decidedBy: 'AUTO', reason: 'SAMPLE', metric: 'REPLY', winnerVariantId: c.variants.B });

  // Leads enrolled now all get B, including those the hash would give A.
  const laterB = [...take(c.pool, 'A', 2), ...take(c.pool, 'B', 1)];
  await target(tenant.tenantId, c.campaignId, laterB);
  await enrollAndSend(c.campaignId, laterB);
  for (const lead of laterB) expectVariant(lead, B);
  const variantOf = async (leads: Lead[]) => (await messagesOf(w, c.campaignId))
    .filter((m) => leads.some((l) => l.id === m.lead_id) && m.step_order === 1).map((m) => m.variant_id);
  expect(await variantOf(laterB)).toEqual([c.variants.B, c.variants.B, c.variants.B]);
  // A lead who got A keeps A (its message exists): the preview shows what was sent.
  const preview = await w.t.ok(`query($s: UUID!, $l: UUID!) { previewMessage(stepId: $s, leadId: $l) { subject variant } }`,
    { s: c.stepId, l: firstA[2]!.id }, member.token);
  expect(preview.previewMessage).toEqual({ subject: A.subject, variant: 'A' });

  // A viewer cannot pick the winner; nothing changes.
  const CHOOSE = `mutation($v: UUID!) { chooseAbWinner(input: { variantId: $v }) { result { rowId decidedBy reason winnerVariantId decidedByUserId metric } } }`;
  const refused = await w.t.gql(CHOOSE, { v: c.variants.A }, viewer.token);
  expect(refused.errors?.[0]).toMatchObject({
    message: 'Only members, admins and owners of this organisation can pick the winner of an A/B test.', extensions: { code: 'FORBIDDEN' },
  });
  expect(await decisionsOf(c.stepId)).toHaveLength(1);
  // Nor can another organisation, even with the variant's id.
  const stranger = await createTenant(w, 'ab-stranger');
  expect((await w.t.gql(CHOOSE, { v: c.variants.A }, stranger.token)).errors?.[0]).toMatchObject({
    message: `There is no A/B variant ${c.variants.A} in this organisation.`, extensions: { code: 'NOT_FOUND' },
  });
  expect((await w.t.ok(STEP_QUERY, { id: c.stepId }, stranger.token)).campaignSequenceStep).toBeNull();

  // A member picks A by hand: it replaces B for the leads still to come.
  const manual = (await w.t.ok(CHOOSE, { v: c.variants.A }, member.token)).chooseAbWinner.result;
  expect(manual).toMatchObject({ decidedBy: 'MANUAL', reason: 'MANUAL', winnerVariantId: c.variants.A, decidedByUserId: member.userId, metric: 'REPLY' });
  const history = await decisionsOf(c.stepId);
  expect(history.map((d) => [d.decided_by, d.reason, d.winner])).toEqual([['auto', 'sample', 'B'], ['manual', 'manual', 'A']]);
  expect(history[1].figures.map((f: { label: string; sent: number; replied: number }) => [f.label, f.sent, f.replied])).toEqual([['A', 10, 1], ['B', 13, 3]]);
  const laterA = [...take(c.pool, 'B', 2), ...take(c.pool, 'A', 1)];
  await target(tenant.tenantId, c.campaignId, laterA);
  await enrollAndSend(c.campaignId, laterA);
  for (const lead of laterA) expectVariant(lead, A);
  // The sweep decides nothing more: a step is decided automatically once, and never after a manual pick.
  await runTask('ab_winner_sweep');
  expect(await decisionsOf(c.stepId)).toHaveLength(2);

  // The figures still add up, from the API: A 10 + 3 later, B 10 + 3 later.
  const after = (await w.t.ok(STEP_QUERY, { id: c.stepId }, viewer.token)).campaignSequenceStep;
  expect(after.campaignStepVariantsByStepId.nodes.map((v: { label: string; stats: { sent: number; replied: number } }) => [v.label, v.stats.sent, v.stats.replied]))
    .toEqual([['A', 13, 1], ['B', 13, 3]]);
  expect(after.abDecision).toMatchObject({ winnerVariantId: c.variants.A });
  expect(after.campaignStepAbDecisionsByStepId.nodes).toHaveLength(2);
});

test('a tie keeps the variants splitting; after the deadline the earliest label wins', async () => {
  const tenant = await createTenant(w, 'ab-tie');
  const c = await abCampaign(tenant, { decideAfter: '2 hours' });
  const first = [...take(c.pool, 'A', 10), ...take(c.pool, 'B', 10)];
  await target(tenant.tenantId, c.campaignId, first);
  expect((await lifecycle(w, tenant.token, 'start', c.campaignId)).error).toBeNull();
  await sentTo(c.campaignId, first);
  // Two replies each: 20% against 20%.
  for (const lead of [first[0]!, first[1]!, first[10]!, first[11]!]) await reply(tenant.tenantId, c.campaignId, lead);

  await runTask('ab_winner_sweep');
  expect(await decisionsOf(c.stepId)).toEqual([]);
  // Still splitting: each new lead gets its own variant.
  const split = [...take(c.pool, 'A', 1), ...take(c.pool, 'B', 1)];
  await target(tenant.tenantId, c.campaignId, split);
  await enrollAndSend(c.campaignId, split);
  expectVariant(split[0]!, A);
  expectVariant(split[1]!, B);

  // Two hours after the first send the tie goes to A.
  await advanceClock(w, '2 hours');
  await runTask('ab_winner_sweep');
  const [decision] = await decisionsOf(c.stepId);
  expect(decision).toMatchObject({ decided_by: 'auto', reason: 'deadline_tie', winner: 'A' });
  expect(decision.figures.map((f: { label: string; sent: number; replied: number; rate: number }) => [f.label, f.sent, f.replied, f.rate]))
    .toEqual([['A', 11, 2, 0.1818], ['B', 11, 2, 0.1818]]);
  const later = take(c.pool, 'B', 2);
  await target(tenant.tenantId, c.campaignId, later);
  await enrollAndSend(c.campaignId, later);
  for (const lead of later) expectVariant(lead, A);
});

test('before the sample nothing is decided; after the deadline a quarter of it is enough; with automatic choice off only a member decides', async () => {
  const tenant = await createTenant(w, 'ab-rules');
  // Deadline one hour; sample 12 per variant, so the floor after the deadline is 3.
  const early = await abCampaign(tenant, { minSends: 12, decideAfter: '1 hour' });
  const off = await abCampaign(tenant, { auto: false, minSends: 10 });
  const earlyLeads = [...take(early.pool, 'A', 3), ...take(early.pool, 'B', 2)];
  const offLeads = [...take(off.pool, 'A', 10), ...take(off.pool, 'B', 10)];
  await target(tenant.tenantId, early.campaignId, earlyLeads);
  await target(tenant.tenantId, off.campaignId, offLeads);
  for (const c of [early, off]) expect((await lifecycle(w, tenant.token, 'start', c.campaignId)).error).toBeNull();
  await sentTo(early.campaignId, earlyLeads);
  await sentTo(off.campaignId, offLeads);
  await reply(tenant.tenantId, early.campaignId, earlyLeads[4]!); // B: 1 of 2
  await reply(tenant.tenantId, off.campaignId, offLeads[0]!); // A: 1 of 10, B: 0 of 10

  await advanceClock(w, '1 hour');
  await runTask('ab_winner_sweep');
  // The deadline passed but B sent only 2 (< 3): nothing yet; automatic choice off: nothing.
  expect(await decisionsOf(early.stepId)).toEqual([]);
  expect(await decisionsOf(off.stepId)).toEqual([]);
  const third = take(early.pool, 'B', 1);
  await target(tenant.tenantId, early.campaignId, third);
  await enrollAndSend(early.campaignId, third);
  await runTask('ab_winner_sweep');
  expect(await decisionsOf(early.stepId)).toMatchObject([{ decided_by: 'auto', reason: 'deadline', winner: 'B' }]);
  expect(await decisionsOf(off.stepId)).toEqual([]);

  // The rule's settings are checked, with clear messages.
  const UPDATE = `mutation($id: UUID!, $p: CampaignSequenceStepPatch!) { updateCampaignSequenceStep(input: { rowId: $id, patch: $p }) { campaignSequenceStep { rowId } } }`;
  expect((await w.t.gql(UPDATE, { id: off.stepId, p: { abMinSendsPerVariant: 5 } }, tenant.token)).errors?.[0]).toMatchObject({
    message: 'abMinSendsPerVariant must be between 10 and 100,000 messages.', extensions: { code: 'INVALID_INPUT' },
  });
  const CREATE = `mutation($v: CampaignStepVariantInput!) { createCampaignStepVariant(input: { campaignStepVariant: $v }) { campaignStepVariant { rowId } } }`;
  expect((await w.t.gql(CREATE, { v: { stepId: off.stepId, label: 'C', weight: 1 } }, tenant.token)).errors?.[0]).toMatchObject({
    message: 'An A/B variant needs its own subject, its own body (bodyHtml), or both.', extensions: { code: 'INVALID_INPUT' },
  });
  expect((await w.t.gql(CREATE, { v: { stepId: off.stepId, label: 'C', subject: 'S', bodyText: 'only text' } }, tenant.token)).errors?.[0]).toMatchObject({
    extensions: { code: 'INVALID_INPUT' },
  });
});

test('starting needs a subject for every variant when the template and step have none', async () => {
  const tenant = await createTenant(w, 'ab-start');
  const sender = await createSender(w, tenant.tenantId);
  const c = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email', subject: null, variants: [{ label: 'A', subject: 'Subject A' }, { label: 'B', html: '<p>Body B</p>' }] }],
    leads: [{}],
  });
  const refused = await lifecycle(w, tenant.token, 'start', c.campaignId);
  expect(refused.error?.extensions?.code).toBe('INVALID_INPUT');
  expect(refused.error?.message).toContain('Step 1: template');
  expect(refused.error?.message).toContain('has no subject; give the template a subject or set a subject override on the step.');
  await w.t.owner.query(sql`update app_public.campaign_step_variants set subject = 'Subject B' where step_id = ${c.stepIds[0]} and label = 'B'`);
  expect((await lifecycle(w, tenant.token, 'start', c.campaignId)).error).toBeNull();
  await eventually(async () => w.smtp.messages.some((m) => m.to.includes(c.leads[0]!.email)), 15_000);
});
