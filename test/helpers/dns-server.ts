/**
 * A real DNS server on 127.0.0.1 (dns2, random port, UDP and TCP) whose zone
 * a test edits as it goes: publish TXT (as one or several character-strings),
 * MX (including the null MX "."), A, AAAA and CNAME records, make a name time
 * out or answer SERVFAIL, and see which queries arrived. It answers like a
 * recursive resolver would: a CNAME is followed and its target's records are
 * added to the answer; a name without records of the asked type answers
 * NODATA when it (or a name below it) exists, NXDOMAIN otherwise.
 */
import dns2 from 'dns2';
import type { DnsHandler } from 'dns2';
import { makeDnsResolver, type DnsResolver } from '../../src/dns/resolver.ts';
import { listenDns, normName as norm, toResource, TYPE_NAMES, type ZoneRecord } from '../../src/sandbox/zone-dns.ts';

export { txtChunks, type ZoneRecord } from '../../src/sandbox/zone-dns.ts';

const { Packet } = dns2;

export type Failure = 'timeout' | 'servfail' | 'refused';

export interface TestDnsServer {
  port: number;
  /** "127.0.0.1:<port>", for Resolver#setServers and DNS_SERVERS. */
  address: string;
  /** Replaces every record at a name (an empty list removes the name). */
  set(name: string, records: ZoneRecord[]): void;
  /** Adds records at a name. */
  add(name: string, ...records: ZoneRecord[]): void;
  /** Makes every query for a name time out (no answer) or fail; null restores it. */
  fail(name: string, failure: Failure | null): void;
  /** Questions received, in order ("TXT pm._domainkey.example.com"). */
  queries: string[];
  /** Like a recursive resolver, add a CNAME target's records to the answer (default); false answers with the alias only, like an authoritative server. */
  chaseCnames: boolean;
  close(): Promise<void>;
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const zone = new Map<string, ZoneRecord[]>();
  const failures = new Map<string, Failure>();
  const queries: string[] = [];

  const api: TestDnsServer = {
    port: 0,
    address: '',
    queries,
    chaseCnames: true,
    set(name, records) {
      if (records.length === 0) zone.delete(norm(name));
      else zone.set(norm(name), [...records]);
    },
    add(name, ...records) {
      zone.set(norm(name), [...(zone.get(norm(name)) ?? []), ...records]);
    },
    fail(name, failure) {
      if (failure) failures.set(norm(name), failure);
      else failures.delete(norm(name));
    },
    close: async () => {},
  };

  const exists = (name: string) => zone.has(name) || [...zone.keys()].some((k) => k.endsWith(`.${name}`));

  const handle: DnsHandler = (request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const question = request.questions[0];
    if (!question) return void send(response);
    const asked = norm(question.name);
    const typeName = TYPE_NAMES[question.type] ?? String(question.type);
    queries.push(`${typeName} ${asked}`);
    const failure = failures.get(asked);
    if (failure === 'timeout') return;
    if (failure) {
      response.header.rcode = failure === 'servfail' ? Packet.RCODE.SERVFAIL : Packet.RCODE.REFUSED;
      return void send(response);
    }
    let name = asked;
    for (let hops = 0; hops < 8; hops++) {
      const records = zone.get(name) ?? [];
      const alias = records.find((r): r is Extract<ZoneRecord, { type: 'CNAME' }> => r.type === 'CNAME');
      if (alias && typeName !== 'CNAME') {
        response.answers.push(toResource(name, alias));
        if (!api.chaseCnames) break;
        name = norm(alias.target);
        continue;
      }
      for (const record of records.filter((r) => r.type === typeName)) response.answers.push(toResource(name, record));
      if (response.answers.length === 0 && !exists(name)) response.header.rcode = Packet.RCODE.NXDOMAIN;
      break;
    }
    void send(response);
  };
  const { port, close } = await listenDns(handle);

  api.port = port;
  api.address = `127.0.0.1:${port}`;
  api.close = close;
  return api;
}

/**
 * The production resolver, pointed at a test server: one try, 3 s, so that an
 * answer a loaded machine delays is not taken for a timeout. Tests that inject
 * timeouts pass a short one.
 */
export function resolverFor(server: Pick<TestDnsServer, 'address'>, timeoutMs = 3_000): DnsResolver {
  return makeDnsResolver({ servers: [server.address], timeoutMs, tries: 1 });
}
