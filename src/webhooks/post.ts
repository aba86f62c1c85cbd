/**
 * One webhook POST to a tenant's endpoint, through the outbound guard
 * (src/net/outbound-guard.ts): the host is checked (literal IPs and every
 * resolved address) and the connection goes to the checked address, the
 * hostname kept for TLS. No redirects are followed. The whole attempt is
 * bounded by `timeoutMs`; at most `maxBodyBytes` of the answer are read.
 * Errors meant for the tenant's delivery log name no internal address.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { OutboundRefused, scrubAddresses, type OutboundGuard } from '../net/outbound-guard.ts';

export interface PostOptions {
  guard: OutboundGuard;
  timeoutMs: number;
  /** Plain http allowed (NODE_ENV test or development); production needs https. */
  allowHttp: boolean;
  maxBodyBytes?: number;
}

export interface PostOutcome {
  /** The HTTP status, when an answer came. */
  status: number | null;
  /** The start of the answer's body (text). */
  body: string | null;
  durationMs: number;
  /** Why no answer came, in words a tenant may read. */
  error: string | null;
}

/** Whether the outcome counts as delivered (any 2xx). */
export const delivered = (outcome: PostOutcome) => outcome.status !== null && outcome.status >= 200 && outcome.status < 300;

export async function postWebhook(rawUrl: string, headers: Record<string, string>, body: string, options: PostOptions): Promise<PostOutcome> {
  const started = performance.now();
  const done = (partial: Omit<PostOutcome, 'durationMs'>): PostOutcome => ({ ...partial, durationMs: Math.round(performance.now() - started) });
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return done({ status: null, body: null, error: 'the URL is not valid' });
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && options.allowHttp)) {
    return done({ status: null, body: null, error: 'the URL must use https' });
  }
  if (url.username || url.password) return done({ status: null, body: null, error: 'the URL must not contain credentials' });
  let target;
  try {
    target = await options.guard.check(url.hostname);
  } catch (error) {
    return done({ status: null, body: null, error: error instanceof OutboundRefused ? error.message : 'the server name could not be resolved' });
  }
  // The connection goes to the address the guard checked, whatever DNS says now.
  const lookup: LookupFunction = (_host, opts, callback) => {
    if ((opts as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  const maxBodyBytes = options.maxBodyBytes ?? 4096;
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: Omit<PostOutcome, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(done(outcome));
    };
    const request = client.request(url, {
      method: 'POST',
      lookup,
      servername: target.servername,
      headers: { 'content-type': 'application/json', 'user-agent': 'PenguinMails-Webhooks/1', ...headers, 'content-length': Buffer.byteLength(body) },
      agent: false,
    });
    const timer = setTimeout(() => finish({ status: null, body: null, error: `no answer within ${options.timeoutMs} ms` }), options.timeoutMs);
    request.on('error', (error) => finish({ status: null, body: null, error: scrubAddresses(error.message).slice(0, 500) }));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const answer = () => finish({ status: response.statusCode ?? null, body: Buffer.concat(chunks).toString('utf8'), error: null });
      response.on('data', (chunk: Buffer) => {
        if (size < maxBodyBytes) chunks.push(chunk.subarray(0, maxBodyBytes - size));
        size += chunk.length;
        if (size >= maxBodyBytes) answer();
      });
      response.on('end', answer);
      response.on('error', answer);
    });
    request.end(body);
  });
}
