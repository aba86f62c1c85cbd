/**
 * DNS blocklist lookups (RFC 5782): an IP is listed on a zone when
 * <reversed address>.<zone> has an A record in 127.0.0.0/8; the TXT record
 * there usually says why. Answers in 127.255.255.0/24 are the list's own
 * error codes (e.g. Spamhaus refusing queries from public resolvers), not
 * listings: they count as a failed lookup.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { lookup } from './lookup.ts';
import type { DnsResolver } from './resolver.ts';

export interface BlocklistResult {
  zone: string;
  /** null: the lookup failed and says nothing about the listing. */
  listed: boolean | null;
  return_codes: string[];
  reason: string | null;
  error: string | null;
}

/** 203.0.113.7 → 7.113.0.203; IPv6 → its 32 nibbles, reversed. */
export function reversedName(ip: string): string {
  if (isIPv4(ip)) return ip.split('.').reverse().join('.');
  if (!isIPv6(ip)) throw new Error(`Not an IP address: ${ip}`);
  const [head = '', tail = ''] = ip.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const full = [...groups(head), ...Array<string>(ip.includes('::') ? missing : 0).fill('0'), ...groups(tail)];
  return full
    .map((g) => g.padStart(4, '0'))
    .join('')
    .split('')
    .reverse()
    .join('.');
}

export async function checkBlocklist(resolver: DnsResolver, ip: string, zone: string): Promise<BlocklistResult> {
  const name = `${reversedName(ip)}.${zone}`;
  const answer = await lookup('A', name, () => resolver.resolve4(name));
  if (answer.kind === 'missing') return { zone, listed: false, return_codes: [], reason: null, error: null };
  if (answer.kind === 'error') return { zone, listed: null, return_codes: [], reason: null, error: `${answer.message}; the listing status on ${zone} is unknown` };
  const listings = answer.value.filter((a) => a.startsWith('127.') && !a.startsWith('127.255.255.'));
  if (listings.length === 0) {
    return {
      zone,
      listed: null,
      return_codes: [],
      reason: null,
      error: `${zone} answered ${answer.value.join(', ')} for ${name}, which is not a listing but the list refusing or failing the query; the listing status is unknown`,
    };
  }
  const txt = await lookup('TXT', name, () => resolver.resolveTxt(name));
  const reason = txt.kind === 'found' ? txt.value.map((chunks) => chunks.join('')).join(' ').slice(0, 500) || null : null;
  return { zone, listed: true, return_codes: listings.sort(), reason, error: null };
}

export function checkBlocklists(resolver: DnsResolver, ip: string, zones: readonly string[]): Promise<BlocklistResult[]> {
  return Promise.all(zones.map((zone) => checkBlocklist(resolver, ip, zone)));
}
