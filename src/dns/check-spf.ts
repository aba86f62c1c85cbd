/**
 * SPF: exactly one v=spf1 record at the domain, which includes the platform
 * (include:<deliverability.spf_include>) and the mail servers of the
 * providers of its Google and Microsoft inboxes, stays within the 10-lookup
 * and 2-void-lookup limits, and passes (mailauth's RFC 7208 evaluation,
 * through the same resolver) for every IP that sends for the domain.
 */
import { spf as evaluateSpf } from 'mailauth/lib/spf/index.js';
import { failed, retryLater, verified, type RecordCheck } from './check-result.ts';
import { abbreviate, lookupTxt, quoteList, TemporaryDnsError } from './lookup.ts';
import type { DnsResolver } from './resolver.ts';
import { countSpfLookups, isSpfRecord, SPF_LOOKUP_LIMIT, SPF_VOID_LIMIT } from './spf-lookups.ts';

export interface SpfExpectation {
  domain: string;
  /** The record we ask tenants to publish. */
  expected: string;
  /** Host every SPF record must include. */
  platformInclude: string;
  /** IPs assigned to the domain (active or warming). */
  sendingIps: string[];
  /** Providers whose servers send the mail of some of the domain's inboxes. */
  inboxProviders: InboxProvider[];
}

export type InboxProvider = 'google' | 'microsoft';

/**
 * The SPF include each provider documents for its customers' domains: Google
 * Workspace (support.google.com/a/answer/10685031) and Microsoft 365
 * (learn.microsoft.com, "Set up SPF to identify valid email sources").
 */
export const PROVIDER_SPF: Record<InboxProvider, { label: string; include: string }> = {
  google: { label: 'Google Workspace', include: '_spf.google.com' },
  microsoft: { label: 'Microsoft 365', include: 'spf.protection.outlook.com' },
};

function includesHost(record: string, host: string): boolean {
  const wanted = `include:${host.toLowerCase().replace(/\.$/, '')}`;
  return record
    .trim()
    .split(/\s+/)
    .some((term) => term.replace(/^\+/, '').toLowerCase().replace(/\.$/, '') === wanted);
}

/** The tenant's record with an include added before its "all" (or redirect), as a suggestion. */
function withInclude(record: string, host: string): string {
  const terms = record.trim().split(/\s+/);
  const at = terms.findIndex((t, i) => i > 0 && (/^[+\-~?]?all$/i.test(t) || /^redirect=/i.test(t)));
  terms.splice(at < 0 ? terms.length : at, 0, `include:${host}`);
  return terms.join(' ');
}

export async function checkSpf(resolver: DnsResolver, spec: SpfExpectation): Promise<RecordCheck> {
  const { domain, expected, platformInclude } = spec;
  const ttlOf = { name: domain, type: 'TXT' as const };
  const answer = await lookupTxt(resolver, domain);
  if (answer.kind === 'error') return retryLater(`the SPF record of ${domain}`, answer.message);
  const texts = answer.kind === 'found' ? answer.value.records.map((chunks) => chunks.join('')) : [];
  const records = texts.filter(isSpfRecord);
  if (records.length === 0) {
    const others = texts.length > 0 ? ` (its TXT records are ${quoteList(texts)}, none starts with v=spf1)` : '';
    return failed(`No SPF record at ${domain}${others}: publish a TXT record "${expected}".`);
  }
  if (records.length > 1) {
    return failed(
      `${domain} publishes ${records.length} SPF records (${quoteList(records)}); receivers treat more than one as an error (permerror). ` +
        `Merge them into one TXT record that includes include:${platformInclude}, for example "${expected}".`,
      ttlOf,
    );
  }
  const record = records[0]!;
  if (!includesHost(record, platformInclude)) {
    return failed(
      `The SPF record at ${domain} ("${abbreviate(record, 60)}") does not include the platform: expected include:${platformInclude}, ` +
        `for example "${withInclude(record, platformInclude)}".`,
      ttlOf,
    );
  }
  const missing = spec.inboxProviders.map((p) => PROVIDER_SPF[p]).filter((p) => !includesHost(record, p.include));
  if (missing.length > 0) {
    const names = missing.map((p) => p.label).join(' and ');
    return failed(
      `The SPF record at ${domain} ("${abbreviate(record, 60)}") does not include ${names}, whose servers send the mail of this domain's ${names} inboxes: ` +
        `expected ${missing.map((p) => `include:${p.include}`).join(' and ')}, for example "${missing.reduce((r, p) => withInclude(r, p.include), record)}".`,
      ttlOf,
    );
  }

  let count;
  try {
    count = await countSpfLookups(resolver, domain, record);
  } catch (error) {
    if (error instanceof TemporaryDnsError) return retryLater(`the SPF record of ${domain}`, error.message);
    throw error;
  }
  const details = { dns_lookups: count.lookups, void_lookups: count.voids };
  if (count.lookups > SPF_LOOKUP_LIMIT) {
    return failed(
      `The SPF record at ${domain} needs ${count.lookups} DNS lookups (${count.lookupTerms.join(', ')}); receivers stop at ${SPF_LOOKUP_LIMIT} and treat the record as broken (permerror). ` +
        `Remove includes you do not send through, or replace them with ip4:/ip6: ranges, keeping include:${platformInclude}.`,
      ttlOf,
      details,
    );
  }
  if (count.brokenIncludes.length > 0) {
    const names = count.brokenIncludes.join(', ');
    return failed(
      `The SPF record at ${domain} refers to ${names}, which ${count.brokenIncludes.length === 1 ? 'has' : 'have'} no SPF record; receivers treat that as an error (permerror). ` +
        `Remove the reference or publish an SPF record there.`,
      ttlOf,
      details,
    );
  }
  if (count.voids > SPF_VOID_LIMIT) {
    return failed(
      `The SPF record at ${domain} has ${count.voids} lookups that find nothing (${count.voidTerms.join(', ')}); receivers allow at most ${SPF_VOID_LIMIT} and treat the record as broken (permerror). ` +
        `Remove the terms that point at names without records.`,
      ttlOf,
      details,
    );
  }

  for (const ip of spec.sendingIps) {
    const result = await evaluateSpf({
      ip,
      sender: `postmaster@${domain}`,
      helo: domain,
      mta: 'penguinmails-verifier',
      resolver: resolver.resolve,
      maxResolveCount: SPF_LOOKUP_LIMIT,
      maxVoidCount: SPF_VOID_LIMIT,
    });
    const outcome = result.status.result;
    if (outcome === 'pass') continue;
    if (outcome === 'temperror') {
      return retryLater(`whether the SPF record of ${domain} allows ${ip}`, result.status.comment || 'a DNS lookup failed');
    }
    return failed(
      `The SPF record at ${domain} ("${abbreviate(record, 60)}") does not authorise ${ip}, an IP that sends for this domain (SPF result: ${outcome}); ` +
        `expected a pass through include:${platformInclude}, which lists the platform's sending IPs.`,
      ttlOf,
      details,
    );
  }
  return verified(ttlOf, details);
}
