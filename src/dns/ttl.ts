/**
 * Observes the TTL of a DNS answer. Node's resolver (c-ares) reports TTLs only
 * for A/AAAA, so this sends one plain query (with EDNS0, 4096-byte answers)
 * over UDP to the same servers the resolver uses and reads the TTL fields of
 * the answer records. Best effort: any failure yields null; verification
 * never depends on it (it fills domains.dns_ttl_observed).
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';

const TYPE_CODES = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28 } as const;

export function parseServer(server: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (bracketed) return { host: bracketed[1]!, port: Number(bracketed[2] ?? 53) };
  if (isIPv6(server)) return { host: server, port: 53 };
  const [host, port] = server.split(':');
  return { host: host!, port: Number(port ?? 53) };
}

function encodeQuery(id: number, name: string, type: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired
  header.writeUInt16BE(1, 4); // one question
  header.writeUInt16BE(1, 10); // one additional record: OPT
  const question = Buffer.alloc(4);
  question.writeUInt16BE(type, 0);
  question.writeUInt16BE(1, 2); // IN
  // OPT pseudo-record: root name, type 41, UDP payload 4096, no flags, no options.
  const opt = Buffer.from([0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, qname, question, opt]);
}

function skipName(buf: Buffer, offset: number): number {
  for (;;) {
    const len = buf.readUInt8(offset);
    if ((len & 0xc0) === 0xc0) return offset + 2;
    if (len === 0) return offset + 1;
    offset += 1 + len;
  }
}

/** TTLs of the answer records of the wanted type (and CNAMEs leading to them); null for an unusable reply. */
export function answerTtls(buf: Buffer, id: number, type: number): number[] | null {
  if (buf.length < 12 || buf.readUInt16BE(0) !== id) return null;
  if ((buf.readUInt16BE(2) & 0x000f) !== 0) return null;
  const questions = buf.readUInt16BE(4);
  const answers = buf.readUInt16BE(6);
  let offset = 12;
  for (let i = 0; i < questions; i++) offset = skipName(buf, offset) + 4;
  const ttls: number[] = [];
  for (let i = 0; i < answers; i++) {
    offset = skipName(buf, offset);
    const rrType = buf.readUInt16BE(offset);
    const ttl = buf.readUInt32BE(offset + 4);
    const rdLength = buf.readUInt16BE(offset + 8);
    if (rrType === type || rrType === TYPE_CODES.CNAME) ttls.push(ttl);
    offset += 10 + rdLength;
  }
  return ttls;
}

function askOne(server: string, name: string, type: number, timeoutMs: number): Promise<number[] | null> {
  const { host, port } = parseServer(server);
  const id = randomInt(0, 0x10000);
  const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  return new Promise((resolve) => {
    const done = (value: number[] | null) => {
      clearTimeout(timer);
      socket.close();
      resolve(value);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('error', () => done(null));
    socket.on('message', (msg) => {
      try {
        done(answerTtls(msg, id, type));
      } catch {
        done(null);
      }
    });
    socket.send(encodeQuery(id, name, type), port, host, (error) => {
      if (error) done(null);
    });
  });
}

export async function queryTtl(
  servers: readonly string[],
  name: string,
  rrtype: keyof typeof TYPE_CODES,
  timeoutMs: number,
): Promise<number | null> {
  for (const server of servers) {
    const ttls = await askOne(server, name, TYPE_CODES[rrtype], timeoutMs);
    if (ttls) return ttls.length > 0 ? Math.min(...ttls) : null;
  }
  return null;
}
