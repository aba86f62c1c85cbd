/**
 * What the database does with DNS check results (app_private.record_domain_check):
 * per-record status, attempts and errors, the domain roll-up, backoff of the
 * next check, a temporary error that never unverifies a verified domain,
 * malformed results refused, the verify_domain mutation and the sweep, and
 * DKIM key rotation.
 */
import { DnsRecordsDocument } from '../../src/dns/records.ts';
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { queuedJobs, stockDkimKey } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

type Status = 'verified' | 'failed' | 'error';
const RECORDS = [
  ['SPF', '@'],
  ['DKIM', 'pm._domainkey'],
  ['DMARC', '_dmarc'],
  ['MX', '@'],
] as const;

function results(statuses: Partial<Record<(typeof RECORDS)[number][0], Status>>, ttl = 600) {
  return RECORDS.map(([type, name]) => {
    const status = statuses[type] ?? 'verified';
    return {
      record_type: type,
      name,
      status,
      error: status === 'verified' ? null : `${type} problem (${status})`,
      ttl: status === 'verified' ? ttl + RECORDS.findIndex(([t]) => t === type) : null,
      details: status === 'verified' ? (type === 'DMARC' ? { policy: 'reject' } : type === 'MX' ? { mx_hosts: ['mx1.example.net'] } : {}) : {},
    };
  });
}

async function domainWithKey(t: TestTx) {
  const { tenant, owner } = await t.tenantWithOwner('verify');
  await stockDkimKey(t.tx);
  await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
  const domain = await t.one(sql`insert into app_public.domains (domain) values (${`d${Math.random().toString(36).slice(2, 8)}.example`}) returning id`);
  await t.as({ kind: 'root' });
  return { tenantId: tenant.id, ownerId: owner.id, domainId: domain.id as string };
}

async function record(t: TestTx, tenantId: string, domainId: string, checks: unknown) {
  return t.one(sql`
    select d.*, extract(epoch from d.dns_next_check_at - now())::int as next_in
    from app_private.record_domain_check(${tenantId}, ${domainId}, ${JSON.stringify(checks)}::jsonb) d
  `);
}

test('a failing domain is re-checked at 1, 2, 4 … minutes; once verified, daily; each record keeps its own status, attempts and error', async () => {
  await withTx(async (t) => {
    const { tenantId, domainId } = await domainWithKey(t);
    const failing = results({ SPF: 'failed', DKIM: 'failed', DMARC: 'failed', MX: 'failed' });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const d = await record(t, tenantId, domainId, failing);
      expect(d).toMatchObject({ verification_status: 'failed', verified_at: null, dns_verification_attempts: i + 1 });
      delays.push(d.next_in);
    }
    expect(delays).toEqual([60, 120, 240, 480]);
    let d = await t.one(sql`select * from app_public.domains where id = ${domainId}`);
    expect(d.dns_verification_error).toBe('SPF problem (failed) DKIM problem (failed) DMARC problem (failed) MX problem (failed)');
    expect(DnsRecordsDocument.parse(d.dns_records).records.map((r) => [r.record_type, r.verification_status, r.verification_attempts, r.verification_error])).toEqual([
      ['SPF', 'failed', 4, 'SPF problem (failed)'],
      ['DKIM', 'failed', 4, 'DKIM problem (failed)'],
      ['DMARC', 'failed', 4, 'DMARC problem (failed)'],
      ['MX', 'failed', 4, 'MX problem (failed)'],
    ]);

    // Three records fixed: still failed, the streak goes on.
    d = await record(t, tenantId, domainId, results({ MX: 'failed' }));
    expect(d).toMatchObject({ verification_status: 'failed', dns_verification_attempts: 5, dns_verification_error: 'MX problem (failed)', next_in: 960 });

    d = await record(t, tenantId, domainId, results({}));
    expect(d).toMatchObject({ verification_status: 'verified', dns_verification_attempts: 1, dns_verification_error: null, next_in: 86400, dns_ttl_observed: 600 });
    expect(d.verified_at).not.toBeNull();
    expect(d.dns_last_verified_at).toEqual(d.verified_at);
    const records = DnsRecordsDocument.parse(d.dns_records).records;
    // Attempts count the checks since each record's status last changed.
    expect(records.map((r) => [r.record_type, r.verification_status, r.verification_attempts, r.verification_error])).toEqual([
      ['SPF', 'verified', 2, null],
      ['DKIM', 'verified', 2, null],
      ['DMARC', 'verified', 2, null],
      ['MX', 'verified', 1, null],
    ]);
    expect(records.every((r) => typeof r.last_verified_at === 'string')).toBe(true);
    expect(records.find((r) => r.record_type === 'DMARC')).toMatchObject({ policy: 'reject' });
    expect(records.find((r) => r.record_type === 'MX')).toMatchObject({ mx_hosts: ['mx1.example.net'] });

    d = await record(t, tenantId, domainId, results({}));
    expect(d).toMatchObject({ verification_status: 'verified', dns_verification_attempts: 2, next_in: 86400 });
  });
});

test('a temporary DNS error keeps a verified domain verified and is retried sooner; a real failure unverifies it', async () => {
  await withTx(async (t) => {
    const { tenantId, domainId } = await domainWithKey(t);
    const verified = await record(t, tenantId, domainId, results({}));
    const since = verified.verified_at;

    let d = await record(t, tenantId, domainId, results({ DKIM: 'error' }));
    expect(d).toMatchObject({ verification_status: 'verified', next_in: 300 });
    expect(d.verified_at).toEqual(since);
    expect(d.dns_last_verified_at).toEqual(verified.dns_last_verified_at);
    expect(d.dns_verification_error).toBe('Still verified; a temporary DNS problem will be retried: DKIM problem (error)');
    const dkim = DnsRecordsDocument.parse(d.dns_records).records.find((r) => r.record_type === 'DKIM')!;
    expect(dkim).toMatchObject({ verification_status: 'error', verification_attempts: 1, verification_error: 'DKIM problem (error)' });
    expect(dkim.last_verified_at).toBeTruthy();

    d = await record(t, tenantId, domainId, results({ DKIM: 'error' }));
    expect(d).toMatchObject({ verification_status: 'verified', next_in: 600 });

    d = await record(t, tenantId, domainId, results({ SPF: 'failed', DKIM: 'error' }));
    expect(d).toMatchObject({ verification_status: 'failed', verified_at: null, dns_verification_attempts: 1, next_in: 60 });
  });
});

test('a domain that was never verified shows a temporary error as error, not failed', async () => {
  await withTx(async (t) => {
    const { tenantId, domainId } = await domainWithKey(t);
    const d = await record(t, tenantId, domainId, results({ MX: 'error' }));
    expect(d).toMatchObject({ verification_status: 'error', verified_at: null, dns_verification_error: 'MX problem (error)', next_in: 60 });
  });
});

test('results of a check that started before the records changed are not recorded; the check runs again', async () => {
  await withTx(async (t) => {
    const { tenantId, domainId } = await domainWithKey(t);
    const plan = await t.one(sql`select app_private.domain_check_plan(${tenantId}, ${domainId}) as p`);
    expect(plan.p).toMatchObject({ domain: expect.stringMatching(/\.example$/), spf_include: '_spf.penguinmails.io', sending_ips: [] });
    await t.query(sql`delete from graphile_worker._private_jobs where key = ${`verify_domain:${domainId}`}`);
    // Meanwhile the DKIM key is replaced: the record to publish changes.
    const other = await stockDkimKey(t.tx);
    await t.query(sql`update app_private.domain_dkim_keys set public_key = ${other.publicKey} where domain_id = ${domainId}`);
    await t.query(sql`delete from graphile_worker._private_jobs where key = ${`verify_domain:${domainId}`}`);
    const before = await t.one(sql`select dns_records, verification_status from app_public.domains where id = ${domainId}`);
    const stale = await t.one(sql`select (app_private.record_domain_check(${tenantId}, ${domainId}, ${JSON.stringify(results({}))}::jsonb, ${plan.p.fingerprint})).verification_status as s`);
    expect(stale.s).toBe(before.verification_status);
    expect((await t.one(sql`select dns_records from app_public.domains where id = ${domainId}`)).dns_records).toEqual(before.dns_records);
    expect((await queuedJobs(t.tx, 'verify_domain')).filter((j) => j.key === `verify_domain:${domainId}`)).toHaveLength(1);
    const fresh = await t.one(sql`select app_private.domain_check_plan(${tenantId}, ${domainId}) as p`);
    const recorded = await t.one(sql`select (app_private.record_domain_check(${tenantId}, ${domainId}, ${JSON.stringify(results({}))}::jsonb, ${fresh.p.fingerprint})).verification_status as s`);
    expect(recorded.s).toBe('verified');
  });
});

test('of two overlapping checks the one that asked DNS later wins, whichever finishes last', async () => {
  await withTx(async (t) => {
    const { tenantId, domainId } = await domainWithKey(t);
    // The check queued at creation starts; the tenant publishes and presses
    // verify; the second check starts, sees the records and finishes first.
    const early = await t.one(sql`select app_private.domain_check_plan(${tenantId}, ${domainId}) as p`);
    const late = await t.one(sql`select app_private.domain_check_plan(${tenantId}, ${domainId}) as p`);
    // Compared in SQL: planned_at has microseconds, which Date.parse drops (two statements may share a millisecond).
    expect((await t.one(sql`select ${late.p.planned_at}::timestamptz > ${early.p.planned_at}::timestamptz as later`)).later).toBe(true);
    const recordAs = (plan: { fingerprint: string; planned_at: string }, checks: unknown) =>
      t.one(sql`select d.* from app_private.record_domain_check(${tenantId}, ${domainId}, ${JSON.stringify(checks)}::jsonb, ${plan.fingerprint}, ${plan.planned_at}) d`);
    const verified = await recordAs(late.p, results({}));
    expect(verified).toMatchObject({ verification_status: 'verified', dns_checked_as_of: new Date(late.p.planned_at) });
    // The first check, which asked before the records existed, ends now.
    const after = await recordAs(early.p, results({ SPF: 'failed', DKIM: 'failed', DMARC: 'failed', MX: 'failed' }));
    expect(after).toEqual(verified);
    // A check planned after the recorded one is applied, failing or not.
    const next = await t.one(sql`select app_private.domain_check_plan(${tenantId}, ${domainId}) as p`);
    expect(await recordAs(next.p, results({ SPF: 'failed' }))).toMatchObject({ verification_status: 'failed', dns_checked_as_of: new Date(next.p.planned_at) });
  });
});

test('malformed results are refused with the reason and change nothing', async () => {
  await withTx(async (t) => {
    const { tenantId, domainId } = await domainWithKey(t);
    const before = await t.one(sql`select * from app_public.domains where id = ${domainId}`);
    for (const [checks, message] of [
      [{ not: 'an array' }, 'Malformed DNS check results: checks must be a JSON array.'],
      [[{ record_type: 'SPF', name: '@', status: 'ok' }], 'Malformed DNS check results: checks[0]: status must be verified, failed or error.'],
      [[{ record_type: 'SPF', name: '@', status: 'failed', error: '' }], 'Malformed DNS check results: checks[0]: a failed or errored check needs an error message.'],
      [[{ record_type: 'TLSA', name: '@', status: 'verified' }], 'Malformed DNS check results: checks[0]: record_type is missing or unknown.'],
    ] as const) {
      const error = await t.error(sql`select app_private.record_domain_check(${tenantId}, ${domainId}, ${JSON.stringify(checks)}::jsonb)`);
      expect([error.code, error.message]).toEqual(['INVAL', message]);
    }
    expect(await t.one(sql`select * from app_public.domains where id = ${domainId}`)).toEqual(before);
  });
});

test('verify_domain queues a check now for members; viewers and other organisations are refused; the sweep queues due domains', async () => {
  await withTx(async (t) => {
    const { tenantId, ownerId, domainId } = await domainWithKey(t);
    const viewer = await t.createUser(`viewer-${tenantId.slice(0, 8)}@example.com`);
    await t.addMember(tenantId, viewer.id, ['viewer']);
    const other = await t.tenantWithOwner('other');

    await t.query(sql`update graphile_worker._private_jobs set run_at = now() + interval '1 hour' where key = ${`verify_domain:${domainId}`}`);
    await t.as({ kind: 'member', userId: ownerId, tenantId });
    const d = await t.one(sql`select * from app_public.verify_domain(${domainId})`);
    expect(d.id).toBe(domainId);
    await t.as({ kind: 'root' });
    const [job] = await queuedJobs(t.tx, 'verify_domain').then((jobs) => jobs.filter((j) => j.key === `verify_domain:${domainId}`));
    expect(job!.run_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

    await t.as({ kind: 'member', userId: viewer.id, tenantId });
    const denied = await t.error(sql`select app_public.verify_domain(${domainId})`);
    expect([denied.code, denied.message]).toEqual(['DNIED', "Checking a domain's DNS needs the member role or above in this organisation."]);
    await t.as({ kind: 'member', userId: other.owner.id, tenantId: other.tenant.id });
    const missing = await t.error(sql`select app_public.verify_domain(${domainId})`);
    expect([missing.code, missing.message]).toEqual(['NTFND', `There is no domain ${domainId} in this organisation.`]);
    await t.as({ kind: 'root' });

    await t.query(sql`delete from graphile_worker._private_jobs where key = ${`verify_domain:${domainId}`}`);
    await t.query(sql`update app_public.domains set dns_next_check_at = now() + interval '1 minute' where id = ${domainId}`);
    await t.query(sql`select app_private.queue_due_domain_checks()`);
    expect((await queuedJobs(t.tx, 'verify_domain')).filter((j) => j.key === `verify_domain:${domainId}`)).toEqual([]);
    await t.query(sql`select app_private.queue_due_domain_checks(now() + interval '2 minutes')`);
    expect((await queuedJobs(t.tx, 'verify_domain')).filter((j) => j.key === `verify_domain:${domainId}`)).toHaveLength(1);
  });
});

test('rotating the DKIM key adds a new selector that takes over only once it verifies', async () => {
  await withTx(async (t) => {
    const { tenantId, ownerId, domainId } = await domainWithKey(t);
    await record(t, tenantId, domainId, results({}));
    const next = await stockDkimKey(t.tx);
    await t.as({ kind: 'member', userId: ownerId, tenantId });
    const rotated = await t.one(sql`select * from app_public.rotate_domain_dkim_key(${domainId})`);
    const again = await t.error(sql`select app_public.rotate_domain_dkim_key(${domainId})`);
    await t.as({ kind: 'root' });

    const dkims = DnsRecordsDocument.parse(rotated.dns_records).records.filter((r) => r.record_type === 'DKIM');
    expect(dkims).toHaveLength(2);
    const [current, incoming] = dkims as [Extract<(typeof dkims)[number], { record_type: 'DKIM' }>, Extract<(typeof dkims)[number], { record_type: 'DKIM' }>];
    expect(current).toMatchObject({ selector: 'pm', role: 'active', verification_status: 'verified' });
    expect(incoming.selector).toMatch(/^pm-\d{14}$/);
    expect(incoming).toMatchObject({ role: 'next', public_key: next.publicKey, verification_status: 'pending' });
    expect(rotated).toMatchObject({ verification_status: 'verified', dkim_selector: 'pm' });
    expect([again.code, again.message]).toEqual([
      'STATE',
      `A new DKIM key (${incoming.name}.${rotated.domain}) is still waiting to be published and verified; publish it before rotating again.`,
    ]);

    // The new record is not published yet: the domain stays verified and keeps signing with pm.
    const checks: Array<Record<string, unknown>> = [...results({}), { record_type: 'DKIM', name: incoming.name, status: 'failed', error: 'not published yet', ttl: null, details: {} }];
    let d = await record(t, tenantId, domainId, checks);
    expect(d).toMatchObject({ verification_status: 'verified', dkim_selector: 'pm' });

    checks[4] = { record_type: 'DKIM', name: incoming.name, status: 'verified', error: null, ttl: 300, details: {} };
    d = await record(t, tenantId, domainId, checks);
    expect(d).toMatchObject({ verification_status: 'verified', dkim_selector: incoming.selector });
    const after = DnsRecordsDocument.parse(d.dns_records).records.filter((r) => r.record_type === 'DKIM');
    expect(after).toEqual([expect.objectContaining({ selector: incoming.selector, role: 'active' })]);
    expect(await t.query(sql`select selector, retired_at is not null as retired from app_private.domain_dkim_keys where domain_id = ${domainId} order by retired_at nulls first`)).toEqual([
      { selector: incoming.selector, retired: false },
      { selector: 'pm', retired: true },
    ]);
  });
});
