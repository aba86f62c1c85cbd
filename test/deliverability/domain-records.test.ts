/**
 * Adding a domain: the expected SPF, DKIM, DMARC and MX records in the dns_records document's
 * structure, the DKIM key (from the stock, or generated on demand), the shape
 * the database enforces on dns_records, who may do what, and private keys
 * that no API role can reach.
 */
import { DnsRecordsDocument } from '../../src/dns/records.ts';
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { queuedJobs, stockDkimKey } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

async function tenantWith(t: TestTx, roles: string[] = []) {
  const { tenant, owner } = await t.tenantWithOwner('dns');
  const users: Record<string, string> = { owner: owner.id };
  for (const role of roles) {
    const u = await t.createUser(`${role}-${tenant.id.slice(0, 8)}-${Math.random().toString(36).slice(2, 6)}@example.com`);
    await t.addMember(tenant.id, u.id, [role]);
    users[role] = u.id;
  }
  return { tenantId: tenant.id, users };
}

test('a new domain gets the SPF, DKIM, DMARC and MX records to publish; its DKIM key is generated when the stock is empty', async () => {
  await withTx(async (t) => {
    const { tenantId, users } = await tenantWith(t);
    await t.query(sql`delete from app_private.dkim_key_pool`);
    await t.as({ kind: 'member', userId: users.owner!, tenantId });
    const domain = await t.one(sql`insert into app_public.domains (domain) values ('Mail.Acme.example') returning *`);
    await t.as({ kind: 'root' });

    const document = DnsRecordsDocument.parse(domain.dns_records);
    expect(document.records.map((r) => [r.record_type, r.name, r.value, r.verification_status, r.verification_attempts])).toEqual([
      ['SPF', '@', 'v=spf1 include:_spf.penguinmails.io -all', 'pending', 0],
      ['DKIM', 'pm._domainkey', null, 'pending', 0],
      ['DMARC', '_dmarc', 'v=DMARC1; p=quarantine; rua=mailto:dmarc@mail.acme.example', 'pending', 0],
      ['MX', '@', 'mail.penguinmails.io.', 'pending', 0],
    ]);
    expect(document.records[1]).toMatchObject({
      selector: 'pm',
      public_key: null,
      managed_by: 'platform',
      secret_ref: `pm-secretbox://app_private.domain_dkim_keys/${domain.id}/pm`,
      needs_deployment: true,
      source: 'platform',
      ttl: 3600,
    });
    expect(document.records[3]).toMatchObject({ priority: 10, mx_hosts: [] });
    // Not verifiable before its key exists: pending, nothing scheduled yet.
    expect(domain.verification_status).toBe('pending');
    expect(domain.dns_next_check_at).toBeNull();

    const jobs = (await queuedJobs(t.tx)).filter((j) => j.payload.domain_id === domain.id || j.key === 'dkim_key_pool_refill');
    expect(jobs.filter((j) => j.task === 'generate_dkim_key')).toEqual([
      expect.objectContaining({ payload: { tenant_id: tenantId, domain_id: domain.id, selector: 'pm' }, key: `generate_dkim_key:${domain.id}:pm` }),
    ]);
    expect(jobs.filter((j) => j.task === 'dkim_key_pool_refill')).toHaveLength(1);
    expect(jobs.filter((j) => j.task === 'verify_domain')).toEqual([]);

    // The worker's answer: a key for the waiting record, installed once.
    const key = await stockDkimKey(t.tx);
    await t.query(sql`delete from app_private.dkim_key_pool`);
    const install = (pub: string) => sql`
      select app_private.install_dkim_key(${tenantId}, ${domain.id}, 'pm', ${pub}, ${key.privateKeyEncrypted}, ${key.bits}) as installed`;
    expect((await t.one(install(key.publicKey))).installed).toBe(true);
    expect((await t.one(install(key.publicKey))).installed).toBe(false);
    const after = await t.one(sql`select * from app_public.domains where id = ${domain.id}`);
    const dkim = DnsRecordsDocument.parse(after.dns_records).records.find((r) => r.record_type === 'DKIM');
    expect(dkim).toMatchObject({ value: `v=DKIM1; k=rsa; p=${key.publicKey}`, public_key: key.publicKey, needs_deployment: false });
    expect(after.verification_status).toBe('verifying');
    const stored = await t.one(sql`select public_key, key_bits from app_private.domain_dkim_keys where domain_id = ${domain.id}`);
    expect(stored).toEqual({ public_key: key.publicKey, key_bits: 2048 });
    expect((await queuedJobs(t.tx, 'verify_domain')).filter((j) => j.payload.domain_id === domain.id).map((j) => j.key)).toEqual([`verify_domain:${domain.id}`]);
  });
});

test('with a stocked key the records are complete in the statement that adds the domain, and its first check is queued', async () => {
  await withTx(async (t) => {
    const { tenantId, users } = await tenantWith(t, ['admin']);
    await t.query(sql`delete from app_private.dkim_key_pool`);
    const key = await stockDkimKey(t.tx);
    await t.as({ kind: 'member', userId: users.admin!, tenantId });
    const domain = await t.one(sql`insert into app_public.domains (domain, dkim_selector) values ('send.acme.example', 's1') returning *`);
    const toPublish = await t.query(sql`
      select r.* from app_public.domains d, unnest(app_public.domains_records_to_publish(row(d.*)::app_public.domains)) r where d.id = ${domain.id}`);
    await t.as({ kind: 'root' });

    const dkimValue = `v=DKIM1; k=rsa; p=${key.publicKey}`;
    expect(toPublish.map((r) => [r.record_type, r.host, r.type, r.value, r.ttl, r.priority])).toEqual([
      ['SPF', 'send.acme.example', 'TXT', 'v=spf1 include:_spf.penguinmails.io -all', 3600, null],
      ['DKIM', 's1._domainkey.send.acme.example', 'TXT', dkimValue, 3600, null],
      ['DMARC', '_dmarc.send.acme.example', 'TXT', 'v=DMARC1; p=quarantine; rua=mailto:dmarc@send.acme.example', 3600, null],
      ['MX', 'send.acme.example', 'MX', 'mail.penguinmails.io.', 3600, 10],
    ]);
    // Zone-file form: the 410-character value as 255-character strings of one record.
    expect(toPublish[1].zone_value).toBe(`"${dkimValue.slice(0, 255)}" "${dkimValue.slice(255)}"`);
    expect(toPublish[0].zone_value).toBe('"v=spf1 include:_spf.penguinmails.io -all"');

    expect(domain.verification_status).toBe('verifying');
    expect((await t.one(sql`select count(*)::int as n from app_private.dkim_key_pool`)).n).toBe(0);
    expect(await t.query(sql`select selector, public_key from app_private.domain_dkim_keys where domain_id = ${domain.id}`)).toEqual([
      { selector: 's1', public_key: key.publicKey },
    ]);
    const jobs = (await queuedJobs(t.tx)).filter((j) => j.payload.domain_id === domain.id || j.key === 'dkim_key_pool_refill');
    expect(jobs.filter((j) => j.task === 'verify_domain').map((j) => j.payload)).toEqual([{ tenant_id: tenantId, domain_id: domain.id }]);
    expect(jobs.filter((j) => j.task === 'generate_dkim_key')).toEqual([]);
    expect(jobs.filter((j) => j.task === 'dkim_key_pool_refill')).toHaveLength(1);
  });
});

test('the DKIM record always shows the stored key: a replaced key must be published (and verified) again', async () => {
  await withTx(async (t) => {
    const { tenantId } = await tenantWith(t);
    const first = await stockDkimKey(t.tx);
    const domain = await t.one(sql`
      insert into app_public.domains (tenant_id, domain, verification_status, verified_at) values (${tenantId}, 'replaced.example', 'verified', now())
      returning id, dns_records`);
    const dkimOf = (doc: unknown) => DnsRecordsDocument.parse(doc).records.find((r) => r.record_type === 'DKIM');
    expect(dkimOf(domain.dns_records)).toMatchObject({ public_key: first.publicKey });
    const second = await stockDkimKey(t.tx);
    await t.query(sql`update app_private.domain_dkim_keys set public_key = ${second.publicKey}, private_key_encrypted = ${second.privateKeyEncrypted} where domain_id = ${domain.id}`);
    const after = await t.one(sql`select verification_status, dns_records from app_public.domains where id = ${domain.id}`);
    expect(dkimOf(after.dns_records)).toMatchObject({ value: `v=DKIM1; k=rsa; p=${second.publicKey}`, public_key: second.publicKey, verification_status: 'pending', verification_attempts: 0 });
    // Still verified until the next check finds the old key published.
    expect(after.verification_status).toBe('verified');
  });
});

test('a key claimed by an insert that did not happen goes back to the stock', async () => {
  await withTx(async (t) => {
    const { tenantId } = await tenantWith(t);
    await t.query(sql`delete from app_private.dkim_key_pool`);
    await t.query(sql`insert into app_public.domains (tenant_id, domain) values (${tenantId}, 'twice.example')`);
    const key = await stockDkimKey(t.tx);
    await t.query(sql`insert into app_public.domains (tenant_id, domain) values (${tenantId}, 'twice.example') on conflict do nothing`);
    expect(await t.one(sql`select public_key, claimed_domain_id is not null as claimed from app_private.dkim_key_pool`)).toEqual({ public_key: key.publicKey, claimed: true });
    expect((await t.one(sql`select app_private.release_orphaned_dkim_claims() as n`)).n).toBe(1);
    expect(await t.one(sql`select claimed_domain_id from app_private.dkim_key_pool`)).toEqual({ claimed_domain_id: null });
  });
});

test('the expected values come from the platform settings staff keep in system_config', async () => {
  await withTx(async (t) => {
    const { tenantId, users } = await tenantWith(t);
    const ops = await t.createUser(`ops-${tenantId.slice(0, 8)}@staff.example`);
    await t.makeStaff(ops.id, 'superadmin');
    await t.as({ kind: 'staff', userId: ops.id });
    await t.query(sql`select app_public.set_system_config('deliverability.spf_include', '"_spf.outbound.example"')`);
    await t.query(sql`select app_public.set_system_config('deliverability.mx_host', '"mx.inbound.example"')`);
    await t.query(sql`select app_public.set_system_config('deliverability.dmarc_policy', '"reject"')`);
    await t.as({ kind: 'member', userId: users.owner!, tenantId });
    const domain = await t.one(sql`insert into app_public.domains (domain) values ('custom.example') returning dns_records`);
    const records = DnsRecordsDocument.parse(domain.dns_records).records;
    expect(records.find((r) => r.record_type === 'SPF')?.value).toBe('v=spf1 include:_spf.outbound.example -all');
    expect(records.find((r) => r.record_type === 'MX')?.value).toBe('mx.inbound.example.');
    expect(records.find((r) => r.record_type === 'DMARC')).toMatchObject({ value: 'v=DMARC1; p=reject; rua=mailto:dmarc@custom.example', policy: 'reject' });
  });
});

test('only owners and admins add domains; nobody writes dns_records directly; a malformed document is refused with the reason', async () => {
  await withTx(async (t) => {
    const { tenantId, users } = await tenantWith(t, ['member', 'viewer']);
    for (const role of ['member', 'viewer']) {
      await t.as({ kind: 'member', userId: users[role]!, tenantId });
      const error = await t.error(sql`insert into app_public.domains (domain) values (${`${role}.example`})`);
      expect(error.code).toBe('42501');
    }
    await t.as({ kind: 'member', userId: users.owner!, tenantId });
    const [domain] = await t.query(sql`insert into app_public.domains (domain) values ('shape.example') returning id, dns_records`);
    const direct = await t.error(sql`update app_public.domains set dns_records = '{"records": []}' where id = ${domain.id}`);
    expect(direct.code).toBe('42501');
    await t.as({ kind: 'root' });

    const problem = async (doc: unknown) => (await t.one(sql`select app_hidden.dns_records_problem(${JSON.stringify(doc)}::jsonb) as p`)).p;
    const base = { record_type: 'SPF', name: '@', value: 'v=spf1 -all', verification_status: 'pending', verification_attempts: 0 };
    expect(await problem({ records: [base] })).toBeNull();
    expect(await problem({ records: [{ ...base, record_type: 'SPFX' }] })).toBe('records[0]: record_type must be one of SPF, DKIM, DMARC, MX, A, AAAA, CNAME, not "SPFX"');
    expect(await problem({ records: [{ ...base, colour: 'red' }] })).toBe('records[0]: SPF record has unknown field(s) colour');
    expect(await problem({ records: [{ ...base, verification_status: 'ok' }] })).toBe('records[0]: SPF record @: verification_status must be pending, verified, failed or error');
    expect(await problem({ records: [{ ...base, record_type: 'MX', priority: 70000 }] })).toBe('records[0]: MX record @: priority must be a whole number from 0 to 65535');
    expect(await problem({ records: [{ ...base, record_type: 'DKIM', name: 'x._domainkey', selector: 'pm', value: null, public_key: null }] })).toBe(
      'records[0]: DKIM record x._domainkey: name must be pm._domainkey',
    );
    expect(await problem({ records: [base, base] })).toBe('the SPF @ record is listed twice');
    expect(await problem({ records: [{ ...base, value: null }] })).toBe('records[0]: SPF record @: value is required');
    expect(await problem({ entries: [] })).toBe('dns_records must be an object {"records": [...]}');

    const before = await t.one(sql`select dns_records from app_public.domains where id = ${domain.id}`);
    const refused = await t.error(sql`update app_public.domains set dns_records = ${JSON.stringify({ records: [{ ...base, ttl: -5 }] })}::jsonb where id = ${domain.id}`);
    expect(refused).toMatchObject({ code: '23514', constraint: 'domains_dns_records_valid' });
    expect((await t.one(sql`select dns_records from app_public.domains where id = ${domain.id}`)).dns_records).toEqual(before.dns_records);
  });
});

test('no API role can read DKIM private keys or the key stock', async () => {
  await withTx(async (t) => {
    const { tenantId, users } = await tenantWith(t);
    await stockDkimKey(t.tx);
    await t.as({ kind: 'member', userId: users.owner!, tenantId });
    await t.query(sql`insert into app_public.domains (domain) values ('secret.example')`);
    await t.as({ kind: 'root' });
    const staff = await t.createUser(`staff-${tenantId.slice(0, 8)}@staff.example`);
    await t.makeStaff(staff.id, 'superadmin');
    for (const persona of [
      { kind: 'member' as const, userId: users.owner!, tenantId },
      { kind: 'staff' as const, userId: staff.id },
      { kind: 'analytics' as const },
      { kind: 'anonymous' as const },
    ]) {
      await t.as(persona);
      for (const table of ['domain_dkim_keys', 'dkim_key_pool']) {
        const error = await t.error(sql`select * from ${sql.ident('app_private', table)}`);
        expect([persona.kind, table, error.code, error.message.split('\n')[0]]).toEqual([persona.kind, table, '42501', 'permission denied for schema app_private']);
      }
    }
  });
});
