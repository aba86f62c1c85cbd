/**
 * A reply is handed to the SMTP server at most once across worker crashes,
 * like a campaign email (the process-kill mechanics of the shared delivery
 * path are exercised in test/sending/exactly-once.test.ts). Here a worker
 * "died" after claiming a reply: its claim is committed and its session (and
 * send lock) gone. With a hand-over mark (it had started the final "." of
 * DATA) the send_reply job records the reply as sent, unconfirmed, and never
 * sends it again; without one it sends it, once.
 */
import { eventually } from '../helpers/eventually.ts';
import { createSender, createTenant, startWorld, type World } from '../sending/support/world.ts';
import { leadAnswers, sentMessage } from './support.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
beforeAll(async () => {
  w = await startWorld({ worker: false });
}, 120_000); // starting the API server takes long on a loaded machine
afterAll(() => w?.close());

async function queuedReply(label: string) {
  const tenant = await createTenant(w, label);
  const sender = await createSender(w, tenant.tenantId);
  const inbox = sender.inboxes[0]!;
  const leadEmail = `${label}-${Date.now()}@recipient.example`;
  const [lead] = await w.t.owner.query(sql`insert into app_public.leads (tenant_id, email) values (${tenant.tenantId}, ${leadEmail}) returning id`);
  const sent = await sentMessage(w, tenant.tenantId, { inboxId: inbox.id, inboxEmail: inbox.email, leadId: lead.id, leadEmail, subject: 'Hello' });
  const answer = await leadAnswers(w, tenant.tenantId, sent);
  const { sendReply } = await w.t.ok<any>(`mutation($m: UUID!) { sendReply(input: { messageId: $m, text: "Thanks!" }) { result { rowId } } }`,
    { m: answer.inboundId }, tenant.token);
  return { tenantId: tenant.tenantId, replyId: sendReply.result.rowId as string, leadEmail };
}

/** What a worker that died mid-send leaves behind: the claim (and maybe the hand-over mark), committed, and no lock. */
async function claimAndDie(tenantId: string, replyId: string, handedOver: boolean) {
  await w.t.owner.query(sql`select app_private.claim_reply(${tenantId}, ${replyId}, 'Re: Hello', 'Thanks!')`);
  if (handedOver) await w.t.owner.query(sql`select app_private.mark_handed_over(${tenantId}, ${replyId})`);
}

const statusOf = async (id: string) =>
  (await w.t.owner.query(sql`select status, send_attempts, error_message from app_public.messages where id = ${id}`))[0];

test('claimed and handed over before the worker died: recorded as sent, unconfirmed, never sent again', async () => {
  const { tenantId, replyId, leadEmail } = await queuedReply('handed-over');
  await claimAndDie(tenantId, replyId, true);
  expect(await statusOf(replyId)).toMatchObject({ status: 'sending', send_attempts: 1 });

  await w.startWorker();
  const done = await eventually(async () => {
    const row = await statusOf(replyId);
    return row.status === 'sent' && row;
  });
  expect(done.error_message).toMatch(/^Delivery not confirmed: the worker stopped after handing this message to the SMTP server/);
  const [event] = await w.t.owner.query(sql`select metadata from app_public.email_events where message_id = ${replyId} and event_type = 'sent'`);
  expect(event.metadata).toMatchObject({ unconfirmed: true, attempt: 1 });
  // The job is done and nothing reached the SMTP server.
  await eventually(async () => (await w.t.owner.query(sql`select count(*)::int as n from graphile_worker._private_jobs where key = ${'send_reply:' + replyId}`))[0].n === 0);
  expect(w.smtp.messages.filter((m) => m.to.includes(leadEmail))).toHaveLength(0);
  await w.stopWorker();
});

test('claimed but not handed over before the worker died: the server cannot have it, so it goes out once', async () => {
  const { tenantId, replyId, leadEmail } = await queuedReply('not-handed-over');
  await claimAndDie(tenantId, replyId, false);

  await w.startWorker();
  await w.smtp.waitFor((m) => m.to.includes(leadEmail));
  const done = await eventually(async () => {
    const row = await statusOf(replyId);
    return row.status === 'sent' && row;
  });
  expect(done.send_attempts).toBe(2);
  const events = await w.t.owner.query(sql`select event_type, metadata from app_public.email_events where message_id = ${replyId} order by id`);
  expect(events.map((e) => e.event_type)).toEqual(['deferred', 'sent']);
  expect(events[0].metadata).toMatchObject({ interrupted: true });
  await eventually(async () => (await w.t.owner.query(sql`select count(*)::int as n from graphile_worker._private_jobs where key = ${'send_reply:' + replyId}`))[0].n === 0);
  expect(w.smtp.messages.filter((m) => m.to.includes(leadEmail))).toHaveLength(1);
  await w.stopWorker();
});
