/**
 * A webhook receiver on 127.0.0.1 for the tests, with its OWN implementation
 * of the Standard Webhooks verification (nothing imported from src/webhooks):
 * the signed content is `${webhook-id}.${webhook-timestamp}.${body}`, the key
 * is the base64 after `whsec_`, the header holds space-separated `v1,<b64>`.
 * Each path can be told to answer 200, fail with 500, or never answer.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  id: string;
  timestamp: number;
  signatures: string[];
  body: string;
  json: { type: string; timestamp: string; data: Record<string, any> };
  answered: number | 'hang';
  at: number;
}

export type Behaviour = 'ok' | 'fail' | 'hang';

export interface Receiver {
  url(path: string): string;
  received: Received[];
  /** What a path answers; a list is consumed one request at a time, its last entry then applies for good. */
  behave(path: string, ...behaviours: Behaviour[]): void;
  on(path: string): Received[];
  close(): Promise<void>;
}

/** Whether any signature of the header verifies with the secret, for this id, timestamp and body. */
export function verifies(secret: string, received: Pick<Received, 'id' | 'timestamp' | 'body' | 'signatures'>): boolean {
  if (!secret.startsWith('whsec_')) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${received.id}.${received.timestamp}.${received.body}`).digest();
  return received.signatures.some((sig) => {
    const [version, value] = sig.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const plans = new Map<string, Behaviour[]>();
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const plan = plans.get(path) ?? ['ok'];
      const behaviour = plan.length > 1 ? plan.shift()! : plan[0]!;
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({
        path,
        id: String(req.headers['webhook-id']),
        timestamp: Number(req.headers['webhook-timestamp']),
        signatures: String(req.headers['webhook-signature'] ?? '').split(' ').filter(Boolean),
        body,
        json: JSON.parse(body),
        answered: behaviour === 'hang' ? 'hang' : behaviour === 'ok' ? 200 : 500,
        at: Date.now(),
      });
      if (behaviour === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(behaviour === 'ok' ? 200 : 500, { 'content-type': 'text/plain' });
      res.end(behaviour === 'ok' ? 'thanks' : 'receiver failed on purpose');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    behave: (path, ...behaviours) => plans.set(path, behaviours),
    on: (path) => received.filter((r) => r.path === path),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
