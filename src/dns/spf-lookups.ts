/**
 * Counts the DNS lookups an SPF record costs across its whole tree (RFC 7208
 * §4.6.4): include, a, mx, ptr, exists and redirect each cost one, and a
 * receiver gives up (permerror) after 10; lookups that find nothing ("void")
 * are limited to 2. A receiver stops at the first matching mechanism, so the
 * cost depends on the sending IP; counting every branch is what the record
 * costs for an IP that matches late or not at all, which is what must fit.
 */
import { lookupOrThrow, lookupTxt, TemporaryDnsError } from './lookup.ts';
import type { DnsResolver } from './resolver.ts';

export const SPF_LOOKUP_LIMIT = 10;
export const SPF_VOID_LIMIT = 2;

export interface SpfLookupCount {
  lookups: number;
  voids: number;
  /** The terms that cost a lookup, as "term (at host)". */
  lookupTerms: string[];
  /** The terms whose lookup found nothing. */
  voidTerms: string[];
  /** Includes or redirects that point at a name without an SPF record. */
  brokenIncludes: string[];
}

export function isSpfRecord(txt: string): boolean {
  return /^v=spf1(\s|$)/i.test(txt.trim());
}

/** The SPF record (joined TXT strings) at a name, or null; throws TemporaryDnsError on a temporary failure. */
async function spfRecordAt(resolver: DnsResolver, host: string): Promise<string | null> {
  const answer = await lookupTxt(resolver, host);
  if (answer.kind === 'error') throw new TemporaryDnsError(answer.message);
  if (answer.kind === 'missing') return null;
  return answer.value.records.map((chunks) => chunks.join('')).find(isSpfRecord) ?? null;
}

async function addressesExist(resolver: DnsResolver, host: string): Promise<boolean> {
  const v4 = await lookupOrThrow('A', host, () => resolver.resolve4(host));
  if (v4 && v4.length > 0) return true;
  const v6 = await lookupOrThrow('AAAA', host, () => resolver.resolve6(host));
  return !!v6 && v6.length > 0;
}

export async function countSpfLookups(resolver: DnsResolver, domain: string, record: string): Promise<SpfLookupCount> {
  const count: SpfLookupCount = { lookups: 0, voids: 0, lookupTerms: [], voidTerms: [], brokenIncludes: [] };
  const visiting = new Set<string>();

  const walk = async (host: string, spf: string, depth: number): Promise<void> => {
    if (depth > 10 || visiting.has(host)) return;
    visiting.add(host);
    let redirect: string | null = null;
    let hasAll = false;
    for (const term of spf.trim().split(/\s+/).slice(1)) {
      const bare = term.replace(/^[+\-~?]/, '');
      const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(bare);
      if (modifier) {
        if (modifier[1]!.toLowerCase() === 'redirect') redirect = modifier[2]!;
        continue;
      }
      const [mechanism = '', argument] = bare.split(/:(.*)/s, 2);
      const target = (argument ?? '').replace(/\/\d+(\/\/\d+)?$/, '') || host;
      const hasMacro = target.includes('%');
      const costs = () => {
        count.lookups++;
        count.lookupTerms.push(`${term} (at ${host})`);
      };
      const empty = () => {
        count.voids++;
        count.voidTerms.push(`${term} (at ${host})`);
      };
      switch (mechanism.toLowerCase().replace(/\/.*$/, '')) {
        case 'all':
          hasAll = true;
          break;
        case 'include': {
          costs();
          if (hasMacro) break;
          const included = await spfRecordAt(resolver, target);
          if (included === null) {
            empty();
            count.brokenIncludes.push(target);
          } else {
            await walk(target.toLowerCase(), included, depth + 1);
          }
          break;
        }
        case 'a':
          costs();
          if (!hasMacro && !(await addressesExist(resolver, target))) empty();
          break;
        case 'mx': {
          costs();
          if (hasMacro) break;
          const mx = await lookupOrThrow('MX', target, () => resolver.resolveMx(target));
          if (!mx || mx.length === 0) empty();
          break;
        }
        case 'ptr':
          costs();
          break;
        case 'exists':
          costs();
          if (!hasMacro && !(await addressesExist(resolver, target))) empty();
          break;
        default:
          // ip4, ip6 and unknown terms cost nothing.
          break;
      }
    }
    if (redirect !== null && !hasAll) {
      count.lookups++;
      count.lookupTerms.push(`redirect=${redirect} (at ${host})`);
      if (!redirect.includes('%')) {
        const target = await spfRecordAt(resolver, redirect);
        if (target === null) {
          count.voids++;
          count.voidTerms.push(`redirect=${redirect} (at ${host})`);
          count.brokenIncludes.push(redirect);
        } else {
          await walk(redirect.toLowerCase(), target, depth + 1);
        }
      }
    }
    visiting.delete(host);
  };

  await walk(domain.toLowerCase(), record, 0);
  return count;
}
