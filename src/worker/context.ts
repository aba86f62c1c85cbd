/**
 * What tasks need from the outside world, passed in once so tests can point
 * them at their own peers (SMTP, DNS, Stripe servers on 127.0.0.1).
 */
import { secretsKeyOf, type Env } from '../config.ts';
import { dnsResolverFromEnv } from '../dns/resolver.ts';
import { makeSecretBox } from '../crypto/secrets.ts';
import { stripeFactoryFromEnv } from '../billing/stripe-client.ts';
import { outboundGuardFromEnv, type OutboundGuard } from '../net/outbound-guard.ts';
import type { SystemMailer } from '../mail/system-mailer.ts';
import type { ImapPollerDeps } from '../imap/poller.ts';
import type { StripeFactory } from '../billing/stripe-client.ts';
import type { SecretBox } from '../crypto/secrets.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import { resolveSendingDeps, type SendingDeps } from '../sending/deps.ts';
import { DEFAULT_RETRY_SCHEDULE, type RetrySchedule } from '../webhooks/retry.ts';
import { makeNotificationLinks, notificationKeyFrom, type NotificationLinks } from '../mail/notification-links.ts';

export interface WorkerDeps {
  env: Env;
  systemMailer: SystemMailer;
  /** Base of the links in invitation and password-reset emails (the client app); default: APP_URL, else PUBLIC_URL, else http://HOST:PORT. */
  appUrl?: string;
  /** IMAP polling (reply and bounce detection); default: the secrets key from the environment, system TLS trust. */
  imap?: ImapPollerDeps;
  /** Stripe client for billing jobs; default: built from STRIPE_SECRET_KEY / STRIPE_API_* (src/billing/stripe-client.ts). */
  stripe?: StripeFactory;
  /** The one DNS resolver of domain checks and blocklist lookups; default: DNS_SERVERS / DNS_TIMEOUT_MS / DNS_TRIES (src/dns/resolver.ts). */
  dns?: DnsResolver;
  /** Seals secrets at rest (DKIM private keys); default: makeSecretBox(secretsKeyOf(env)). */
  secretBox?: SecretBox;
  /**
   * The campaign engine's SMTP delivery (tracking base URL, SMTP TLS trust and timeouts); default: src/sending/deps.ts from env.
   * `smtpPool`: default, one made by startWorker and closed by its stop(); one passed here is the caller's to close.
   */
  sending?: Partial<SendingDeps>;
  /**
   * The gate of every connection a tenant's settings point at (inbox SMTP and IMAP servers; src/net/outbound-guard.ts);
   * default: OUTBOUND_ALLOW_PRIVATE, hostnames resolved by `dns` (else DNS_SERVERS).
   */
  outbound?: OutboundGuard;
  /** Webhook deliveries: retry schedule and per-attempt timeout; default: src/webhooks/retry.ts, 10 s. */
  webhooks?: Partial<RetrySchedule & { timeoutMs: number }>;
}

/**
 * WorkerDeps with every default filled in: what each task receives. Built
 * once, by resolveWorkerDeps when the worker starts, so a missing secrets key
 * or a bad DNS setting stops the worker at start instead of failing a job,
 * and no task keeps a lazy cache of its own.
 */
export interface TaskDeps {
  env: Env;
  systemMailer: SystemMailer;
  /** Base of the links in emails to users (no trailing slash). */
  appUrl: string;
  dns: DnsResolver;
  secretBox: SecretBox;
  outbound: OutboundGuard;
  stripe: StripeFactory;
  imap: ImapPollerDeps & Required<Pick<ImapPollerDeps, 'outbound' | 'oauth' | 'tracking'>>;
  sending: SendingDeps;
  webhooks: RetrySchedule & { timeoutMs: number };
  /** Signs the unsubscribe links of notification emails (key derived from the secrets key; src/mail/notification-links.ts). */
  notificationLinks: NotificationLinks;
}

/** Fills in every default of WorkerDeps from the environment (see the field comments of WorkerDeps). */
export function resolveWorkerDeps(deps: WorkerDeps): TaskDeps {
  const dns = deps.dns ?? dnsResolverFromEnv(deps.env);
  const secretBox = deps.secretBox ?? makeSecretBox(secretsKeyOf(deps.env));
  const outbound = deps.outbound ?? outboundGuardFromEnv(deps.env, dns);
  const sending = resolveSendingDeps(deps.env, { secretBox, ...deps.sending, smtp: { outbound, ...deps.sending?.smtp } });
  return {
    env: deps.env,
    systemMailer: deps.systemMailer,
    appUrl: appUrlOf(deps),
    dns,
    secretBox,
    outbound,
    stripe: deps.stripe ?? stripeFactoryFromEnv(deps.env),
    imap: { secretBox, outbound, oauth: sending.oauth, tracking: sending.tracking, ...deps.imap },
    sending,
    webhooks: { ...DEFAULT_RETRY_SCHEDULE, timeoutMs: 10_000, ...deps.webhooks },
    notificationLinks: makeNotificationLinks(notificationKeyFrom(secretsKeyOf(deps.env))),
  };
}

/** Where invitation and password-reset links point (see appUrl). */
function appUrlOf(deps: Pick<WorkerDeps, 'appUrl' | 'env'>): string {
  const base = deps.appUrl ?? deps.env.APP_URL ?? deps.env.PUBLIC_URL ?? `http://${deps.env.HOST}:${deps.env.PORT}`;
  return base.replace(/\/+$/, '');
}
