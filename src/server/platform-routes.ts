/**
 * The HTTP routes the platform serves beside GraphQL, configured from the
 * validated environment: tracking (pixel, clicks, unsubscribe), the TLS
 * allow-list for on-demand certificates, notification unsubscribe links, CSV
 * lead uploads, tenant exports and Stripe's webhooks. `npm start`
 * (src/platform.ts) serves exactly these; so do test API servers that ask for
 * them.
 */
import { stripeWebhookRoutes } from '../billing/stripe-webhook.ts';
import { secretsKeyOf, type Env } from '../config.ts';
import { leadImportRoutes } from '../import/upload-route.ts';
import { makeNotificationLinks, notificationKeyFrom, notificationUnsubscribeRoutes } from '../mail/notification-links.ts';
import { tenantExportRoutes } from '../privacy/export-route.ts';
import { trackingRoutes } from '../tracking/routes.ts';
import { tlsAllowedRoutes } from '../tracking/tls-allowed.ts';
import { makeTrackingTokens, trackingKeyFrom } from '../tracking/tokens.ts';
import type { Route, RouteContext } from './http.ts';

export function platformRoutes(env: Env, server: RouteContext): Route[] {
  const uploads = { pool: server.pool, ownerPool: server.ownerPool, tokens: server.tokens, apiKeys: server.apiKeys, dataDir: env.PM_DATA_DIR, statementTimeoutMs: env.STATEMENT_TIMEOUT_MS };
  return [
    ...trackingRoutes({ pool: server.ownerPool, tokens: makeTrackingTokens(trackingKeyFrom(secretsKeyOf(env))), trustProxy: env.TRUST_PROXY }),
    ...tlsAllowedRoutes({ pool: server.ownerPool }),
    ...notificationUnsubscribeRoutes({ pool: server.ownerPool, links: makeNotificationLinks(notificationKeyFrom(secretsKeyOf(env))) }),
    ...leadImportRoutes({ ...uploads, maxBytes: env.IMPORT_MAX_BYTES }),
    ...tenantExportRoutes(uploads),
    ...stripeWebhookRoutes({ pool: server.ownerPool, secret: env.STRIPE_WEBHOOK_SECRET }),
  ];
}
