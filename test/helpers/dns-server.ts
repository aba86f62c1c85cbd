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
import type { DnsHandler, Resource } from 'dns2';
import { makeDnsResolver, type DnsResolver } from '../../src/dns/resolver.ts';

const { Packet } = dns2;

export type ZoneRecord =
  | { type: 'TXT'; value: string | string[]; ttl?: number }
  | { type: 'MX'; priority: number; exchange: string; ttl?: number }
  | { type: 'A' | 'AAAA'; address: string; ttl?: number }
  | { type: 'CNAME'; target: string; ttl?: number };

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

const TYPE_NAMES: Record<number, string> = { 1: 'A', 5: 'CNAME', 15: 'MX', 16: 'TXT', 28: 'AAAA' };
const norm = (name: string) => name.toLowerCase().replace(/\.$/, '');

/** Splits a TXT value into 255-character strings, as a DNS provider does. */
export function txtChunks(value: string): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < value.length; i += 255) chunks.push(value.slice(i, i + 255));
  return chunks.length > 0 ? chunks : [''];
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

  // dns2 encodes plain record objects (as its README does); its Resource type also declares a toBuffer they need not have.
  const toResource = (name: string, record: ZoneRecord): Resource => plainResource(name, record) as Resource;
  const plainResource = (name: string, record: ZoneRecord): Omit<Resource, 'toBuffer'> => {
    const base = { name, class: Packet.CLASS.IN, ttl: record.ttl ?? 300 };
    switch (record.type) {
      case 'TXT':
        return { ...base, type: Packet.TYPE.TXT, data: Array.isArray(record.value) ? record.value : txtChunks(record.value) };
      case 'MX':
        return { ...base, type: Packet.TYPE.MX, priority: record.priority, exchange: record.exchange.replace(/\.$/, '') };
      case 'A':
        return { ...base, type: Packet.TYPE.A, address: record.address };
      case 'AAAA':
        return { ...base, type: Packet.TYPE.AAAA, address: record.address };
      case 'CNAME':
        return { ...base, type: Packet.TYPE.CNAME, domain: record.target.replace(/\.$/, '') };
    }
  };

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
  // c-ares retries a truncated UDP answer over TCP on the same port: the UDP
  // port the system gives may be taken for TCP, then another one is tried.
  const bind = async () => {
    const udp = dns2.createServer({ udp: true, handle });
    const listening = await udp.listen({ udp: { port: 0, address: '127.0.0.1' } });
    const port = listening.udp!.port;
    const tcp = dns2.createTCPServer(handle);
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.once('listening', () => resolve());
        tcp.listen(port, '127.0.0.1');
      });
    } catch (error) {
      await udp.close();
      throw error;
    }
    return { udp, tcp, port };
  };
  let bound: Awaited<ReturnType<typeof bind>> | undefined;
  for (let attempt = 1; !bound; attempt++) {
    try {
      bound = await bind();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 10) throw error;
    }
  }
  const { udp, tcp, port } = bound;

  api.port = port;
  api.address = `127.0.0.1:${port}`;
  api.close = async () => {
    await Promise.all([udp.close(), new Promise<void>((resolve) => tcp.close(() => resolve()))]);
  };
  return api;
}

/** The production resolver, pointed at a test server (one try, short timeout so timeouts are quick). */
export function resolverFor(server: Pick<TestDnsServer, 'address'>, timeoutMs = 300): DnsResolver {
  return makeDnsResolver({ servers: [server.address], timeoutMs, tries: 1 });
}
