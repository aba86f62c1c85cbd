/**
 * Replying from the platform: a lead answers a campaign email (recorded as the
 * IMAP poller records it), a member answers back through the API, and the
 * reply arrives at a real SMTP server from the same inbox, threaded to the
 * lead's message, DKIM-signed with the domain's key (verified with mailauth),
 * kept in the conversation, without moving the lead's sequence, and counted
 * against the inbox's daily cap.
 */
import { eventually } from '../helpers/eventually.ts';
import { advanceClock, createCampaign, createSender, createTenant, enrollmentsOf, header, lifecycle, messagesOf, startWorld, verifyDkim, type World } from '../sending/support/world.ts';
import { CONVERSATION_FIELDS, leadAnswers, sentMessage } from './support.ts';
import { sql } from '../../src/db/pg.ts';

/** Recipients whose server says "try again later" once each. */
const deferOnce = new Set<string>();

let w: World;
// The engine clock stays real time (campaigns here send on every day and hour): a
// conversation orders its messages by when they were written, and the lead's
// answers are stamped with real time.
beforeAll(async () => {
  w = await startWorld({
    smtp: {
      onRcptTo(address, _session, callback) {
        if (!deferOnce.delete(address.address)) return callback();
        callback(Object.assign(new Error('4.2.0 Mailbox busy, try again later'), { responseCode: 451 }));
      },
    },
  });
}, 120_000); // starting the API server takes long on a loaded machine
afterAll(() => w?.close());

test('a reply goes out threaded, DKIM-signed, from the same inbox; it is in the conversation, leaves the sequence alone and counts against the cap', async () => {
  const tenant = await createTenant(w, 'reply');
  const sender = await createSender(w, tenant.tenantId, [{ dailyLimit: 2, fromName: 'Sam Sender' }]);
  const inbox = sender.inboxes[0]!;
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [inbox.id],
    steps: [{ type: 'email', subject: 'An idea for {{ lead.company }}' }, { type: 'wait', hours: 48 }, { type: 'email', subject: 'Following up' }],
    leads: [{ first_name: 'Ada', company: 'Initech' }],
    settings: { stop_on_reply: false },
  });
  const lead = leads[0]!;
  const api = <T = any>(query: string, variables: Record<string, unknown> = {}) => w.t.ok<T>(query, variables, tenant.token);

  expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
  await w.smtp.waitFor((m) => m.to.includes(lead.email));
  const [first] = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows[0]?.status === 'sent' && rows;
  });
  await eventually(async () => (await enrollmentsOf(w, campaignId))[0].current_step_order === 3);
  const answer = await leadAnswers(w, tenant.tenantId, first.id, 'Tuesday works for me.');

  const { inboxConversations } = await api(`{ inboxConversations { totalCount nodes { ${CONVERSATION_FIELDS} } } }`);
  expect(inboxConversations.totalCount).toBe(1);
  const conversation = inboxConversations.nodes[0];
  expect(conversation).toMatchObject({
    subject: 'An idea for Initech', unreadCount: 1, messageCount: 2, lastDirection: 'INBOUND', campaignId,
    lead: { rowId: lead.id, email: lead.email }, emailAccount: { rowId: inbox.id, email: inbox.email },
    lastMessage: { rowId: answer.inboundId, direction: 'INBOUND', bodyText: 'Tuesday works for me.' },
  });
  const enrollmentBefore = (await enrollmentsOf(w, campaignId))[0];

  const { sendReply } = await api(`mutation($m: UUID!, $t: String!) { sendReply(input: { messageId: $m, text: $t }) { result { rowId status subject toEmail } } }`,
    { m: answer.inboundId, t: 'Great, Ada.\n\nTuesday at 10?' });
  expect(sendReply.result).toMatchObject({ status: 'QUEUED', subject: 'Re: An idea for Initech', toEmail: lead.email });
  const replyId: string = sendReply.result.rowId;

  const received = await w.smtp.waitFor((m) => m.to.includes(lead.email) && m.parsed.subject === 'Re: An idea for Initech');
  expect(received.from).toBe(inbox.email);
  expect(header(received, 'in-reply-to')).toBe(`<${answer.rfcMessageId}>`);
  expect(header(received, 'references')).toBe(`<${first.rfc_message_id}> <${answer.rfcMessageId}>`);
  expect(header(received, 'list-unsubscribe')).toBeUndefined();
  expect(received.parsed.text?.trim()).toBe('Great, Ada.\n\nTuesday at 10?');
  expect(received.parsed.html).toContain('<p>Great, Ada.</p>');
  const dkim = await verifyDkim(received, sender);
  expect(dkim).toMatchObject({ result: 'pass', signingDomain: sender.domain, selector: 'pm' });
  expect(dkim.signedHeaders).toEqual(expect.arrayContaining(['from', 'subject', 'in-reply-to', 'references', 'message-id']));

  // Recorded as sent, in the conversation, with the Message-ID it went out with.
  const [reply] = await eventually(async () => {
    const rows = await w.t.owner.query(sql`select status, rfc_message_id, campaign_id, enrollment_id, parent_message_id from app_public.messages where id = ${replyId}`);
    return rows[0]?.status === 'sent' && rows;
  });
  expect(reply).toMatchObject({ campaign_id: null, enrollment_id: null, parent_message_id: answer.inboundId });
  expect(header(received, 'message-id')).toBe(`<${reply.rfc_message_id}>`);
  const { conversation: after } = await api(`query($id: UUID!) { conversation(rowId: $id) { ${CONVERSATION_FIELDS}
      conversationMessages(orderBy: MESSAGE_CREATED_ASC) { nodes { direction sentBy message { rowId direction status } } } } }`, { id: conversation.rowId });
  expect(after).toMatchObject({ messageCount: 3, lastDirection: 'OUTBOUND', lastMessage: { rowId: replyId } });
  expect(after.conversationMessages.nodes.map((n: any) => [n.direction, n.message.rowId])).toEqual([
    ['OUTBOUND', first.id], ['INBOUND', answer.inboundId], ['OUTBOUND', replyId],
  ]);
  expect(after.conversationMessages.nodes[2].sentBy).toBe(tenant.userId);

  // The sequence did not move, and no campaign email was added.
  expect((await enrollmentsOf(w, campaignId))[0]).toEqual(enrollmentBefore);
  expect(await messagesOf(w, campaignId)).toHaveLength(1);
  const [step] = await w.t.owner.query(sql`select executed_count from app_public.campaign_sequence_steps where campaign_id = ${campaignId} and step_order = 1`);
  expect(step.executed_count).toBe(1);

  // The campaign email and the reply fill the inbox's cap of 2: a second reply is refused, nothing queued.
  const [account] = await w.t.owner.query(sql`select daily_count from app_public.email_accounts where id = ${inbox.id}`);
  expect(account.daily_count).toBe(2);
  const refused = await w.t.gql(`mutation($m: UUID!) { sendReply(input: { messageId: $m, html: "<p>One more thing</p>" }) { result { rowId } } }`,
    { m: answer.inboundId }, tenant.token);
  expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  expect(refused.errors?.[0]?.message).toMatch(new RegExp(`^Inbox ${inbox.email.replace(/\./g, '\\.')} reached its daily cap of 2 messages`));
  const [count] = await w.t.owner.query(sql`select count(*)::int as n from app_public.messages where parent_message_id = ${answer.inboundId}`);
  expect(count.n).toBe(1);
  expect(w.smtp.messages.filter((m) => m.to.includes(lead.email))).toHaveLength(2);
});

test('a reply to an unsubscribed lead is refused and nothing is queued; an empty reply is invalid', async () => {
  const tenant = await createTenant(w, 'suppressed');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, { inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{}] });
  expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
  const [first] = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows[0]?.status === 'sent' && rows;
  });
  const answer = await leadAnswers(w, tenant.tenantId, first.id, 'Please remove me.');
  const mutation = `mutation($m: UUID!, $t: String) { sendReply(input: { messageId: $m, text: $t }) { result { rowId } } }`;

  const empty = await w.t.gql(mutation, { m: answer.inboundId, t: '  ' }, tenant.token);
  expect(empty.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');

  await w.t.owner.query(sql`select app_private.suppress_lead(${tenant.tenantId}, ${leads[0]!.id}, 'unsubscribed')`);
  const refused = await w.t.gql(mutation, { m: answer.inboundId, t: 'Done, sorry for the noise.' }, tenant.token);
  expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  expect(refused.errors?.[0]?.message).toMatch(/^The reply was not queued: the lead is unsubscribed\./);
  const [count] = await w.t.owner.query(sql`select count(*)::int as n from app_public.messages where parent_message_id = ${answer.inboundId}`);
  expect(count.n).toBe(0);
});

// Last: it moves the engine clock.
test('a reply the server defers goes back to the queue and out again at its retry time', async () => {
  const tenant = await createTenant(w, 'deferred');
  const sender = await createSender(w, tenant.tenantId);
  const inbox = sender.inboxes[0]!;
  const leadEmail = `deferred-${Date.now()}@recipient.example`;
  const [lead] = await w.t.owner.query(sql`insert into app_public.leads (tenant_id, email) values (${tenant.tenantId}, ${leadEmail}) returning id`);
  const sent = await sentMessage(w, tenant.tenantId, { inboxId: inbox.id, inboxEmail: inbox.email, leadId: lead.id, leadEmail, subject: 'Hello' });
  const answer = await leadAnswers(w, tenant.tenantId, sent);
  deferOnce.add(leadEmail);
  const { sendReply } = await w.t.ok<any>(`mutation($m: UUID!) { sendReply(input: { messageId: $m, text: "Thanks!" }) { result { rowId } } }`,
    { m: answer.inboundId }, tenant.token);
  const replyId: string = sendReply.result.rowId;

  const deferred = await eventually(async () => {
    const [row] = await w.t.owner.query(sql`select status, send_attempts, error_message, scheduled_for from app_public.messages where id = ${replyId}`);
    return row.status === 'queued' && row.send_attempts === 1 && row;
  });
  expect(deferred.error_message).toMatch(/^Attempt 1 was deferred \(.*Mailbox busy, try again later\)/);
  // The job queues itself again for the retry, five minutes on (right after recording the deferral).
  await eventually(async () => {
    const [job] = await w.t.owner.query(sql`select run_at from graphile_worker._private_jobs where key = ${'send_reply:' + replyId}`);
    return job && job.run_at.getTime() > Date.now() + 4 * 60_000;
  });
  expect(w.smtp.messages.filter((m) => m.to.includes(leadEmail))).toHaveLength(0);

  await advanceClock(w, '6 minutes');
  await w.smtp.waitFor((m) => m.to.includes(leadEmail));
  await eventually(async () => (await w.t.owner.query(sql`select status from app_public.messages where id = ${replyId}`))[0].status === 'sent');
  expect(w.smtp.messages.filter((m) => m.to.includes(leadEmail))).toHaveLength(1);
});
