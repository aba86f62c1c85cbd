/**
 * A stand-in for Stripe's API on 127.0.0.1, for the one thing the tests may
 * fake: Stripe's servers. It speaks the HTTP the official SDK speaks (form
 * bodies, Bearer key, Idempotency-Key with Stripe's replay semantics, Stripe
 * error JSON), keeps customers and subscriptions in memory, records every
 * request for assertions and can fail the next requests on demand. Webhook
 * events are built here and signed for real with the SDK's
 * generateTestHeaderString.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

export const TEST_STRIPE_KEY = 'sk_test_penguinmailsStandIn0123456789';
export const TEST_WEBHOOK_SECRET = 'whsec_penguinmailsTestSigningSecret0123456789';

export interface StripeRequest {
  method: string;
  path: string;
  form: Record<string, string>;
  authorization: string | undefined;
  idempotencyKey: string | undefined;
  status: number;
}

interface StoredSubscription {
  id: string;
  object: 'subscription';
  customer: string;
  status: string;
  cancel_at_period_end: boolean;
  metadata: Record<string, string>;
  items: { object: 'list'; data: Array<{ id: string; object: 'subscription_item'; price: { id: string; object: 'price' }; current_period_start: number; current_period_end: number }> };
}

export interface StripeStandIn {
  url: string;
  port: number;
  requests: StripeRequest[];
  customers: Map<string, Record<string, unknown>>;
  subscriptions: Map<string, StoredSubscription>;
  /** Environment for the worker: the key and STRIPE_API_HOST/PORT/PROTOCOL of this server. */
  env: Record<string, string>;
  /** The next `count` requests fail with this status (default 500, Stripe api_error). */
  failNext(count: number, status?: number): void;
  /** Requests other than the SDK's GETs, in order, as "METHOD /path". */
  writes(): string[];
  close(): Promise<void>;
}

const nextId = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;

function parseForm(body: string): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(body)) form[key] = value;
  return form;
}

function stripeError(res: ServerResponse, status: number, type: string, message: string, code?: string): void {
  const body = JSON.stringify({ error: { type, message, ...(code ? { code } : {}) } });
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': nextId('req') });
  res.end(body);
}

export async function startStripeServer({ secretKey = TEST_STRIPE_KEY }: { secretKey?: string } = {}): Promise<StripeStandIn> {
  const requests: StripeRequest[] = [];
  const customers = new Map<string, Record<string, unknown>>();
  const subscriptions = new Map<string, StoredSubscription>();
  const idempotent = new Map<string, { bodyHash: string; status: number; body: string }>();
  let failures: { remaining: number; status: number } = { remaining: 0, status: 500 };

  const handle = (req: IncomingMessage, body: string): { status: number; json: unknown } => {
    const path = new URL(req.url ?? '/', 'http://stripe.local').pathname;
    const form = parseForm(body);
    const now = Math.floor(Date.now() / 1000);
    const subscriptionMatch = /^\/v1\/subscriptions\/(sub_[A-Za-z0-9]+)$/.exec(path);
    if (req.method === 'POST' && path === '/v1/customers') {
      const customer = {
        id: nextId('cus'), object: 'customer', email: form.email ?? null, name: form.name ?? null,
        metadata: Object.fromEntries(Object.entries(form).filter(([k]) => k.startsWith('metadata[')).map(([k, v]) => [k.slice(9, -1), v])),
      };
      customers.set(customer.id, customer);
      return { status: 200, json: customer };
    }
    if (req.method === 'POST' && path === '/v1/subscriptions') {
      if (!form.customer || !customers.has(form.customer)) {
        return { status: 400, json: { error: { type: 'invalid_request_error', message: `No such customer: '${form.customer}'`, code: 'resource_missing' } } };
      }
      const subscription: StoredSubscription = {
        id: nextId('sub'), object: 'subscription', customer: form.customer, status: 'incomplete',
        cancel_at_period_end: form.cancel_at_period_end === 'true',
        metadata: Object.fromEntries(Object.entries(form).filter(([k]) => k.startsWith('metadata[')).map(([k, v]) => [k.slice(9, -1), v])),
        items: { object: 'list', data: [{ id: nextId('si'), object: 'subscription_item', price: { id: form['items[0][price]']!, object: 'price' }, current_period_start: now, current_period_end: now + 30 * 86400 }] },
      };
      subscriptions.set(subscription.id, subscription);
      return { status: 200, json: subscription };
    }
    if (subscriptionMatch) {
      const subscription = subscriptions.get(subscriptionMatch[1]!);
      if (!subscription) {
        return { status: 404, json: { error: { type: 'invalid_request_error', message: `No such subscription: '${subscriptionMatch[1]}'`, code: 'resource_missing' } } };
      }
      if (req.method === 'GET') return { status: 200, json: subscription };
      if (req.method === 'DELETE') {
        subscription.status = 'canceled';
        return { status: 200, json: subscription };
      }
      if (req.method === 'POST') {
        const item = subscription.items.data[0]!;
        if (form['items[0][id]'] && form['items[0][id]'] !== item.id) {
          return { status: 400, json: { error: { type: 'invalid_request_error', message: `Subscription item ${form['items[0][id]']} is not on ${subscription.id}` } } };
        }
        if (form['items[0][price]']) item.price = { id: form['items[0][price]'], object: 'price' };
        if (form.cancel_at_period_end) subscription.cancel_at_period_end = form.cancel_at_period_end === 'true';
        return { status: 200, json: subscription };
      }
    }
    return { status: 404, json: { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${path}).` } } };
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const record: StripeRequest = {
        method: req.method ?? 'GET',
        path: new URL(req.url ?? '/', 'http://stripe.local').pathname,
        form: parseForm(body),
        authorization: req.headers.authorization,
        idempotencyKey: typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined,
        status: 0,
      };
      requests.push(record);
      const reply = (status: number, json: string, extra: Record<string, string> = {}) => {
        record.status = status;
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': nextId('req'), ...extra });
        res.end(json);
      };
      if (req.headers.authorization !== `Bearer ${secretKey}`) {
        record.status = 401;
        stripeError(res, 401, 'invalid_request_error', 'Invalid API Key provided.');
        return;
      }
      if (failures.remaining > 0) {
        failures.remaining -= 1;
        record.status = failures.status;
        stripeError(res, failures.status, 'api_error', 'The Stripe stand-in was told to fail this request.');
        return;
      }
      const bodyHash = createHash('sha256').update(`${req.method} ${req.url} ${body}`).digest('hex');
      if (record.idempotencyKey && req.method === 'POST') {
        const seen = idempotent.get(record.idempotencyKey);
        if (seen && seen.bodyHash !== bodyHash) {
          record.status = 400;
          stripeError(res, 400, 'idempotency_error', 'Keys for idempotent requests can only be used with the same parameters they were first used with.');
          return;
        }
        if (seen) {
          reply(seen.status, seen.body, { 'idempotent-replayed': 'true' });
          return;
        }
      }
      const { status, json } = handle(req, body);
      const text = JSON.stringify(json);
      if (record.idempotencyKey && req.method === 'POST') idempotent.set(record.idempotencyKey, { bodyHash, status, body: text });
      reply(status, text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    customers,
    subscriptions,
    env: { STRIPE_SECRET_KEY: secretKey, STRIPE_API_HOST: '127.0.0.1', STRIPE_API_PORT: String(port), STRIPE_API_PROTOCOL: 'http' },
    failNext(count, status = 500) {
      failures = { remaining: count, status };
    },
    writes() {
      return requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// --- webhook events, signed for real ---

export interface StripeEventShape {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  type: string;
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  data: { object: Record<string, unknown> };
}

let eventCounter = 0;

/** A Stripe event envelope around a data object; `created` in Unix seconds (default: now). */
export function stripeEvent(type: string, object: Record<string, unknown>, options: { id?: string; created?: number } = {}): StripeEventShape {
  eventCounter += 1;
  return {
    id: options.id ?? `evt_${randomBytes(10).toString('hex')}${eventCounter}`,
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: options.created ?? Math.floor(Date.now() / 1000),
    type,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object },
  };
}

/** An invoice (current API shape: the subscription under parent.subscription_details, the period on the line). */
export function invoiceObject(o: {
  id?: string; customer: string; subscription: string; amountCents: number; periodStart: number; periodEnd: number; currency?: string; paidAt?: number;
}): Record<string, unknown> {
  return {
    id: o.id ?? `in_${randomBytes(8).toString('hex')}`,
    object: 'invoice',
    customer: o.customer,
    currency: o.currency ?? 'usd',
    amount_due: o.amountCents,
    amount_paid: o.paidAt === undefined ? 0 : o.amountCents,
    number: `PM-${randomBytes(3).toString('hex').toUpperCase()}`,
    parent: { type: 'subscription_details', subscription_details: { subscription: o.subscription, metadata: {} } },
    lines: { object: 'list', data: [{ object: 'line_item', period: { start: o.periodStart, end: o.periodEnd } }] },
    period_start: o.periodStart - 30 * 86400,
    period_end: o.periodStart,
    status_transitions: { paid_at: o.paidAt ?? null },
  };
}

/** A subscription (current API shape: the period on the item). */
export function subscriptionObject(o: {
  id: string; customer: string; status: string; priceId: string; periodStart: number; periodEnd: number; cancelAtPeriodEnd?: boolean;
}): Record<string, unknown> {
  return {
    id: o.id,
    object: 'subscription',
    customer: o.customer,
    status: o.status,
    cancel_at_period_end: o.cancelAtPeriodEnd ?? false,
    cancel_at: o.cancelAtPeriodEnd ? o.periodEnd : null,
    ended_at: o.status === 'canceled' ? o.periodStart : null,
    items: { object: 'list', data: [{ id: `si_${o.id.slice(4)}`, object: 'subscription_item', price: { id: o.priceId, object: 'price' }, current_period_start: o.periodStart, current_period_end: o.periodEnd }] },
  };
}

/** The Stripe-Signature header for a payload, computed by the SDK. */
export function signatureFor(payload: string, options: { secret?: string; timestamp?: number } = {}): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? TEST_WEBHOOK_SECRET,
    ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {}),
  });
}

/** POSTs an event to the API's webhook endpoint, signed (or with the header given). */
export async function deliverEvent(
  apiUrl: string,
  event: StripeEventShape | string,
  options: { secret?: string; timestamp?: number; signature?: string | null } = {},
): Promise<{ status: number; body: { received?: boolean; outcome?: string; error?: string } }> {
  const payload = typeof event === 'string' ? event : JSON.stringify(event);
  const signature = options.signature === undefined ? signatureFor(payload, options) : options.signature;
  const response = await fetch(`${apiUrl}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'stripe-signature': signature }) },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as { received?: boolean; outcome?: string; error?: string } };
}
