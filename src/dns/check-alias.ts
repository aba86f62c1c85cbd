/**
 * A, AAAA and CNAME entries of dns_records (the document allows them, e.g.
 * a tracking host): the published answer must contain the expected value.
 */
import { failed, retryLater, verified, type RecordCheck } from './check-result.ts';
import { lookup } from './lookup.ts';
import type { DnsResolver } from './resolver.ts';

const normalise = (v: string) => v.trim().toLowerCase().replace(/\.$/, '');

export async function checkAddressOrAlias(resolver: DnsResolver, type: 'A' | 'AAAA' | 'CNAME', host: string, expected: string): Promise<RecordCheck> {
  const query = type === 'A' ? () => resolver.resolve4(host) : type === 'AAAA' ? () => resolver.resolve6(host) : () => resolver.resolveCname(host);
  const answer = await lookup(type, host, query);
  if (answer.kind === 'error') return retryLater(`the ${type} record of ${host}`, answer.message);
  if (answer.kind === 'missing' || answer.value.length === 0) return failed(`No ${type} record at ${host}: publish ${type} ${expected}.`);
  const ttlOf = { name: host, type };
  if (answer.value.map(normalise).includes(normalise(expected))) return verified(ttlOf);
  return failed(`The ${type} record at ${host} points to ${answer.value.join(', ')}; expected ${expected}.`, ttlOf);
}
