/**
 * The HTTP server: GraphQL (grafserv) at /graphql, Ruru at /graphiql (and /),
 * health and readiness probes, CORS, and the extra routes other subsystems
 * register (tracking, webhooks, uploads). In front of GraphQL it rejects, with
 * a JSON error and before any database access: bad bearer tokens (401),
 * bodies over MAX_BODY_BYTES (413) and clients over their request budget
 * (429). Shuts down gracefully: in-flight requests finish, new connections are
 * refused, then pools close.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { postgraphile, type PostGraphileInstance } from 'postgraphile';
import { grafserv } from 'postgraphile/grafserv/node';
import { AuthError, tokenServiceOf, type TokenService } from '../auth/jwt.ts';
import type { Env } from '../config.ts';
import type { DatabaseUrls } from '../db/database.ts';
import { migrationStatus } from '../db/status.ts';
import { errorFields, loggerFor } from '../log/logger.ts';
import { requestIdFrom, runInScope, currentScope } from '../log/scope.ts';
import { makeMetricsHandler } from '../metrics/endpoint.ts';
import { graphqlDuration, graphqlRequests, httpRequests, operationLabel } from '../metrics/registry.ts';
import { authenticate, type Caller, type Credentials } from './context.ts';
import { ApiKeyRefusal, makeApiKeyResolver, type ApiKeyResolver } from '../auth/api-keys.ts';
import type { ErrorCode } from './errors.ts';
import { makePreset } from './preset.ts';
import { DATE_TIME_POOL_CONFIG } from '../../plugins/date-output.ts';
import { makeRateLimiter } from './rate-limit.ts';
import { systemLinkRoutes } from '../mail/link-pages.ts';
import { UserFacingError } from '../user-facing-error.ts';
import { sendingApiOptionsOf } from '../sending/deps.ts';
import { oauthConfigOf } from '../oauth/providers.ts';
import { oauthCallbackRoutes } from '../oauth/callback-route.ts';
import { makeSecretBox } from '../crypto/secrets.ts';

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
  /** Resolves `Bearer pm_…` API keys (src/auth/api-keys.ts). */
  apiKeys: ApiKeyResolver;
  /** Pool of the API's own login role (the authenticator). */
  pool: pg.Pool;
  /** Small owner pool for readiness checks and internal routes. */
  ownerPool: pg.Pool;
  close(): Promise<void>;
}

/** What extra routes get to work with. */
export type RouteContext = Pick<ApiServer, 'ownerPool' | 'tokens' | 'apiKeys' | 'pool'>;

export interface ApiOptions {
  env: Env;
  urls: DatabaseUrls;
  jwtSecret: string;
  routes?: (api: RouteContext) => Route[];
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(payload.length), ...headers });
  res.end(payload);
}

/** An error in the shape GraphQL clients already read: `{ errors: [{ message, extensions: { code } }] }`. */
export function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { errors: [{ message, extensions: { code } }] }, headers);
}

/** 401 for a token that failed verification, with the reason in the body and the WWW-Authenticate header; an API key's refusal with its own status and code (429 with Retry-After). */
export function sendAuthError(res: ServerResponse, error: AuthError): void {
  if (error instanceof ApiKeyRefusal && error.status !== 401) {
    sendError(res, error.status, error.code as ErrorCode, error.message, error.retryAfter ? { 'retry-after': String(error.retryAfter) } : {});
    return;
  }
  const description = error.message.replace(/["\\]/g, "'");
  const code: ErrorCode = error instanceof ApiKeyRefusal ? (error.code as ErrorCode) : error.code === 'TOKEN_EXPIRED' ? 'TOKEN_EXPIRED' : 'INVALID_TOKEN';
  sendError(res, 401, code, error.message, {
    'www-authenticate': `Bearer error="invalid_token", error_description="${description}"`,
  });
}

/** Verifies the request's bearer token; answers 401 itself and returns undefined when it is bad. */
export async function authenticateOrReply(req: IncomingMessage, res: ServerResponse, credentials: Credentials): Promise<Caller | null | undefined> {
  try {
    return await authenticate(req, credentials);
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    req.resume();
    sendAuthError(res, error);
    return undefined;
  }
}

const log = loggerFor('api');

export async function startApiServer(options: ApiOptions): Promise<ApiServer> {
  const { env, urls } = options;
  const production = env.NODE_ENV === 'production';
  const tokens = tokenServiceOf(env, options.jwtSecret);
  const pool = new pg.Pool({ connectionString: urls.authenticator, max: 20, application_name: 'penguinmails-api', ...DATE_TIME_POOL_CONFIG });
  const ownerPool = new pg.Pool({ connectionString: urls.owner, max: 4, application_name: 'penguinmails-api-internal' });
  pool.on('error', (e) => log.error({ pool: 'api', err: { message: e.message } }, 'idle database connection error'));
  ownerPool.on('error', (e) => log.error({ pool: 'api_internal', err: { message: e.message } }, 'idle database connection error'));
  // A connection that breaks while a request holds it (database restart) emits 'error' on the client, which pg-pool
  // listens to only while the client is idle: without this, an uncaught exception. The request's query fails; the
  // pool drops the broken client when it is released.
  for (const p of [pool, ownerPool]) {
    p.on('connect', (client) => client.on('error', (e) => log.error({ err: { message: e.message } }, 'database connection error')));
  }
  const apiKeys = makeApiKeyResolver({ ownerPool, trustProxy: env.TRUST_PROXY });

  const graphiql = env.GRAPHIQL ?? !production;
  const preset = makePreset({
    pool,
    ownerPool,
    sending: sendingApiOptionsOf(env),
    oauth: oauthConfigOf(env),
    tokens,
    apiKeys,
    graphiql,
    introspection: env.INTROSPECTION ?? !production,
    maxPageSize: env.MAX_PAGE_SIZE,
    maxQueryDepth: env.MAX_QUERY_DEPTH,
    maxBodyBytes: env.MAX_BODY_BYTES,
    statementTimeoutMs: env.STATEMENT_TIMEOUT_MS,
    outboundAllowPrivate: env.OUTBOUND_ALLOW_PRIVATE,
    webhooksAllowHttp: !production,
    trustProxy: env.TRUST_PROXY,
    maxQueryCost: env.MAX_QUERY_COST,
    chargeExtra: (req, extra) => {
      const key = rateKeys.get(req);
      if (key === undefined) return null;
      let wait: number | null = null;
      for (let i = 0; i < extra; i++) wait = rateLimiter.take(key) ?? wait;
      return wait;
    },
  });
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const graphqlHandler = serv.createHandler();
  const extraRoutes = options.routes?.({ ownerPool, tokens, apiKeys, pool }) ?? [];
  const rateLimiter = makeRateLimiter(env.RATE_LIMIT_PER_MINUTE);
  /** Each GraphQL request's budget key, for the charges the query cost plugin adds (auth operations per alias). */
  const rateKeys = new WeakMap<IncomingMessage, string>();

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
    {
      method: 'GET',
      path: '/metrics',
      handler: makeMetricsHandler({ ownerPool, pools: { api: pool, api_internal: ownerPool }, token: env.METRICS_TOKEN, staleJobMinutes: env.METRICS_STALE_JOB_MINUTES }),
    },
    // Where invitation and reset emails link when no client app (APP_URL) is configured.
    ...systemLinkRoutes(),
    // Where Google and Microsoft send the browser back when an inbox is connected (src/oauth/).
    ...oauthCallbackRoutes({ ownerPool, config: oauthConfigOf(env), secretBox: makeSecretBox(sendingApiOptionsOf(env).secretsKey), appUrl: env.APP_URL }),
    ...extraRoutes,
  ];

  const allowedOrigins = new Set(env.CORS_ORIGINS);
  const applyCors = (req: IncomingMessage, res: ServerResponse): boolean => {
    const origin = req.headers.origin;
    if (!origin || !(allowedOrigins.has(origin) || allowedOrigins.has('*'))) return false;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    res.setHeader('access-control-allow-headers', 'authorization, content-type, x-request-id');
    res.setHeader('access-control-expose-headers', 'x-request-id');
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    res.setHeader('access-control-max-age', '600');
    return true;
  };

  let shuttingDown = false;
  const server = createServer((req, res) => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    const scope = { requestId };
    runInScope(scope, () => {
      observe(req, res);
      handle(req, res);
    });
  });

  /** One log line and the metrics of each request, when its response is done. Paths only: query strings and tracking tokens stay out. */
  const observe = (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const scope = currentScope();
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      const fields: Record<string, unknown> = { method: req.method, status: res.statusCode, ms: Math.round(seconds * 1000) };
      if (pathname === '/graphql') {
        const operation = operationLabel(scope?.operationName);
        graphqlRequests.inc({ operation, status: String(res.statusCode) });
        graphqlDuration.observe({ operation }, seconds);
        fields.route = '/graphql';
        fields.operation = scope?.operationName ?? null;
      } else {
        const route = routes.find((r) => (r.path.endsWith('/') ? pathname.startsWith(r.path) : pathname === r.path))?.path ?? (pathname === '/' || pathname.startsWith('/graphiql') ? pathname.slice(0, 9) : 'unknown');
        httpRequests.inc({ route, status: String(res.statusCode) });
        fields.route = route;
      }
      if (fields.route === '/healthz' || fields.route === '/readyz' || fields.route === '/metrics') log.debug(fields, 'request');
      else log.info(fields, 'request');
    });
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    // While shutting down, no connection is kept alive after its response.
    if (shuttingDown) res.setHeader('connection', 'close');
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
        log.error({ route: route.path, method: req.method, ...errorFields(error) }, 'route failed');
        if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'The request could not be handled.');
        else res.end();
      });
      return;
    }
    if (url.pathname === '/' && req.method === 'GET') {
      if (graphiql) res.writeHead(302, { location: '/graphiql' }).end();
      else sendJson(res, 200, { service: 'penguinmails', graphql: '/graphql' });
      return;
    }
    if (url.pathname === '/graphql') {
      void serveGraphQL(req, res).catch((error: Error) => {
        log.error(errorFields(error), 'request failed');
        if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'The request could not be handled.');
        else res.end();
      });
      return;
    }
    passToGrafserv(req, res, url);
  };
  server.keepAliveTimeout = 5_000;

  function passToGrafserv(req: IncomingMessage, res: ServerResponse, url: URL) {
    graphqlHandler(req, res, (error?: Error) => {
      if (error) {
        log.error(errorFields(error), 'request failed');
        if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'The request could not be handled.');
        return;
      }
      sendError(res, 404, 'NOT_FOUND', `Nothing at ${req.method} ${url.pathname}. GraphQL is served at POST /graphql.`);
    });
  }

  /** The checks in front of GraphQL: none of them touches the database. */
  async function serveGraphQL(req: IncomingMessage, res: ServerResponse) {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > env.MAX_BODY_BYTES) {
      req.resume();
      sendError(res, 413, 'PAYLOAD_TOO_LARGE', `The request body is ${length} bytes; the limit is ${env.MAX_BODY_BYTES} bytes.`, { connection: 'close' });
      return;
    }
    const claims = await authenticateOrReply(req, res, { tokens, apiKeys });
    if (claims === undefined) return;
    const scope = currentScope();
    if (scope) scope.anonymous = claims === null;
    const rateKey = !claims
      ? `ip:${req.socket.remoteAddress}`
      : claims.role === 'api_key'
        ? `key:${claims.api_key_id}`
        : `user:${claims.user_id}:${claims.tenant_id ?? ''}`;
    rateKeys.set(req, rateKey);
    const wait = rateLimiter.take(rateKey);
    if (wait !== null) {
      req.resume();
      sendError(res, 429, 'RATE_LIMITED', `Too many requests: the limit is ${env.RATE_LIMIT_PER_MINUTE} per minute. Retry in ${wait} s.`, { 'retry-after': String(wait) });
      return;
    }
    passToGrafserv(req, res, new URL(req.url ?? '/', 'http://localhost'));
  }


  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new UserFacingError(`port ${env.PORT} on ${env.HOST} is already in use (is PenguinMails already running?): stop that process or set PORT to a free port.`)
          : error.code === 'EACCES'
            ? new UserFacingError(`not allowed to listen on port ${env.PORT} on ${env.HOST}: choose a PORT above 1023.`)
            : error,
      ),
    );
    server.listen(env.PORT, env.HOST, () => resolve());
  }).catch(async (error: unknown) => {
    await serv.release();
    await Promise.all([pool.end(), ownerPool.end()]);
    throw error;
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
    apiKeys,
    pool,
    ownerPool,
    close() {
      closing ??= (async () => {
        shuttingDown = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive connections close as soon as their request is done; stragglers after 10 s.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), 10_000);
        await closed;
        clearInterval(sweep);
        clearTimeout(force);
        await serv.release(); // also releases the PostGraphile instance
        await Promise.all([pool.end(), ownerPool.end()]);
      })();
      return closing;
    },
  };
}
