/**
 * Connecting an inbox over OAuth 2.0 (authorization-code flow with PKCE S256,
 * RFC 7636): `startConnection` records a random state (its SHA-256 only,
 * bound to the tenant, the user and a short expiry; functions/145) with the
 * sealed code verifier and returns the provider's authorization URL;
 * `completeConnection` (the callback) uses the state up, exchanges the code
 * with the verifier, reads the mailbox address the provider granted, and
 * creates or updates that inbox with its sealed tokens. Nothing here logs or
 * returns a token.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { SecretBox } from '../crypto/secrets.ts';
import { withUserSession } from '../server/user-session.ts';
import { imapSettingsOf, smtpSettingsOf, type OAuthConfig, type OAuthProvider, type OAuthProviderName } from './providers.ts';
import { exchangeCode, mailboxAddress } from './token-client.ts';

/** A problem the person connecting can act on (shown on the callback page, given to the API as its code). */
export class ConnectError extends Error {
  override name = 'ConnectError';
  readonly code: 'NOT_CONFIGURED' | 'INVALID_STATE' | 'EXPIRED' | 'REFUSED' | 'UNAVAILABLE' | 'FORBIDDEN' | 'CONFLICT';
  constructor(code: ConnectError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export function providerOf(config: OAuthConfig, name: string): OAuthProvider {
  const provider = config.providers[name as OAuthProviderName];
  if (!provider) {
    throw new ConnectError('NOT_CONFIGURED', `Connecting ${name === 'google' ? 'Google' : name === 'microsoft' ? 'Microsoft' : name} inboxes is not set up on this server (its OAuth client id and secret are missing).`);
  }
  return provider;
}

const random = () => randomBytes(32).toString('base64url');

export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export interface Caller {
  userId: string;
  tenantId: string;
}

/** Records the state of a new connection for the caller and returns where to send their browser. */
export async function startConnection(
  ownerPool: pg.Pool,
  config: OAuthConfig,
  secretBox: SecretBox,
  caller: Caller,
  providerName: OAuthProviderName,
): Promise<{ authorizationUrl: string; expiresAt: Date }> {
  const provider = providerOf(config, providerName);
  const state = random();
  const verifier = random();
  const settings = { 'app.current_user_id': caller.userId, 'app.current_tenant_id': caller.tenantId };
  const expiresAt = await withUserSession(ownerPool, settings, async (client) => {
    const { rows: [row] } = await client.query<{ expires_at: Date }>('select app_private.begin_inbox_oauth($1, $2, $3, $4) as expires_at', [
      provider.name, state, secretBox.encrypt(verifier), config.stateTtlSeconds,
    ]);
    return row!.expires_at;
  });
  const url = new URL(provider.authorizeUrl);
  const params: Record<string, string> = {
    client_id: provider.clientId,
    response_type: 'code',
    redirect_uri: config.redirectUrl,
    scope: provider.scopes.join(' '),
    state,
    code_challenge: pkceChallenge(verifier),
    code_challenge_method: 'S256',
    ...provider.authorizeParams,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { authorizationUrl: url.toString(), expiresAt };
}

interface StateRow {
  tenant_id: string;
  user_id: string;
  provider: OAuthProviderName;
  code_verifier_encrypted: Buffer;
  expired: boolean;
}

const SQL_ERRORS: Record<string, ConnectError['code']> = { NTFND: 'INVALID_STATE', STATE: 'INVALID_STATE', EXPRD: 'EXPIRED', DNIED: 'FORBIDDEN', INVAL: 'REFUSED' };

function asConnectError(error: unknown): never {
  const code = (error as { code?: string }).code;
  if (code && SQL_ERRORS[code]) throw new ConnectError(code === 'STATE' && /domain/.test((error as Error).message) ? 'CONFLICT' : SQL_ERRORS[code]!, (error as Error).message);
  throw error;
}

/** Uses the state up in a transaction of its own (committed whatever happens next): a state works once. */
async function consumeState(ownerPool: pg.Pool, state: string): Promise<StateRow> {
  const { rows: [row] } = await ownerPool
    .query<StateRow>('select * from app_private.consume_oauth_state($1)', [state])
    .catch(asConnectError);
  if (!row) throw new ConnectError('INVALID_STATE', 'This connection link is unknown. Start connecting the inbox again.');
  if (row.expired) throw new ConnectError('EXPIRED', 'This connection link expired. Start connecting the inbox again.');
  return row;
}

export interface CallbackParams {
  state: string | null;
  code: string | null;
  /** The provider's `error` (access_denied…) when the person did not grant access. */
  error: string | null;
}

export interface Connected {
  tenantId: string;
  emailAccountId: string;
  email: string;
  provider: OAuthProviderName;
}

/** The callback: state (once), code exchange with the PKCE verifier, mailbox address, inbox and sealed tokens. */
export async function completeConnection(ownerPool: pg.Pool, config: OAuthConfig, secretBox: SecretBox, params: CallbackParams): Promise<Connected> {
  if (!params.state || params.state.length > 200) throw new ConnectError('INVALID_STATE', 'The provider sent no valid connection state. Start connecting the inbox again.');
  const started = await consumeState(ownerPool, params.state);
  const provider = providerOf(config, started.provider);
  if (params.error || !params.code) {
    throw new ConnectError('REFUSED', `${provider.label} did not grant access${params.error ? ` (${params.error.replace(/[^\w.-]/g, '').slice(0, 60)})` : ''}; nothing was connected.`);
  }
  const verifier = secretBox.decrypt(started.code_verifier_encrypted);
  let tokens;
  let email;
  try {
    tokens = await exchangeCode(provider, params.code, verifier, config.redirectUrl, config.httpTimeoutMs);
    email = await mailboxAddress(provider, tokens, config.httpTimeoutMs);
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'OAuthGrantError') throw new ConnectError('REFUSED', (error as Error).message);
    if (name === 'OAuthTemporaryError') throw new ConnectError('UNAVAILABLE', `${(error as Error).message} Try connecting again in a moment.`);
    throw error;
  }
  const { rows: [row] } = await ownerPool
    .query<{ id: string }>('select app_private.connect_oauth_inbox($1, $2, $3, $4, $5, $6, $7, $8, $9) as id', [
      started.tenant_id, started.user_id, provider.name, email,
      JSON.stringify(smtpSettingsOf(provider)), JSON.stringify(imapSettingsOf(provider)),
      tokens.refreshToken === null ? null : secretBox.encrypt(tokens.refreshToken),
      secretBox.encrypt(tokens.accessToken), tokens.expiresAt,
    ])
    .catch(asConnectError);
  return { tenantId: started.tenant_id, emailAccountId: row!.id, email, provider: provider.name };
}
