/**
 * GET /tls/allowed?domain=<host>: the "ask" endpoint of a reverse proxy that
 * obtains certificates on demand (Caddy's `on_demand_tls { ask <url> }`), so
 * it gets one for a customer's tracking host only when that host is the
 * verified tracking domain of an open organisation whose plan includes white
 * label (app_private.tls_allowed, functions/151). 200 when allowed, 404
 * otherwise (also for a missing or malformed domain). No authentication: it
 * says only what the links in that organisation's mail already show.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { Route } from '../server/http.ts';

export const TLS_ALLOWED_PATH = '/tls/allowed';

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\.?$/;

function answer(res: ServerResponse, status: 200 | 404, text: string) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

export function tlsAllowedRoutes(options: { pool: pg.Pool }): Route[] {
  const handler = async (_req: IncomingMessage, res: ServerResponse, url: URL) => {
    const domain = url.searchParams.get('domain') ?? '';
    if (domain.length > 254 || !HOST.test(domain)) {
      answer(res, 404, 'not a tracking domain');
      return;
    }
    const { rows } = await options.pool.query<{ allowed: boolean }>('select app_private.tls_allowed($1) as allowed', [domain]);
    if (rows[0]?.allowed) answer(res, 200, 'ok');
    else answer(res, 404, 'not a tracking domain');
  };
  return [{ method: 'GET', path: TLS_ALLOWED_PATH, handler }];
}
