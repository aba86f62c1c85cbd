/**
 * A campaign says, through the API, when it sends next and why it is idle
 * (functions/115-campaign-schedule.sql): draft, outside the sending window,
 * sending now, every inbox at its daily cap, the campaign's daily limit,
 * paused by the user or by the system with its reason. The worker is off, so
 * the state the engine left stays put while the clock moves.
 */
import { createCampaign, createSender, createTenant, lifecycle, nextMonday, setClock, startWorld, type TestTenant, type World } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
let tenant: TestTenant;
beforeAll(async () => {
  w = await startWorld({ worker: false });
  tenant = await createTenant(w, 'schedule');
});
afterAll(() => w?.close());

const SCHEDULE = `query($id: UUID!) { campaign(rowId: $id) { status nextSendAt idleReason } }`;
async function schedule(id: string): Promise<{ status: string; nextSendAt: string | null; idleReason: string | null }> {
  const { campaign } = await w.t.ok(SCHEDULE, { id }, tenant.token);
  return { ...campaign, nextSendAt: campaign.nextSendAt && new Date(campaign.nextSendAt).toISOString() };
}
const iso = (d: Date) => d.toISOString();

test('draft, outside the window, sending, inboxes at their cap, daily limit, paused: each with when it sends next', async () => {
  const monday = await nextMonday(w, 7); // 07:00 UTC, before a 09:00–17:00 window
  await setClock(w, monday);
  const sender = await createSender(w, tenant.tenantId, [{ dailyLimit: 2 }]);
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email' }],
    leads: [{}, {}],
    settings: { send_days: [1, 2, 3, 4, 5], send_window_start: '09:00', send_window_end: '17:00', use_lead_timezone: false },
  });
  expect(await schedule(campaignId)).toEqual({ status: 'DRAFT', nextSendAt: null, idleReason: 'Draft: nothing is sent until the campaign is started (startCampaign).' });

  expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
  const opens = new Date(monday.getTime() + 2 * 3600_000);
  expect(await schedule(campaignId)).toEqual({
    status: 'SENDING',
    nextSendAt: iso(opens),
    idleReason: `Outside the sending window (09:00 to 17:00 on days 1,2,3,4,5, UTC); it opens at ${(await pgText(opens))}.`,
  });

  // Inside the window: sending now.
  const ten = new Date(monday.getTime() + 3 * 3600_000);
  await setClock(w, ten);
  const now = await schedule(campaignId);
  expect(now.idleReason).toBeNull();
  expect(Math.abs(new Date(now.nextSendAt!).getTime() - ten.getTime())).toBeLessThan(60_000); // now, on the engine's (moving) clock

  // The inbox used its allowance today: Tuesday's window.
  await w.t.owner.query(sql`update app_public.email_accounts set daily_count = 2, daily_count_date = ${ten.toISOString().slice(0, 10)}::date where id = ${sender.inboxes[0]!.id}`);
  const tuesday = new Date(monday.getTime() + 26 * 3600_000); // Tuesday 09:00
  expect(await schedule(campaignId)).toEqual({
    status: 'SENDING',
    nextSendAt: iso(tuesday),
    idleReason: `Every inbox reached its daily cap (${sender.inboxes[0]!.email} 2 a day); sending resumes at ${await pgText(tuesday)}.`,
  });
  await w.t.owner.query(sql`update app_public.email_accounts set daily_count = 0 where id = ${sender.inboxes[0]!.id}`);

  // The campaign's own daily limit, once a message was booked today.
  await w.t.owner.query(sql`update app_public.campaigns set daily_limit = 1 where id = ${campaignId}`);
  const [enrollment] = await w.t.owner.query(sql`select id, lead_id from app_public.campaign_enrollments where campaign_id = ${campaignId} limit 1`);
  await w.t.owner.query(sql`
    insert into app_public.messages (tenant_id, id, direction, status, email_account_id, campaign_id, enrollment_id, lead_id, from_email, to_email, scheduled_for)
    select ${tenant.tenantId}, app_public.uuid_v7(${ten}::timestamptz), 'outbound', 'queued', ${sender.inboxes[0]!.id}, ${campaignId}, ${enrollment.id}, l.id, ${sender.inboxes[0]!.email}, l.email, ${ten}::timestamptz
    from app_public.leads l where l.id = ${enrollment.lead_id}`);
  expect(await schedule(campaignId)).toEqual({
    status: 'SENDING',
    nextSendAt: iso(tuesday),
    idleReason: `The campaign's daily limit of 1 messages is reached; it sends again at ${await pgText(tuesday)}.`,
  });
  await w.t.owner.query(sql`update app_public.campaigns set daily_limit = null where id = ${campaignId}`);

  // Paused by its user, then by the system with the plan's reason.
  expect((await lifecycle(w, tenant.token, 'pause', campaignId)).error).toBeNull();
  expect(await schedule(campaignId)).toEqual({ status: 'PAUSED', nextSendAt: null, idleReason: 'Paused by user: resume it with resumeCampaign.' });
  await w.t.owner.query(sql`update app_public.campaigns set paused_by = 'system', pause_reason = 'Your Free plan allows 100 emails a month; 100 are used.' where id = ${campaignId}`);
  expect((await schedule(campaignId)).idleReason).toBe('Paused by system: Your Free plan allows 100 emails a month; 100 are used.');
});

test("another organisation's campaign tells nothing", async () => {
  const other = await createTenant(w, 'schedule-other');
  const sender = await createSender(w, other.tenantId);
  const { campaignId } = await createCampaign(w, other.tenantId, { inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }] });
  expect((await w.t.ok(SCHEDULE, { id: campaignId }, tenant.token)).campaign).toBeNull();
  const [direct] = await w.t.owner.query(sql`select set_config('app.current_tenant_id', ${tenant.tenantId}, true), app_public.campaigns_idle_reason(row(c.*)::app_public.campaigns) as reason from app_public.campaigns c where id = ${campaignId}`);
  expect(direct.reason).toBeNull();
});

/** A timestamptz as PostgreSQL prints it in a message (the session's time zone). */
async function pgText(at: Date): Promise<string> {
  const [row] = await w.t.owner.query(sql`select format('%s', ${at}::timestamptz) as text`);
  return row.text;
}
