/**
 * MX: the domain must accept mail (replies and bounces come back to it): at
 * least one MX record, and not the null MX ("0 .", RFC 7505) that declares it
 * accepts none. The hosts found are recorded.
 */
import { failed, retryLater, verified, type RecordCheck } from './check-result.ts';
import { lookup } from './lookup.ts';
import type { DnsResolver } from './resolver.ts';

export interface MxExpectation {
  domain: string;
  /** e.g. "10 mail.penguinmails.io." */
  expected: string;
}

export async function checkMx(resolver: DnsResolver, spec: MxExpectation): Promise<RecordCheck> {
  const { domain } = spec;
  const answer = await lookup('MX', domain, () => resolver.resolveMx(domain));
  if (answer.kind === 'error') return retryLater(`the MX records of ${domain}`, answer.message);
  if (answer.kind === 'missing' || answer.value.length === 0) {
    return failed(`No MX record at ${domain}: publish MX ${spec.expected} so that replies and bounces reach your inboxes.`);
  }
  const ttlOf = { name: domain, type: 'MX' as const };
  const hosts = [...answer.value]
    .sort((a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange))
    .map((mx) => mx.exchange.replace(/\.$/, '').toLowerCase());
  if (hosts.every((host) => host === '')) {
    return failed(
      `${domain} publishes a null MX (MX 0 "."), which declares that it accepts no mail, so replies would bounce: replace it with MX ${spec.expected}.`,
      ttlOf,
      { mx_hosts: [] },
    );
  }
  return verified(ttlOf, { mx_hosts: hosts.filter((host) => host !== '') });
}
