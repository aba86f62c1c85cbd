/**
 * The HTTP server: GraphQL (grafserv) at /graphql, Ruru at /graphiql (and /),
 * health and readiness probes, CORS, and the extra routes other subsystems
 * register (tracking, webhooks, uploads). Shuts down gracefully: in-flight
 * requests finish, then connections and pools close.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { postgraphile, type PostGraphileInstance } from 'postgraphile';
import { grafserv } from 'postgraphile/grafserv/node';
import { makeTokenService, type TokenService } from '../auth/jwt.ts';
import type { Env } from '../config.ts';
import type { DatabaseUrls } from '../db/database.ts';
import { migrationStatus } from '../db/status.ts';
import { makePreset } from './preset.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

export interface Route {
  method: string;
  /** Exact path, or a prefix ending in '/'. */
  path: string;
  handler: RouteHandler;
}

export interface ApiServer {
  url: string;
  port: number;
  server: Server;
  pgl: PostGraphileInstance;
  tokens: TokenService;
  /** Pool of the API's own login role (the authenticator). */
  pool: pg.Pool;
  /** Small owner pool for readiness checks and internal routes. */
  ownerPool: pg.Pool;
  close(): Promise<void>;
}

export interface ApiOptions {
  env: Env;
  urls: DatabaseUrls;
  jwtSecret: string;
  routes?: (api: Pick<ApiServer, 'ownerPool' | 'tokens'>) => Route[];
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(payload.length), ...headers });
  res.end(payload);
}

export async function startApiServer(options: ApiOptions): Promise<ApiServer> {
  const { env, urls } = options;
  const production = env.NODE_ENV === 'production';
  const tokens = makeTokenService({
    secret: options.jwtSecret,
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    jwksUrl: env.JWT_JWKS_URL,
    jwksIssuer: env.JWT_JWKS_ISSUER,
    jwksAudience: env.JWT_JWKS_AUDIENCE,
  });
  const pool = new pg.Pool({ connectionString: urls.authenticator, max: 20, application_name: 'penguinmails-api' });
  const ownerPool = new pg.Pool({ connectionString: urls.owner, max: 4, application_name: 'penguinmails-api-internal' });
  pool.on('error', (e) => console.error('[api] idle database connection error:', e.message));
  ownerPool.on('error', (e) => console.error('[api] idle database connection error:', e.message));

  const graphiql = env.GRAPHIQL ?? !production;
  const preset = makePreset({
    pool,
    tokens,
    production,
    graphiql,
    introspection: env.INTROSPECTION ?? !production,
    maxPageSize: env.MAX_PAGE_SIZE,
    maxQueryDepth: env.MAX_QUERY_DEPTH,
    maxBodyBytes: env.MAX_BODY_BYTES,
    statementTimeoutMs: env.STATEMENT_TIMEOUT_MS,
  });
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const graphqlHandler = serv.createHandler();
  const extraRoutes = options.routes?.({ ownerPool, tokens }) ?? [];

  const routes: Route[] = [
    { method: 'GET', path: '/healthz', handler: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      handler: async (_req, res) => {
        const status = await migrationStatus(ownerPool).catch((e: Error) => ({ ready: false, reason: `database unreachable: ${e.message}` }));
        sendJson(res, status.ready ? 200 : 503, { status: status.ready ? 'ready' : 'not ready', ...status });
      },
    },
    ...extraRoutes,
  ];

  const allowedOrigins = new Set(env.CORS_ORIGINS);
  const applyCors = (req: IncomingMessage, res: ServerResponse): boolean => {
    const origin = req.headers.origin;
    if (!origin || !(allowedOrigins.has(origin) || allowedOrigins.has('*'))) return false;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    res.setHeader('access-control-allow-headers', 'authorization, content-type');
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    res.setHeader('access-control-max-age', '600');
    return true;
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const corsAllowed = applyCors(req, res);
    if (req.method === 'OPTIONS') {
      res.writeHead(corsAllowed ? 204 : 403).end();
      return;
    }
    const route = routes.find(
      (r) => r.method === req.method && (r.path.endsWith('/') ? url.pathname.startsWith(r.path) : url.pathname === r.path),
    );
    if (route) {
      Promise.resolve(route.handler(req, res, url)).catch((error: Error) => {
        console.error(`[api] ${req.method} ${url.pathname} failed:`, error);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.end();
      });
      return;
    }
    if (url.pathname === '/' && req.method === 'GET') {
      if (graphiql) res.writeHead(302, { location: '/graphiql' }).end();
      else sendJson(res, 200, { service: 'penguinmails', graphql: '/graphql' });
      return;
    }
    graphqlHandler(req, res, (error?: Error) => {
      if (error) {
        console.error('[api] request failed:', error);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        return;
      }
      sendJson(res, 404, { error: `Nothing at ${req.method} ${url.pathname}. GraphQL is served at POST /graphql.` });
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.PORT, env.HOST, () => resolve());
  });
  // Build the schema now, so the first request does not pay for it and a
  // broken schema stops start-up.
  await pgl.getSchema();
  const { port } = server.address() as AddressInfo;
  const url = `http://${env.HOST}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    server,
    pgl,
    tokens,
    pool,
    ownerPool,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), 10_000);
        await closed;
        clearTimeout(force);
        await serv.release(); // also releases the PostGraphile instance
        await Promise.all([pool.end(), ownerPool.end()]);
      })();
      return closing;
    },
  };
}
