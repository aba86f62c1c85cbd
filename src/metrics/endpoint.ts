/**
 * GET /metrics in the Prometheus text format: the process's counters
 * (registry.ts) plus the database gauges of this server (job queue, pools).
 * With METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>`
 * (Prometheus: `authorization: { credentials: … }`); without it /metrics is
 * open, like /healthz, so keep it off the public internet or set the token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { registerPoolMetrics } from './pools.ts';
import { registerQueueMetrics } from './queue.ts';
import { registry } from './registry.ts';

export interface MetricsOptions {
  /** Owner-role pool: reads graphile_worker's tables. */
  ownerPool: pg.Pool;
  /** Pools to report, by name. */
  pools: Record<string, pg.Pool>;
  token?: string;
  staleJobMinutes: number;
}

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

export function makeMetricsHandler(options: MetricsOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const local = new Registry();
  registerQueueMetrics(local, options.ownerPool, options.staleJobMinutes);
  registerPoolMetrics(local, options.pools);
  return async (req, res) => {
    if (options.token) {
      const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!given || !sameSecret(given, options.token)) {
        const body = JSON.stringify({ errors: [{ message: 'Metrics need "Authorization: Bearer <METRICS_TOKEN>".', extensions: { code: 'UNAUTHENTICATED' } }] });
        res.writeHead(401, { 'content-type': 'application/json; charset=utf-8', 'www-authenticate': 'Bearer' }).end(body);
        return;
      }
    }
    const text = (await registry.metrics()) + (await local.metrics());
    res.writeHead(200, { 'content-type': registry.contentType }).end(text);
  };
}
