/**
 * The rules of functions/155-inbound-mail.sql and 156-imap-polling.sql,
 * called directly as the worker does: matching stays inside the tenant,
 * bad input is refused with a clear message and changes nothing, and the
 * progress bookkeeping never moves back.
 */
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { createSendingTenant, insertSentMessage } from '../tracking/fixtures.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

const record = (
  t: TestTx,
  tenantId: string,
  inboxId: string,
  o: { type?: string; id?: string | null; inReplyTo?: string | null; references?: string[]; dsn?: object | null } = {},
) =>
  t.query(sql`
    select * from app_private.record_inbound_message(${tenantId}, ${inboxId}, ${o.type ?? 'email'},
      ${o.id === undefined ? `${Math.random().toString(36).slice(2)}@customer.example` : o.id}, ${o.inReplyTo ?? null},
      ${o.references ?? []}::text[], 'lead@customer.example', 'sales@acme.example', 'Re: hi', 'body',
      ${o.dsn === undefined || o.dsn === null ? null : JSON.stringify(o.dsn)}::jsonb)
  `);

test("a reply naming another tenant's Message-ID matches nothing", async () => {
  await withTx(async (t) => {
    const a = await createSendingTenant(t.tx, 'tenant-a');
    const b = await createSendingTenant(t.tx, 'tenant-b');
    const sentByA = await insertSentMessage(t.tx, a, a.leads[0]!);
    const [result] = await record(t, b.tenantId, b.inboxId, { inReplyTo: `<${sentByA.rfcMessageId}>` });
    expect(result).toEqual({ outcome: 'unmatched', inbound_message_id: null, parent_message_id: null, event_id: null });
    const [{ n }] = await t.query(sql`select count(*)::int as n from app_public.messages where direction = 'inbound' and tenant_id in (${a.tenantId}, ${b.tenantId})`);
    expect(n).toBe(0);
    // Nor can a tenant record into another tenant's inbox.
    const wrongInbox = await t.error(sql`
      select * from app_private.record_inbound_message(${b.tenantId}, ${a.inboxId}, 'email', 'x@y.example', ${sentByA.rfcMessageId}, '{}', null, null, null, null)
    `);
    expect([wrongInbox.code, wrongInbox.message]).toEqual(['NTFND', `There is no inbox ${a.inboxId} in this tenant.`]);
  });
});

test('ids are compared without angle brackets, and the same Message-ID is recorded once', async () => {
  await withTx(async (t) => {
    const s = await createSendingTenant(t.tx, 'ids');
    const sent = await insertSentMessage(t.tx, s, s.leads[0]!);
    const [first] = await record(t, s.tenantId, s.inboxId, { id: '<same@customer.example>', inReplyTo: ` <${sent.rfcMessageId}> ` });
    expect(first).toMatchObject({ outcome: 'reply', parent_message_id: sent.id });
    const [again] = await record(t, s.tenantId, s.inboxId, { id: 'same@customer.example', inReplyTo: sent.rfcMessageId });
    expect(again).toEqual({ outcome: 'duplicate', inbound_message_id: first.inbound_message_id, parent_message_id: null, event_id: null });
    const [{ replies }] = await t.query(sql`select count(*)::int as replies from app_public.email_events where tenant_id = ${s.tenantId} and event_type = 'reply'`);
    expect(replies).toBe(1);
  });
});

test('bad input is refused with a message that says what is expected, and stores nothing', async () => {
  await withTx(async (t) => {
    const s = await createSendingTenant(t.tx, 'invalid');
    const sent = await insertSentMessage(t.tx, s, s.leads[0]!);
    const cases: Array<[object, string]> = [
      [{ type: 'newsletter' }, 'Unknown inbound message type "newsletter"; expected email, auto_reply, bounce or complaint.'],
      [{ id: '<>' }, 'An inbound message needs a Message-ID to be recorded exactly once.'],
      [{ type: 'bounce' }, 'A bounce needs its delivery status (an object with action, status, final_recipient…).'],
      [{ type: 'complaint', dsn: { user_agent: 'x' } }, 'A complaint needs its feedback report (an object with feedback_type, original_message_id…).'],
      [{ type: 'bounce', dsn: { action: 'exploded' } }, 'Unknown DSN action "exploded"; expected failed, delayed, delivered, relayed or expanded (RFC 3464).'],
    ];
    for (const [input, message] of cases) {
      const { error } = await t.attempt(sql`
        select * from app_private.record_inbound_message(${s.tenantId}, ${s.inboxId},
          ${'type' in input ? (input as { type: string }).type : 'email'}, ${'id' in input ? (input as { id: string }).id : 'ok@customer.example'},
          ${sent.rfcMessageId}, '{}', null, null, null, null, ${'dsn' in input ? JSON.stringify((input as { dsn: object }).dsn) : null}::jsonb)
      `);
      expect([error?.code, error?.message]).toEqual(['INVAL', message]);
    }
    const [{ n }] = await t.query(sql`select count(*)::int as n from app_public.messages where tenant_id = ${s.tenantId} and direction = 'inbound'`);
    expect(n).toBe(0);
  });
});

test('IMAP progress: the same UIDVALIDITY never moves back, a new one starts over; errors must be IMAP errors', async () => {
  await withTx(async (t) => {
    const s = await createSendingTenant(t.tx, 'progress');
    const progress = (validity: number, uid: number) => t.query(sql`select app_private.record_imap_progress(${s.tenantId}, ${s.inboxId}, ${validity}, ${uid})`);
    const state = async () => (await t.query(sql`select imap_uid_validity, imap_last_uid from app_public.email_accounts where id = ${s.inboxId}`))[0];
    await progress(100, 7);
    await progress(100, 3);
    expect(await state()).toEqual({ imap_uid_validity: '100', imap_last_uid: '7' });
    await progress(200, 2);
    expect(await state()).toEqual({ imap_uid_validity: '200', imap_last_uid: '2' });
    const bad = await t.error(sql`select app_private.record_imap_progress(${s.tenantId}, ${s.inboxId}, 0, 1)`);
    expect([bad.code, bad.message]).toEqual(['INVAL', 'IMAP progress needs a UIDVALIDITY >= 1 and a last UID >= 0 (got 0 and 1).']);
    const notImap = await t.error(sql`select app_private.record_imap_failure(${s.tenantId}, ${s.inboxId}, 'SMTP timeout')`);
    expect([notImap.code, notImap.message]).toEqual(['INVAL', `An IMAP error message must start with "IMAP " (got 'SMTP timeout').`]);
  });
});
