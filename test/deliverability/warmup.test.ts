/**
 * Warm-up: the inbox and IP ramps, the start of a warm-up (counted against the
 * plan's max_warmups), daily counts reset at each inbox's local midnight,
 * last_warmed_at, and the allowance the sending engine reads.
 */
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { sendingIp } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

async function tenantWithDomain(t: TestTx) {
  const { tenant, owner } = await t.tenantWithOwner('warm');
  const [domain] = await t.query(sql`insert into app_public.domains (tenant_id, domain) values (${tenant.id}, ${`warm-${tenant.id.slice(0, 6)}.example`}) returning id, domain`);
  return { tenantId: tenant.id, ownerId: owner.id, domainId: domain.id as string, domain: domain.domain as string };
}

test('the ramps: an inbox starts at 10 a day and grows 20 % a day up to its limit; an IP starts at 50 and doubles', async () => {
  await withTx(async (t) => {
    const inbox = await t.one(sql`select array_agg(app_private.warmup_ramp(d) order by d) as r from generate_series(0, 10) d`);
    expect(inbox.r).toEqual([10, 12, 15, 18, 21, 25, 30, 36, 43, 52, 62]);
    expect((await t.one(sql`select app_private.warmup_ramp(200) as r`)).r).toBe(10000);
    const ip = await t.one(sql`select array_agg(app_private.ip_warmup_ramp(d) order by d) as r from generate_series(0, 5) d`);
    expect(ip.r.map(Number)).toEqual([50, 100, 200, 400, 800, 1600]);
  });
});

test('an inbox created with warm-up on starts its ramp in its own time zone and counts as a warm-up', async () => {
  await withTx(async (t) => {
    const { tenantId, ownerId, domainId, domain } = await tenantWithDomain(t);
    await t.as({ kind: 'member', userId: ownerId, tenantId });
    const inbox = await t.one(sql`
      insert into app_public.email_accounts (domain_id, email, daily_limit, timezone) values (${domainId}, ${`a@${domain}`}, 40, 'Asia/Tokyo')
      returning id, warmup_started_at, app_public.email_accounts_daily_allowance(email_accounts) as allowance, app_public.email_accounts_warmup_day(email_accounts) as day`);
    const cold = await t.one(sql`
      insert into app_public.email_accounts (domain_id, email, daily_limit, warmup_enabled) values (${domainId}, ${`b@${domain}`}, 40, false)
      returning warmup_started_at, app_public.email_accounts_daily_allowance(email_accounts) as allowance, app_public.email_accounts_warmup_day(email_accounts) as day`);
    await t.as({ kind: 'root' });
    expect(inbox).toMatchObject({ allowance: 10, day: 0 });
    expect(inbox.warmup_started_at).not.toBeNull();
    expect(cold).toEqual({ warmup_started_at: null, allowance: 40, day: null });
    expect(Number((await t.one(sql`select app_private.metered_usage(${tenantId}, 'warmups') as n`)).n)).toBe(1);

    // Day 5 of the ramp (25 a day), counted in Tokyo: 15:30 UTC is already the next day there.
    await t.query(sql`update app_public.email_accounts set warmup_started_at = '2025-06-01T00:00:00Z' where id = ${inbox.id}`);
    const allowance = async (at: string) => (await t.one(sql`select app_private.inbox_daily_allowance(${tenantId}, ${inbox.id}, ${at}::timestamptz) as n`)).n;
    expect(await allowance('2025-06-06T14:59:00Z')).toBe(25);
    expect(await allowance('2025-06-06T15:00:00Z')).toBe(30);
    expect(await allowance('2025-06-30T00:00:00Z')).toBe(40);

    // Switching warm-up on later starts (and counts) a new one.
    await t.as({ kind: 'member', userId: ownerId, tenantId });
    const restarted = await t.one(sql`update app_public.email_accounts set warmup_enabled = true where email = ${`b@${domain}`} returning warmup_started_at`);
    await t.as({ kind: 'root' });
    expect(restarted.warmup_started_at).not.toBeNull();
    expect(Number((await t.one(sql`select app_private.metered_usage(${tenantId}, 'warmups') as n`)).n)).toBe(2);
  });
});

test("the plan's max_warmups applies when warm-ups start; a bad time zone is refused; both change nothing", async () => {
  await withTx(async (t) => {
    const { tenantId, ownerId, domainId, domain } = await tenantWithDomain(t);
    await t.query(sql`update app_public.plans set max_warmups = 1 where id = (select plan_id from app_public.subscriptions where tenant_id = ${tenantId})`);
    await t.as({ kind: 'member', userId: ownerId, tenantId });
    await t.query(sql`insert into app_public.email_accounts (domain_id, email) values (${domainId}, ${`one@${domain}`})`);
    const limit = await t.error(sql`insert into app_public.email_accounts (domain_id, email) values (${domainId}, ${`two@${domain}`})`);
    expect(limit.code).toBe('LIMIT');
    expect(limit.message).toMatch(/^Your Pro plan allows 1 inbox warming up; 1 already used\./);
    await t.query(sql`insert into app_public.email_accounts (domain_id, email, warmup_enabled) values (${domainId}, ${`three@${domain}`}, false)`);
    const later = await t.error(sql`update app_public.email_accounts set warmup_enabled = true where email = ${`three@${domain}`}`);
    expect(later.code).toBe('LIMIT');
    const zone = await t.error(sql`insert into app_public.email_accounts (domain_id, email, timezone, warmup_enabled) values (${domainId}, ${`four@${domain}`}, 'Mars/Olympus_Mons', false)`);
    expect([zone.code, zone.message]).toEqual(['INVAL', 'Unknown time zone "Mars/Olympus_Mons"; use an IANA name such as Europe/Paris or UTC.']);
    await t.as({ kind: 'root' });
    expect((await t.query(sql`select email::text, warmup_enabled from app_public.email_accounts where tenant_id = ${tenantId} order by email`)).map((r) => [r.email.split('@')[0], r.warmup_enabled])).toEqual([
      ['one', true],
      ['three', false],
    ]);
    expect(Number((await t.one(sql`select app_private.metered_usage(${tenantId}, 'warmups') as n`)).n)).toBe(1);
  });
});

test("daily counts reset at each inbox's local midnight (and each IP's UTC midnight); last_warmed_at follows sends during the ramp", async () => {
  await withTx(async (t) => {
    const { tenantId, domainId, domain } = await tenantWithDomain(t);
    const inbox = async (local: string, timezone: string) =>
      (await t.one(sql`
        insert into app_public.email_accounts (tenant_id, domain_id, email, timezone, daily_count, daily_count_date)
        values (${tenantId}, ${domainId}, ${`${local}@${domain}`}, ${timezone}, 30, '2025-03-09') returning id`)).id as string;
    const tokyo = await inbox('tokyo', 'Asia/Tokyo');
    const la = await inbox('la', 'America/Los_Angeles');
    const ip = await sendingIp(t.tx, 'warmed');
    await t.query(sql`update app_public.smtp_ip_addresses set daily_count = 500, daily_count_date = '2025-03-09' where id = ${ip.id}`);
    const counts = async () =>
      Object.fromEntries(
        (await t.query(sql`select id, daily_count, daily_count_date::text as day from app_public.email_accounts where id in (${tokyo}, ${la})`)).map((r) => [
          r.id === tokyo ? 'tokyo' : 'la',
          [r.daily_count, r.day],
        ]),
      );
    const ipCount = async () => (await t.one(sql`select daily_count, daily_count_date::text as day from app_public.smtp_ip_addresses where id = ${ip.id}`));

    // 16:00 UTC on 9 March: 01:00 on the 10th in Tokyo, 09:00 on the 9th in Los Angeles.
    await t.query(sql`select * from app_private.reset_daily_counts('2025-03-09T16:00:00Z')`);
    expect(await counts()).toEqual({ tokyo: [0, '2025-03-10'], la: [30, '2025-03-09'] });
    expect(await ipCount()).toEqual({ daily_count: 500, day: '2025-03-09' });
    // 07:59 UTC on the 10th is 23:59 on the 9th in Los Angeles (PDT since that morning); 08:00 is midnight.
    // The IP's day is the UTC day, which has already turned.
    const [early] = await t.query(sql`select * from app_private.reset_daily_counts('2025-03-10T06:59:00Z')`);
    expect(early.ips).toBeGreaterThanOrEqual(1);
    expect((await counts()).la).toEqual([30, '2025-03-09']);
    expect(await ipCount()).toEqual({ daily_count: 0, day: '2025-03-10' });
    const summary = await t.one(sql`select app_private.warmup_tick('2025-03-10T07:00:00Z') as s`);
    expect(summary.s).toMatchObject({ ips_reset: 0, ips_warmed: 0 });
    expect(summary.s.inboxes_reset).toBeGreaterThanOrEqual(1);
    expect(await counts()).toEqual({ tokyo: [0, '2025-03-10'], la: [0, '2025-03-10'] });

    // A send counted during the ramp is a warm-up send; after the ramp it is not.
    await t.query(sql`update app_public.email_accounts set daily_count = 1, daily_count_date = current_date where id = ${tokyo}`);
    const warmed = await t.one(sql`select last_warmed_at from app_public.email_accounts where id = ${tokyo}`);
    expect(warmed.last_warmed_at).not.toBeNull();
    await t.query(sql`update app_public.email_accounts set last_warmed_at = null, warmup_started_at = now() - interval '60 days' where id = ${la}`);
    await t.query(sql`update app_public.email_accounts set daily_count = 1, daily_count_date = current_date where id = ${la}`);
    expect((await t.one(sql`select last_warmed_at from app_public.email_accounts where id = ${la}`)).last_warmed_at).toBeNull();
  });
});
