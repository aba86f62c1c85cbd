/**
 * Sending rules, on the engine clock: sending windows in the lead's time zone
 * or the campaign's, per-inbox daily caps counted in the inbox's local day
 * (and its warm-up allowance), rotation across the campaign's inboxes with
 * sticky follow-ups, random gaps between sends from one inbox, and the
 * campaign's own daily limit. The worker runs one job at a time here, so the
 * order of rotation picks is deterministic.
 */
import { eventually } from '../helpers/eventually.ts';
import { advanceClock, createCampaign, createSender, createTenant, enrollmentsOf, lifecycle, messagesOf, nextMonday, setClock, startWorld, type World } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
beforeAll(async () => {
  w = await startWorld({ concurrency: 1 });
});
afterAll(() => w.close());

const sentTo = (email: string) => w.smtp.messages.filter((m) => m.to.includes(email)).length;

/** The enrollments once `count` of them are active and rescheduled for later (not just enrolled for now). */
async function waitingLater(campaignId: string, count: number, done = 0) {
  return eventually(async () => {
    const [{ now }] = await w.t.owner.query(sql`select app_private.engine_now() as now`);
    const rows = await enrollmentsOf(w, campaignId);
    const later = rows.filter((e) => e.status === 'active' && new Date(e.next_run_at).getTime() > new Date(now).getTime() + 60_000);
    return later.length === count && rows.filter((e) => e.status === 'completed').length === done && rows;
  }, 20_000);
}

async function localOpening(day: Date, time: string, zone: string): Promise<string> {
  const [row] = await w.t.owner.query(sql`select ((${day.toISOString().slice(0, 10)}::date + ${time}::time) at time zone ${zone}) as at`);
  return (row.at as Date).toISOString();
}

test('the sending window is applied in the lead time zone when known, else in the campaign time zone', async () => {
  const monday = await setClock(w, await nextMonday(w, 10));
  const tuesday = new Date(monday.getTime() + 86400_000);
  const tenant = await createTenant(w, 'window');
  const sender = await createSender(w, tenant.tenantId);
  const window = { timezone: 'America/New_York', send_days: [1, 2, 3, 4, 5], send_window_start: '09:00', send_window_end: '17:00' };
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    settings: window,
    steps: [{ type: 'email' }],
    leads: [{ timezone: 'Asia/Tokyo' }, { timezone: 'Europe/Paris' }, { timezone: null }, { timezone: 'Mars/Olympus_Mons' }],
  });
  const [tokyo, paris, unknown, bogus] = leads as Array<{ id: string; email: string }>;
  await lifecycle(w, tenant.token, 'start', campaignId);

  // Monday 10:00 UTC is 11:00 or 12:00 in Paris (inside), 19:00 in Tokyo and 05:00 or 06:00 in New York (outside).
  await w.smtp.waitFor((m) => m.to.includes(paris!.email));
  const enrollments = await waitingLater(campaignId, 3, 1);
  const nextRun = (leadId: string) => new Date(enrollments.find((e) => e.lead_id === leadId)!.next_run_at).toISOString();
  const newYorkOpening = await localOpening(monday, '09:00', 'America/New_York');
  expect(nextRun(tokyo!.id)).toBe(await localOpening(tuesday, '09:00', 'Asia/Tokyo'));
  expect(nextRun(unknown!.id)).toBe(newYorkOpening);
  expect(nextRun(bogus!.id)).toBe(newYorkOpening);
  expect([sentTo(tokyo!.email), sentTo(unknown!.email), sentTo(bogus!.email)]).toEqual([0, 0, 0]);

  // Not using lead time zones: Tokyo waits for New York's morning too.
  const campaignTime = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    settings: { ...window, use_lead_timezone: false },
    steps: [{ type: 'email' }],
    leads: [{ timezone: 'Asia/Tokyo' }],
  });
  await lifecycle(w, tenant.token, 'start', campaignTime.campaignId);
  const [tokyoInNewYork] = await waitingLater(campaignTime.campaignId, 1);
  expect(new Date(tokyoInNewYork.next_run_at).toISOString()).toBe(newYorkOpening);

  await setClock(w, newYorkOpening);
  await w.smtp.waitFor((m) => m.to.includes(unknown!.email));
  await w.smtp.waitFor((m) => m.to.includes(bogus!.email));
  await w.smtp.waitFor((m) => m.to.includes(campaignTime.leads[0]!.email));
  expect(sentTo(tokyo!.email)).toBe(0);
  await setClock(w, await localOpening(tuesday, '09:00', 'Asia/Tokyo'));
  await w.smtp.waitFor((m) => m.to.includes(tokyo!.email));
});

test('outside the sending days a lead waits for the next allowed day', async () => {
  const monday = await nextMonday(w, 10);
  const saturday = new Date(monday.getTime() + 5 * 86400_000);
  await setClock(w, saturday);
  const tenant = await createTenant(w, 'weekend');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    settings: { send_days: [1, 2, 3, 4, 5], send_window_start: '08:30', send_window_end: '18:00' },
    steps: [{ type: 'email' }],
    leads: [{}],
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  const [e] = await waitingLater(campaignId, 1);
  expect(new Date(e.next_run_at).toISOString()).toBe(new Date(monday.getTime() + 7 * 86400_000 - 90 * 60_000).toISOString());
});

test('an inbox sends at most its daily cap per local day; the count resets lazily on the next local day', async () => {
  const monday = await setClock(w, await nextMonday(w, 10)); // 19:00 in Tokyo
  const tenant = await createTenant(w, 'cap');
  const sender = await createSender(w, tenant.tenantId, [{ dailyLimit: 2, timezone: 'Asia/Tokyo' }]);
  const inbox = sender.inboxes[0]!;
  const { campaignId } = await createCampaign(w, tenant.tenantId, { inboxIds: [inbox.id], steps: [{ type: 'email' }], leads: [{}, {}, {}] });
  await lifecycle(w, tenant.token, 'start', campaignId);

  const enrollments = await waitingLater(campaignId, 1, 2);
  const waiting = enrollments.find((e) => e.status === 'active')!;
  const tokyoMidnight = await localOpening(new Date(monday.getTime() + 86400_000), '00:00', 'Asia/Tokyo');
  expect(new Date(waiting.next_run_at).toISOString()).toBe(tokyoMidnight);
  const [counted] = await w.t.owner.query(sql`select daily_count, daily_count_date::text as day from app_public.email_accounts where id = ${inbox.id}`);
  expect(counted).toEqual({ daily_count: 2, day: monday.toISOString().slice(0, 10) });

  await setClock(w, tokyoMidnight);
  await eventually(async () => (await enrollmentsOf(w, campaignId)).every((e) => e.status === 'completed'));
  const [reset] = await w.t.owner.query(sql`select daily_count, daily_count_date::text as day from app_public.email_accounts where id = ${inbox.id}`);
  expect(reset).toEqual({ daily_count: 1, day: new Date(monday.getTime() + 86400_000).toISOString().slice(0, 10) });
  expect((await messagesOf(w, campaignId)).map((m) => m.status)).toEqual(['sent', 'sent', 'sent']);
});

test('a warming-up inbox sends no more than its warm-up allowance', async () => {
  await setClock(w, await nextMonday(w, 10));
  const tenant = await createTenant(w, 'warmup');
  const sender = await createSender(w, tenant.tenantId, [{ dailyLimit: 50 }]);
  const inbox = sender.inboxes[0]!;
  await w.t.owner.query(sql`update app_public.email_accounts set warmup_enabled = true where id = ${inbox.id}`);
  const [{ allowance }] = await w.t.owner.query(sql`select app_private.inbox_daily_allowance(${tenant.tenantId}, ${inbox.id}, app_private.engine_now()) as allowance`);
  expect(allowance).toBeLessThan(50);
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [inbox.id],
    steps: [{ type: 'email' }],
    leads: Array.from({ length: allowance + 2 }, () => ({})),
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  const rows = await waitingLater(campaignId, 2, allowance);
  expect(rows.filter((e) => e.status === 'active')).toHaveLength(2);
  expect((await messagesOf(w, campaignId)).filter((m) => m.status === 'sent')).toHaveLength(allowance);
});

test('first emails rotate to the inbox with the most allowance left; follow-ups stay on the lead inbox', async () => {
  await setClock(w, await nextMonday(w, 10));
  const tenant = await createTenant(w, 'rotate');
  const sender = await createSender(w, tenant.tenantId, [{ dailyLimit: 6 }, { dailyLimit: 4 }]);
  const [big, small] = sender.inboxes as [{ id: string; email: string }, { id: string; email: string }];
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [big.id, small.id],
    steps: [{ type: 'email' }, { type: 'wait', hours: 1 }, { type: 'email', subject: 'Again' }],
    leads: [{}, {}, {}, {}, {}],
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  await eventually(async () => (await enrollmentsOf(w, campaignId)).every((e) => e.current_step_order === 3));
  const first = await messagesOf(w, campaignId);
  // 6:4 → big, big (4:4), small (4:3), big (3:3), small (3:2): the remaining allowances stay level.
  expect(first.filter((m) => m.email_account_id === big.id)).toHaveLength(3);
  expect(first.filter((m) => m.email_account_id === small.id)).toHaveLength(2);
  const [{ remaining }] = await w.t.owner.query(sql`
    select array_agg(app_private.inbox_remaining(tenant_id, id, app_private.engine_now()) order by daily_limit desc) as remaining
    from app_public.email_accounts where id in (${big.id}, ${small.id})
  `);
  expect(remaining).toEqual([3, 2]);

  await advanceClock(w, '1 hour');
  const all = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows.length === 10 && rows.every((m) => m.status === 'sent') && rows;
  });
  const inboxOfLead = new Map(first.map((m) => [m.lead_id, m.email_account_id]));
  for (const m of all.filter((x) => x.step_order === 3)) expect(m.email_account_id).toBe(inboxOfLead.get(m.lead_id));
  const enrollments = await enrollmentsOf(w, campaignId);
  for (const e of enrollments) expect(e.email_account_id).toBe(inboxOfLead.get(e.lead_id));
});

test('sends from one inbox are spaced by a random gap between the campaign minimum and maximum', async () => {
  await setClock(w, await nextMonday(w, 10));
  const tenant = await createTenant(w, 'gap');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    settings: { min_gap_seconds: 60, max_gap_seconds: 120 },
    steps: [{ type: 'email' }],
    leads: [{}, {}, {}, {}],
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  const booked = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows.length === 4 && rows.filter((m) => m.status === 'sent').length === 1 && rows;
  });
  const slots = booked.map((m) => new Date(m.scheduled_for).getTime()).sort((a, b) => a - b);
  for (let i = 1; i < slots.length; i++) {
    const gap = (slots[i]! - slots[i - 1]!) / 1000;
    expect(gap).toBeGreaterThanOrEqual(60);
    expect(gap).toBeLessThanOrEqual(120);
  }
  expect(leads.map((l) => sentTo(l.email)).reduce((a, b) => a + b)).toBe(1);

  await advanceClock(w, '6 minutes');
  await eventually(async () => (await messagesOf(w, campaignId)).every((m) => m.status === 'sent'));
  expect(leads.map((l) => sentTo(l.email))).toEqual([1, 1, 1, 1]);
});

test('the campaign daily limit holds the rest until the next day in the campaign time zone', async () => {
  const monday = await setClock(w, await nextMonday(w, 10));
  const tenant = await createTenant(w, 'daily');
  const sender = await createSender(w, tenant.tenantId, [{}, {}]);
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: sender.inboxes.map((i) => i.id),
    settings: { daily_limit: 2, timezone: 'Europe/Paris' },
    steps: [{ type: 'email' }],
    leads: [{}, {}, {}, {}],
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  const rows = await waitingLater(campaignId, 2, 2);
  const parisMidnight = await localOpening(new Date(monday.getTime() + 86400_000), '00:00', 'Europe/Paris');
  for (const e of rows.filter((x) => x.status === 'active')) expect(new Date(e.next_run_at).toISOString()).toBe(parisMidnight);
  await setClock(w, parisMidnight);
  await eventually(async () => (await enrollmentsOf(w, campaignId)).every((e) => e.status === 'completed'));
});
