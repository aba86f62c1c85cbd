/**
 * Configuration, read once from the environment and validated with zod, so a
 * bad setting stops start-up with a message naming the variable.
 */
import { z } from 'zod';
import { loadDevSecrets } from './dev-secrets.ts';
import { parseAllowList } from './net/outbound-guard.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string');

const EnvSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    HOST: z.string().default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    PUBLIC_URL: z.string().url().optional(),  // base of tracking and unsubscribe links (default: the server's own URL)
    APP_URL: z.string().url().optional(), // the client app invitation and password-reset links open (default: PUBLIC_URL, else this server)
    SYSTEM_SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
    MAIL_FROM: z.string().default('PenguinMails <no-reply@penguinmails.localhost>'),

    DATABASE_URL: postgresUrl.optional(),
    SHADOW_DATABASE_URL: postgresUrl.optional(),
    ROOT_DATABASE_URL: postgresUrl.optional(),
    AUTH_DATABASE_URL: postgresUrl.optional(),
    AUTHENTICATOR_PASSWORD: z.string().min(12).optional(),
    PM_DATA_DIR: z.string().default('.data'),
    PM_EMBEDDED_PG_PORT: z.coerce.number().int().min(1024).max(65535).default(54329),

    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    JWT_ISSUER: z.string().default('penguinmails'),
    JWT_AUDIENCE: z.string().default('penguinmails-api'),
    JWT_JWKS_URL: z.string().url().optional(),
    JWT_JWKS_ISSUER: z.string().optional(),
    JWT_JWKS_AUDIENCE: z.string().optional(),

    PM_SECRETS_KEY: z
      .string()
      .regex(/^[0-9a-f]{64}$/i, 'must be 64 hex characters (a 256-bit key)')
      .optional(),

    CORS_ORIGINS: csv.default([]),
    GRAPHIQL: bool.optional(),
    INTROSPECTION: bool.optional(),
    MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(10000).default(100),
    MAX_QUERY_DEPTH: z.coerce.number().int().min(2).max(100).default(12),
    MAX_QUERY_COST: z.coerce.number().int().min(10).default(1_000_000), // fields, aliases and list rows an operation may ask for (plugins/query-cost.ts)
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_000_000),
    STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    TRUST_PROXY: bool.default(false), // take client IPs (tracking events) from X-Forwarded-For: only behind your own reverse proxy
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(0), // GraphQL requests per user (or IP) per minute; 0 = off
    IMPORT_MAX_BYTES: z.coerce.number().int().min(1024).default(200 * 1024 * 1024), // largest CSV accepted by POST /imports/leads

    // Billing: Stripe (secret key for outgoing calls, signing secret for webhooks; the API host is for tests and proxies) and dunning.
    STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_[A-Za-z0-9]+$/, 'must be a Stripe secret or restricted key (sk_… / rk_…)').optional(),
    STRIPE_WEBHOOK_SECRET: z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/, 'must be a Stripe webhook signing secret (whsec_…)').optional(),
    STRIPE_API_HOST: z.string().min(1).optional(),
    STRIPE_API_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    STRIPE_API_PROTOCOL: z.enum(['http', 'https']).optional(),
    STRIPE_TIMEOUT_MS: z.coerce.number().int().min(1000).default(20_000),
    DUNNING_GRACE_DAYS: z.coerce.number().int().min(0).max(90).default(7), // days past_due before a subscription becomes unpaid (sending stops)

    // Deliverability: the DNS servers domain checks and blocklist lookups ask (empty: the system's), per-query timeout and tries;
    // the blocklist zones IPs are checked against; the size of new DKIM keys. Expected SPF/MX/DMARC values are system_config deliverability.*.
    DNS_SERVERS: csv.pipe(z.array(z.string().regex(/^(\[[0-9a-fA-F:]+\]|[0-9a-fA-F:.]+)(:\d{1,5})?$/, 'must be IP[:port] entries'))).default([]),
    DNS_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(5_000),
    DNS_TRIES: z.coerce.number().int().min(1).max(10).default(2),
    DNSBL_ZONES: csv.pipe(z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be DNS zone names'))).default(['zen.spamhaus.org', 'bl.spamcop.net', 'b.barracudacentral.org']),
    DKIM_KEY_BITS: z.coerce.number().int().min(2048).max(4096).default(2048),
    // Custom tracking domains (plans with white_label) must be a CNAME to this host; default: the host of PUBLIC_URL (docs/tracking.md).
    TRACKING_CNAME_TARGET: z.string().regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\.?$/, 'must be a DNS host name').optional(),

    // Outbound connections tenants control (inbox SMTP/IMAP servers) never reach private or reserved addresses, except these CIDRs
    // (e.g. "10.1.2.0/24,127.0.0.1/32" for a relay inside your network; src/net/outbound-guard.ts).
    OUTBOUND_ALLOW_PRIVATE: csv
      .superRefine((entries, ctx) => {
        try {
          parseAllowList(entries);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `must be comma-separated CIDRs: ${(error as Error).message}` });
        }
      })
      .default([]),
    // Observability: GET /metrics (Prometheus) needs "Authorization: Bearer <METRICS_TOKEN>" when it is set; jobs locked longer
    // than METRICS_STALE_JOB_MINUTES count as stale (their worker is likely gone); `npm run worker` serves /metrics on METRICS_PORT.
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    METRICS_STALE_JOB_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(15),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),

    // Development sandbox (src/sandbox/): a mail catcher (SMTP on 127.0.0.1:SANDBOX_SMTP_PORT, listed at /sandbox) that inboxes may
    // point at, and a DNS server (127.0.0.1:SANDBOX_DNS_PORT) publishing every domain's records, which domain checks then ask.
    // On by default when NODE_ENV=development, off otherwise, refused in production. Port 0: a free port.
    SANDBOX: bool.optional(),
    SANDBOX_SMTP_PORT: z.coerce.number().int().min(0).max(65535).default(2525),
    SANDBOX_DNS_PORT: z.coerce.number().int().min(0).max(65535).default(2553),
    SANDBOX_MAX_MESSAGES: z.coerce.number().int().min(1).max(100_000).default(500), // caught messages kept in memory (oldest dropped first)

    // Google and Microsoft inboxes over OAuth 2.0 (src/oauth/): the platform's OAuth client at each provider (unset: that provider
    // cannot be connected), the provider endpoints (defaults: the public ones; Microsoft's may name a directory instead of
    // "common"), and the SMTP/IMAP hosts connected inboxes use. OAUTH_REDIRECT_URL: the callback registered with both
    // providers (default: PUBLIC_URL, else this server, + /oauth/callback).
    OAUTH_REDIRECT_URL: z.string().url().optional(),
    OAUTH_STATE_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
    OAUTH_HTTP_TIMEOUT_MS: z.coerce.number().int().min(500).max(60_000).default(10_000),
    GOOGLE_OAUTH_CLIENT_ID: z.string().min(1).optional(),
    GOOGLE_OAUTH_CLIENT_SECRET: z.string().min(1).optional(),
    GOOGLE_OAUTH_AUTHORIZE_URL: z.string().url().default('https://accounts.google.com/o/oauth2/v2/auth'),
    GOOGLE_OAUTH_TOKEN_URL: z.string().url().default('https://oauth2.googleapis.com/token'),
    GOOGLE_OAUTH_USERINFO_URL: z.string().url().default('https://openidconnect.googleapis.com/v1/userinfo'),
    GOOGLE_OAUTH_REVOKE_URL: z.string().url().default('https://oauth2.googleapis.com/revoke'),
    GOOGLE_SMTP_HOST: z.string().min(1).default('smtp.gmail.com'),
    GOOGLE_SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(465),
    GOOGLE_IMAP_HOST: z.string().min(1).default('imap.gmail.com'),
    GOOGLE_IMAP_PORT: z.coerce.number().int().min(1).max(65535).default(993),
    MICROSOFT_OAUTH_CLIENT_ID: z.string().min(1).optional(),
    MICROSOFT_OAUTH_CLIENT_SECRET: z.string().min(1).optional(),
    MICROSOFT_OAUTH_AUTHORIZE_URL: z.string().url().default('https://login.microsoftonline.com/common/oauth2/v2.0/authorize'),
    MICROSOFT_OAUTH_TOKEN_URL: z.string().url().default('https://login.microsoftonline.com/common/oauth2/v2.0/token'),
    MICROSOFT_OAUTH_USERINFO_URL: z.string().url().optional(),
    MICROSOFT_OAUTH_REVOKE_URL: z.string().url().optional(),
    MICROSOFT_SMTP_HOST: z.string().min(1).default('smtp.office365.com'),
    MICROSOFT_SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(587),
    MICROSOFT_IMAP_HOST: z.string().min(1).default('outlook.office365.com'),
    MICROSOFT_IMAP_PORT: z.coerce.number().int().min(1).max(65535).default(993),

    WORKER: bool.default(true),
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production') {
      for (const key of ['DATABASE_URL', 'JWT_SECRET', 'PM_SECRETS_KEY', 'AUTHENTICATOR_PASSWORD'] as const) {
        if (!env[key] && !(key === 'JWT_SECRET' && env.JWT_JWKS_URL)) {
          ctx.addIssue({ code: 'custom', path: [key], message: 'is required in production' });
        }
      }
      if (env.SANDBOX) ctx.addIssue({ code: 'custom', path: ['SANDBOX'], message: 'the sandbox is for development only and cannot be enabled in production' });
    }
  });

export type Env = z.infer<typeof EnvSchema>;

/** The application secrets key (hex): PM_SECRETS_KEY, or in development the one generated in the data folder. */
export function secretsKeyOf(env: Env): string {
  return env.PM_SECRETS_KEY ?? loadDevSecrets(env.PM_DATA_DIR).secretsKey;
}

/** Whether the development sandbox runs: SANDBOX, by default on in development only; never in production. */
export function sandboxEnabled(env: Pick<Env, 'NODE_ENV' | 'SANDBOX'>): boolean {
  return env.NODE_ENV !== 'production' && (env.SANDBOX ?? env.NODE_ENV === 'development');
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws a ConfigError listing every bad variable. */
export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
