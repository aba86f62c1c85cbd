/**
 * What the sending engine needs from the outside world, resolved once from
 * the environment; tests override parts (their SMTP TLS trust, timeouts).
 */
import { secretsKeyOf, type Env } from '../config.ts';
import { makeSecretBox, type SecretBox } from '../crypto/secrets.ts';
import { dnsResolverFromEnv } from '../dns/resolver.ts';
import { outboundGuardFromEnv } from '../net/outbound-guard.ts';
import { makeTrackingTokens, trackingKeyFrom, type TrackingTokens } from '../tracking/tokens.ts';
import type { SmtpTransportPool } from './smtp-pool.ts';
import type { SmtpOptions } from './smtp.ts';
import { oauthConfigOf, type OAuthConfig } from '../oauth/providers.ts';

export interface SendingDeps {
  /** Decrypts SMTP passwords and DKIM keys (inside the worker only). */
  secretBox: SecretBox;
  /** Signs open, click and unsubscribe links. */
  tracking: TrackingTokens;
  /** Base URL of the tracking endpoints: PUBLIC_URL, else the API server's URL. */
  publicUrl: string;
  smtp: SmtpOptions;
  /**
   * Reused SMTP connections (one per inbox connection identity); the worker
   * makes one and closes it when it stops. Unset: a connection per message.
   */
  smtpPool?: SmtpTransportPool;
  /** Google and Microsoft OAuth clients and mail hosts, for inboxes connected over OAuth (src/oauth/). */
  oauth: OAuthConfig;
}

export function resolveSendingDeps(env: Env, overrides: Partial<SendingDeps> = {}): SendingDeps {
  const key = secretsKeyOf(env);
  return {
    secretBox: overrides.secretBox ?? makeSecretBox(key),
    tracking: overrides.tracking ?? makeTrackingTokens(trackingKeyFrom(key)),
    publicUrl: (overrides.publicUrl ?? env.PUBLIC_URL ?? `http://${env.HOST}:${env.PORT}`).replace(/\/$/, ''),
    // Every inbox's SMTP host goes through the outbound guard (OUTBOUND_ALLOW_PRIVATE; DNS_SERVERS for hostnames) unless one is given.
    smtp: { outbound: outboundGuardFromEnv(env, dnsResolverFromEnv(env)), ...overrides.smtp },
    smtpPool: overrides.smtpPool,
    oauth: overrides.oauth ?? oauthConfigOf(env),
  };
}

/** What the API's sending plugins need (setEmailAccountCredentials, previewMessage). */
export interface SendingApiOptions {
  /** Hex application key: PM_SECRETS_KEY, else the development key in PM_DATA_DIR (secretsKeyOf). */
  secretsKey: string;
  /** Base URL of the tracking endpoints (PUBLIC_URL); unset: the URL each request came to. */
  publicUrl?: string;
}

/** The API's sending options from the validated configuration, read the way resolveSendingDeps reads it for the worker. */
export function sendingApiOptionsOf(env: Env): SendingApiOptions {
  return { secretsKey: secretsKeyOf(env), publicUrl: env.PUBLIC_URL };
}

export function resolveSendingApiOptions(given: SendingApiOptions): { secretBox: SecretBox; tracking: TrackingTokens; publicUrl?: string } {
  return {
    secretBox: makeSecretBox(given.secretsKey),
    tracking: makeTrackingTokens(trackingKeyFrom(given.secretsKey)),
    publicUrl: given.publicUrl?.replace(/\/$/, ''),
  };
}
