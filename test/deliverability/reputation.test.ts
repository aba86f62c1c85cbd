/**
 * IP reputation end to end: the worker looks each IP up in the configured
 * blocklists through a real DNS server on 127.0.0.1; a listed IP is
 * quarantined and its domains move to a healthy IP (staff assigned them
 * through the GraphQL API, the tenant watches them move), or are flagged when
 * no IP is free; a delisted IP leaves quarantine; a failed lookup or a list's
 * error answer never counts as a listing or a delisting.
 */
import os from 'node:os';
import path from 'node:path';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { startWorker, type WorkerHandle } from '../../src/worker/runner.ts';
import { registerUser, startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { resolverFor, startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { eventually } from '../helpers/eventually.ts';
import { secretBox, sendingIp } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

const ZEN = 'zen.bl.test';
const SPAM = 'spam.bl.test';

let t: TestApi;
let dns: TestDnsServer;
let worker: WorkerHandle;
let staffToken: string;

beforeAll(async () => {
  dns = await startDnsServer();
  t = await startTestApi();
  const env = testEnv({ LOG_LEVEL: 'error', DNSBL_ZONES: `${ZEN},${SPAM}` });
  const systemMailer = makeSystemMailer({ from: env.MAIL_FROM, outboxDir: path.join(os.tmpdir(), 'pm-outbox') });
  worker = await startWorker(t.urls.owner, { env, systemMailer, dns: resolverFor(dns, 2_000), secretBox }, { pollInterval: 50, crontab: '' });
  const [staff] = await t.owner.query(sql`select id from app_private.create_user('operator-rep@staff.example', 'a long staff password')`);
  await t.owner.query(sql`insert into app_public.staff_members (user_id, role_id) select ${staff.id}, id from app_public.staff_roles where name = 'operator'`);
  staffToken = await t.session({ role: 'staff', user_id: staff.id, tenant_id: null, expires_at: new Date(Date.now() + 3_600_000) });
});
afterAll(async () => {
  await worker.stop();
  await t.close();
  await dns.close();
});

const listingName = (ip: string, zone: string) => `${ip.split('.').reverse().join('.')}.${zone}`;
const list = (ip: string, zone: string, code = '127.0.0.2') =>
  dns.set(listingName(ip, zone), [
    { type: 'A', address: code },
    { type: 'TXT', value: `${ip} is listed on ${zone}` },
  ]);
const delist = (ip: string, zone: string) => dns.set(listingName(ip, zone), []);

async function ipState(id: string) {
  const [row] = await t.owner.query(sql`
    select status, reputation_state, auto_quarantined, provider_blacklist_status as lists, assigned_count, status_reason, last_reputation_check_at
    from app_public.smtp_ip_addresses where id = ${id}`);
  return row;
}

/**
 * The IP's state once its assigned_count is `count`: at once on one
 * PostgreSQL (a trigger keeps it), after the recount_ip_assignments job on
 * Citus (README, Scale-out).
 */
async function ipStateCounted(id: string, count: number) {
  let last: Awaited<ReturnType<typeof ipState>>;
  try {
    await eventually(async () => (last = await ipState(id)).assigned_count === count, 10_000);
  } catch {
    throw new Error(`assigned_count did not become ${count}; last state: ${JSON.stringify(last)}`);
  }
  return ipState(id);
}

/** Runs the scheduled sweep and waits until every IP that is not retired has been checked again. */
async function checkAll(): Promise<void> {
  const [{ marker }] = await t.owner.query(sql`select clock_timestamp() as marker`);
  await t.owner.query(sql`select app_private.queue_reputation_checks()`);
  await eventually(async () => {
    const [{ pending }] = await t.owner.query(sql`
      select count(*)::int as pending from app_public.smtp_ip_addresses
      where status <> 'burned' and (last_reputation_check_at is null or last_reputation_check_at < ${marker})`);
    return pending === 0;
  }, 15_000);
}

const ASSIGN = `mutation($domain: UUID!, $ip: UUID!) { assignSmtpIpToDomain(input: { domainId: $domain, smtpIpAddressId: $ip }) { result { rowId status } } }`;
const MY_ASSIGNMENTS = `{ domainIpAssignments { nodes { status statusReason flaggedReason smtpIpAddress { ipAddress status } } } }`;

test('a listed IP is quarantined and its domains move; with no healthy IP left they are flagged; delisted IPs leave quarantine', async () => {
  const tenant = await registerUser(t, 'reputation');
  const [domain] = await t.owner.query(sql`insert into app_public.domains (tenant_id, domain) values (${tenant.tenantId}, 'rep.acme.example') returning id`);
  const a = await sendingIp(t.owner, 'warmed');
  const b = await sendingIp(t.owner, 'warmed');
  expect((await t.ok(ASSIGN, { domain: domain.id, ip: a.id }, staffToken)).assignSmtpIpToDomain.result.status).toBe('ACTIVE');

  // The tenant cannot assign IPs.
  const refused = await t.gql(ASSIGN, { domain: domain.id, ip: b.id }, tenant.jwtToken);
  expect(refused.errors?.[0]?.extensions?.code).toMatch(/FORBIDDEN|GRAPHQL_VALIDATION_FAILED/);

  list(a.ip, ZEN);
  await checkAll();
  const quarantined = await ipStateCounted(a.id, 0);
  expect(quarantined).toMatchObject({ status: 'quarantined', reputation_state: 'poor', auto_quarantined: true, assigned_count: 0 });
  expect(quarantined.status_reason).toBe(`Listed on ${ZEN} (127.0.0.2)`);
  expect(quarantined.lists[ZEN]).toMatchObject({ listed: true, return_code: '127.0.0.2', return_codes: ['127.0.0.2'], reason: `${a.ip} is listed on ${ZEN}` });
  expect(quarantined.lists[ZEN].checked_at).toEqual(quarantined.lists[ZEN].last_listed_at);
  expect(quarantined.lists[SPAM]).toEqual({ listed: false, checked_at: expect.any(String) });
  expect(await ipStateCounted(b.id, 1)).toMatchObject({ status: 'warmed', reputation_state: 'good', assigned_count: 1 });

  const moved = (await t.ok(MY_ASSIGNMENTS, {}, tenant.jwtToken)).domainIpAssignments.nodes as Array<{ status: string }>;
  moved.sort((x, y) => x.status.localeCompare(y.status));
  expect(moved).toEqual([
    { status: 'ACTIVE', statusReason: `Took over from ${a.ip}: IP ${a.ip} quarantined (Listed on ${ZEN} (127.0.0.2))`, flaggedReason: null, smtpIpAddress: { ipAddress: b.ip, status: 'WARMED' } },
    // The tenant no longer sees the IP it left (only IPs assigned to it now).
    { status: 'EXPIRED', statusReason: `Moved to ${b.ip}: IP ${a.ip} quarantined (Listed on ${ZEN} (127.0.0.2))`, flaggedReason: null, smtpIpAddress: null },
  ]);

  // Now b is listed on both lists: critical, and nowhere to move the domain.
  list(b.ip, ZEN, '127.0.0.4');
  list(b.ip, SPAM, '127.0.0.3');
  await checkAll();
  expect(await ipStateCounted(b.id, 1)).toMatchObject({ status: 'quarantined', reputation_state: 'critical', assigned_count: 1 });
  const [flagged] = await t.owner.query(sql`select flagged_reason from app_public.domain_ip_assignments where smtp_ip_address_id = ${b.id} and status = 'active'`);
  expect(flagged.flagged_reason).toBe(`IP ${b.ip} quarantined (Listed on ${SPAM} (127.0.0.3), ${ZEN} (127.0.0.4)); no healthy IP was free to take over this domain.`);

  // a is delisted, but one list times out: not enough to leave quarantine.
  delist(a.ip, ZEN);
  dns.fail(listingName(a.ip, SPAM), 'timeout');
  await checkAll();
  const unsure = await ipState(a.id);
  expect(unsure.status).toBe('quarantined');
  expect(unsure.lists[SPAM]).toMatchObject({ listed: false, error: `the DNS lookup of A ${listingName(a.ip, SPAM)} timed out; the listing status on ${SPAM} is unknown` });
  dns.fail(listingName(a.ip, SPAM), null);
  await checkAll();
  const released = await ipState(a.id);
  expect(released).toMatchObject({ status: 'available', reputation_state: 'fair', auto_quarantined: false, status_reason: `Delisted by every blocklist checked (${SPAM}, ${ZEN})` });
  // Delisted, with the memory of the listing that makes its reputation only fair for 30 days.
  expect(released.lists[ZEN]).toEqual({ listed: false, checked_at: expect.any(String), last_listed_at: expect.any(String) });

  // b delisted: it still carries the flagged domain, so it is assigned again and the flag is cleared.
  delist(b.ip, ZEN);
  delist(b.ip, SPAM);
  await checkAll();
  expect(await ipStateCounted(b.id, 1)).toMatchObject({ status: 'assigned', reputation_state: 'fair', assigned_count: 1 });
  const [cleared] = await t.owner.query(sql`select flagged_reason from app_public.domain_ip_assignments where smtp_ip_address_id = ${b.id} and status = 'active'`);
  expect(cleared.flagged_reason).toBeNull();

  const log = await t.owner.query(sql`select action, changes ->> 'automatic' as automatic from app_public.platform_audit_log where record_id in (${a.id}, ${b.id}) and action like 'smtp_ip.%' order by id`);
  expect(log.map((l) => l.action)).toEqual(['smtp_ip.quarantined', 'smtp_ip.quarantined', 'smtp_ip.available', 'smtp_ip.assigned']);
  expect(log.every((l) => l.automatic === 'true')).toBe(true);
});

test("a list's own error answer is not a listing; a quarantine set by staff is not lifted by a clean check; retired IPs are not checked", async () => {
  const c = await sendingIp(t.owner, 'available');
  dns.set(listingName(c.ip, ZEN), [{ type: 'A', address: '127.255.255.254' }]);
  await checkAll();
  const refusedList = await ipState(c.id);
  expect(refusedList).toMatchObject({ status: 'available', reputation_state: 'good' });
  expect(refusedList.lists[ZEN]).toMatchObject({
    listed: false,
    error: `${ZEN} answered 127.255.255.254 for ${listingName(c.ip, ZEN)}, which is not a listing but the list refusing or failing the query; the listing status is unknown`,
  });

  const SET = `mutation($ip: UUID!, $status: SmtpIpAddressStatus!, $reason: String) { setSmtpIpStatus(input: { smtpIpAddressId: $ip, status: $status, reason: $reason }) { result { status statusReason } } }`;
  const manual = await sendingIp(t.owner, 'warmed');
  expect((await t.ok(SET, { ip: manual.id, status: 'QUARANTINED', reason: 'abuse complaint' }, staffToken)).setSmtpIpStatus.result).toEqual({
    status: 'QUARANTINED',
    statusReason: 'abuse complaint',
  });
  const illegal = await t.gql(SET, { ip: manual.id, status: 'WARMED' }, staffToken);
  expect(illegal.errors?.[0]).toMatchObject({
    message: `The IP ${manual.ip} cannot go from quarantined to warmed; from quarantined it can go to available, assigned, burned.`,
    extensions: { code: 'CONFLICT' },
  });
  const retired = await sendingIp(t.owner, 'burned');
  await checkAll();
  expect(await ipState(manual.id)).toMatchObject({ status: 'quarantined', auto_quarantined: false, reputation_state: 'good' });
  expect((await ipState(retired.id)).last_reputation_check_at).toBeNull();
  expect(dns.queries.some((q) => q.includes(retired.ip.split('.').reverse().join('.')))).toBe(false);
});
