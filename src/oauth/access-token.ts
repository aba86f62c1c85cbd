/**
 * The worker's access token for an inbox connected over OAuth: the stored one
 * while it has more than five minutes left, else a renewed one (refresh
 * grant), which is sealed and stored for the next send. One worker renews an
 * inbox's token at a time (an advisory lock on the connection; a rotated
 * refresh token must not be spent twice).
 *
 * - The provider refuses for good (invalid_grant: consent revoked, password
 *   changed): the inbox stops sending with the reason (status error,
 *   oauth_status reconnect_required) and `OAuthReconnectRequired` is thrown.
 * - The provider cannot be reached or answers 5xx/429: `OAuthTemporaryError`
 *   is thrown; the job fails and graphile-worker retries it with its backoff.
 *
 * Neither error, nor anything logged here, contains a token.
 */
import type { SecretBox } from '../crypto/secrets.ts';
import type { OAuthConfig, OAuthProvider, OAuthProviderName } from './providers.ts';
import { OAuthGrantError, OAuthTemporaryError, refreshAccessToken } from './token-client.ts';

import type { RunQuery } from '../db/query.ts';

/** Renew the access token when it expires within this long. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

export class OAuthReconnectRequired extends Error {
  override name = 'OAuthReconnectRequired';
}

export interface OAuthLogin {
  /** The XOAUTH2 user: the mailbox address. */
  user: string;
  accessToken: string;
  provider: OAuthProvider;
}

interface TokenRow {
  provider: string;
  email: string;
  status: string;
  oauth_status: string | null;
  refresh_token_encrypted: Buffer | null;
  access_token_encrypted: Buffer | null;
  access_expires_at: Date | null;
}

export interface OAuthDeps {
  secretBox: SecretBox;
  oauth: OAuthConfig;
}

async function tokensOf(query: RunQuery, tenantId: string, accountId: string): Promise<TokenRow | undefined> {
  const [row] = await query<TokenRow>('select * from app_private.oauth_tokens($1, $2)', [tenantId, accountId]);
  return row;
}

export interface OAuthLoginOptions {
  /** Renew even a token that looks valid (the server refused it). */
  force?: boolean;
  /** Renew a token that expires within this long (default REFRESH_MARGIN_MS; the scheduled renewal asks for more). */
  marginMs?: number;
}

/**
 * The login of an inbox connected over OAuth, or null for an inbox that logs
 * in with a password.
 */
export async function oauthLogin(
  query: RunQuery, deps: OAuthDeps, tenantId: string, accountId: string, { force = false, marginMs = REFRESH_MARGIN_MS }: OAuthLoginOptions = {},
): Promise<OAuthLogin | null> {
  let row = await tokensOf(query, tenantId, accountId);
  if (!row || row.oauth_status === null) return null;
  if (row.oauth_status !== 'connected' || !row.refresh_token_encrypted) {
    throw new OAuthReconnectRequired(`${row.email} is not connected to ${row.provider} any more; connect it again.`);
  }
  const provider = deps.oauth.providers[row.provider as OAuthProviderName];
  if (!provider) throw new OAuthTemporaryError(`Inboxes of ${row.provider} cannot send: its OAuth client is not configured on this server.`);
  const fresh = (r: TokenRow) => r.access_token_encrypted && r.access_expires_at && r.access_expires_at.getTime() - Date.now() > marginMs;
  if (!force && fresh(row)) return { user: row.email, accessToken: deps.secretBox.decrypt(row.access_token_encrypted!), provider };

  const staleToken = row.access_token_encrypted;
  await query('select pg_advisory_lock(hashtext($1))', [`oauth-refresh:${accountId}`]);
  try {
    row = await tokensOf(query, tenantId, accountId);
    if (!row || row.oauth_status !== 'connected' || !row.refresh_token_encrypted) {
      throw new OAuthReconnectRequired(`${row?.email ?? 'The inbox'} is not connected any more; connect it again.`);
    }
    // Another worker renewed it while this one waited for the lock.
    const renewedMeanwhile = row.access_token_encrypted !== null && !row.access_token_encrypted.equals(staleToken ?? Buffer.alloc(0));
    if (fresh(row) && (!force || renewedMeanwhile)) {
      return { user: row.email, accessToken: deps.secretBox.decrypt(row.access_token_encrypted!), provider };
    }
    let tokens;
    try {
      tokens = await refreshAccessToken(provider, deps.secretBox.decrypt(row.refresh_token_encrypted), deps.oauth.httpTimeoutMs);
    } catch (error) {
      if (!(error instanceof OAuthGrantError)) throw error;
      const reason = `${provider.label} refused to renew the platform's access to ${row.email} (${error.code}): consent was withdrawn, the password changed or the account is disabled. Sending from this inbox is stopped; connect it again.`;
      await query('select app_private.oauth_reconnect_required($1, $2, $3)', [tenantId, accountId, reason]);
      throw new OAuthReconnectRequired(reason);
    }
    await query('select app_private.store_oauth_access($1, $2, $3, $4, $5)', [
      tenantId, accountId, deps.secretBox.encrypt(tokens.accessToken), tokens.expiresAt,
      tokens.refreshToken === null ? null : deps.secretBox.encrypt(tokens.refreshToken),
    ]);
    return { user: row.email, accessToken: tokens.accessToken, provider };
  } finally {
    await query('select pg_advisory_unlock(hashtext($1))', [`oauth-refresh:${accountId}`]);
  }
}

export { OAuthTemporaryError };
