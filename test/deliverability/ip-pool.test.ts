/**
 * The IP pool lifecycle in the database: servers, sending IPs and domain IP
 * assignments move only along their lifecycles (STATE errors name the allowed
 * next statuses and change nothing), only staff with infrastructure.manage
 * drive them, assigned_count stays right, warm-ups carry assignments along,
 * quarantine moves domains to healthy IPs, and tenants read their assignments.
 */
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { sendingIp, staffUser } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

async function setUp(t: TestTx) {
  const operator = await staffUser(t, 'operator', 'pool');
  const { tenant, owner } = await t.tenantWithOwner('pool');
  const [domain] = await t.query(sql`insert into app_public.domains (tenant_id, domain) values (${tenant.id}, ${`pool-${tenant.id.slice(0, 6)}.example`}) returning id`);
  const [domain2] = await t.query(sql`insert into app_public.domains (tenant_id, domain) values (${tenant.id}, ${`pool2-${tenant.id.slice(0, 6)}.example`}) returning id`);
  return { operator, tenantId: tenant.id, ownerId: owner.id, domainId: domain.id as string, domain2Id: domain2.id as string };
}

const ipRow = (t: TestTx, id: string) => t.one(sql`select status, assigned_count, warmup_started_at, status_reason, auto_quarantined from app_public.smtp_ip_addresses where id = ${id}`);

test('sending IPs move only along their lifecycle; anything else is refused with the allowed next statuses and changes nothing', async () => {
  await withTx(async (t) => {
    const { operator } = await setUp(t);
    const ip = await sendingIp(t.tx, 'available');
    await t.as({ kind: 'staff', userId: operator });
    const set = (status: string, reason: string | null = null) => sql`select status from app_public.set_smtp_ip_status(${ip.id}, ${status}, ${reason})`;

    let error = await t.error(set('warmed'));
    expect([error.code, error.message]).toEqual(['STATE', `The IP ${ip.ip} cannot go from available to warmed; from available it can go to assigned, warming, quarantined, burned.`]);
    error = await t.error(set('assigned'));
    expect([error.code, error.message]).toEqual(['STATE', `The IP ${ip.ip} has no live domain assignment; assign it to a domain instead (assignSmtpIpToDomain).`]);
    error = await t.error(set('retired'));
    expect([error.code, error.message]).toEqual(['INVAL', 'Unknown IP status "retired"; use available, assigned, warming, warmed, degraded, quarantined or burned.']);
    await t.as({ kind: 'root' });
    expect(await ipRow(t, ip.id)).toMatchObject({ status: 'available', warmup_started_at: null });

    await t.as({ kind: 'staff', userId: operator });
    expect((await t.one(set('warming', 'new IP'))).status).toBe('warming');
    await t.as({ kind: 'root' });
    expect((await ipRow(t, ip.id)).warmup_started_at).not.toBeNull();
    await t.as({ kind: 'staff', userId: operator });
    for (const status of ['warmed', 'degraded', 'burned']) expect((await t.one(set(status, `to ${status}`))).status).toBe(status);
    error = await t.error(set('available'));
    expect([error.code, error.message]).toEqual(['STATE', `The IP ${ip.ip} cannot go from burned to available: burned is final.`]);
    await t.as({ kind: 'root' });
    expect(await ipRow(t, ip.id)).toMatchObject({ status: 'burned', status_reason: 'to burned' });
    const log = await t.query(sql`select action, changes ->> 'from' as "from" from app_public.platform_audit_log where record_id = ${ip.id} and action like 'smtp_ip.%' order by id`);
    expect(log).toEqual([
      { action: 'smtp_ip.warming', from: 'available' },
      { action: 'smtp_ip.warmed', from: 'warming' },
      { action: 'smtp_ip.degraded', from: 'warmed' },
      { action: 'smtp_ip.burned', from: 'degraded' },
    ]);

    // The rule holds for any writer, the owner included.
    const other = await sendingIp(t.tx, 'available');
    error = await t.error(sql`update app_public.smtp_ip_addresses set status = 'warmed' where id = ${other.id}`);
    expect(error.code).toBe('STATE');
  });
});

test('only staff with infrastructure.manage run the pool; tenants cannot', async () => {
  await withTx(async (t) => {
    const { tenantId, ownerId, domainId } = await setUp(t);
    const support = await staffUser(t, 'support', 'pool');
    const ip = await sendingIp(t.tx, 'available');
    await t.as({ kind: 'staff', userId: support });
    const denied = await t.error(sql`select app_public.set_smtp_ip_status(${ip.id}, 'warming')`);
    expect([denied.code, denied.message]).toEqual(['DNIED', 'Managing servers, sending IPs and their assignments needs the infrastructure.manage staff permission.']);
    expect((await t.error(sql`select app_public.assign_smtp_ip_to_domain(${domainId}, ${ip.id})`)).code).toBe('DNIED');
    await t.as({ kind: 'member', userId: ownerId, tenantId });
    expect((await t.error(sql`select app_public.set_smtp_ip_status(${ip.id}, 'warming')`)).code).toBe('42501');
    expect((await t.error(sql`update app_public.smtp_ip_addresses set status = 'warming' where id = ${ip.id}`)).code).toBe('42501');
  });
});

test('assigning IPs to tenant domains keeps assigned_count right; tenants read their assignments and nothing else', async () => {
  await withTx(async (t) => {
    const { operator, tenantId, ownerId, domainId, domain2Id } = await setUp(t);
    const fresh = await sendingIp(t.tx, 'available');
    const warm = await sendingIp(t.tx, 'warmed');
    const bad = await sendingIp(t.tx, 'quarantined');
    await t.as({ kind: 'staff', userId: operator });
    const assign = (domain: string, ip: string) => sql`select * from app_public.assign_smtp_ip_to_domain(${domain}, ${ip})`;

    const a1 = await t.one(assign(domainId, fresh.id));
    expect(a1).toMatchObject({ tenant_id: tenantId, status: 'scheduled', warmup_state: 'unwarmed' });
    const a2 = await t.one(assign(domain2Id, fresh.id));
    const a3 = await t.one(assign(domainId, warm.id));
    expect(a3).toMatchObject({ status: 'active', warmup_state: 'warmed' });
    const again = await t.error(assign(domainId, fresh.id));
    expect([again.code, again.message]).toEqual(['STATE', `The IP ${fresh.ip} already sends for this domain.`]);
    const quarantined = await t.error(assign(domainId, bad.id));
    expect([quarantined.code, quarantined.message]).toEqual(['STATE', `The IP ${bad.ip} is quarantined and cannot take a domain; pick a healthy IP.`]);
    const missing = await t.error(sql`select app_public.assign_smtp_ip_to_domain(gen_random_uuid(), ${fresh.id})`);
    expect(missing.code).toBe('NTFND');
    await t.as({ kind: 'root' });
    expect(await ipRow(t, fresh.id)).toMatchObject({ status: 'assigned', assigned_count: 2 });
    expect((await ipRow(t, warm.id)).assigned_count).toBe(1);

    // The tenant sees its assignments and those IPs, read-only.
    await t.as({ kind: 'member', userId: ownerId, tenantId });
    const seen = await t.query(sql`select a.status, host(ip.ip_address) as ip from app_public.domain_ip_assignments a join app_public.smtp_ip_addresses ip on ip.id = a.smtp_ip_address_id order by a.assigned_at, a.id`);
    expect(seen.map((s) => s.ip).sort()).toEqual([fresh.ip, fresh.ip, warm.ip].sort());
    expect((await t.error(sql`update app_public.domain_ip_assignments set status = 'expired' where id = ${a1.id}`)).code).toBe('42501');
    expect((await t.error(sql`insert into app_public.domain_ip_assignments (domain_id, smtp_ip_address_id) values (${domainId}, ${warm.id})`)).code).toBe('42501');
    const audit = await t.query(sql`select action from app_public.audit_log where action like 'domain_ip.%' order by id`);
    expect(audit.map((a) => a.action)).toEqual(['domain_ip.assigned', 'domain_ip.assigned', 'domain_ip.assigned']);
    const stranger = await t.tenantWithOwner('stranger');
    await t.as({ kind: 'member', userId: stranger.owner.id, tenantId: stranger.tenant.id });
    expect(await t.query(sql`select id from app_public.domain_ip_assignments`)).toEqual([]);
    expect(await t.query(sql`select id from app_public.smtp_ip_addresses`)).toEqual([]);

    await t.as({ kind: 'staff', userId: operator });
    const expire = (id: string) => sql`select status from app_public.set_domain_ip_assignment_status(${id}, 'expired', 'domain retired')`;
    await t.one(expire(a1.id));
    await t.as({ kind: 'root' });
    expect(await ipRow(t, fresh.id)).toMatchObject({ status: 'assigned', assigned_count: 1 });
    await t.as({ kind: 'staff', userId: operator });
    await t.one(expire(a2.id));
    const final = await t.error(sql`select app_public.set_domain_ip_assignment_status(${a2.id}, 'active')`);
    expect([final.code, final.message]).toEqual(['STATE', `The assignment of IP ${fresh.ip} cannot go from expired to active: expired is final.`]);
    await t.as({ kind: 'root' });
    // The last assignment gone, the never-warmed IP is back in the pool.
    expect(await ipRow(t, fresh.id)).toMatchObject({ status: 'available', assigned_count: 0 });
    expect((await t.one(sql`select expires_at from app_public.domain_ip_assignments where id = ${a2.id}`)).expires_at).not.toBeNull();
  });
});

test("an IP's warm-up carries its assignments: scheduled → warming → active once the ramp reaches its target", async () => {
  await withTx(async (t) => {
    const { operator, domainId } = await setUp(t);
    const ip = await sendingIp(t.tx, 'available');
    await t.query(sql`update app_public.smtp_ip_addresses set daily_limit = 400 where id = ${ip.id}`);
    await t.as({ kind: 'staff', userId: operator });
    const assignment = await t.one(sql`select * from app_public.assign_smtp_ip_to_domain(${domainId}, ${ip.id})`);
    const early = await t.error(sql`select app_public.set_domain_ip_assignment_status(${assignment.id}, 'warming')`);
    expect([early.code, early.message]).toEqual(['STATE', `The IP ${ip.ip} is assigned, not warming; start its warm-up first (setSmtpIpStatus warming).`]);
    await t.query(sql`select app_public.set_smtp_ip_status(${ip.id}, 'warming', 'start')`);
    await t.as({ kind: 'root' });
    expect(await t.one(sql`select status, warmup_state from app_public.domain_ip_assignments where id = ${assignment.id}`)).toEqual({ status: 'warming', warmup_state: 'warming' });

    // 50, 100, 200, 400: day 3 reaches the IP's daily limit of 400.
    const allowance = async (days: number) =>
      (await t.one(sql`select app_private.ip_daily_allowance(${ip.id}, now() + make_interval(days => ${days})) as n`)).n;
    expect([await allowance(0), await allowance(1), await allowance(2), await allowance(3), await allowance(9)].map(Number)).toEqual([50, 100, 200, 400, 400]);
    expect((await t.one(sql`select app_private.complete_ip_warmups(now() + interval '2 days') as n`)).n).toBe(0);
    expect((await t.one(sql`select app_private.complete_ip_warmups(now() + interval '3 days') as n`)).n).toBe(1);
    expect(await ipRow(t, ip.id)).toMatchObject({ status: 'warmed' });
    expect(await t.one(sql`select status, warmup_state from app_public.domain_ip_assignments where id = ${assignment.id}`)).toEqual({ status: 'active', warmup_state: 'warmed' });
    expect(Number((await t.one(sql`select app_private.ip_daily_allowance(${ip.id}) as n`)).n)).toBe(400);
  });
});

test('servers: decommissioning is refused while their IPs send for domains, and retires the IPs', async () => {
  await withTx(async (t) => {
    const { operator, domainId } = await setUp(t);
    const [vps] = await t.query(sql`insert into app_public.vps_instances (hostwinds_instance_id, status) values ('hw-pool-1', 'provisioning') returning id`);
    const ip = await sendingIp(t.tx, 'warmed', vps.id);
    const spare = await sendingIp(t.tx, 'available', vps.id);
    await t.as({ kind: 'staff', userId: operator });
    const set = (status: string, at: string | null = null) => sql`select * from app_public.set_vps_instance_status(${vps.id}, ${status}, 'maintenance', ${at}::timestamptz)`;
    const skip = await t.error(set('scheduled_decommission'));
    expect([skip.code, skip.message]).toEqual(['STATE', 'The server hw-pool-1 cannot go from provisioning to scheduled_decommission; from provisioning it can go to active, decommissioned.']);
    await t.one(set('active'));
    const scheduled = await t.one(set('scheduled_decommission'));
    expect((new Date(scheduled.decommission_scheduled_for).getTime() - Date.now()) / 86_400_000).toBeGreaterThan(29);
    const assignment = await t.one(sql`select * from app_public.assign_smtp_ip_to_domain(${domainId}, ${ip.id})`);
    const busy = await t.error(set('decommissioned'));
    expect([busy.code, busy.message]).toEqual(['STATE', `The server hw-pool-1 still sends for tenant domains through ${ip.ip}; move those domains to other IPs first.`]);
    await t.query(sql`select app_public.set_domain_ip_assignment_status(${assignment.id}, 'expired')`);
    expect((await t.one(set('decommissioned'))).status).toBe('decommissioned');
    const back = await t.error(set('active'));
    expect([back.code, back.message]).toEqual(['STATE', 'The server hw-pool-1 cannot go from decommissioned to active: decommissioned is final.']);
    await t.as({ kind: 'root' });
    expect(await ipRow(t, ip.id)).toMatchObject({ status: 'burned', status_reason: 'Server hw-pool-1 decommissioned' });
    expect((await ipRow(t, spare.id)).status).toBe('burned');
  });
});

test('quarantining an IP moves its domains to the healthiest free IP, or flags them when there is none', async () => {
  await withTx(async (t) => {
    const { operator, domainId, domain2Id } = await setUp(t);
    await t.query(sql`update app_public.smtp_ip_addresses set status = 'burned' where status <> 'burned'`);
    const listed = await sendingIp(t.tx, 'warmed');
    const busy = await sendingIp(t.tx, 'warmed');
    const idle = await sendingIp(t.tx, 'warmed');
    await t.as({ kind: 'staff', userId: operator });
    await t.query(sql`select app_public.assign_smtp_ip_to_domain(${domainId}, ${listed.id})`);
    await t.query(sql`select app_public.assign_smtp_ip_to_domain(${domain2Id}, ${listed.id})`);
    await t.query(sql`select app_public.assign_smtp_ip_to_domain(${domain2Id}, ${busy.id})`);
    await t.query(sql`select app_public.set_smtp_ip_status(${listed.id}, 'quarantined', 'abuse report')`);
    await t.as({ kind: 'root' });

    const live = await t.query(sql`
      select a.domain_id, host(ip.ip_address) as ip, a.status, a.status_reason from app_public.domain_ip_assignments a
      join app_public.smtp_ip_addresses ip on ip.id = a.smtp_ip_address_id
      where a.domain_id in (${domainId}, ${domain2Id}) order by a.domain_id = ${domainId} desc, a.created, ip.ip_address`);
    const reason = `IP ${listed.ip} quarantined (abuse report)`;
    // domain 1 goes to the least loaded healthy IP (idle); domain 2 already uses busy, so idle too.
    expect(live.filter((a) => a.domain_id === domainId).map((a) => [a.ip, a.status, a.status_reason])).toEqual([
      [listed.ip, 'expired', `Moved to ${idle.ip}: ${reason}`],
      [idle.ip, 'active', `Took over from ${listed.ip}: ${reason}`],
    ]);
    expect(live.filter((a) => a.domain_id === domain2Id && a.status !== 'expired').map((a) => a.ip).sort()).toEqual([busy.ip, idle.ip].sort());
    expect(await ipRow(t, listed.id)).toMatchObject({ status: 'quarantined', assigned_count: 0, auto_quarantined: false });
    expect((await ipRow(t, idle.id)).assigned_count).toBe(2);

    // No healthy IP left: the assignment stays where it is, flagged for staff.
    await t.as({ kind: 'staff', userId: operator });
    await t.query(sql`select app_public.set_smtp_ip_status(${busy.id}, 'degraded', 'bounces')`);
    await t.query(sql`select app_public.set_smtp_ip_status(${idle.id}, 'burned', 'blocked by a major provider')`);
    await t.as({ kind: 'root' });
    const flagged = await t.query(sql`
      select a.domain_id, host(ip.ip_address) as ip, a.flagged_reason from app_public.domain_ip_assignments a
      join app_public.smtp_ip_addresses ip on ip.id = a.smtp_ip_address_id
      where a.status <> 'expired' and a.flagged_at is not null and a.domain_id in (${domainId}, ${domain2Id}) order by a.domain_id = ${domainId} desc`);
    expect(flagged).toEqual([
      { domain_id: domainId, ip: idle.ip, flagged_reason: `IP ${idle.ip} burned (blocked by a major provider); no healthy IP was free to take over this domain.` },
      { domain_id: domain2Id, ip: idle.ip, flagged_reason: `IP ${idle.ip} burned (blocked by a major provider); no healthy IP was free to take over this domain.` },
    ]);
    expect((await t.query(sql`select action from app_public.platform_audit_log where action = 'domain_ip.reassignment_needed'`)).length).toBeGreaterThanOrEqual(2);
  });
});
