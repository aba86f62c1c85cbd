/**
 * A DNS server on 127.0.0.1 (dns2, UDP and TCP on one port) answering from a
 * lookup function, and the record shapes it serves. The sandbox serves its
 * zone with it (src/sandbox/zone.ts); the tests' DNS server
 * (test/helpers/dns-server.ts) is built on listenDns and toResource.
 */
import dns2 from 'dns2';
import type { DnsHandler, Resource } from 'dns2';
import { UserFacingError } from '../user-facing-error.ts';

const { Packet } = dns2;

export type ZoneRecord =
  | { type: 'TXT'; value: string | string[]; ttl?: number }
  | { type: 'MX'; priority: number; exchange: string; ttl?: number }
  | { type: 'A' | 'AAAA'; address: string; ttl?: number }
  | { type: 'CNAME'; target: string; ttl?: number };

export type ZoneRecordType = ZoneRecord['type'];

/** Question type numbers and their names. */
export const TYPE_NAMES: Record<number, string> = { 1: 'A', 5: 'CNAME', 15: 'MX', 16: 'TXT', 28: 'AAAA' };

/** A DNS name in lower case without its trailing dot. */
export const normName = (name: string) => name.toLowerCase().replace(/\.$/, '');

/** Splits a TXT value into 255-character strings, as a DNS provider does. */
export function txtChunks(value: string): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < value.length; i += 255) chunks.push(value.slice(i, i + 255));
  return chunks.length > 0 ? chunks : [''];
}

/** A record as dns2 encodes it (plain objects, as its README does; its Resource type also declares a toBuffer they need not have). */
export function toResource(name: string, record: ZoneRecord): Resource {
  const base = { name, class: Packet.CLASS.IN, ttl: record.ttl ?? 300 };
  const plain = ((): Omit<Resource, 'toBuffer'> => {
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
  })();
  return plain as Resource;
}

export interface DnsListener {
  port: number;
  close(): Promise<void>;
}

async function bindOnce(handle: DnsHandler, port: number): Promise<DnsListener> {
  const udp = dns2.createServer({ udp: true, handle });
  // A failed bind is an 'error' event (the listening promise never settles); later socket errors are ignored.
  const listening = await new Promise<Awaited<ReturnType<typeof udp.listen>>>((resolve, reject) => {
    udp.on('error', reject);
    udp.listen({ udp: { port, address: '127.0.0.1' } }).then(resolve, reject);
  });
  const bound = listening.udp!.port;
  const tcp = dns2.createTCPServer(handle);
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.once('listening', () => resolve());
      tcp.listen(bound, '127.0.0.1');
    });
  } catch (error) {
    await udp.close();
    throw error;
  }
  return {
    port: bound,
    close: async () => {
      await Promise.all([udp.close(), new Promise<void>((resolve) => tcp.close(() => resolve()))]);
    },
  };
}

/**
 * Serves `handle` over UDP and TCP on one port of 127.0.0.1 (c-ares retries a
 * truncated UDP answer over TCP on the same port). Port 0: a free port; the
 * UDP port the system gives may be taken for TCP, then another one is tried.
 */
export async function listenDns(handle: DnsHandler, port = 0): Promise<DnsListener> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bindOnce(handle, port);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port !== 0 || attempt === 10) throw error;
    }
  }
}

/** What a zone knows of a name: its records of the asked type, and whether the name exists at all (NODATA rather than NXDOMAIN). */
export interface ZoneAnswer {
  records: ZoneRecord[];
  exists: boolean;
}

export type ZoneLookup = (name: string, type: ZoneRecordType) => Promise<ZoneAnswer>;

export interface ZoneDnsOptions {
  /** Port on 127.0.0.1 (0: a free port). */
  port: number;
  lookup: ZoneLookup;
  /** Called with a lookup that failed (the question is answered SERVFAIL). */
  onError?: (error: Error, question: string) => void;
  /** What the server is and the setting that chooses its port, for the message when the port is taken. */
  label: string;
  portSetting: string;
}

/** A DNS server answering every question from `lookup`: its records, NODATA for a known name, NXDOMAIN otherwise. */
export async function startZoneDns({ port, lookup, onError, label, portSetting }: ZoneDnsOptions): Promise<DnsListener> {
  const handle: DnsHandler = (request, sendResponse) => {
    // An answer that arrives after the server stopped has nowhere to go: dns2's
    // UDP send then rejects (ERR_SOCKET_DGRAM_NOT_RUNNING), which must not end the process.
    const send = (packet: Parameters<typeof sendResponse>[0]): void => {
      try {
        void Promise.resolve(sendResponse(packet) as unknown).catch(() => undefined);
      } catch {
        // The socket is closed: the question goes unanswered.
      }
    };
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    const question = request.questions[0];
    const type = question ? TYPE_NAMES[question.type] : undefined;
    if (!question || !type) return void send(response);
    const name = normName(question.name);
    lookup(name, type as ZoneRecordType).then(
      (answer) => {
        for (const record of answer.records) response.answers.push(toResource(name, record));
        if (answer.records.length === 0 && !answer.exists) response.header.rcode = Packet.RCODE.NXDOMAIN;
        send(response);
      },
      (error: Error) => {
        onError?.(error, `${type} ${name}`);
        response.header.rcode = Packet.RCODE.SERVFAIL;
        send(response);
      },
    );
  };
  try {
    return await listenDns(handle, port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new UserFacingError(`${label}: port ${port} on 127.0.0.1 is already in use (UDP or TCP): stop that process or set ${portSetting} to a free port (0 picks one).`);
    }
    throw error;
  }
}
