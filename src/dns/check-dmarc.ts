/**
 * DMARC: one v=DMARC1 record at _dmarc.<domain> (a CNAME delegation is
 * followed) with a valid policy, which is recorded. A subdomain without its
 * own record is covered by its organisational domain's record (mailauth's
 * RFC 9989 tree walk through the same resolver).
 */
import getDmarcRecord from 'mailauth/lib/dmarc/get-dmarc-record.js';
import { failed, retryLater, verified, type RecordCheck } from './check-result.ts';
import { lookupTxt, quoteList } from './lookup.ts';
import type { DnsResolver } from './resolver.ts';

// As mailauth: the version tag first, "DMARC1" case-sensitive.
const DMARC_VERSION = /^[vV][ \t]*=[ \t]*DMARC1[ \t]*(?:;|$)/;
const POLICIES = new Set(['none', 'quarantine', 'reject']);

export interface DmarcExpectation {
  domain: string;
  expected: string;
}

export async function checkDmarc(resolver: DnsResolver, spec: DmarcExpectation): Promise<RecordCheck> {
  const host = `_dmarc.${spec.domain}`;
  const answer = await lookupTxt(resolver, host);
  if (answer.kind === 'error') return retryLater(`the DMARC record at ${host}`, answer.message);
  const texts = answer.kind === 'found' ? answer.value.records.map((chunks) => chunks.join('').trim()) : [];
  const records = texts.filter((t) => DMARC_VERSION.test(t));
  const ttlOf = { name: answer.kind === 'found' ? (answer.value.via ?? host) : host, type: 'TXT' as const };

  if (records.length === 0) {
    let inherited;
    try {
      inherited = await getDmarcRecord(spec.domain, resolver.resolve);
    } catch (error) {
      return retryLater(`the DMARC policy of ${spec.domain}`, error instanceof Error ? error.message : String(error));
    }
    if (inherited && inherited.isOrgRecord && typeof inherited.p === 'string' && POLICIES.has(inherited.p)) {
      return verified({ name: `_dmarc.${inherited.recordDomain}`, type: 'TXT' }, { policy: inherited.p as 'none' | 'quarantine' | 'reject' });
    }
    const others = texts.length > 0 ? ` (found ${quoteList(texts)}, which do not start with v=DMARC1)` : '';
    return failed(`No DMARC record at ${host}${others}: publish a TXT record "${spec.expected}".`);
  }
  if (records.length > 1) {
    return failed(
      `${host} has ${records.length} DMARC records (${quoteList(records)}); receivers ignore DMARC when there is more than one. Keep a single record, for example "${spec.expected}".`,
      ttlOf,
    );
  }
  const record = records[0]!;
  const parsed = getDmarcRecord.parseDmarcRecord(record);
  const policy = typeof parsed?.p === 'string' ? parsed.p : undefined;
  if (!parsed || !policy || !POLICIES.has(policy)) {
    return failed(
      `The DMARC record at ${host} ("${record}") has no valid policy: p= must be none, quarantine or reject, for example "${spec.expected}".`,
      ttlOf,
    );
  }
  return verified(ttlOf, { policy: policy as 'none' | 'quarantine' | 'reject' });
}
