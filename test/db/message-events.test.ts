/**
 * The message state machine and its consequences, recorded only through
 * record_email_event().
 */
import { populatePlatform, populateTenant } from '../../src/db/demo-data.ts';
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

async function setup(t: TestTx) {
  const { tenant, owner } = await t.tenantWithOwner('events');
  const { ipId } = await populatePlatform(t.tx, 'events');
  const data = await populateTenant(t.tx, { tenantId: tenant.id, ownerId: owner.id, domain: 'events.example', ipId });
  const [message] = await t.query(sql`
    insert into app_public.messages (tenant_id, direction, status, campaign_id, enrollment_id, lead_id, email_account_id, to_email)
    values (${tenant.id}, 'outbound', 'sending', ${data.ids.campaign}, ${data.ids.enrollment}, ${data.ids.lead}, ${data.ids.inbox}, 'x@example.com')
    returning id
  `);
  const event = (type: string, metadata: object = {}) =>
    t.query(sql`select app_private.record_email_event(${tenant.id}, ${message.id}, ${type}, null, null, null, ${JSON.stringify(metadata)}::jsonb)`);
  const state = async () =>
    (await t.query(sql`
      select m.status, e.status as enrollment, l.status as lead,
             exists (select 1 from app_public.suppressions s where s.tenant_id = l.tenant_id and s.email = l.email) as suppressed
      from app_public.messages m
      join app_public.campaign_enrollments e on e.tenant_id = m.tenant_id and e.id = m.enrollment_id
      join app_public.leads l on l.tenant_id = m.tenant_id and l.id = m.lead_id
      where m.tenant_id = ${tenant.id} and m.id = ${message.id}
    `))[0];
  return { tenantId: tenant.id, messageId: message.id as string, data, event, state };
}

test('status moves forward through sent, delivered, opened, clicked, replied; a reply stops the sequence', async () => {
  await withTx(async (t) => {
    const { event, state, tenantId, messageId } = await setup(t);
    await event('sent');
    await event('delivered');
    await event('open');
    await event('open');
    expect((await state()).status).toBe('opened');
    await event('click');
    // A late "delivered" does not move it back.
    await event('delivered');
    expect(await state()).toEqual({ status: 'clicked', enrollment: 'active', lead: 'active', suppressed: false });
    await event('reply');
    expect(await state()).toEqual({ status: 'replied', enrollment: 'replied', lead: 'replied', suppressed: false });
    const [{ opens }] = await t.query(sql`select count(*)::int as opens from app_public.email_events where tenant_id = ${tenantId} and message_id = ${messageId} and event_type = 'open'`);
    expect(opens).toBe(2);
    const [stamps] = await t.query(sql`select sent_at is not null and opened_at is not null and clicked_at is not null and replied_at is not null as all_set from app_public.messages where id = ${messageId}`);
    expect(stamps.all_set).toBe(true);
    // Direct backwards updates are refused.
    const back = await t.error(sql`update app_public.messages set status = 'sent' where tenant_id = ${tenantId} and id = ${messageId}`);
    expect([back.code, back.message]).toEqual(['STATE', expect.stringMatching(/cannot go back from replied to sent/)]);
  });
});

test('a hard bounce suppresses the lead and stops every sequence; a soft bounce does not', async () => {
  await withTx(async (t) => {
    const soft = await setup(t);
    await soft.event('sent');
    await soft.event('bounce', { bounce_type: 'soft' });
    expect(await soft.state()).toEqual({ status: 'bounced', enrollment: 'active', lead: 'active', suppressed: false });
  });
  await withTx(async (t) => {
    const { event, state } = await setup(t);
    await event('sent');
    await event('bounce', { bounce_type: 'hard', smtp_code: 550 });
    expect(await state()).toEqual({ status: 'bounced', enrollment: 'bounced', lead: 'bounced', suppressed: true });
  });
});

test('an unsubscribe suppresses the lead, stops its sequences and cancels its queued messages', async () => {
  await withTx(async (t) => {
    const { event, state, tenantId, data } = await setup(t);
    const [queued] = await t.query(sql`
      insert into app_public.messages (tenant_id, direction, status, campaign_id, lead_id, to_email)
      values (${tenantId}, 'outbound', 'queued', ${data.ids.campaign}, ${data.ids.lead}, 'x@example.com') returning id
    `);
    await event('sent');
    await event('unsubscribe');
    expect(await state()).toEqual({ status: 'sent', enrollment: 'unsubscribed', lead: 'unsubscribed', suppressed: true });
    const [{ status }] = await t.query(sql`select status from app_public.messages where tenant_id = ${tenantId} and id = ${queued.id}`);
    expect(status).toBe('cancelled');
  });
});
