/**
 * addWebhookSubscription and rotateWebhookSecret: the signing secret
 * (whsec_…) is made here, in the API server, sealed with the application key
 * (AES-256-GCM, like inbox passwords) and returned once in the payload; only
 * the ciphertext reaches the database (app_hidden.create_webhook_subscription
 * and app_hidden.rotate_webhook_secret check the caller is an owner or admin,
 * and audit). Only the worker decrypts, to sign deliveries.
 *
 * The URL is checked before anything is written: https (plain http only when
 * NODE_ENV is test or development), no credentials, and not a literal
 * private or reserved IP (the outbound guard's rule; the worker checks every
 * delivery's resolved address again).
 *
 * As for setEmailAccountCredentials, the write is its own transaction on the
 * owner connection entered as the caller, committed before the payload is
 * read (Citus: one role per transaction and tenant).
 */
import { isIP } from 'node:net';
import type pg from 'pg';
import { sideEffectWithPgClient, type PgClient } from 'postgraphile/@dataplan/pg';
import { access, SafeError, type Step } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import type { SecretBox } from '../src/crypto/secrets.ts';
import { hostOf, REFUSED_MESSAGE, type OutboundGuard } from '../src/net/outbound-guard.ts';
import { SIGN_IN_FIRST } from '../src/server/errors.ts';
import { withUserSession } from '../src/server/user-session.ts';
import { newWebhookSecret } from '../src/webhooks/signing.ts';

interface CreateInput {
  url: string;
  eventTypes?: string[] | null;
  campaignId?: string | null;
  description?: string | null;
  enabled?: boolean | null;
}
interface RotateInput {
  subscriptionId: string;
  overlapMinutes?: number | null;
}

export interface WebhookSubscriptionsOptions {
  secretBox: SecretBox;
  guard: OutboundGuard;
  /** Plain http URLs accepted (NODE_ENV test or development). */
  allowHttp: boolean;
  ownerPool?: pg.Pool;
}

function checkUrl(raw: string, { guard, allowHttp }: Pick<WebhookSubscriptionsOptions, 'guard' | 'allowHttp'>): void {
  const invalid = (message: string) => new SafeError(`url: ${message}`, { code: 'INVALID_INPUT' });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('not a valid URL.');
  }
  if (raw.length > 2000) throw invalid('at most 2000 characters.');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowHttp)) throw invalid('must start with https://.');
  if (url.username || url.password) throw invalid('must not contain a user name or password.');
  const host = hostOf(url.hostname);
  if (isIP(host) && !guard.permits(host)) throw invalid(`${REFUSED_MESSAGE}.`);
}

/**
 * Runs `fn` as the caller in a transaction of its own on the owner pool;
 * `check` runs first, once the caller is known to be signed in and allowed to
 * manage webhooks (an anonymous caller or a viewer learns nothing from
 * validation; the SQL functions check the role again).
 */
async function asCaller<T>(client: PgClient, ownerPool: pg.Pool | undefined, check: () => void, fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  if (!ownerPool) throw new Error('webhook subscriptions need the API server\'s owner pool');
  const { rows: [caller] } = await client.query<{ user_id: string | null; tenant_id: string | null; admin: boolean }>({
    text: "select app_public.current_user_id() as user_id, app_public.current_tenant_id() as tenant_id, app_public.has_tenant_role('admin') as admin",
  });
  if (!caller?.user_id) throw new SafeError(SIGN_IN_FIRST.message, { code: SIGN_IN_FIRST.code });
  if (!caller.admin) throw new SafeError('Only owners and admins can manage webhooks.', { code: 'FORBIDDEN' });
  check();
  return withUserSession(ownerPool, { 'app.current_user_id': caller.user_id, 'app.current_tenant_id': caller.tenant_id ?? '' }, fn);
}

export function makeWebhookSubscriptionsPlugin(options: WebhookSubscriptionsOptions): GraphileConfig.Plugin {
  return extendSchema((build) => {
    const executor = build.input.pgRegistry.pgExecutors.main!;
    const subscriptions = build.input.pgRegistry.pgResources.webhook_subscriptions!;
    return {
      typeDefs: gql`
        input AddWebhookSubscriptionInput {
          """Where events are POSTed: https (plain http only in test and development)."""
          url: String!
          """Event types to deliver (e.g. email.replied, lead.status_changed); empty or left out: every type."""
          eventTypes: [String!]
          """Only events of this campaign."""
          campaignId: UUID
          description: String
          """Default true."""
          enabled: Boolean
        }
        type AddWebhookSubscriptionPayload {
          webhookSubscription: WebhookSubscription
          """The signing secret (whsec_…). Shown this once: store it now."""
          secret: String!
        }
        input RotateWebhookSecretInput {
          subscriptionId: UUID!
          """How long deliveries are also signed with the old secret, in minutes (default 1440, at most 10080)."""
          overlapMinutes: Int
        }
        type RotateWebhookSecretPayload {
          webhookSubscription: WebhookSubscription
          """The new signing secret. Shown this once: store it now."""
          secret: String!
          """Until then, deliveries carry a signature with the old secret too."""
          previousSecretValidUntil: Datetime!
        }
        extend type Mutation {
          """Subscribes an endpoint to this organisation's events, signed per Standard Webhooks; owners and admins only. The payload holds the signing secret, shown once."""
          addWebhookSubscription(input: AddWebhookSubscriptionInput!): AddWebhookSubscriptionPayload
          """Replaces a webhook's signing secret; the old one keeps signing deliveries too during the overlap. Owners and admins only."""
          rotateWebhookSecret(input: RotateWebhookSecretInput!): RotateWebhookSecretPayload
        }
      `,
      plans: {
        Mutation: {
          addWebhookSubscription(_: unknown, fieldArgs: { getRaw(name: string): Step }) {
            const $input = fieldArgs.getRaw('input') as Step<CreateInput>;
            return sideEffectWithPgClient(executor, $input, async (client, input) => {
              const secret = newWebhookSecret();
              const id = await asCaller(client, options.ownerPool, () => checkUrl(input.url, options), async (db) => {
                const { rows } = await db.query<{ id: string }>(
                  'select app_hidden.create_webhook_subscription($1, $2, $3, $4, $5, $6) as id',
                  [input.url, input.eventTypes ?? [], input.campaignId ?? null, input.description ?? null, input.enabled ?? true,
                    options.secretBox.encrypt(secret)],
                );
                return rows[0]!.id;
              });
              return { id, secret };
            });
          },
          rotateWebhookSecret(_: unknown, fieldArgs: { getRaw(name: string): Step }) {
            const $input = fieldArgs.getRaw('input') as Step<RotateInput>;
            return sideEffectWithPgClient(executor, $input, async (client, input) => {
              const minutes = input.overlapMinutes ?? 1440;
              const secret = newWebhookSecret();
              const until = await asCaller(client, options.ownerPool, () => undefined, async (db) => {
                const { rows } = await db.query<{ until: string }>(
                  `select app_hidden.rotate_webhook_secret($1, $2, make_interval(mins => $3::int)) as until`,
                  [input.subscriptionId, options.secretBox.encrypt(secret), minutes],
                );
                return rows[0]!.until;
              });
              return { id: input.subscriptionId, secret, previousSecretValidUntil: until };
            });
          },
        },
        AddWebhookSubscriptionPayload: {
          webhookSubscription($payload: Step) {
            return subscriptions.get({ id: access($payload, 'id') });
          },
          secret($payload: Step) {
            return access($payload, 'secret');
          },
        },
        RotateWebhookSecretPayload: {
          webhookSubscription($payload: Step) {
            return subscriptions.get({ id: access($payload, 'id') });
          },
          secret($payload: Step) {
            return access($payload, 'secret');
          },
          previousSecretValidUntil($payload: Step) {
            return access($payload, 'previousSecretValidUntil');
          },
        },
      },
    };
  }, 'WebhookSubscriptionsPlugin');
}
