/**
 * The IP pool on the send path: a platform (mailu) inbox whose domain has IP
 * assignments books each message on one of the domain's IPs (its daily
 * allowance counted, warm-up included), and the worker's SMTP connection
 * leaves from that IP. On Linux every 127.0.0.0/8 address is loopback, so
 * the IPs here are 127.0.0.x and the test SMTP server on 127.0.0.1 sees
 * which one each message came from.
 */
import { sql } from '../../src/db/pg.ts';
import { eventually } from '../helpers/eventually.ts';
import {
  advanceClock, campaignCompletes, createCampaign, createSender, createTenant, enrollmentsOf, lifecycle, nextMonday, setClock,
  startWorld, type Sender, type World,
} from './support/world.ts';

let w: World;
const rcptAttempts = new Map<string, number>();
beforeAll(async () => {
  w = await startWorld({
    concurrency: 1,
    smtp: {
      onRcptTo(address, _session, callback) {
        const n = (rcptAttempts.get(address.address) ?? 0) + 1;
        rcptAttempts.set(address.address, n);
        if (address.address.startsWith('defer-once') && n === 1) {
          return callback(Object.assign(new Error('4.2.2 Mailbox busy, try again later'), { responseCode: 451 }));
        }
        callback();
      },
    },
  });
});
afterAll(() => w.close());

interface IpSpec {
  status?: 'warmed' | 'warming';
  dailyLimit?: number | null;
  /** Already used today (the engine's UTC day). */
  used?: number;
}

/** A sending IP of the platform (a row staff would add) with its status, limit and today's count. */
async function addIp(address: string, spec: IpSpec = {}): Promise<string> {
  const [row] = await w.t.owner.query(sql`
    insert into app_public.smtp_ip_addresses (ip_address, status, daily_limit, warmup_started_at, daily_count, daily_count_date)
    values (${address}::inet, ${spec.status ?? 'warmed'}, ${spec.dailyLimit ?? null},
            case when ${spec.status ?? 'warmed'} = 'warming' then app_private.engine_now() end,
            ${spec.used ?? 0}, app_private.local_day(app_private.engine_now(), 'UTC'))
    returning id
  `);
  return row.id;
}

/** A sender whose inbox is a platform (mailu) inbox with these IPs assigned to its domain. */
async function poolSender(tenantId: string, ipIds: string[], provider = 'mailu'): Promise<Sender> {
  const sender = await createSender(w, tenantId);
  await w.t.owner.query(sql`update app_public.email_accounts set provider = ${provider} where id = ${sender.inboxes[0]!.id}`);
  for (const ipId of ipIds) {
    await w.t.owner.query(sql`select app_private.assign_ip(${tenantId}, ${sender.domainId}, ${ipId}, 'test')`);
  }
  return sender;
}

async function ipCounts(ids: string[]) {
  const rows = await w.t.owner.query(sql`
    select id, daily_count from app_public.smtp_ip_addresses where id = any (${ids}::uuid[])`);
  return Object.fromEntries(rows.map((r) => [r.id, r.daily_count]));
}

/** Each message of the campaign: the IP recorded on it and the address its SMTP connection came from. */
async function carried(campaignId: string) {
  const rows = await w.t.owner.query(sql`
    select m.to_email::text as to_email, m.status, m.smtp_ip_address_id, host(ip.ip_address) as ip
    from app_public.messages m left join app_public.smtp_ip_addresses ip on ip.id = m.smtp_ip_address_id
    where m.campaign_id = ${campaignId} order by m.id`);
  return rows.map((r) => {
    const received = w.smtp.messages.filter((m) => m.to.includes(r.to_email));
    return { status: r.status, ipId: r.smtp_ip_address_id, ip: r.ip, from: received.map((m) => m.remoteAddress) };
  });
}

test('a platform inbox sends through its domain IPs in turn, each message from the IP recorded on it, counted per IP', async () => {
  await setClock(w, await nextMonday(w, 10));
  const a = await addIp('127.0.0.2');
  const b = await addIp('127.0.0.3');
  const tenant = await createTenant(w, 'ip-rotation');
  const sender = await poolSender(tenant.tenantId, [a, b]);
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: Array.from({ length: 6 }, () => ({})),
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  await campaignCompletes(w, campaignId);

  const sent = await carried(campaignId);
  expect(sent.every((m) => m.status === 'sent')).toBe(true);
  // Each message arrived once, from the IP recorded on it.
  for (const m of sent) expect(m.from).toEqual([m.ip]);
  // In turn (one job at a time here): least used today first.
  expect(sent.map((m) => m.ip)).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.2', '127.0.0.3', '127.0.0.2', '127.0.0.3']);
  expect(await ipCounts([a, b])).toEqual({ [a]: 3, [b]: 3 });
  const assignments = await w.t.owner.query(sql`
    select smtp_ip_address_id, last_sent_at from app_public.domain_ip_assignments where domain_id = ${sender.domainId}`);
  expect(assignments).toHaveLength(2);
  for (const row of assignments) expect(row.last_sent_at).toBeInstanceOf(Date);
});

test('an IP stops at its daily allowance (warm-up ramp included); the rest waits for the next UTC day with the reason', async () => {
  const monday = await setClock(w, await nextMonday(w, 10));
  // A warmed IP limited to 2 a day, and a warming IP on day 0 of its ramp (50) that already sent 49 today.
  const limited = await addIp('127.0.0.4', { dailyLimit: 2 });
  const warming = await addIp('127.0.0.5', { status: 'warming', used: 49 });
  const tenant = await createTenant(w, 'ip-allowance');
  const sender = await poolSender(tenant.tenantId, [limited, warming]);
  const { campaignId, stepIds } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: Array.from({ length: 5 }, () => ({})),
  });
  await lifecycle(w, tenant.token, 'start', campaignId);

  const midnight = new Date(Date.UTC(monday.getUTCFullYear(), monday.getUTCMonth(), monday.getUTCDate() + 1));
  const waiting = await eventually(async () => {
    const rows = await enrollmentsOf(w, campaignId);
    const later = rows.filter((e) => e.status === 'active' && new Date(e.next_run_at).getTime() === midnight.getTime());
    return later.length === 2 && rows.filter((e) => e.status === 'completed').length === 3 && later;
  });
  expect(await ipCounts([limited, warming])).toEqual({ [limited]: 2, [warming]: 50 });
  const sent = await carried(campaignId);
  expect(sent.filter((m) => m.status === 'sent').map((m) => m.ip).sort()).toEqual(['127.0.0.4', '127.0.0.4', '127.0.0.5']);
  for (const m of sent) expect(m.from).toEqual([m.ip]);

  // Why they wait (the booking decides nothing else while every IP is full).
  const [booking] = await w.t.owner.query(sql`
    select retry_at, wait_reason from app_private.book_email_send(${tenant.tenantId}, ${waiting[0]!.id}, ${stepIds[0]}, app_private.engine_now())`);
  expect(booking.retry_at).toEqual(midnight);
  expect(booking.wait_reason).toBe(`inbox ${sender.inboxes[0]!.email}: every sending IP of the domain reached its daily allowance (127.0.0.4 2 of 2, 127.0.0.5 50 of 50)`);

  // The campaign's idleReason says the same once those leads are due (here: made due now, as their jobs stay at midnight).
  await w.t.owner.query(sql`update app_public.campaign_enrollments set next_run_at = app_private.engine_now() where campaign_id = ${campaignId} and status = 'active'`);
  const [schedule] = await w.t.owner.query(sql`select next_send_at, idle_reason from app_private.campaign_schedule(${tenant.tenantId}, ${campaignId})`);
  expect(schedule.next_send_at).toEqual(midnight);
  expect(schedule.idle_reason).toMatch(/^Every sending IP of the inboxes' domains reached its daily allowance \(new allowances at .+\) or cannot send/);

  // A new UTC day: the counts start again, and the rest goes out.
  await setClock(w, midnight);
  await campaignCompletes(w, campaignId);
  const after = await carried(campaignId);
  expect(after.filter((m) => m.status === 'sent')).toHaveLength(5);
  for (const m of after) expect(m.from).toEqual([m.ip]);
  const counts = await ipCounts([limited, warming]);
  expect(counts[limited] + counts[warming]).toBe(2);
});

test('a quarantined IP carries nothing, and a message booked on it is booked again on a healthy IP', async () => {
  await setClock(w, await nextMonday(w, 10));
  const healthy = await addIp('127.0.0.6');
  const doomed = await addIp('127.0.0.7');
  const tenant = await createTenant(w, 'ip-quarantine');
  const sender = await poolSender(tenant.tenantId, [healthy, doomed]);
  // The inbox spaces its sends an hour apart: the second and third messages are booked (on the other IP) for later.
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{}, {}, {}],
    settings: { min_gap_seconds: 3600, max_gap_seconds: 3600 },
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  await eventually(async () => {
    const rows = await carried(campaignId);
    return rows.length === 3 && rows.filter((m) => m.status === 'sent').length === 1 && rows;
  });
  expect((await carried(campaignId)).map((m) => [m.status, m.ip])).toEqual([
    ['sent', '127.0.0.6'], ['queued', '127.0.0.7'], ['queued', '127.0.0.7'],
  ]);

  // Staff quarantine it; the domain keeps its healthy IP (and may take over a free one of the pool).
  await w.t.owner.query(sql`select app_private.change_smtp_ip_status(${doomed}, 'quarantined', 'Listed on zen.spamhaus.org')`);
  await eventually(async () => {
    if ((await enrollmentsOf(w, campaignId)).every((e) => e.status === 'completed')) return true;
    await advanceClock(w, '1 hour');
    return false;
  }, 30_000, 300);
  await campaignCompletes(w, campaignId);
  const sent = await carried(campaignId);
  expect(sent.map((m) => m.status)).toEqual(['sent', 'sent', 'sent']);
  for (const m of sent) {
    expect(m.ipId).not.toBe(doomed);
    expect(m.ip).not.toBeNull();
    expect(m.from).toEqual([m.ip]);
  }
  expect(w.smtp.messages.some((m) => m.remoteAddress === '127.0.0.7')).toBe(false);
  // Counted when booked: the two messages booked on it before the quarantine stay counted.
  expect((await ipCounts([doomed]))[doomed]).toBe(2);
});

test('an inbox on third-party SMTP is outside the pool even when its domain has IPs: no IP, no count', async () => {
  await setClock(w, await nextMonday(w, 10));
  const ip = await addIp('127.0.0.8');
  const tenant = await createTenant(w, 'ip-outside');
  const sender = await poolSender(tenant.tenantId, [ip], 'smtp');
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{}, {}],
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  await campaignCompletes(w, campaignId);
  const sent = await carried(campaignId);
  expect(sent.map((m) => [m.status, m.ipId, m.from])).toEqual([['sent', null, ['127.0.0.1']], ['sent', null, ['127.0.0.1']]]);
  expect(await ipCounts([ip])).toEqual({ [ip]: 0 });
  const [assignment] = await w.t.owner.query(sql`select last_sent_at from app_public.domain_ip_assignments where domain_id = ${sender.domainId}`);
  expect(assignment.last_sent_at).toBeNull();
});

test('two bookings racing for the last unit of an IP: one takes it, the other waits with the reason', async () => {
  await setClock(w, await nextMonday(w, 10));
  const ip = await addIp('127.0.0.9', { dailyLimit: 1 });
  const tenant = await createTenant(w, 'ip-race');
  const sender = await poolSender(tenant.tenantId, [ip]);
  const reserve = (db: Pick<typeof w.t.owner, 'query'>) => db.query(sql`
    select smtp_ip_address_id, wait_reason
    from app_private.reserve_sending_ip(${tenant.tenantId}, ${sender.domainId}, app_private.engine_now(), null)`);

  let releaseFirst!: () => void;
  const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
  let firstTook!: () => void;
  const firstReserved = new Promise<void>((resolve) => (firstTook = resolve));
  const first = w.t.owner.tx(async (tx) => {
    const [row] = await reserve(tx);
    firstTook();
    await firstHolds; // the unit is taken, the transaction still open
    return row;
  });
  await firstReserved;
  const second = w.t.owner.tx(async (tx) => (await reserve(tx))[0]);
  // The second read the unit as free and waits for the first's row lock (on one PostgreSQL it shows as a
  // lock wait; on Citus the wait is on the nodes, so give it a moment either way), then finds the unit gone.
  await eventually(async () => {
    const [row] = await w.t.owner.query(sql`
      select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%reserve_sending_ip%'`);
    return row.n > 0;
  }, 3_000).catch(() => undefined);
  releaseFirst();
  const [a, b] = await Promise.all([first, second]);
  expect(a).toEqual({ smtp_ip_address_id: ip, wait_reason: null });
  expect(b.smtp_ip_address_id).toBeNull();
  // "at its allowance" when it lost the race at the update, "1 of 1" had it read the count after the first committed.
  expect(b.wait_reason).toMatch(/^every sending IP of the domain reached its daily allowance \(127\.0\.0\.9 (at its allowance of 1|1 of 1)\)$/);
  expect(await ipCounts([ip])).toEqual({ [ip]: 1 });
});

test('a deferred message is sent again from the IP it was booked on, counted once, even when booked again later that day', async () => {
  await setClock(w, await nextMonday(w, 10));
  const ip = await addIp('127.0.0.10');
  const other = await addIp('127.0.0.11');
  const tenant = await createTenant(w, 'ip-deferral');
  const sender = await poolSender(tenant.tenantId, [ip, other]);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{ email: `defer-once-${Date.now()}@recipient.example` }],
  });
  await lifecycle(w, tenant.token, 'start', campaignId);
  await eventually(async () => {
    const [m] = await carried(campaignId);
    return m?.status === 'queued' && rcptAttempts.get(leads[0]!.email) === 1;
  });
  expect((await carried(campaignId))[0]!.ip).toBe('127.0.0.10');
  // Its retry comes 20 minutes later: its slot went stale and it is booked again, on the same IP.
  await advanceClock(w, '20 minutes');
  await campaignCompletes(w, campaignId);
  const [m] = await carried(campaignId);
  expect(m).toMatchObject({ status: 'sent', ip: '127.0.0.10', from: ['127.0.0.10'] });
  expect(await ipCounts([ip, other])).toEqual({ [ip]: 1, [other]: 0 });
});
