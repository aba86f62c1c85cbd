/**
 * Checks every record of a domain's dns_records document against DNS, in
 * parallel, through one resolver, and returns one result per checked record
 * for app_private.record_domain_check. A DKIM record still waiting for its key
 * is skipped (it stays pending).
 */
import { checkAddressOrAlias } from './check-alias.ts';
import { checkDkim } from './check-dkim.ts';
import { checkDmarc } from './check-dmarc.ts';
import { checkMx } from './check-mx.ts';
import type { RecordCheck } from './check-result.ts';
import { checkSpf } from './check-spf.ts';
import { CheckResult, recordHost, type CheckPlan, type DnsRecord } from './records.ts';
import type { DnsResolver } from './resolver.ts';

function checkRecord(resolver: DnsResolver, plan: CheckPlan, record: DnsRecord): Promise<RecordCheck> | null {
  const domain = plan.domain;
  switch (record.record_type) {
    case 'SPF':
      return checkSpf(resolver, { domain, expected: record.value, platformInclude: plan.spf_include, sendingIps: plan.sending_ips, inboxProviders: plan.inbox_providers });
    case 'DKIM':
      if (!record.public_key || !record.value) return null;
      return checkDkim(resolver, { domain, selector: record.selector, publicKey: record.public_key, expected: record.value });
    case 'DMARC':
      return checkDmarc(resolver, { domain, expected: record.value });
    case 'MX':
      return checkMx(resolver, { domain, expected: `${record.priority} ${record.value}` });
    default:
      return checkAddressOrAlias(resolver, record.record_type, recordHost(record, domain), record.value);
  }
}

export async function checkDomain(resolver: DnsResolver, plan: CheckPlan): Promise<CheckResult[]> {
  const checks = plan.records.map(async (record): Promise<CheckResult | null> => {
    const pending = checkRecord(resolver, plan, record);
    if (!pending) return null;
    const check = await pending;
    const ttl = check.ttlOf ? await resolver.ttl(check.ttlOf.name, check.ttlOf.type) : null;
    return CheckResult.parse({ record_type: record.record_type, name: record.name, status: check.status, error: check.error, ttl, details: check.details });
  });
  return (await Promise.all(checks)).filter((c): c is CheckResult => c !== null);
}
