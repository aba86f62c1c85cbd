/**
 * The timeline after a real send: the worker delivers a campaign email to
 * the SMTP server on 127.0.0.1, the recorded events become the lead's
 * activities, and after conversion they are the deal's history too.
 */
import { campaignCompletes, createCampaign, createSender, createTenant, lifecycle, messagesOf, nextMonday, setClock, startWorld, type World } from '../sending/support/world.ts';
import { eventually } from '../helpers/eventually.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
afterAll(() => w?.close());

const TIMELINE = `query($l: UUID!) { lead(rowId: $l) { timeline { nodes { kind messageId } } } }`;

test('a sent campaign email, its open and its reply are on the lead\'s timeline, and on its deal\'s after conversion', async () => {
  await setClock(w, await nextMonday(w, 10));
  const tenant = await createTenant(w, 'crm-send');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email', subject: 'Hello from the timeline' }],
    leads: [{ email: `timeline-${Date.now()}@recipient.example`, company: 'Timeline Inc' }],
  });
  const lead = leads[0]!;
  await lifecycle(w, tenant.token, 'start', campaignId);
  await eventually(async () => w.smtp.messages.find((m) => m.to.includes(lead.email)), 30_000);
  await campaignCompletes(w, campaignId);

  const [message] = await messagesOf(w, campaignId);
  const sent = await eventually(async () => {
    const nodes = (await w.t.ok(TIMELINE, { l: lead.id }, tenant.token)).lead.timeline.nodes;
    return nodes.length > 0 && nodes;
  });
  expect(sent).toEqual([{ kind: 'EMAIL_SENT', messageId: message.id }]);

  await w.t.owner.query(sql`select app_private.record_email_event(${tenant.tenantId}, ${message.id}, 'open')`);
  await w.t.owner.query(sql`select app_private.record_email_event(${tenant.tenantId}, ${message.id}, 'reply')`);
  const kinds = (await w.t.ok(TIMELINE, { l: lead.id }, tenant.token)).lead.timeline.nodes.map((n: { kind: string }) => n.kind);
  expect(kinds.slice(0, 2).sort()).toEqual(['EMAIL_REPLIED', 'STATUS_CHANGED']);
  expect(kinds.slice(2)).toEqual(['EMAIL_OPENED', 'EMAIL_SENT']);

  const converted = await w.t.ok(`mutation($l: UUID!) { convertLeadToDeal(input: { leadId: $l }) { result { rowId title } } }`, { l: lead.id }, tenant.token);
  expect(converted.convertLeadToDeal.result.title).toBe('Timeline Inc');
  const deal = await w.t.ok(`query($d: UUID!) { deal(rowId: $d) { timeline { totalCount nodes { kind } } crmAccount { name } } }`,
    { d: converted.convertLeadToDeal.result.rowId }, tenant.token);
  expect(deal.deal.crmAccount).toEqual({ name: 'Timeline Inc' });
  expect(deal.deal.timeline.totalCount).toBe(kinds.length + 2);
  expect(deal.deal.timeline.nodes.slice(-2).map((n: { kind: string }) => n.kind)).toEqual(['EMAIL_OPENED', 'EMAIL_SENT']);
}, 90_000);
