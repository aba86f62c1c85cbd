/**
 * The one place a Stripe client is built: the official SDK, pointed at
 * api.stripe.com or at STRIPE_API_HOST/PORT/PROTOCOL (a proxy, or the local
 * stand-in the tests run on 127.0.0.1).
 */
import Stripe from 'stripe';
import { ConfigError, type Env } from '../config.ts';

export type StripeFactory = () => Stripe;

/** A factory that builds the client on first use; it throws a ConfigError when STRIPE_SECRET_KEY is missing. */
export function stripeFactoryFromEnv(env: Env): StripeFactory {
  let client: Stripe | undefined;
  return () => {
    if (!env.STRIPE_SECRET_KEY) {
      throw new ConfigError('Stripe is not configured: set STRIPE_SECRET_KEY to call Stripe (billing jobs wait and retry until then).');
    }
    client ??= new Stripe(env.STRIPE_SECRET_KEY, {
      host: env.STRIPE_API_HOST,
      port: env.STRIPE_API_PORT,
      protocol: env.STRIPE_API_PROTOCOL,
      timeout: env.STRIPE_TIMEOUT_MS,
      // graphile-worker retries the whole job (same idempotency keys), with backoff.
      maxNetworkRetries: 0,
      telemetry: false,
      appInfo: { name: 'PenguinMails' },
    });
    return client;
  };
}
