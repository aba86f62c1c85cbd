/**
 * The provider's token endpoint (RFC 6749 §4.1.3 code exchange with the PKCE
 * verifier, §6 refresh), userinfo and revocation (RFC 7009). Errors say what
 * happened without any token in them: an `OAuthGrantError` (the provider
 * refused the grant for good: invalid_grant, consent revoked, password
 * changed) or an `OAuthTemporaryError` (network, timeout, 5xx, 429: try
 * again later).
 */
import { z } from 'zod';
import type { OAuthProvider } from './providers.ts';

export class OAuthGrantError extends Error {
  override name = 'OAuthGrantError';
  /** The provider's error code (invalid_grant, invalid_client…). */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export class OAuthTemporaryError extends Error {
  override name = 'OAuthTemporaryError';
}

const TokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().int().positive().optional(),
  refresh_token: z.string().min(1).optional(),
  id_token: z.string().optional(),
  scope: z.string().optional(),
});

export interface Tokens {
  accessToken: string;
  /** When the access token expires (default: one hour from now when the provider does not say). */
  expiresAt: Date;
  /** Present on the code exchange, and on a refresh when the provider rotates it (Microsoft). */
  refreshToken: string | null;
  idToken: string | null;
}

/** A short, token-free description of an error answer (`error` and `error_description` only). */
function describe(body: unknown, status: number): { code: string; text: string } {
  const parsed = z.object({ error: z.string().max(100), error_description: z.string().optional() }).safeParse(body);
  if (!parsed.success) return { code: `http_${status}`, text: `HTTP ${status}` };
  const detail = parsed.data.error_description?.replace(/\s+/g, ' ').slice(0, 300);
  return { code: parsed.data.error, text: detail ? `${parsed.data.error}: ${detail}` : parsed.data.error };
}

async function post(provider: OAuthProvider, url: string, form: Record<string, string>, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (error) {
    throw new OAuthTemporaryError(`${provider.label}'s token service could not be reached (${(error as Error).name === 'TimeoutError' ? 'timeout' : (error as Error).message}).`);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: described by its status
  }
  return { status: response.status, body };
}

async function tokenRequest(provider: OAuthProvider, form: Record<string, string>, timeoutMs: number): Promise<Tokens> {
  const { status, body } = await post(provider, provider.tokenUrl, {
    ...form,
    client_id: provider.clientId,
    client_secret: provider.clientSecret,
  }, timeoutMs);
  if (status >= 500 || status === 429) {
    throw new OAuthTemporaryError(`${provider.label}'s token service answered ${describe(body, status).text}.`);
  }
  if (status !== 200) {
    const { code, text } = describe(body, status);
    throw new OAuthGrantError(code, `${provider.label} refused the authorization (${text}).`);
  }
  const parsed = TokenResponse.safeParse(body);
  if (!parsed.success) throw new OAuthTemporaryError(`${provider.label}'s token service sent an answer without an access token.`);
  return {
    accessToken: parsed.data.access_token,
    expiresAt: new Date(Date.now() + (parsed.data.expires_in ?? 3600) * 1000),
    refreshToken: parsed.data.refresh_token ?? null,
    idToken: parsed.data.id_token ?? null,
  };
}

export function exchangeCode(provider: OAuthProvider, code: string, codeVerifier: string, redirectUri: string, timeoutMs: number): Promise<Tokens> {
  return tokenRequest(provider, { grant_type: 'authorization_code', code, code_verifier: codeVerifier, redirect_uri: redirectUri }, timeoutMs);
}

export function refreshAccessToken(provider: OAuthProvider, refreshToken: string, timeoutMs: number): Promise<Tokens> {
  return tokenRequest(provider, { grant_type: 'refresh_token', refresh_token: refreshToken, scope: provider.scopes.join(' ') }, timeoutMs);
}

/** Revokes a token at the provider (RFC 7009); false when the provider has no revocation endpoint or did not confirm. */
export async function revokeToken(provider: OAuthProvider, token: string, timeoutMs: number): Promise<boolean> {
  if (!provider.revokeUrl) return false;
  try {
    const { status } = await post(provider, provider.revokeUrl, { token, client_id: provider.clientId, client_secret: provider.clientSecret }, timeoutMs);
    return status === 200;
  } catch {
    return false;
  }
}

const Claims = z.object({ email: z.string().optional(), email_verified: z.union([z.boolean(), z.string()]).optional(), preferred_username: z.string().optional(), aud: z.union([z.string(), z.array(z.string())]).optional() });

/**
 * The mailbox address the tokens are for: the ID token's `email` claim (it
 * came straight from the token endpoint over the connection we opened, which
 * OpenID Connect Core §3.1.3.7 accepts in place of checking its signature;
 * its audience must be our client), else the userinfo endpoint's.
 */
export async function mailboxAddress(provider: OAuthProvider, tokens: Tokens, timeoutMs: number): Promise<string> {
  if (tokens.idToken) {
    const payload = tokens.idToken.split('.')[1];
    const claims = payload ? Claims.safeParse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8') || 'null')) : null;
    if (claims?.success) {
      const aud = claims.data.aud;
      if (aud !== undefined && !(Array.isArray(aud) ? aud.includes(provider.clientId) : aud === provider.clientId)) {
        throw new OAuthGrantError('invalid_token', `${provider.label}'s ID token is for another application.`);
      }
      const verified = claims.data.email_verified === undefined || claims.data.email_verified === true || claims.data.email_verified === 'true';
      if (claims.data.email && verified) return claims.data.email.toLowerCase();
    }
  }
  if (!provider.userinfoUrl) throw new OAuthGrantError('no_email', `${provider.label} did not tell the mailbox address (grant the "email" permission).`);
  let response: Response;
  try {
    response = await fetch(provider.userinfoUrl, {
      headers: { authorization: `Bearer ${tokens.accessToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch {
    throw new OAuthTemporaryError(`${provider.label}'s user information service could not be reached.`);
  }
  if (response.status !== 200) throw new OAuthTemporaryError(`${provider.label}'s user information service answered HTTP ${response.status}.`);
  const info = Claims.safeParse(await response.json().catch(() => null));
  const email = info.success ? (info.data.email ?? info.data.preferred_username) : undefined;
  if (!email || !email.includes('@')) throw new OAuthGrantError('no_email', `${provider.label} did not tell the mailbox address.`);
  return email.toLowerCase();
}
