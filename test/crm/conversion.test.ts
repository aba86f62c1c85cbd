/**
 * The CRM through the real API (functions/075-crm-conversion.sql): leads
 * become deals with their account and contact, the timeline of leads and
 * deals (recorded email events, status changes, notes, tasks), soft delete
 * and restore, and account hierarchies that cannot loop.
 */
import { startTestApi, type GqlResult, type TestApi } from '../helpers/api.ts';
import { memberWithRoles, ownedTenant, type Member } from '../api/fixtures.ts';
import { uniqueDomain, uniqueEmail, uniqueName } from '../helpers/unique.ts';
import { sql } from '../../src/db/pg.ts';

const LONG = 60_000;

let t: TestApi;
let owner: Member;
let member: Member;
let viewer: Member;
let other: Member;

beforeAll(async () => {
  t = await startTestApi();
  owner = await ownedTenant(t, 'crm');
  member = await memberWithRoles(t, owner.tenantId, ['member'], 'crm-member');
  viewer = await memberWithRoles(t, owner.tenantId, ['viewer'], 'crm-viewer');
  other = await ownedTenant(t, 'crm-other');
}, LONG);
afterAll(() => t?.close());

/** The code and message of the first error (null when there was none). */
const refusal = (result: GqlResult) => (result.errors ? [result.errors[0].extensions?.code, result.errors[0].message] : null);

async function createLead(who: Member, lead: Record<string, unknown>): Promise<string> {
  const data = await t.ok(`mutation($l: LeadInput!) { createLead(input: { lead: $l }) { lead { rowId } } }`,
    { l: { email: uniqueEmail('crm-lead'), ...lead } }, who.token);
  return data.createLead.lead.rowId;
}

async function createAccount(who: Member, account: Record<string, unknown>): Promise<string> {
  const data = await t.ok(`mutation($a: CrmAccountInput!) { createCrmAccount(input: { crmAccount: $a }) { crmAccount { rowId } } }`,
    { a: account }, who.token);
  return data.createCrmAccount.crmAccount.rowId;
}

const CONVERT = `mutation($lead: UUID!, $stage: DealStage, $title: String, $value: BigFloat) {
  convertLeadToDeal(input: { leadId: $lead, stage: $stage, title: $title, value: $value }) {
    result { rowId title stage value currency primaryLeadId crmAccountId ownerUserId dealSource }
  }
}`;

const convert = (who: Member, variables: Record<string, unknown>) => t.gql(CONVERT, variables, who.token);

async function counts(tenantId: string) {
  const [row] = await t.owner.query(sql`
    select (select count(*)::int from app_public.deals where tenant_id = ${tenantId}) as deals,
           (select count(*)::int from app_public.crm_accounts where tenant_id = ${tenantId}) as accounts,
           (select count(*)::int from app_public.deal_contacts where tenant_id = ${tenantId}) as contacts,
           (select count(*)::int from app_public.activities where tenant_id = ${tenantId}) as activities,
           (select md5(string_agg(id || status || coalesce(crm_account_id::text, ''), ',' order by id)) from app_public.leads where tenant_id = ${tenantId}) as leads
  `);
  return row;
}

describe('convertLeadToDeal', () => {
  test('creates the deal, the account from the company, the contact, the interested status and the timeline entries', async () => {
    const company = `Globex ${uniqueName('co')}`;
    const domain = uniqueDomain('globex');
    const leadId = await createLead(member, { firstName: 'Hank', lastName: 'Scorpio', company, website: `https://www.${domain}/about` });

    const data = (await convert(member, { lead: leadId, stage: 'QUALIFIED', value: '5000' })).data;
    const deal = data.convertLeadToDeal.result;
    expect(deal).toMatchObject({ title: company, stage: 'QUALIFIED', value: '5000.00', currency: 'USD', primaryLeadId: leadId,
      ownerUserId: member.userId, dealSource: 'lead conversion' });

    const read = await t.ok(`query($d: UUID!, $l: UUID!) {
      deal(rowId: $d) { crmAccount { rowId name domain } dealContacts { nodes { leadId } } timeline { nodes { kind userId details } } }
      lead(rowId: $l) { status crmAccountId timeline { nodes { kind details } } }
    }`, { d: deal.rowId, l: leadId }, viewer.token);
    expect(read.deal.crmAccount).toEqual({ rowId: deal.crmAccountId, name: company, domain });
    expect(read.deal.dealContacts.nodes).toEqual([{ leadId }]);
    expect(read.lead.status).toBe('INTERESTED');
    expect(read.lead.crmAccountId).toBe(deal.crmAccountId);
    expect(read.lead.timeline.nodes.map((n: { kind: string }) => n.kind).sort()).toEqual(['CONVERTED', 'STATUS_CHANGED']);
    expect(read.lead.timeline.nodes.find((n: { kind: string }) => n.kind === 'STATUS_CHANGED').details).toEqual({ from: 'active', to: 'interested' });
    const converted = read.deal.timeline.nodes.find((n: { kind: string }) => n.kind === 'CONVERTED');
    expect(converted).toEqual({ kind: 'CONVERTED', userId: member.userId,
      details: { crm_account_id: deal.crmAccountId, account_created: true, stage: 'qualified' } });
  }, LONG);

  test('reuses the live account named like the company (any case) or holding its website domain', async () => {
    const name = `Initrode ${uniqueName('co')}`;
    const byName = await createAccount(member, { name });
    const domain = uniqueDomain('umbrella');
    const byDomain = await createAccount(member, { name: 'Umbrella Holdings', domain });
    const first = await createLead(member, { company: name.toUpperCase() });
    const second = await createLead(member, { company: `Umbrella ${uniqueName('sub')}`, website: `http://${domain}` });
    const before = await counts(owner.tenantId);

    expect((await convert(member, { lead: first })).data.convertLeadToDeal.result.crmAccountId).toBe(byName);
    expect((await convert(member, { lead: second })).data.convertLeadToDeal.result.crmAccountId).toBe(byDomain);
    const after = await counts(owner.tenantId);
    expect(after.accounts).toBe(before.accounts);
    expect(after.deals).toBe(before.deals + 2);
    // Each deal's contact is its lead (leads are the contacts: one per email), once.
    expect(after.contacts).toBe(before.contacts + 2);

    // A deleted account is not reused: the next lead of that company gets a new one.
    await t.ok(`mutation($id: UUID!) { softDeleteCrmAccount(input: { rowId: $id }) { result { deletedAt } } }`, { id: byName }, member.token);
    const third = await createLead(member, { company: name });
    const deal = (await convert(member, { lead: third })).data.convertLeadToDeal.result;
    expect(deal.crmAccountId).not.toBe(byName);
    expect(deal.crmAccountId).toEqual(expect.any(String));
  }, LONG);

  test('a second conversion of the lead is a CONFLICT naming the first deal and changes nothing', async () => {
    const leadId = await createLead(member, { company: `Hooli ${uniqueName('co')}` });
    const first = (await convert(member, { lead: leadId, title: 'Hooli pilot' })).data.convertLeadToDeal.result;
    const before = await counts(owner.tenantId);
    const again = await convert(owner, { lead: leadId });
    expect(refusal(again)).toEqual(['CONFLICT', expect.stringContaining(`"Hooli pilot" (${first.rowId})`)]);
    expect(await counts(owner.tenantId)).toEqual(before);

    // Two conversions at once: the lead's lock makes one wait and find the other's deal.
    const racing = await createLead(member, { company: `Pied Piper ${uniqueName('co')}` });
    const results = await Promise.all([convert(member, { lead: racing }), convert(owner, { lead: racing })]);
    expect(results.map((r) => (r.errors ? r.errors[0].extensions?.code : 'converted')).sort()).toEqual(['CONFLICT', 'converted']);
    const [{ n }] = await t.owner.query(sql`select count(*)::int as n from app_public.deals where primary_lead_id = ${racing}`);
    expect(n).toBe(1);
  }, LONG);

  test('a suppressed lead keeps its status; a lead without company gets a deal without account', async () => {
    const leadId = await createLead(member, { firstName: 'Quiet', lastName: 'Person' });
    await t.owner.query(sql`update app_public.leads set status = 'unsubscribed' where tenant_id = ${owner.tenantId} and id = ${leadId}`);
    const deal = (await convert(member, { lead: leadId })).data.convertLeadToDeal.result;
    expect(deal).toMatchObject({ title: 'Quiet Person', crmAccountId: null, stage: 'LEAD' });
    const [lead] = await t.owner.query(sql`select status from app_public.leads where id = ${leadId}`);
    expect(lead.status).toBe('unsubscribed');
  }, LONG);

  test('invalid input, viewers and other organisations\' leads are refused with nothing written', async () => {
    const leadId = await createLead(member, { company: `Vandelay ${uniqueName('co')}` });
    const foreignLead = await createLead(other, { company: 'Elsewhere' });
    const before = await counts(owner.tenantId);
    const otherBefore = await counts(other.tenantId);

    expect(refusal(await convert(viewer, { lead: leadId }))).toEqual(['FORBIDDEN', expect.stringMatching(/Only members, admins and owners/)]);
    expect(refusal(await convert(member, { lead: leadId, value: '-5' }))).toEqual(['INVALID_INPUT', 'A deal\'s value cannot be negative.']);
    expect(refusal(await convert(member, { lead: leadId, title: 'x'.repeat(201) }))).toEqual(['INVALID_INPUT', expect.stringMatching(/at most 200/)]);
    const foreign = await convert(member, { lead: foreignLead });
    const unknown = await convert(member, { lead: '00000000-0000-4000-8000-000000000000' });
    expect(refusal(foreign)).toEqual(['NOT_FOUND', `There is no lead ${foreignLead} in this organisation.`]);
    expect(refusal(unknown)).toEqual(['NOT_FOUND', 'There is no lead 00000000-0000-4000-8000-000000000000 in this organisation.']);

    expect(await counts(owner.tenantId)).toEqual(before);
    expect(await counts(other.tenantId)).toEqual(otherBefore);
  }, LONG);
});

describe('the timeline', () => {
  const TIMELINE = `query($l: UUID!) { lead(rowId: $l) { timeline { nodes { kind occurredAt messageId details } } } }`;

  test('recorded email events and the status changes they cause appear on the lead, newest first; automated opens do not', async () => {
    const leadId = await createLead(member, { company: `Acme ${uniqueName('co')}` });
    const [lead] = await t.owner.query(sql`select email from app_public.leads where id = ${leadId}`);
    const [message] = await t.owner.query(sql`
      insert into app_public.messages (tenant_id, direction, status, lead_id, from_email, to_email, subject)
      values (${owner.tenantId}, 'outbound', 'sending', ${leadId}, 'sales@crm.example', ${lead.email}, 'Hello')
      returning id
    `);
    const record = (type: string, link: string | null = null, metadata: object = {}) =>
      t.owner.query(sql`select app_private.record_email_event(${owner.tenantId}, ${message.id}, ${type}, null, null, ${link}, ${JSON.stringify(metadata)}::jsonb)`);
    await record('sent');
    await record('open');
    await record('open', null, { automated: true });
    await record('click', 'https://acme.example/pricing');
    await record('reply');

    const nodes = (await t.ok(TIMELINE, { l: leadId }, viewer.token)).lead.timeline.nodes;
    // The reply and the status change it causes happen in one transaction (in either order within its millisecond).
    const kinds = nodes.map((n: { kind: string }) => n.kind);
    expect(kinds.filter((k: string) => k !== 'STATUS_CHANGED')).toEqual(['EMAIL_REPLIED', 'EMAIL_CLICKED', 'EMAIL_OPENED', 'EMAIL_SENT']);
    expect(kinds.slice(0, 2).sort()).toEqual(['EMAIL_REPLIED', 'STATUS_CHANGED']);
    const times = nodes.map((n: { occurredAt: string }) => Date.parse(n.occurredAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(nodes.find((n: { kind: string }) => n.kind === 'EMAIL_CLICKED')).toMatchObject({ messageId: message.id, details: { url: 'https://acme.example/pricing' } });
    expect(nodes.find((n: { kind: string }) => n.kind === 'STATUS_CHANGED').details).toEqual({ from: 'active', to: 'replied' });

    // Converted, the lead's history is the deal's too.
    const deal = (await convert(member, { lead: leadId })).data.convertLeadToDeal.result;
    const dealNodes = (await t.ok(`query($d: UUID!) { deal(rowId: $d) { timeline { nodes { kind } } } }`, { d: deal.rowId }, viewer.token)).deal.timeline.nodes;
    const dealKinds = dealNodes.map((n: { kind: string }) => n.kind);
    expect(dealKinds.slice(0, 2).sort()).toEqual(['CONVERTED', 'STATUS_CHANGED']);
    expect(dealKinds.slice(2)).toHaveLength(kinds.length);
    expect(dealKinds.slice(2).sort()).toEqual([...kinds].sort());
  }, LONG);

  test('members add notes and tasks and complete tasks; deal stage changes are recorded; viewers cannot write', async () => {
    const leadId = await createLead(member, { company: `Initech ${uniqueName('co')}` });
    const deal = (await convert(member, { lead: leadId })).data.convertLeadToDeal.result;
    const note = await t.ok(`mutation($l: UUID!) { addCrmNote(input: { leadId: $l, body: "  Prefers calls after 4pm.  " }) { result { rowId kind body userId } } }`,
      { l: leadId }, member.token);
    expect(note.addCrmNote.result).toMatchObject({ kind: 'NOTE', body: 'Prefers calls after 4pm.', userId: member.userId });
    const task = (await t.ok(`mutation($d: UUID!) { addCrmTask(input: { dealId: $d, title: "Send proposal", dueAt: "2030-01-15T09:00:00Z" }) { result { rowId kind title dueAt completedAt } } }`,
      { d: deal.rowId }, member.token)).addCrmTask.result;
    expect(task).toMatchObject({ kind: 'TASK', title: 'Send proposal', completedAt: null });
    expect(Date.parse(task.dueAt)).toBe(Date.parse('2030-01-15T09:00:00Z'));
    const COMPLETE = `mutation($id: UUID!, $c: Boolean) { completeCrmTask(input: { activityId: $id, completed: $c }) { result { completedAt } } }`;
    expect((await t.ok(COMPLETE, { id: task.rowId }, member.token)).completeCrmTask.result.completedAt).toEqual(expect.any(String));
    expect((await t.ok(COMPLETE, { id: task.rowId, c: false }, member.token)).completeCrmTask.result.completedAt).toBeNull();
    expect(refusal(await t.gql(COMPLETE, { id: note.addCrmNote.result.rowId }, member.token))).toEqual(['CONFLICT', 'Only tasks can be completed; this activity is a note.']);

    await t.ok(`mutation($d: UUID!) { updateDeal(input: { rowId: $d, patch: { stage: PROPOSAL } }) { deal { stage } } }`, { d: deal.rowId }, member.token);
    const kinds = (await t.ok(`query($d: UUID!) { deal(rowId: $d) { timeline { nodes { kind details } } } }`, { d: deal.rowId }, viewer.token)).deal.timeline.nodes;
    expect(kinds[0]).toEqual({ kind: 'STAGE_CHANGED', details: { from: 'lead', to: 'proposal' } });
    expect(kinds.map((n: { kind: string }) => n.kind).sort()).toEqual(['CONVERTED', 'NOTE', 'STAGE_CHANGED', 'STATUS_CHANGED', 'TASK']);

    const before = await counts(owner.tenantId);
    expect(refusal(await t.gql(`mutation($l: UUID!) { addCrmNote(input: { leadId: $l, body: "viewer" }) { result { rowId } } }`, { l: leadId }, viewer.token)))
      .toEqual(['FORBIDDEN', expect.any(String)]);
    expect(refusal(await t.gql(COMPLETE, { id: task.rowId }, viewer.token))).toEqual(['FORBIDDEN', expect.any(String)]);
    expect(refusal(await t.gql(`mutation { addCrmNote(input: { body: "about nothing" }) { result { rowId } } }`, {}, member.token)))
      .toEqual(['INVALID_INPUT', 'Say which lead (leadId) or deal (dealId) this is about.']);
    const foreignLead = await createLead(other, { company: 'Elsewhere' });
    expect(refusal(await t.gql(`mutation($l: UUID!) { addCrmNote(input: { leadId: $l, body: "hi" }) { result { rowId } } }`, { l: foreignLead }, member.token)))
      .toEqual(['NOT_FOUND', `There is no lead ${foreignLead} in this organisation.`]);
    expect(await counts(owner.tenantId)).toEqual(before);
  }, LONG);
});

describe('soft delete', () => {
  test('a deleted deal is hidden from every read, cannot be deleted for good, and comes back with restoreDeal', async () => {
    const leadId = await createLead(member, { company: `Soylent ${uniqueName('co')}` });
    const deal = (await convert(member, { lead: leadId })).data.convertLeadToDeal.result;
    const READ = `query($d: UUID!, $l: UUID!) { deal(rowId: $d) { rowId } deals(condition: { primaryLeadId: $l }) { totalCount } }`;
    expect(await t.ok(READ, { d: deal.rowId, l: leadId }, viewer.token)).toEqual({ deal: { rowId: deal.rowId }, deals: { totalCount: 1 } });

    const deleted = await t.ok(`mutation($d: UUID!) { softDeleteDeal(input: { rowId: $d }) { result { rowId deletedAt } } }`, { d: deal.rowId }, member.token);
    expect(deleted.softDeleteDeal.result.deletedAt).toEqual(expect.any(String));
    expect(await t.ok(READ, { d: deal.rowId, l: leadId }, owner.token)).toEqual({ deal: null, deals: { totalCount: 0 } });
    expect(refusal(await t.gql(`mutation($d: UUID!) { updateDeal(input: { rowId: $d, patch: { title: "sneaky" } }) { deal { rowId } } }`, { d: deal.rowId }, owner.token)))
      .toEqual(['NOT_FOUND', expect.any(String)]);
    expect(refusal(await t.gql(`mutation($d: UUID!) { softDeleteDeal(input: { rowId: $d }) { result { rowId } } }`, { d: deal.rowId }, member.token)))
      .toEqual(['NOT_FOUND', `There is no deal ${deal.rowId} in this organisation (or it is already deleted).`]);
    // Nothing can remove the row or clear deleted_at but restoreDeal.
    expect(refusal(await t.gql(`mutation($d: UUID!) { updateDeal(input: { rowId: $d, patch: { deletedAt: null } }) { deal { rowId } } }`, { d: deal.rowId }, owner.token)))
      .toEqual(['GRAPHQL_VALIDATION_FAILED', expect.any(String)]);
    const [grants] = await t.owner.query(sql`
      select has_table_privilege('penguinmails_member', 'app_public.deals', 'delete') as deals,
             has_table_privilege('penguinmails_member', 'app_public.crm_accounts', 'delete') as accounts,
             has_table_privilege('penguinmails_member', 'app_public.activities', 'delete,insert,update') as activities,
             has_column_privilege('penguinmails_member', 'app_public.deals', 'deleted_at', 'update') as deal_deleted_at,
             has_column_privilege('penguinmails_member', 'app_public.crm_accounts', 'deleted_at', 'update') as account_deleted_at
    `);
    expect(grants).toEqual({ deals: false, accounts: false, activities: false, deal_deleted_at: false, account_deleted_at: false });

    // While it is deleted the lead may be converted again; then the old deal cannot come back.
    const again = (await convert(member, { lead: leadId })).data.convertLeadToDeal.result;
    const RESTORE = `mutation($d: UUID!) { restoreDeal(input: { rowId: $d }) { result { rowId deletedAt } } }`;
    expect(refusal(await t.gql(RESTORE, { d: deal.rowId }, member.token))).toEqual(['CONFLICT', expect.stringMatching(/converted again/)]);
    await t.ok(`mutation($d: UUID!) { softDeleteDeal(input: { rowId: $d }) { result { rowId } } }`, { d: again.rowId }, member.token);
    expect(refusal(await t.gql(RESTORE, { d: deal.rowId }, viewer.token))).toEqual(['FORBIDDEN', expect.any(String)]);
    expect((await t.ok(RESTORE, { d: deal.rowId }, member.token)).restoreDeal.result).toEqual({ rowId: deal.rowId, deletedAt: null });
    expect(await t.ok(READ, { d: deal.rowId, l: leadId }, viewer.token)).toEqual({ deal: { rowId: deal.rowId }, deals: { totalCount: 1 } });
    expect(refusal(await t.gql(RESTORE, { d: deal.rowId }, member.token))).toEqual(['CONFLICT', expect.stringMatching(/is not deleted/)]);
  }, LONG);

  test('a deleted account is hidden and restorable; another organisation cannot touch it', async () => {
    const account = await createAccount(member, { name: `Wonka ${uniqueName('co')}` });
    const READ = `query($a: UUID!) { crmAccount(rowId: $a) { rowId } }`;
    expect(refusal(await t.gql(`mutation($a: UUID!) { softDeleteCrmAccount(input: { rowId: $a }) { result { rowId } } }`, { a: account }, other.token)))
      .toEqual(['NOT_FOUND', expect.any(String)]);
    await t.ok(`mutation($a: UUID!) { softDeleteCrmAccount(input: { rowId: $a }) { result { rowId } } }`, { a: account }, member.token);
    expect((await t.ok(READ, { a: account }, owner.token)).crmAccount).toBeNull();
    expect(refusal(await t.gql(`mutation($a: UUID!) { restoreCrmAccount(input: { rowId: $a }) { result { rowId } } }`, { a: account }, other.token)))
      .toEqual(['NOT_FOUND', `There is no CRM account ${account} in this organisation.`]);
    await t.ok(`mutation($a: UUID!) { restoreCrmAccount(input: { rowId: $a }) { result { rowId } } }`, { a: account }, member.token);
    expect((await t.ok(READ, { a: account }, owner.token)).crmAccount).toEqual({ rowId: account });
  }, LONG);
});

test('an account hierarchy cannot loop', async () => {
  const top = await createAccount(member, { name: `Top ${uniqueName('co')}` });
  const middle = await createAccount(member, { name: `Middle ${uniqueName('co')}`, parentAccountId: top });
  const bottom = await createAccount(member, { name: `Bottom ${uniqueName('co')}`, parentAccountId: middle });
  const MOVE = `mutation($a: UUID!, $p: UUID) { updateCrmAccount(input: { rowId: $a, patch: { parentAccountId: $p } }) { crmAccount { parentAccountId } } }`;
  for (const parent of [bottom, middle, top]) {
    const result = await t.gql(MOVE, { a: top, p: parent }, member.token);
    expect(refusal(result)).toEqual(['INVALID_INPUT', expect.stringMatching(/an account hierarchy cannot loop/)]);
  }
  const [row] = await t.owner.query(sql`select parent_account_id from app_public.crm_accounts where id = ${top}`);
  expect(row.parent_account_id).toBeNull();
  // Moving a branch elsewhere in the tree is fine.
  expect((await t.ok(MOVE, { a: bottom, p: top }, member.token)).updateCrmAccount.crmAccount.parentAccountId).toBe(top);
}, LONG);
