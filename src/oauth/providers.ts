/**
 * The OAuth 2.0 providers inboxes connect with (Google, Microsoft), as the
 * operator configured them (src/config.ts): the platform's client at each
 * provider, its endpoints, the scopes asked for, and the fixed SMTP/IMAP
 * hosts of its mailboxes. A provider without a client id and secret cannot
 * be connected. Endpoints are operator configuration, never a tenant's.
 */
import type { Env } from '../config.ts';

export type OAuthProviderName = 'google' | 'microsoft';
export const OAUTH_PROVIDERS: readonly OAuthProviderName[] = ['google', 'microsoft'];

export interface MailHost {
  host: string;
  port: number;
}

export interface OAuthProvider {
  name: OAuthProviderName;
  /** "Google", "Microsoft": for messages. */
  label: string;
  clientId: string;
  clientSecret: string;
  authorizeUrl: string;
  tokenUrl: string;
  /** Read when the ID token carries no email. */
  userinfoUrl: string | null;
  /** Where a disconnected inbox's token is revoked; null: the provider offers none (Microsoft). */
  revokeUrl: string | null;
  scopes: readonly string[];
  /** Extra authorization request parameters (Google: offline access and a consent screen, so a refresh token is issued). */
  authorizeParams: Readonly<Record<string, string>>;
  smtp: MailHost;
  imap: MailHost;
}

export interface OAuthConfig {
  /** The callback registered with the providers. */
  redirectUrl: string;
  stateTtlSeconds: number;
  httpTimeoutMs: number;
  /** Configured providers only. */
  providers: Partial<Record<OAuthProviderName, OAuthProvider>>;
}

/** Minimal scopes: SMTP and IMAP access and the mailbox address (ID token), nothing else of the account. */
export const GOOGLE_SCOPES = ['https://mail.google.com/', 'openid', 'email'] as const;
export const MICROSOFT_SCOPES = [
  'https://outlook.office.com/SMTP.Send',
  'https://outlook.office.com/IMAP.AccessAsUser.All',
  'offline_access',
  'openid',
  'email',
] as const;

export function oauthConfigOf(env: Env): OAuthConfig {
  const providers: OAuthConfig['providers'] = {};
  if (env.GOOGLE_OAUTH_CLIENT_ID && env.GOOGLE_OAUTH_CLIENT_SECRET) {
    providers.google = {
      name: 'google',
      label: 'Google',
      clientId: env.GOOGLE_OAUTH_CLIENT_ID,
      clientSecret: env.GOOGLE_OAUTH_CLIENT_SECRET,
      authorizeUrl: env.GOOGLE_OAUTH_AUTHORIZE_URL,
      tokenUrl: env.GOOGLE_OAUTH_TOKEN_URL,
      userinfoUrl: env.GOOGLE_OAUTH_USERINFO_URL,
      revokeUrl: env.GOOGLE_OAUTH_REVOKE_URL,
      scopes: GOOGLE_SCOPES,
      authorizeParams: { access_type: 'offline', prompt: 'consent' },
      smtp: { host: env.GOOGLE_SMTP_HOST, port: env.GOOGLE_SMTP_PORT },
      imap: { host: env.GOOGLE_IMAP_HOST, port: env.GOOGLE_IMAP_PORT },
    };
  }
  if (env.MICROSOFT_OAUTH_CLIENT_ID && env.MICROSOFT_OAUTH_CLIENT_SECRET) {
    providers.microsoft = {
      name: 'microsoft',
      label: 'Microsoft',
      clientId: env.MICROSOFT_OAUTH_CLIENT_ID,
      clientSecret: env.MICROSOFT_OAUTH_CLIENT_SECRET,
      authorizeUrl: env.MICROSOFT_OAUTH_AUTHORIZE_URL,
      tokenUrl: env.MICROSOFT_OAUTH_TOKEN_URL,
      userinfoUrl: env.MICROSOFT_OAUTH_USERINFO_URL ?? null,
      revokeUrl: env.MICROSOFT_OAUTH_REVOKE_URL ?? null,
      scopes: MICROSOFT_SCOPES,
      authorizeParams: { prompt: 'select_account' },
      smtp: { host: env.MICROSOFT_SMTP_HOST, port: env.MICROSOFT_SMTP_PORT },
      imap: { host: env.MICROSOFT_IMAP_HOST, port: env.MICROSOFT_IMAP_PORT },
    };
  }
  const base = (env.PUBLIC_URL ?? `http://${env.HOST}:${env.PORT}`).replace(/\/$/, '');
  return {
    redirectUrl: env.OAUTH_REDIRECT_URL ?? `${base}/oauth/callback`,
    stateTtlSeconds: env.OAUTH_STATE_TTL_SECONDS,
    httpTimeoutMs: env.OAUTH_HTTP_TIMEOUT_MS,
    providers,
  };
}

/** email_accounts.smtp_settings of a connected inbox: implicit TLS on 465, STARTTLS required on 587; no username (the login is the address, with XOAUTH2). */
export function smtpSettingsOf(provider: OAuthProvider): { host: string; port: number; secure: boolean; require_tls: boolean } {
  return { host: provider.smtp.host, port: provider.smtp.port, secure: provider.smtp.port === 465, require_tls: provider.smtp.port === 587 };
}

/** email_accounts.imap_settings of a connected inbox (implicit TLS on 993). */
export function imapSettingsOf(provider: OAuthProvider): { host: string; port: number; secure: boolean } {
  return { host: provider.imap.host, port: provider.imap.port, secure: provider.imap.port === 993 };
}
