/**
 * POST /webhooks/stripe: verifies the Stripe-Signature header on the raw body
 * with the official SDK (STRIPE_WEBHOOK_SECRET, 5-minute tolerance), then
 * hands the event to app_private.receive_stripe_event(), which stores it once
 * and applies it in SQL. A bad or missing signature gets 400 and stores
 * nothing; a replay gets 200 with outcome "duplicate"; an error while
 * applying gets 500 (nothing stored), so Stripe delivers it again.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import Stripe from 'stripe';
import { sendJson, type Route } from '../server/http.ts';

export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';

export interface StripeWebhookOptions {
  /** An owner-role pool: events are applied by functions in app_private, which no API role may call. */
  pool: pg.Pool;
  /** STRIPE_WEBHOOK_SECRET; without it the endpoint answers 503. */
  secret: string | undefined;
  maxBytes?: number;
}

class BodyTooLarge extends Error {}

function readRawBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function stripeWebhookRoutes(options: StripeWebhookOptions): Route[] {
  const maxBytes = options.maxBytes ?? 1_000_000;
  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!options.secret) {
      sendJson(res, 503, { error: 'Stripe webhooks are not configured on this server (STRIPE_WEBHOOK_SECRET is not set).' });
      return;
    }
    let raw: Buffer;
    try {
      raw = await readRawBody(req, maxBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        sendJson(res, 413, { error: `A Stripe event may be at most ${maxBytes} bytes.` }, { connection: 'close' });
        return;
      }
      throw error;
    }
    const signature = req.headers['stripe-signature'];
    if (typeof signature !== 'string' || signature.length === 0) {
      sendJson(res, 400, { error: 'Missing the Stripe-Signature header.' });
      return;
    }
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(raw, signature, options.secret);
    } catch (error) {
      sendJson(res, 400, { error: `The Stripe signature does not verify: ${(error as Error).message}` });
      return;
    }
    const { rows } = await options.pool.query<{ outcome: string }>(
      'select app_private.receive_stripe_event($1::jsonb) as outcome',
      [raw.toString('utf8')],
    );
    sendJson(res, 200, { received: true, id: event.id, outcome: rows[0]!.outcome });
  };
  return [{ method: 'POST', path: STRIPE_WEBHOOK_PATH, handler }];
}
