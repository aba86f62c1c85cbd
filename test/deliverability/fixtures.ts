/**
 * Shared set-up for the deliverability tests: a secrets key, stocked DKIM
 * keys, the jobs triggers queued, staff users, sending IPs, and the DNS
 * records a domain publishes in the test DNS server.
 */
import { randomBytes } from 'node:crypto';
import { makeSecretBox } from '../../src/crypto/secrets.ts';
import { generateSealedDkimKey, type SealedDkimKey } from '../../src/dkim/keys.ts';
import type { DnsRecordsDocument } from '../../src/dns/records.ts';
import { sql, type Queryable } from '../../src/db/pg.ts';
import type { TestDnsServer, ZoneRecord } from '../helpers/dns-server.ts';
import type { TestTx } from '../helpers/db.ts';

export const secretsKey = randomBytes(32).toString('hex');
export const secretBox = makeSecretBox(secretsKey);

/** Puts a freshly generated, sealed key pair in the stock new domains take from. */
export async function stockDkimKey(db: Queryable): Promise<SealedDkimKey> {
  const key = await generateSealedDkimKey(secretBox);
  await db.query(sql`
    insert into app_private.dkim_key_pool (public_key, private_key_encrypted, key_bits)
    values (${key.publicKey}, ${key.privateKeyEncrypted}, ${key.bits})
  `);
  return key;
}

export interface QueuedJob {
  task: string;
  payload: Record<string, unknown>;
  key: string | null;
  run_at: Date;
}

export async function queuedJobs(db: Queryable, task?: string): Promise<QueuedJob[]> {
  return db.query(sql`
    select t.identifier as task, j.payload, j.key, j.run_at
    from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
    where ${task ?? null}::text is null or t.identifier = ${task ?? null}
    order by j.id
  `);
}

/** A user who is platform staff with the given staff role (operator has infrastructure.manage). */
export async function staffUser(t: TestTx, role: string, label: string): Promise<string> {
  const user = await t.createUser(`${role}-${label}-${randomBytes(4).toString('hex')}@staff.example`);
  await t.makeStaff(user.id, role);
  return user.id;
}

let octet = 1;
/** A sending IP in the pool (as the owner), with a status set directly for set-up. */
export async function sendingIp(db: Queryable, status = 'available', vpsId: string | null = null): Promise<{ id: string; ip: string }> {
  const ip = `203.0.113.${octet++ % 250}`;
  const [row] = await db.query(sql`
    insert into app_public.smtp_ip_addresses (vps_instance_id, ip_address) values (${vpsId}, ${ip}::inet) returning id
  `);
  const path: Record<string, string[]> = {
    available: [],
    warming: ['warming'],
    warmed: ['warming', 'warmed'],
    degraded: ['warming', 'warmed', 'degraded'],
    quarantined: ['quarantined'],
    burned: ['burned'],
  };
  for (const next of path[status] ?? []) {
    await db.query(sql`update app_public.smtp_ip_addresses set status = ${next} where id = ${row.id}`);
  }
  return { id: row.id, ip };
}

/** Publishes a domain's expected records in the test DNS server, as a tenant would at their provider. */
export function publish(dns: TestDnsServer, domain: string, document: DnsRecordsDocument, ttl = 600): void {
  for (const record of document.records) {
    const host = record.name === '@' ? domain : `${record.name}.${domain}`;
    let zoneRecord: ZoneRecord | null = null;
    if (record.record_type === 'MX') zoneRecord = { type: 'MX', priority: record.priority, exchange: record.value, ttl };
    else if (record.value) zoneRecord = { type: 'TXT', value: record.value, ttl };
    if (zoneRecord) dns.add(host, zoneRecord);
  }
}

/** The platform's own SPF include, listing its sending range. */
export function publishPlatformSpf(dns: TestDnsServer, include = '_spf.penguinmails.io', range = '203.0.113.0/24'): void {
  dns.set(include, [{ type: 'TXT', value: `v=spf1 ip4:${range} -all` }]);
}
