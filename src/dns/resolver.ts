/**
 * The one DNS resolver every deliverability check uses (domain records,
 * SPF evaluation through mailauth, blocklists): Node's dns.promises.Resolver
 * pointed at configurable servers (DNS_SERVERS, e.g. "127.0.0.1:5353"; the
 * system's when empty) with a per-query timeout and a number of tries. Tests
 * point it at a real DNS server on 127.0.0.1.
 *
 * Node's resolver does not report TTLs of TXT and MX answers, so `ttl()` asks
 * the same servers directly (src/dns/ttl.ts); it is informational only.
 */
import { promises as dns, type MxRecord } from 'node:dns';
import { queryTtl } from './ttl.ts';

export interface DnsResolverOptions {
  /** "host" or "host:port" ("[v6]:port"); empty: the system's resolvers. */
  servers: readonly string[];
  /** Milliseconds before one query attempt gives up. */
  timeoutMs: number;
  /** Attempts per server before a lookup fails with ETIMEOUT. */
  tries: number;
}

export interface DnsResolver {
  readonly servers: readonly string[];
  resolveTxt(name: string): Promise<string[][]>;
  resolveMx(name: string): Promise<MxRecord[]>;
  resolveCname(name: string): Promise<string[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  /** mailauth's resolver signature: resolve(name, rrtype) like dns.promises.resolve. */
  resolve(name: string, rrtype: string): Promise<string[][] | string[]>;
  /** Smallest TTL (seconds) of the answer to a query, or null when it cannot be observed. */
  ttl(name: string, rrtype: 'TXT' | 'MX' | 'A' | 'AAAA' | 'CNAME'): Promise<number | null>;
}

export function makeDnsResolver(options: DnsResolverOptions): DnsResolver {
  const resolver = new dns.Resolver({ timeout: options.timeoutMs, tries: options.tries });
  if (options.servers.length > 0) resolver.setServers([...options.servers]);
  const servers = resolver.getServers();
  return {
    servers,
    resolveTxt: (name) => resolver.resolveTxt(name),
    resolveMx: (name) => resolver.resolveMx(name),
    resolveCname: (name) => resolver.resolveCname(name),
    resolve4: (name) => resolver.resolve4(name),
    resolve6: (name) => resolver.resolve6(name),
    resolve: (name, rrtype) => resolver.resolve(name, rrtype) as Promise<string[][] | string[]>,
    ttl: (name, rrtype) => queryTtl(servers, name, rrtype, options.timeoutMs),
  };
}

/** The resolver the environment configures (DNS_SERVERS, DNS_TIMEOUT_MS, DNS_TRIES). */
export function dnsResolverFromEnv(env: { DNS_SERVERS: string[]; DNS_TIMEOUT_MS: number; DNS_TRIES: number }): DnsResolver {
  return makeDnsResolver({ servers: env.DNS_SERVERS, timeoutMs: env.DNS_TIMEOUT_MS, tries: env.DNS_TRIES });
}
