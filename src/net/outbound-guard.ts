/**
 * The one gate every outbound connection a tenant controls goes through
 * (an inbox's SMTP and IMAP servers): it refuses addresses inside the
 * platform's own networks, so a tenant cannot make the worker connect to
 * 127.0.0.1, the cloud metadata service or any private host and read the
 * result back from `emailAccount.lastError` (a port scanner).
 *
 * - Literal IPs and every address a hostname resolves to (A and AAAA) are
 *   checked; one refused address refuses the host.
 * - Refused: unspecified, loopback, private (RFC 1918), CGNAT (100.64/10),
 *   link-local, multicast, reserved and documentation ranges, broadcast,
 *   IPv4-mapped/compatible/translated IPv6 forms of those, ULA fc00::/7,
 *   fe80::/10, site-local, 6to4/Teredo wrappers, ::1 and ::.
 * - The caller connects to the checked address (`connect.address`) and keeps
 *   the hostname for TLS (`connect.servername`), so a DNS answer that changes
 *   between the check and the connection (rebinding) cannot bypass it.
 * - The operator's allow-list (OUTBOUND_ALLOW_PRIVATE, CIDRs) lets chosen
 *   private ranges through, e.g. a relay inside the network, or 127.0.0.1 in
 *   tests.
 *
 * Errors meant for tenants (OutboundRefused) are generic: they never name the
 * resolved address, the range or the allow-list.
 */
import { promises as dns } from 'node:dns';
import { BlockList, isIP, isIPv4 } from 'node:net';

/** What a tenant sees when the host is refused (stable wording; the code is OUTBOUND_REFUSED). */
export const REFUSED_MESSAGE = 'the server address is not allowed (private or reserved network)';
/** What a tenant sees when the host does not resolve to any address. */
export const UNRESOLVED_MESSAGE = 'the server name could not be resolved';

export class OutboundRefused extends Error {
  override name = 'OutboundRefused';
  readonly code: 'OUTBOUND_REFUSED' | 'OUTBOUND_UNRESOLVED';
  constructor(code: 'OUTBOUND_REFUSED' | 'OUTBOUND_UNRESOLVED') {
    super(code === 'OUTBOUND_REFUSED' ? REFUSED_MESSAGE : UNRESOLVED_MESSAGE);
    this.code = code;
  }
}

/** Where to connect: the checked address, and the name for TLS SNI and certificate checks (absent for literal IPs). */
export interface OutboundTarget {
  address: string;
  family: 4 | 6;
  servername?: string;
}

/** The parts of src/dns/resolver.ts the guard uses (tests point it at a DNS server on 127.0.0.1). */
export interface HostResolver {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

export interface OutboundGuard {
  /** The address to connect to for `host`, or throws OutboundRefused. */
  check(host: string): Promise<OutboundTarget>;
  /** Whether a literal IP may be connected to (public, or in the allow-list); false for anything else. */
  permits(address: string): boolean;
}

const V4_BLOCKED: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata)
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const V6_BLOCKED: Array<[string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID, …)
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // ULA
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

const BLOCKED = new BlockList();
for (const [net, prefix] of V4_BLOCKED) BLOCKED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of V6_BLOCKED) BLOCKED.addSubnet(net, prefix, 'ipv6');

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4, SIIT), or null. */
function embeddedV4(address: string): string | null {
  const groups = expandV6(address);
  if (!groups) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zeros(0, 5) && (groups[5] === 0xffff || groups[5] === 0)) return v4(groups[6]!, groups[7]!); // ::ffff:a.b.c.d, ::a.b.c.d
  if (zeros(0, 4) && groups[4] === 0xffff && groups[5] === 0) return v4(groups[6]!, groups[7]!); // ::ffff:0:a.b.c.d (SIIT)
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return v4(groups[6]!, groups[7]!); // 64:ff9b::/96
  if (groups[0] === 0x2002) return v4(groups[1]!, groups[2]!); // 6to4
  return null;
}

/** Eight 16-bit groups of an IPv6 address, or null. */
function expandV6(address: string): number[] | null {
  let text = address.toLowerCase().split('%')[0]!;
  const dotted = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const parts = dotted[1]!.split('.').map(Number);
    text = text.slice(0, -dotted[1]!.length) + `${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const fill = tail !== undefined ? 8 - h.length - t.length : 0;
  const groups = [...h, ...Array<string>(Math.max(fill, 0)).fill('0'), ...t].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/** Whether an IP address is in a range no tenant may reach (before the allow-list). */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family !== 6) return true; // not an address at all
  const v4 = embeddedV4(address);
  if (v4 !== null && BLOCKED.check(v4, 'ipv4')) return true;
  return BLOCKED.check(address.split('%')[0]!, 'ipv6');
}

/** Parses "10.0.0.0/8,::1" style CIDRs (a bare address is a /32 or /128); throws naming the bad entry. */
export function parseAllowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [net, prefixText, extra] = entry.split('/');
    const family = isIP(net ?? '');
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!family || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new Error(`"${entry}" is not an IP address or CIDR range`);
    }
    list.addSubnet(net!, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

function allowed(allow: BlockList, address: string): boolean {
  const family = isIPv4(address) ? 'ipv4' : 'ipv6';
  if (allow.check(address, family)) return true;
  const v4 = family === 'ipv6' ? embeddedV4(address) : null;
  return v4 !== null && allow.check(v4, 'ipv4');
}

/** A host setting without brackets around IPv6 literals or a trailing dot. */
export function hostOf(raw: string): string {
  return raw.trim().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** The system's resolver (what getaddrinfo would use is not used: its answers cannot be pinned the same way). */
const systemResolver: HostResolver = {
  resolve4: (name) => dns.resolve4(name),
  resolve6: (name) => dns.resolve6(name),
};

export interface OutboundGuardOptions {
  /** CIDRs the operator allows even though they are private or reserved (OUTBOUND_ALLOW_PRIVATE). */
  allowPrivate?: readonly string[];
  /** How hostnames are resolved; default: the system's DNS servers. */
  resolver?: HostResolver;
}

export function makeOutboundGuard({ allowPrivate = [], resolver = systemResolver }: OutboundGuardOptions = {}): OutboundGuard {
  const allow = parseAllowList(allowPrivate);
  const permitted = (address: string) => !isBlockedAddress(address) || allowed(allow, address);
  return {
    permits: (address) => isIP(address) !== 0 && permitted(address),
    async check(rawHost) {
      const host = hostOf(rawHost);
      const literal = isIP(host);
      if (literal) {
        if (!permitted(host)) throw new OutboundRefused('OUTBOUND_REFUSED');
        return { address: host, family: literal as 4 | 6 };
      }
      if (!/^[A-Za-z0-9_.-]+$/.test(host) || host.length > 253) throw new OutboundRefused('OUTBOUND_UNRESOLVED');
      const settle = async (p: Promise<string[]>) => p.catch(() => [] as string[]);
      const [v4, v6] = await Promise.all([settle(resolver.resolve4(host)), settle(resolver.resolve6(host))]);
      const addresses = [...v4, ...v6];
      if (addresses.length === 0) throw new OutboundRefused('OUTBOUND_UNRESOLVED');
      if (!addresses.every(permitted)) throw new OutboundRefused('OUTBOUND_REFUSED');
      const address = v4[0] ?? v6[0]!;
      return { address, family: isIP(address) as 4 | 6, servername: host };
    },
  };
}

/** The guard the environment configures (OUTBOUND_ALLOW_PRIVATE; hostnames through the given resolver, else the system's). */
export function outboundGuardFromEnv(env: { OUTBOUND_ALLOW_PRIVATE: readonly string[] }, resolver?: HostResolver): OutboundGuard {
  return makeOutboundGuard({ allowPrivate: env.OUTBOUND_ALLOW_PRIVATE, resolver });
}

/**
 * Removes IP addresses (and their ports) from a network error text before a
 * tenant sees it: "connect ECONNREFUSED 10.0.0.7:25" → "connect ECONNREFUSED [address]".
 */
export function scrubAddresses(text: string): string {
  return text
    .replace(/(?<![\w.:])\[?(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|\d+\.\d+\.\d+\.\d+)?\]?(?::\d{1,5})?(?![\w.:])/gi, '[address]')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b/g, '[address]');
}
