/**
 * A stand-in OAuth 2.0 authorization server on 127.0.0.1, at the HTTP
 * boundary Google and Microsoft have: authorization (answered at once with a
 * redirect carrying a code for the `user` the test names, no login page),
 * token endpoint (authorization_code with PKCE S256 and the client secret
 * checked, refresh_token), userinfo, revocation (RFC 7009) and introspection
 * (RFC 7662, for the SMTP and IMAP servers of the tests). Tokens are random,
 * expire, and can be expired or revoked on demand; every token it issued is
 * listed so tests can prove none leaks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OAuthProviderOptions {
  clientId: string;
  clientSecret: string;
  /** Lifetime of access tokens (default 3600 s). */
  accessTtlSeconds?: number;
}

interface Grant {
  user: string;
  refreshToken: string;
  revoked: boolean;
}

interface AccessToken {
  grant: Grant;
  expiresAt: number;
}

export interface StandInProvider {
  url: string;
  /** Every token issued so far (access, refresh, ID tokens and codes). */
  issued(): string[];
  /** Requests to the token endpoint, by grant type and outcome ("refresh_token:200", "refresh_token:400"…). */
  tokenRequests: string[];
  /** Revocations received. */
  revocations: number;
  /** Makes every access token of the user expire now (the refresh token still works). */
  expireAccessTokens(user: string): void;
  /** The user withdraws consent: every grant of theirs is revoked (refresh answers invalid_grant). */
  revokeUser(user: string): void;
  /** The next n token requests answer 503. */
  failNextTokenRequests(n: number): void;
  /** Whether an access token is valid now, and for whom (what the SMTP/IMAP servers ask). */
  introspect(token: string): { active: boolean; user?: string };
  setAccessTtl(seconds: number): void;
  close(): Promise<void>;
}

const token = (prefix: string) => `${prefix}-${randomBytes(24).toString('base64url')}`;

async function body(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function json(res: ServerResponse, status: number, value: unknown) {
  const payload = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(payload.length), 'cache-control': 'no-store' });
  res.end(payload);
}

export async function startOAuthProvider(options: OAuthProviderOptions): Promise<StandInProvider> {
  let accessTtl = options.accessTtlSeconds ?? 3600;
  const issued: string[] = [];
  const codes = new Map<string, { user: string; challenge: string; redirectUri: string; expiresAt: number; used: boolean }>();
  const grants = new Map<string, Grant>();
  const access = new Map<string, AccessToken>();
  const tokenRequests: string[] = [];
  let failures = 0;
  let revocations = 0;

  const issueAccess = (grant: Grant) => {
    const value = token('at');
    issued.push(value);
    access.set(value, { grant, expiresAt: Date.now() + accessTtl * 1000 });
    return value;
  };
  const idToken = (user: string) => {
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const value = `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iss: 'stand-in', aud: options.clientId, sub: createHash('sha256').update(user).digest('hex'), email: user, email_verified: true, exp: Math.floor(Date.now() / 1000) + 3600 })}.${randomBytes(32).toString('base64url')}`;
    issued.push(value);
    return value;
  };
  const introspect = (value: string) => {
    const found = access.get(value);
    if (!found || found.grant.revoked || found.expiresAt <= Date.now()) return { active: false };
    return { active: true, user: found.grant.user };
  };
  const clientOk = (form: URLSearchParams) => form.get('client_id') === options.clientId && form.get('client_secret') === options.clientSecret;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    void (async () => {
      if (req.method === 'GET' && url.pathname === '/authorize') {
        const q = url.searchParams;
        if (q.get('client_id') !== options.clientId || q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge') || !q.get('user')) {
          return json(res, 400, { error: 'invalid_request' });
        }
        const code = token('code');
        issued.push(code);
        codes.set(code, { user: q.get('user')!, challenge: q.get('code_challenge')!, redirectUri: q.get('redirect_uri') ?? '', expiresAt: Date.now() + 60_000, used: false });
        const back = new URL(q.get('redirect_uri')!);
        back.searchParams.set('code', code);
        back.searchParams.set('state', q.get('state') ?? '');
        res.writeHead(302, { location: back.toString() });
        return res.end();
      }
      if (req.method === 'POST' && url.pathname === '/token') {
        const form = await body(req);
        const grantType = form.get('grant_type') ?? '?';
        const answer = (status: number, value: unknown) => {
          tokenRequests.push(`${grantType}:${status}`);
          json(res, status, value);
        };
        if (failures > 0) {
          failures--;
          return answer(503, { error: 'temporarily_unavailable' });
        }
        if (!clientOk(form)) return answer(401, { error: 'invalid_client' });
        if (grantType === 'authorization_code') {
          const code = codes.get(form.get('code') ?? '');
          const verifier = form.get('code_verifier') ?? '';
          if (!code || code.used || code.expiresAt < Date.now() || code.redirectUri !== form.get('redirect_uri')) return answer(400, { error: 'invalid_grant' });
          code.used = true;
          if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) return answer(400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
          const grant: Grant = { user: code.user, refreshToken: token('rt'), revoked: false };
          issued.push(grant.refreshToken);
          grants.set(grant.refreshToken, grant);
          return answer(200, { access_token: issueAccess(grant), token_type: 'Bearer', expires_in: accessTtl, refresh_token: grant.refreshToken, id_token: idToken(code.user) });
        }
        if (grantType === 'refresh_token') {
          const grant = grants.get(form.get('refresh_token') ?? '');
          if (!grant || grant.revoked) return answer(400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
          return answer(200, { access_token: issueAccess(grant), token_type: 'Bearer', expires_in: accessTtl });
        }
        return answer(400, { error: 'unsupported_grant_type' });
      }
      if (req.method === 'GET' && url.pathname === '/userinfo') {
        const found = introspect((req.headers.authorization ?? '').replace(/^Bearer /, ''));
        return found.active ? json(res, 200, { email: found.user, email_verified: true }) : json(res, 401, { error: 'invalid_token' });
      }
      if (req.method === 'POST' && url.pathname === '/revoke') {
        const form = await body(req);
        const value = form.get('token') ?? '';
        const grant = grants.get(value) ?? access.get(value)?.grant;
        if (grant) grant.revoked = true;
        revocations++;
        return json(res, 200, {});
      }
      if (req.method === 'POST' && url.pathname === '/introspect') {
        const form = await body(req);
        const found = introspect(form.get('token') ?? '');
        // The shape dovecot's oauth2 passdb and RFC 7662 read.
        return json(res, 200, found.active ? { active: true, username: found.user, email: found.user } : { active: false });
      }
      json(res, 404, { error: 'not_found' });
    })().catch(() => json(res, 500, { error: 'server_error' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    issued: () => [...issued],
    tokenRequests,
    get revocations() {
      return revocations;
    },
    expireAccessTokens(user) {
      for (const a of access.values()) if (a.grant.user === user) a.expiresAt = Date.now() - 1;
    },
    revokeUser(user) {
      for (const g of grants.values()) if (g.user === user) g.revoked = true;
    },
    failNextTokenRequests(n) {
      failures = n;
    },
    introspect,
    setAccessTtl(seconds) {
      accessTtl = seconds;
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
