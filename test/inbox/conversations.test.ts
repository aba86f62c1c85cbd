/**
 * The unified inbox through the API: conversations listed newest first and
 * filtered by campaign, inbox, unread and the lead's status and interest;
 * marking read and unread; the lead's interest status set from a
 * conversation and audited; and tenant isolation (another tenant neither
 * reads nor answers nor changes a conversation). Answers are recorded the way
 * the IMAP poller records them; no worker runs here.
 */
import { createSender, createTenant, startWorld, type TestTenant, type World } from '../sending/support/world.ts';
import { addMember } from '../sending/support/world.ts';
import { CONVERSATION_FIELDS, leadAnswers, sentMessage } from './support.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
let a: TestTenant;
let b: TestTenant;
/** Tenant A: two inboxes, two campaigns, three conversations (oldest first). */
const ids = {} as {
  inbox1: string; inbox2: string; campaign1: string; campaign2: string;
  leads: string[]; conversations: string[]; answers: string[];
};

beforeAll(async () => {
  w = await startWorld({ worker: false });
  a = await createTenant(w, 'inbox-a');
  b = await createTenant(w, 'inbox-b');
  const sender = await createSender(w, a.tenantId, [{}, {}]);
  const [inbox1, inbox2] = sender.inboxes as [{ id: string; email: string }, { id: string; email: string }];
  ids.inbox1 = inbox1.id;
  ids.inbox2 = inbox2.id;
  for (const key of ['campaign1', 'campaign2'] as const) {
    const [c] = await w.t.owner.query(sql`insert into app_public.campaigns (tenant_id, name) values (${a.tenantId}, ${key}) returning id`);
    ids[key] = c.id;
  }
  ids.leads = [];
  ids.conversations = [];
  ids.answers = [];
  const threads = [
    { inbox: inbox1, campaign: ids.campaign1, status: 'active' },
    { inbox: inbox2, campaign: ids.campaign1, status: 'active' },
    { inbox: inbox1, campaign: ids.campaign2, status: 'active' },
  ];
  for (const [i, t] of threads.entries()) {
    const email = `inbox-lead-${i}-${Date.now()}@recipient.example`;
    const [lead] = await w.t.owner.query(sql`insert into app_public.leads (tenant_id, email, first_name, status) values (${a.tenantId}, ${email}, ${'Lead ' + i}, ${t.status}) returning id`);
    ids.leads.push(lead.id);
    const sent = await sentMessage(w, a.tenantId, { inboxId: t.inbox.id, inboxEmail: t.inbox.email, leadId: lead.id, leadEmail: email, campaignId: t.campaign, subject: `Thread ${i}` });
    const answer = await leadAnswers(w, a.tenantId, sent, `Answer ${i}`);
    ids.answers.push(answer.inboundId);
    const [conv] = await w.t.owner.query(sql`select conversation_id from app_public.conversation_messages where message_id = ${answer.inboundId}`);
    ids.conversations.push(conv.conversation_id);
  }
}, 120_000); // starting the API server takes long on a loaded machine
afterAll(() => w?.close());

const list = async (token: string, args = '') => {
  const data = await w.t.ok(`{ inboxConversations${args} { totalCount nodes { ${CONVERSATION_FIELDS} } } }`, {}, token);
  return (data as any).inboxConversations as { totalCount: number; nodes: any[] };
};
const rowIds = (r: { nodes: any[] }) => r.nodes.map((n) => n.rowId);

test('conversations are listed newest first, each with its lead, inbox, last message and unread count', async () => {
  const all = await list(a.token);
  expect(rowIds(all)).toEqual([...ids.conversations].reverse());
  expect(all.nodes[2]).toMatchObject({
    subject: 'Thread 0', unreadCount: 1, messageCount: 2, lastDirection: 'INBOUND', campaignId: ids.campaign1,
    lead: { rowId: ids.leads[0] }, emailAccount: { rowId: ids.inbox1 }, lastMessage: { rowId: ids.answers[0], bodyText: 'Answer 0' },
  });
  // A second answer in the same thread joins the same conversation and makes it the newest.
  const [firstThread] = await w.t.owner.query(sql`select root_message_id from app_public.conversations where id = ${ids.conversations[0]}`);
  const again = await leadAnswers(w, a.tenantId, firstThread.root_message_id, 'Answer 0, again');
  const after = await list(a.token);
  expect(rowIds(after)[0]).toBe(ids.conversations[0]);
  expect(after.nodes[0]).toMatchObject({ unreadCount: 2, messageCount: 3, lastMessage: { rowId: again.inboundId } });
  expect(after.totalCount).toBe(3);
});

test('filters: campaign, inbox, unread, lead status and interest status', async () => {
  const [c0, c1, c2] = ids.conversations as [string, string, string];
  expect(rowIds(await list(a.token, `(campaignId: "${ids.campaign1}")`)).sort()).toEqual([c0, c1].sort());
  expect(rowIds(await list(a.token, `(emailAccountId: "${ids.inbox1}")`)).sort()).toEqual([c0, c2].sort());
  expect(rowIds(await list(a.token, `(campaignId: "${ids.campaign1}", emailAccountId: "${ids.inbox1}")`))).toEqual([c0]);

  await w.t.ok(`mutation($c: UUID!) { markConversationRead(input: { conversationId: $c }) { result { unreadCount } } }`, { c: c1 }, a.token);
  expect(rowIds(await list(a.token, '(unread: true)')).sort()).toEqual([c0, c2].sort());
  expect(rowIds(await list(a.token, '(unread: false)'))).toEqual([c1]);

  await w.t.owner.query(sql`update app_public.leads set status = 'interested' where id = ${ids.leads[2]}`);
  expect(rowIds(await list(a.token, '(leadStatus: INTERESTED)'))).toEqual([c2]);
  expect(rowIds(await list(a.token, '(leadStatus: REPLIED)')).sort()).toEqual([c0, c1].sort());

  await w.t.ok(`mutation($c: UUID!) { setLeadInterestStatus(input: { conversationId: $c, interestStatus: MEETING_BOOKED }) { result { rowId } } }`, { c: c1 }, a.token);
  expect(rowIds(await list(a.token, '(interestStatus: MEETING_BOOKED)'))).toEqual([c1]);
  expect(rowIds(await list(a.token, '(interestStatus: MEETING_BOOKED, unread: true)'))).toEqual([]);
});

test('marking a conversation or one message read and unread', async () => {
  const c = ids.conversations[2]!;
  const mark = (field: string, input: string, vars: Record<string, unknown>) =>
    w.t.ok(`mutation($id: UUID!, $r: Boolean) { ${field}(input: { ${input}: $id, read: $r }) { result { rowId unreadCount } } }`, vars, a.token) as Promise<any>;
  expect((await mark('markConversationRead', 'conversationId', { id: c })).markConversationRead.result).toEqual({ rowId: c, unreadCount: 0 });
  expect((await mark('markMessageRead', 'messageId', { id: ids.answers[2], r: false })).markMessageRead.result).toEqual({ rowId: c, unreadCount: 1 });
  const { conversation } = await w.t.ok<any>(`query($id: UUID!) { conversation(rowId: $id) { unreadCount conversationMessages { nodes { messageId direction readAt } } } }`, { id: c }, a.token);
  expect(conversation.unreadCount).toBe(1);
  expect(conversation.conversationMessages.nodes.find((n: any) => n.messageId === ids.answers[2]).readAt).toBeNull();
  expect((await mark('markMessageRead', 'messageId', { id: ids.answers[2] })).markMessageRead.result.unreadCount).toBe(0);

  // A message that is in no conversation (a campaign email nobody answered) cannot be marked here.
  const [lead] = await w.t.owner.query(sql`insert into app_public.leads (tenant_id, email) values (${a.tenantId}, ${`quiet-${Date.now()}@recipient.example`}) returning id, email`);
  const lonely = await sentMessage(w, a.tenantId, { inboxId: ids.inbox1, inboxEmail: 'x@x.example', leadId: lead.id, leadEmail: lead.email });
  const refused = await w.t.gql(`mutation($id: UUID!) { markMessageRead(input: { messageId: $id }) { result { rowId } } }`, { id: lonely }, a.token);
  expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
});

test("the lead's interest status is set from a conversation, audited with who did it, and refused when unknown or from a viewer", async () => {
  const c = ids.conversations[0]!;
  const set = (token: string, status: string | null) =>
    w.t.gql(`mutation($c: UUID!, $s: LeadInterestStatus) { setLeadInterestStatus(input: { conversationId: $c, interestStatus: $s }) { result { rowId interestStatus } } }`, { c, s: status }, token);
  const ok = await set(a.token, 'INTERESTED');
  expect(ok.data?.setLeadInterestStatus.result).toEqual({ rowId: ids.leads[0], interestStatus: 'INTERESTED' });
  const [audit] = await w.t.owner.query(sql`
    select actor_user_id, actor_is_staff, table_name, record_id, changes from app_public.audit_log
    where tenant_id = ${a.tenantId} and action = 'leads.interest_status' order by id desc limit 1`);
  expect(audit).toEqual({
    actor_user_id: a.userId, actor_is_staff: false, table_name: 'leads', record_id: ids.leads[0],
    changes: { interest_status: { from: null, to: 'interested' }, conversation_id: c },
  });

  // An unknown value is refused by GraphQL validation (the argument is the LeadInterestStatus enum).
  const unknown = await set(a.token, 'MAYBE');
  expect(unknown.errors?.[0]?.message).toMatch(/Value "MAYBE" does not exist in "LeadInterestStatus" enum/);
  const viewer = await addMember(w, a.tenantId, 'inbox-viewer', ['viewer']);
  const denied = await set(viewer.token, 'NOT_INTERESTED');
  expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  // A viewer reads the inbox.
  expect((await list(viewer.token)).totalCount).toBe(3);
  const [lead] = await w.t.owner.query(sql`select interest_status from app_public.leads where id = ${ids.leads[0]}`);
  expect(lead.interest_status).toBe('interested');
  // Members cannot write the column around the audited mutation.
  const direct = await w.t.gql(`mutation($id: UUID!) { updateLead(input: { rowId: $id, patch: { interestStatus: WRONG_PERSON } }) { lead { rowId } } }`, { id: ids.leads[0] }, a.token);
  expect(direct.errors?.length).toBeGreaterThan(0);

  const cleared = await set(a.token, null);
  expect(cleared.data?.setLeadInterestStatus.result.interestStatus).toBeNull();
});

test('tenant isolation: another tenant neither lists, reads, answers nor changes a conversation', async () => {
  const c = ids.conversations[1]!;
  expect((await list(b.token)).totalCount).toBe(0);
  const read = await w.t.ok<any>(`query($c: UUID!, $m: UUID!) { conversation(rowId: $c) { rowId } message(rowId: $m) { rowId } conversationMessages { totalCount } conversations { totalCount } }`,
    { c, m: ids.answers[1] }, b.token);
  expect(read).toEqual({ conversation: null, message: null, conversationMessages: { totalCount: 0 }, conversations: { totalCount: 0 } });

  const attempts = [
    [`mutation($m: UUID!) { sendReply(input: { messageId: $m, text: "hi" }) { result { rowId } } }`, { m: ids.answers[1] }],
    [`mutation($m: UUID!) { markMessageRead(input: { messageId: $m }) { result { rowId } } }`, { m: ids.answers[1] }],
    [`mutation($c: UUID!) { markConversationRead(input: { conversationId: $c }) { result { rowId } } }`, { c }],
    [`mutation($c: UUID!) { setLeadInterestStatus(input: { conversationId: $c, interestStatus: WRONG_PERSON }) { result { rowId } } }`, { c }],
  ] as const;
  for (const [query, variables] of attempts) {
    const result = await w.t.gql(query, variables, b.token);
    expect([query, result.errors?.[0]?.extensions?.code]).toEqual([query, 'NOT_FOUND']);
  }
  const [state] = await w.t.owner.query(sql`
    select c.unread_count, l.interest_status, (select count(*)::int from app_public.messages m where m.parent_message_id = ${ids.answers[1]}) as replies
    from app_public.conversations c join app_public.leads l on l.tenant_id = c.tenant_id and l.id = c.lead_id where c.id = ${c}`);
  expect(state).toEqual({ unread_count: 0, interest_status: 'meeting_booked', replies: 0 });
});
