/**
 * The sandbox's DNS zone, read from the database at every question: for every
 * domain of every tenant, exactly the records its dns_records document asks
 * to publish (SPF, DKIM once its key exists, DMARC, MX, and any A, AAAA or
 * CNAME), and at the platform's SPF include (deliverability.spf_include) an
 * SPF record listing the sandbox's own sending address (127.0.0.1) and every
 * platform sending IP. Names at or below a domain that have no record of the
 * asked type answer NODATA; every other name NXDOMAIN.
 */
import type pg from 'pg';
import type { ZoneAnswer, ZoneLookup, ZoneRecord, ZoneRecordType } from './zone-dns.ts';

/** What a record of a dns_records document becomes in DNS. */
const DNS_TYPE: Record<string, ZoneRecordType> = { SPF: 'TXT', DKIM: 'TXT', DMARC: 'TXT', MX: 'MX', A: 'A', AAAA: 'AAAA', CNAME: 'CNAME' };

interface PublishedRow {
  record_type: string;
  value: string;
  priority: number | null;
  ttl: number | null;
}

function zoneRecord(row: PublishedRow): ZoneRecord {
  const ttl = row.ttl ?? undefined;
  switch (DNS_TYPE[row.record_type]) {
    case 'MX':
      return { type: 'MX', priority: row.priority ?? 10, exchange: row.value, ttl };
    case 'A':
      return { type: 'A', address: row.value, ttl };
    case 'AAAA':
      return { type: 'AAAA', address: row.value, ttl };
    case 'CNAME':
      return { type: 'CNAME', target: row.value, ttl };
    default:
      return { type: 'TXT', value: row.value, ttl };
  }
}

/** The SPF record the sandbox publishes at the platform include: the given sending addresses, nothing else. */
export function platformSpf(addresses: readonly string[]): string {
  return ['v=spf1', ...addresses.map((a) => (a.includes(':') ? `ip6:${a}` : `ip4:${a}`)), '-all'].join(' ');
}

/** The zone over the owner pool; `senderAddress` is where sandbox mail comes from (the catcher sees it as the client). */
export function makeSandboxZone(pool: pg.Pool, senderAddress: string): ZoneLookup {
  return async (name: string, type: ZoneRecordType): Promise<ZoneAnswer> => {
    const { rows } = await pool.query<PublishedRow & { at_name: boolean; platform_include: string; sending_ips: string[] | null }>(
      `with published as (
         select r ->> 'record_type' as record_type, r ->> 'value' as value, (r ->> 'priority')::integer as priority, (r ->> 'ttl')::integer as ttl,
                app_private.record_fqdn(r ->> 'name', d.domain::text) as fqdn
         from app_public.domains d cross join lateral jsonb_array_elements(d.dns_records -> 'records') r
         where $1 = lower(d.domain::text) or right($1, length(d.domain::text) + 1) = '.' || lower(d.domain::text)
       )
       select p.record_type, p.value, p.priority, p.ttl, p.fqdn = $1 as at_name, s.platform_include, s.sending_ips
       from (select app_private.deliverability_setting('spf_include') #>> '{}' as platform_include,
                    (select array_agg(distinct host(ip.ip_address)) from app_public.smtp_ip_addresses ip) as sending_ips) s
       left join published p on p.value is not null and (p.fqdn = $1 or right(p.fqdn, length($1) + 1) = '.' || $1)`,
      [name],
    );
    const settings = rows[0]!;
    if (name === settings.platform_include.toLowerCase().replace(/\.$/, '')) {
      const spf = platformSpf([senderAddress, ...(settings.sending_ips ?? []).filter((ip) => ip !== senderAddress)]);
      return { records: type === 'TXT' ? [{ type: 'TXT', value: spf }] : [], exists: true };
    }
    const present = rows.filter((r) => r.record_type !== null);
    const atName = present.filter((r) => r.at_name);
    // An alias answers for every type it is not asked for itself, as an authoritative server does.
    const ofType = atName.filter((r) => DNS_TYPE[r.record_type] === type);
    const chosen = ofType.length > 0 ? ofType : atName.filter((r) => DNS_TYPE[r.record_type] === 'CNAME');
    // Two tenants adding the same domain publish the same record once.
    const unique = new Map(chosen.map((r) => [`${r.record_type} ${r.value} ${r.priority}`, r]));
    return { records: [...unique.values()].map(zoneRecord), exists: present.length > 0 };
  };
}
